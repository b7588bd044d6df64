"""Embedded development services (PostgreSQL, Redis, Kafka, SMTP) for `make run` and `make test`."""
