"""Operator commands: `flask payments ...`, `flask dlq ...` and `flask events ...` (reached
through the `flask.commands` entry points, on the container the `flask` app was built on)."""
