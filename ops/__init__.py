"""Operator commands: `flask payments ...` and `flask dlq ...` (reached through the
`flask.commands` entry points, on the container the `flask` app was built on)."""
