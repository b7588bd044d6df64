-- The payment service's schema: the single source of truth, as ordered migration steps.
--
-- `flask db init` (payments/db/migrations.py) applies the steps a database has not recorded
-- in schema_migrations, in order, and records each. A plain step runs in one transaction
-- that waits at most MIGRATION_LOCK_TIMEOUT_MS for each lock (then gives way and is tried
-- again), so no API request queues behind it for longer. A step marked `concurrently` runs
-- each statement on its own outside any transaction: CREATE INDEX CONCURRENTLY and VALIDATE
-- CONSTRAINT, which take no lock that writers wait on. Every step is idempotent (a database
-- of a release before the steps existed records none and runs them all), and a released step
-- is never edited: a change is a new step at the end.

-- @step 1: payments
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
    amount            numeric(14, 4) NOT NULL CHECK (amount > 0),  -- every ISO 4217 currency
    currency          char(3) NOT NULL,
    payment_token     text,          -- erased once the gateway has answered
    failure_reason    text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payments_pending_idx ON payments (updated_at) WHERE status = 'PENDING';
-- Databases created when amounts had two decimals: widen in place (values are kept exactly;
-- only a database still on the old type is rewritten, so a second run costs nothing).
DO $$
BEGIN
    IF (SELECT numeric_scale FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'payments'
          AND column_name = 'amount') < 4 THEN
        ALTER TABLE payments ALTER COLUMN amount TYPE numeric(14, 4);
    END IF;
END
$$;
-- Self-healing (contract section 7): when the result e-mail was recorded (a copy of
-- sent_emails' fact on the row the sweep reads) and when the sweep last re-drove the payment.
-- The sweep's two indexes (step 13) hold only unfinished payments, so it costs the same
-- with a million past payments as with none.
ALTER TABLE payments ADD COLUMN IF NOT EXISTS emailed_at timestamptz;
ALTER TABLE payments ADD COLUMN IF NOT EXISTS redriven_at timestamptz;

-- @step 2: transactions
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
-- The gateway's id of the charge (Stripe's PaymentIntent) and the issuer's decline code
-- (contract section 12). Nullable columns without a default: added without a rewrite.
ALTER TABLE transactions ADD COLUMN IF NOT EXISTS gateway_reference text;
ALTER TABLE transactions ADD COLUMN IF NOT EXISTS decline_code text;
-- The client secret of a PaymentIntent waiting for 3-D Secure, for the front end's Stripe.js
-- only (shown in the payment resource); erased when the transaction ends.
ALTER TABLE transactions ADD COLUMN IF NOT EXISTS action_secret text;
-- authentication_failed (3-D Secure not completed in time): checked for new rows at once,
-- validated for the old ones in step 16 (no write waits on it).
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint WHERE conname = 'transactions_reason_check'
        AND position('authentication_failed' IN pg_get_constraintdef(oid)) > 0
    ) THEN
        ALTER TABLE transactions DROP CONSTRAINT IF EXISTS transactions_reason_check;
        ALTER TABLE transactions ADD CONSTRAINT transactions_reason_check
            CHECK (reason IN ('invalid_payment_data', 'rejected_by_gateway',
                              'gateway_unavailable', 'authentication_failed')) NOT VALID;
    END IF;
END
$$;

-- @step 3: status changes
-- One row per terminal status change; the unique key is the last guard against a second one.
CREATE TABLE IF NOT EXISTS status_changes (
    payment_id  uuid NOT NULL REFERENCES payments (id),
    entity      text NOT NULL CHECK (entity IN ('payment', 'transaction')),
    to_status   text NOT NULL CHECK (to_status IN ('SUCCESS', 'FAILED')),
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payment_id, entity)
);

-- @step 4: outbox
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
-- The full index on published_at of an earlier release (its NULLs were every unpublished row);
-- retention reads outbox_published_idx (step 14) instead.
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

-- @step 5: sent e-mails
-- One e-mail per finished payment and kind; recorded right after the SMTP server accepted it.
CREATE TABLE IF NOT EXISTS sent_emails (
    payment_id  uuid NOT NULL REFERENCES payments (id),
    kind        text NOT NULL CHECK (kind IN ('approved', 'rejected')),
    message_id  text NOT NULL,
    sent_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payment_id, kind)
);

