"""The outbox relay (PostgreSQL -> Kafka) and the Kafka bridge (Kafka -> Dramatiq)."""
