-- The payment service's schema: the single source of truth. Safe to apply twice.

CREATE TABLE IF NOT EXISTS payments (
    id                uuid PRIMARY KEY,
    status            text NOT NULL DEFAULT 'PENDING'
                      CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED')),
    user_name         text NOT NULL,
    user_email        text NOT NULL,
    user_language     text NOT NULL,
    event_id          text NOT NULL,
    event_name        text,
    event_description text,
    event_image_url   text,
    amount            numeric(12, 2) NOT NULL CHECK (amount > 0),
    currency          char(3) NOT NULL,
    payment_token     text,          -- erased once the gateway has answered
    failure_reason    text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payments_pending_idx ON payments (updated_at) WHERE status = 'PENDING';

-- Exactly one transaction per payment.
CREATE TABLE IF NOT EXISTS transactions (
    id          uuid PRIMARY KEY,
    payment_id  uuid NOT NULL UNIQUE REFERENCES payments (id),
    status      text NOT NULL DEFAULT 'PENDING'
                CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED')),
    reason      text CHECK (reason IN ('invalid_payment_data', 'rejected_by_gateway',
                                       'gateway_unavailable')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'FAILED') = (reason IS NOT NULL))
);

-- One row per terminal status change; the unique key is the last guard against a second one.
CREATE TABLE IF NOT EXISTS status_changes (
    payment_id  uuid NOT NULL REFERENCES payments (id),
    entity      text NOT NULL CHECK (entity IN ('payment', 'transaction')),
    to_status   text NOT NULL CHECK (to_status IN ('SUCCESS', 'FAILED')),
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payment_id, entity)
);

-- The transactional outbox: written in the same transaction as the change it announces.
CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,          -- CloudEvents ce_id, stable across re-publishing
    topic         text NOT NULL,
    event_type    text NOT NULL,                 -- CloudEvents ce_type
    message_key   text NOT NULL,                 -- the payment id
    payload       jsonb NOT NULL,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_unpublished_key_idx
    ON outbox (message_key, id) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_key_idx ON outbox (message_key);
-- No index on published_at: nothing looks rows up by it, and the relay's mark would pay for it.
DROP INDEX IF EXISTS outbox_published_at_idx;

-- Wake relays as soon as a row commits.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- One e-mail per finished payment and kind; recorded right after the SMTP server accepted it.
CREATE TABLE IF NOT EXISTS sent_emails (
    payment_id  uuid NOT NULL REFERENCES payments (id),
    kind        text NOT NULL CHECK (kind IN ('approved', 'rejected')),
    message_id  text NOT NULL,
    sent_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payment_id, kind)
);

-- Idempotency-Key records, scoped to the caller (a hash of its API key, or 'anonymous').
-- response_status NULL: the first request is in flight (claim_id owns it until locked_at +
-- lease); a record past expires_at counts as absent and is purged on later writes.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope            text NOT NULL,
    key              text NOT NULL,
    request_hash     text NOT NULL,               -- HMAC-SHA256 (IDEMPOTENCY_SECRET) of method, path, body
    claim_id         uuid NOT NULL,
    locked_at        timestamptz NOT NULL DEFAULT now(),
    response_status  integer,                     -- NULL while the first request is in flight
    response_body    jsonb,                       -- the payment resource: never the token
    payment_id       uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
-- Databases created before claim_id and locked_at existed.
ALTER TABLE idempotency_keys ADD COLUMN IF NOT EXISTS claim_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE idempotency_keys ALTER COLUMN claim_id DROP DEFAULT;
ALTER TABLE idempotency_keys ADD COLUMN IF NOT EXISTS locked_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS idempotency_keys_expires_idx ON idempotency_keys (expires_at);