-- Databases created before payments.emailed_at existed: copy the fact over once (their
-- finished payments not yet e-mailed; none in a database of a later release).
UPDATE payments p SET emailed_at = s.sent_at
    FROM sent_emails s
    WHERE s.payment_id = p.id AND p.status <> 'PENDING' AND p.emailed_at IS NULL;

-- @step 6: payment counters
-- Finished payments by status, for /metrics at a cost that does not grow with history:
-- each settle adds 1 to one of 16 rows of its status (spread so that concurrent settles
-- rarely wait on the same row); the scrape sums at most 32 rows.
CREATE TABLE IF NOT EXISTS payment_status_counts (
    status  text NOT NULL CHECK (status IN ('SUCCESS', 'FAILED')),
    shard   smallint NOT NULL,
    n       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (status, shard)
);
CREATE OR REPLACE FUNCTION count_payment_status() RETURNS trigger AS $$
BEGIN
    INSERT INTO payment_status_counts AS c (status, shard, n)
        VALUES (NEW.status, floor(random() * 16)::smallint, 1)
        ON CONFLICT (status, shard) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS payments_count_status ON payments;
CREATE TRIGGER payments_count_status AFTER UPDATE OF status ON payments
    FOR EACH ROW WHEN (OLD.status = 'PENDING' AND NEW.status <> 'PENDING')
    EXECUTE FUNCTION count_payment_status();
-- A database that settled payments before the counters existed: count them once.
INSERT INTO payment_status_counts (status, shard, n)
    SELECT status, 0, count(*) FROM payments
    WHERE status <> 'PENDING' AND NOT EXISTS (SELECT 1 FROM payment_status_counts)
    GROUP BY status;

-- @step 7: refunds
-- Refunds (contract section 9). payments.amount_reserved is the sum of every refund of the
-- payment that has not FAILED: it changes only under the payment's row lock, and the CHECK
-- makes refunding more than was paid impossible even for concurrent requests (checked for new
-- rows at once, validated for the old ones in step 16).
ALTER TABLE payments ADD COLUMN IF NOT EXISTS amount_reserved numeric(14, 4) NOT NULL DEFAULT 0;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'payments_refunds_within_amount') THEN
        ALTER TABLE payments ADD CONSTRAINT payments_refunds_within_amount
            CHECK (amount_reserved >= 0 AND amount_reserved <= amount) NOT VALID;
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS refunds (
    id              uuid PRIMARY KEY,
    payment_id      uuid NOT NULL REFERENCES payments (id),
    amount          numeric(14, 4) NOT NULL CHECK (amount > 0),
    currency        char(3) NOT NULL,
    reason          text NOT NULL CHECK (reason IN ('requested_by_customer', 'event_cancelled',
                                                    'duplicate', 'fraudulent')),
    status          text NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    failure_reason  text CHECK (failure_reason IN ('gateway_unavailable')),
    emailed_at      timestamptz,
    redriven_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'FAILED') = (failure_reason IS NOT NULL))
);
-- A payment's refunds are read off refunds_listing_payment_idx (step 18),
-- which replaced refunds_payment_idx (payment_id, created_at).
-- Made by the event's cancellation (reason event_cancelled), not asked for by hand: a refund
-- with that reason made by hand before the cancellation (possible until this column came)
-- is not the cancellation's, which still refunds what it left. Adding a column with a
-- constant default rewrites nothing (PostgreSQL 11+).
ALTER TABLE refunds ADD COLUMN IF NOT EXISTS by_cancellation boolean NOT NULL DEFAULT false;
-- When a PENDING refund the gateway could not take is asked for again (the self-healing
-- sweep leaves it alone until then).
ALTER TABLE refunds ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz;
-- Once, on the upgrade that brings the column: the cancellation refunds already made are
-- the event_cancelled ones made after their event's cancellation was accepted (the old
-- unique index let at most one per payment exist).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = 'refunds_one_per_cancellation') THEN
        UPDATE refunds r SET by_cancellation = true
        FROM payments p JOIN event_cancellations c ON c.event_id = p.event_id
        WHERE r.payment_id = p.id AND r.reason = 'event_cancelled'
          AND r.created_at >= c.created_at AND NOT r.by_cancellation;
    END IF;
