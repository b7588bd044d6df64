"""Dramatiq as the core sees it: the broker, the actors by name, the dead letters.

Nothing here imports an actor: the bridge, the self-healing sweep and the operator commands
enqueue by queue and actor name, so only `dramatiq tasks` ever declares the actors.
"""
