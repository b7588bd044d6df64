"""Adapters to the outside world, each with a fake beside the real one."""
