"""The skeletons' no-op actors (`dramatiq bench.skeleton_worker`): the same rows in the same
number of transactions as the service's actors, with plain psycopg and no business logic; the
e-mail is sent over an SMTP connection kept per worker thread (see bench.skeleton). The
four-hop flow runs create_transaction, process_transaction, settle_payment and send_email;
the two-hop flow runs charge (its two transactions: open, then the outcome and the settle)
and send_email."""

from __future__ import annotations

import smtplib
import threading
import uuid
from email.message import EmailMessage

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from psycopg_pool import ConnectionPool

from bench.skeleton import GATEWAY_QUEUE, INSERT_OUTBOX, QUEUE, libpq, outbox_row, settings

SETTINGS = settings()
dramatiq.set_broker(
    RedisBroker(
        client=redis.Redis.from_url(SETTINGS.redis_url), namespace=SETTINGS.dramatiq_namespace
    )
)
POOL = ConnectionPool(libpq(SETTINGS.database_url), min_size=1, max_size=8, open=False)
_local = threading.local()


def _pool() -> ConnectionPool:
    if POOL.closed:
        POOL.open()
    return POOL


def _smtp() -> smtplib.SMTP:
    """This thread's SMTP connection, opened again when the server dropped it."""
    conn: smtplib.SMTP | None = getattr(_local, "smtp", None)
    if conn is None:
        conn = smtplib.SMTP(SETTINGS.mail_server, SETTINGS.mail_port, timeout=20)
        _local.smtp = conn
    return conn


def _open_transaction(payment_id: str) -> None:
    """The transaction row and its outbox row, in one transaction."""
    with _pool().connection() as conn:
        conn.execute(
            "INSERT INTO transactions (id, payment_id) VALUES (%s, %s)",
            (uuid.uuid4(), payment_id),
        )
        conn.execute(INSERT_OUTBOX, outbox_row(SETTINGS.topics.transaction_created,
                     "transaction.created", payment_id, {"payment_id": payment_id}))  # fmt: skip


@dramatiq.actor(queue_name=QUEUE)
def skeleton_create_transaction(payment_id: str) -> None:
    """The transaction row and its outbox row."""
    _open_transaction(payment_id)


@dramatiq.actor(queue_name=QUEUE)
def skeleton_process_transaction(payment_id: str) -> None:
    """The transaction's outcome, its status change, the token erased, its outbox row."""
    with _pool().connection() as conn:
        conn.execute(
            "UPDATE transactions SET status = 'SUCCESS', updated_at = now() WHERE payment_id = %s",
            (payment_id,),
        )
        conn.execute(
            "INSERT INTO status_changes (payment_id, entity, to_status) "
            "VALUES (%s, 'transaction', 'SUCCESS')",
            (payment_id,),
        )
        conn.execute("UPDATE payments SET payment_token = NULL WHERE id = %s", (payment_id,))
        conn.execute(INSERT_OUTBOX, outbox_row(SETTINGS.topics.transaction_succeeded,
                     "transaction.succeeded", payment_id, {"payment_id": payment_id}))  # fmt: skip


@dramatiq.actor(queue_name=QUEUE)
def skeleton_settle_payment(payment_id: str) -> None:
    """The payment's outcome, its status change, its outbox row."""
    with _pool().connection() as conn:
        conn.execute(
            "UPDATE payments SET status = 'SUCCESS', updated_at = now() WHERE id = %s",
            (payment_id,),
        )
        conn.execute(
            "INSERT INTO status_changes (payment_id, entity, to_status) "
            "VALUES (%s, 'payment', 'SUCCESS')",
            (payment_id,),
        )
        conn.execute(INSERT_OUTBOX, outbox_row(SETTINGS.topics.payment_succeeded,
                     "payment.succeeded", payment_id, {"payment_id": payment_id}))  # fmt: skip


@dramatiq.actor(queue_name=GATEWAY_QUEUE)
def skeleton_charge(payment_id: str) -> None:
    """The two-hop charge: the transaction opened (one transaction), then its outcome, the
    token erased and the payment settled, with both status changes and both outbox rows
    (a second transaction), as `services.charge_payment` writes them."""
    _open_transaction(payment_id)
    with _pool().connection() as conn:
        conn.execute(
            "UPDATE transactions SET status = 'SUCCESS', updated_at = now() WHERE payment_id = %s",
            (payment_id,),
        )
        conn.execute(
            "UPDATE payments SET status = 'SUCCESS', payment_token = NULL, updated_at = now() "
            "WHERE id = %s",
            (payment_id,),
        )
        conn.execute(
            "INSERT INTO status_changes (payment_id, entity, to_status) "
            "VALUES (%s, 'transaction', 'SUCCESS'), (%s, 'payment', 'SUCCESS')",
            (payment_id, payment_id),
        )
        conn.execute(INSERT_OUTBOX, outbox_row(SETTINGS.topics.transaction_succeeded,
                     "transaction.succeeded", payment_id, {"payment_id": payment_id}))  # fmt: skip
        conn.execute(INSERT_OUTBOX, outbox_row(SETTINGS.topics.payment_succeeded,
                     "payment.succeeded", payment_id, {"payment_id": payment_id}))  # fmt: skip


@dramatiq.actor(queue_name=QUEUE)
def skeleton_send_email(payment_id: str) -> None:
    """One e-mail (text and HTML) to the fan, then the e-mail recorded."""
    with _pool().connection() as conn:
        (address,) = conn.execute(
            "SELECT user_email FROM payments WHERE id = %s", (payment_id,)
        ).fetchone() or ("",)
        message = EmailMessage()
        message["From"], message["To"] = SETTINGS.mail_default_sender, address
        message["Subject"] = "Payment approved"
        message.set_content("Your payment was approved.")
        message.add_alternative("<p>Your payment was approved.</p>", subtype="html")
        try:
            _smtp().send_message(message)
        except smtplib.SMTPServerDisconnected:
            _local.smtp = None
            _smtp().send_message(message)
        conn.execute(
            "INSERT INTO sent_emails (payment_id, kind, message_id) VALUES (%s, 'approved', %s)",
            (payment_id, str(uuid.uuid4())),
        )
        conn.execute("UPDATE payments SET emailed_at = now() WHERE id = %s", (payment_id,))
