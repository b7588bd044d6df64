"""`python -m bench`: the service measured against its own machine, side by side in one run.

Run it through `make bench` (services from the environment, else embedded ones). Each run uses
its own PostgreSQL database, Dramatiq namespace, Kafka consumer group and topics, so it never
disturbs tests or a `make run` on the same services.
"""