END
$$;
-- (refunds_one_cancellation_refund, the one refund per payment of a cancellation, is built
-- in step 15.)
-- Finished refunds by status, reason and failure reason, for /metrics at a cost that does not
-- grow with history (as payment_status_counts): each refund that finishes adds 1 to one of 16
-- rows of its kind.
CREATE TABLE IF NOT EXISTS refund_status_counts (
    status          text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
    reason          text NOT NULL,
    failure_reason  text NOT NULL DEFAULT '',
    shard           smallint NOT NULL,
    n               bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (status, reason, failure_reason, shard)
);
CREATE OR REPLACE FUNCTION count_refund_status() RETURNS trigger AS $$
BEGIN
    INSERT INTO refund_status_counts AS c (status, reason, failure_reason, shard, n)
        VALUES (NEW.status, NEW.reason, coalesce(NEW.failure_reason, ''),
                floor(random() * 16)::smallint, 1)
        ON CONFLICT (status, reason, failure_reason, shard) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS refunds_count_status ON refunds;
CREATE TRIGGER refunds_count_status AFTER UPDATE OF status ON refunds
    FOR EACH ROW WHEN (OLD.status = 'PENDING' AND NEW.status <> 'PENDING')
    EXECUTE FUNCTION count_refund_status();
-- A database that finished refunds before the counters existed: count them once.
INSERT INTO refund_status_counts (status, reason, failure_reason, shard, n)
    SELECT status, reason, coalesce(failure_reason, ''), 0, count(*) FROM refunds
    WHERE status <> 'PENDING' AND NOT EXISTS (SELECT 1 FROM refund_status_counts)
    GROUP BY status, reason, coalesce(failure_reason, '');
-- The sweep's view of unfinished refunds (as for payments).
CREATE INDEX IF NOT EXISTS refunds_pending_idx ON refunds (updated_at) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS refunds_unnotified_idx ON refunds (updated_at)
    WHERE status <> 'PENDING' AND emailed_at IS NULL;

-- @step 8: sent refund e-mails
-- One e-mail per refund outcome; recorded right after the SMTP server accepted it.
CREATE TABLE IF NOT EXISTS sent_refund_emails (
    refund_id   uuid NOT NULL REFERENCES refunds (id),
    kind        text NOT NULL
                CHECK (kind IN ('refund_confirmed', 'refund_failed', 'refund_delayed')),
    message_id  text NOT NULL,
    sent_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (refund_id, kind)
);
-- A database from before the "refund on its way" e-mail: the kind it allows, checked for new
-- rows at once and validated for the old ones in step 16 (no write waits).
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint WHERE conname = 'sent_refund_emails_kind_check'
        AND position('refund_delayed' IN pg_get_constraintdef(oid)) > 0
    ) THEN
        ALTER TABLE sent_refund_emails DROP CONSTRAINT IF EXISTS sent_refund_emails_kind_check;
        ALTER TABLE sent_refund_emails ADD CONSTRAINT sent_refund_emails_kind_check
            CHECK (kind IN ('refund_confirmed', 'refund_failed', 'refund_delayed')) NOT VALID;
    END IF;
END
$$;

