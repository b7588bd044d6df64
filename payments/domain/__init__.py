"""The pure payment domain: no Flask, database, Kafka or Dramatiq imports here."""
