"""The Kafka bridge: one consumer group over the topics, enqueuing each event's actor.

`flask bridge run` starts it (`bridge.cli`); the actors are reached by name through the
broker (`payments.queue.names`), never imported.
"""
