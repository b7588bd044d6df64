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
    Column("status", Text),
    Column("user_name", Text),
    Column("user_email", Text),
    Column("user_language", Text),
    Column("event_id", Text),
    Column("event_name", Text),
    Column("event_description", Text),
    Column("event_image_url", Text),
    Column("amount", Numeric(14, 4, asdecimal=True)),
    Column("currency", Text),
    Column("payment_token", Text),
    Column("failure_reason", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("emailed_at", DateTime(timezone=True)),
    Column("redriven_at", DateTime(timezone=True)),
    Column("amount_reserved", Numeric(14, 4, asdecimal=True)),
)
# The columns a Payment aggregate holds (the others are the pipeline's bookkeeping).
PAYMENT_FIELDS = tuple(
    c.name for c in payments.columns if c.name not in ("emailed_at", "redriven_at")
)

payment_status_counts = Table(
    "payment_status_counts",
    metadata,
    Column("status", Text),
    Column("shard", Integer),
    Column("n", BigInteger),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("payment_id", Uuid),
    Column("status", Text),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

status_changes = Table(
    "status_changes",
    metadata,
    Column("payment_id", Uuid, primary_key=True),
    Column("entity", Text, primary_key=True),
    Column("to_status", Text),
    Column("changed_at", DateTime(timezone=True)),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("event_id", Uuid),
    Column("topic", Text),
    Column("event_type", Text),
    Column("message_key", Text),
    Column("payload", JSONB),
    Column("occurred_at", DateTime(timezone=True)),
    Column("published_at", DateTime(timezone=True)),
    Column("attempts", Integer),
)

sent_emails = Table(
    "sent_emails",
    metadata,
    Column("payment_id", Uuid, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("message_id", Text),
    Column("sent_at", DateTime(timezone=True)),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("request_hash", Text),
    Column("claim_id", Uuid),
    Column("locked_at", DateTime(timezone=True)),
    Column("response_status", Integer),
    Column("response_body", JSONB),
    Column("payment_id", Uuid),
    Column("created_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("payment_id", Uuid),
    Column("amount", Numeric(14, 4, asdecimal=True)),
    Column("currency", Text),
    Column("reason", Text),
    Column("status", Text),
    Column("failure_reason", Text),
    Column("emailed_at", DateTime(timezone=True)),
    Column("redriven_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("by_cancellation", Boolean),
    Column("next_attempt_at", DateTime(timezone=True)),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("name", Text, primary_key=True),
    Column("prefix", Text),
    Column("key_hash", LargeBinary),
    Column("scopes", ARRAY(Text)),
    Column("created_at", DateTime(timezone=True)),
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
    Column("n", BigInteger),
)

sent_refund_emails = Table(
    "sent_refund_emails",
    metadata,
    Column("refund_id", Uuid, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("message_id", Text),
    Column("sent_at", DateTime(timezone=True)),
)

event_cancellations = Table(
    "event_cancellations",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("reason", Text),
    Column("cursor", Uuid),
    Column("scanned_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)