-- @step 9: event cancellations
-- Cancelled events: accepted once; `cursor` is how far the refund batches have gone (by
-- payment id), so that a crash resumes where the last committed batch ended.
CREATE TABLE IF NOT EXISTS event_cancellations (
    event_id    text PRIMARY KEY,
    reason      text,
    cursor      uuid,
    scanned_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS event_cancellations_scanning_idx ON event_cancellations (updated_at)
    WHERE scanned_at IS NULL;

-- @step 10: idempotency keys
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

-- @step 11: API keys
-- API keys (contract section 11): only an HMAC-SHA256 of each key is stored (payments/api_keys.py
-- says why a fast keyed hash), with its name, scopes and a short prefix that is not secret.
CREATE TABLE IF NOT EXISTS api_keys (
    name          text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,
    scopes        text[] NOT NULL CHECK (cardinality(scopes) > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

-- @step 12: 3-D Secure and webhooks
-- Stripe's webhook events applied, by Stripe's event id: each is applied once however often
-- it is delivered (contract section 12). Kept WEBHOOK_EVENT_RETENTION_DAYS (Stripe retries
-- a delivery for up to three days).
CREATE TABLE IF NOT EXISTS gateway_events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS gateway_events_received_idx ON gateway_events (received_at);
-- Charges the gateway reported succeeded for a transaction that had already FAILED (a 3-D
-- Secure completed after its expiry): refunded in full, automatically; `outcome` is the
-- gateway's answer to that refund (succeeded, or failed: an operator's case).
CREATE TABLE IF NOT EXISTS stray_charges (
    gateway_reference text PRIMARY KEY,
    transaction_id    uuid NOT NULL REFERENCES transactions (id),
    found_at          timestamptz NOT NULL DEFAULT now(),
    settled_at        timestamptz,
    outcome           text CHECK (outcome IN ('succeeded', 'failed'))
);
CREATE INDEX IF NOT EXISTS stray_charges_unsettled_idx
    ON stray_charges (found_at) WHERE settled_at IS NULL;

-- @step 13 concurrently: the self-healing sweep's and the cancellations' payment indexes
-- Added to a payments table that may hold a long history: built without blocking writers.
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_unnotified_idx ON payments (updated_at)
    WHERE status <> 'PENDING' AND emailed_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_event_idx ON payments (event_id, id);

-- @step 14 concurrently: outbox retention index
-- Retention (contract section 10) deletes published rows by age, whatever their ids: a batch
-- reads the oldest published rows off this index, never blocked by recent or unpublished
-- rows with lower ids (rows imported, replayed or restored). Partial: unpublished rows, the
-- ones the relay claims, are not in it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_published_idx
    ON outbox (published_at) WHERE published_at IS NOT NULL;

-- @step 15 concurrently: one refund per payment and cancellation
-- An event's cancellation refunds each payment once, whatever delivers its batch twice.
-- Replaces refunds_one_per_cancellation, which also counted refunds made by hand.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS refunds_one_cancellation_refund
    ON refunds (payment_id) WHERE by_cancellation;
DROP INDEX CONCURRENTLY IF EXISTS refunds_one_per_cancellation;

-- @step 16 concurrently: validate the constraints added NOT VALID
-- Checks the rows of earlier releases against the constraints steps 2, 7 and 8 added NOT
-- VALID (a no-op once valid; takes no lock that writers wait on).
ALTER TABLE sent_refund_emails VALIDATE CONSTRAINT sent_refund_emails_kind_check;
ALTER TABLE transactions VALIDATE CONSTRAINT transactions_reason_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_refunds_within_amount;

-- @step 17 concurrently: transactions awaiting 3-D Secure
-- Transactions waiting for the cardholder (3-D Secure), for the expiry sweep: few at a time.
CREATE INDEX CONCURRENTLY IF NOT EXISTS transactions_awaiting_action_idx
    ON transactions (updated_at) WHERE status = 'PENDING' AND gateway_reference IS NOT NULL;

-- @step 18 concurrently: listing indexes
-- Listing (GET /payments, GET /refunds; payments.listing): every filter reads an index led by
-- its equality column and ending in (created_at, id), newest first, so that a page costs
-- the same with a million past payments as with none. created[gte]/created[lt] are a range
-- on the same tail.
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_listing_idx ON payments (created_at, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_listing_event_idx
    ON payments (event_id, created_at, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_listing_email_idx
    ON payments (user_email, created_at, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_listing_status_idx
    ON payments (status, created_at, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS refunds_listing_idx ON refunds (created_at, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS refunds_listing_payment_idx
    ON refunds (payment_id, created_at, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS refunds_listing_status_idx
    ON refunds (status, created_at, id);
DROP INDEX CONCURRENTLY IF EXISTS refunds_payment_idx;
