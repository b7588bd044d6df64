"""SQLAlchemy Core mirrors of `schema.sql`, for building queries (schema.sql creates them)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()

payments = Table(
    "payments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("status", Text, nullable=False),
    Column("user_name", Text, nullable=False),
    Column("user_email", Text, nullable=False),
    Column("user_language", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_name", Text),
    Column("event_description", Text),
    Column("event_image_url", Text),
    Column("amount", Numeric(14, 4, asdecimal=True), nullable=False),
    Column("currency", Text, nullable=False),
    Column("payment_token", Text),
    Column("failure_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("emailed_at", DateTime(timezone=True)),
    Column("redriven_at", DateTime(timezone=True)),
    Column("amount_reserved", Numeric(14, 4, asdecimal=True), nullable=False),
)
# The columns a Payment aggregate holds (the others are the pipeline's bookkeeping).
PAYMENT_FIELDS = tuple(
    c.name for c in payments.columns if c.name not in ("emailed_at", "redriven_at")
)

payment_status_counts = Table(
    "payment_status_counts",
    metadata,
    Column("status", Text, nullable=False),
    Column("shard", Integer, nullable=False),
    Column("n", BigInteger, nullable=False),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("payment_id", Uuid, nullable=False),
    Column("status", Text, nullable=False),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("gateway_reference", Text),
    Column("decline_code", Text),
    Column("action_secret", Text),
)

status_changes = Table(
    "status_changes",
    metadata,
    Column("payment_id", Uuid, primary_key=True),
    Column("entity", Text, primary_key=True),
    Column("to_status", Text, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("event_id", Uuid, nullable=False),
    Column("topic", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("message_key", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False),
)

sent_emails = Table(
    "sent_emails",
    metadata,
    Column("payment_id", Uuid, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("message_id", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("request_hash", Text, nullable=False),
    Column("claim_id", Uuid, nullable=False),
    Column("locked_at", DateTime(timezone=True), nullable=False),
    Column("response_status", Integer),
    Column("response_body", JSONB),
    Column("payment_id", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("payment_id", Uuid, nullable=False),
    Column("amount", Numeric(14, 4, asdecimal=True), nullable=False),
    Column("currency", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("failure_reason", Text),
    Column("emailed_at", DateTime(timezone=True)),
    Column("redriven_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("by_cancellation", Boolean, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True)),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("name", Text, primary_key=True),
    Column("prefix", Text, nullable=False),
    Column("key_hash", LargeBinary, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

refund_status_counts = Table(
    "refund_status_counts",
    metadata,
    Column("status", Text, primary_key=True),
    Column("reason", Text, primary_key=True),
    Column("failure_reason", Text, primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("n", BigInteger, nullable=False),
)

sent_refund_emails = Table(
    "sent_refund_emails",
    metadata,
    Column("refund_id", Uuid, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("message_id", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

event_cancellations = Table(
    "event_cancellations",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("reason", Text),
    Column("cursor", Uuid),
    Column("scanned_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

gateway_events = Table(
    "gateway_events",
    metadata,
    Column("id", Text, primary_key=True),
    Column("type", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

stray_charges = Table(
    "stray_charges",
    metadata,
    Column("gateway_reference", Text, primary_key=True),
    Column("transaction_id", Uuid, nullable=False),
    Column("found_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True)),
    Column("outcome", Text),
)

# The migration steps of schema.sql a database has (payments/db/migrations.py creates it).
schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)
