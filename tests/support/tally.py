"""Counting what a fault scenario left behind, and the table that reports it.

Per accepted payment: its status, its transactions, its terminal status changes (payment and
transaction), its terminal outbox events, and the e-mails the SMTP server received for its
recipient. An e-mail beyond the first is *explained* only by the one window the contract
allows: it is not the one recorded in sent_emails, and a worker was SIGKILLed within
`DUPLICATE_WINDOW_S` after the SMTP server received it (the worker died between the `250`
and the commit that records it), or at most `LATE_ARRIVAL_S` before (it died after sending
the message's last line, and the server still accepted it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from tests.support.smtp import SmtpServer

DUPLICATE_WINDOW_S = 5.0
# The server may finish accepting a message after its sender was killed mid-DATA (the 250
# then goes to a dead peer): the same window, seen from the server's side.
LATE_ARRIVAL_S = 2.0

_PER_PAYMENT = text(
    """
    SELECT p.id::text, p.status,
      (SELECT count(*) FROM transactions t WHERE t.payment_id = p.id),
      (SELECT count(*) FROM status_changes s WHERE s.payment_id = p.id AND s.entity = 'payment'),
      (SELECT count(*) FROM status_changes s
        WHERE s.payment_id = p.id AND s.entity = 'transaction'),
      (SELECT count(*) FROM outbox o WHERE o.message_key = p.id::text
        AND o.event_type IN ('payment.succeeded', 'payment.failed')),
      (SELECT min(e.message_id) FROM sent_emails e WHERE e.payment_id = p.id)
    FROM payments p
    """
)


class StampingSmtp(SmtpServer):
    """The real SMTP server; `received` says when each message to a recipient arrived."""

    def received(self, recipient: str) -> list[tuple[float, str]]:
        """(arrival time, Message-ID) of every message to `recipient`."""
        with self.handler.lock:
            return [(at, mid) for at, to, mid in self.handler.received if to == recipient]


@dataclass
class Row:
    """One scenario's line of the table."""

    scenario: str
    accepted: int
    terminal: int
    transactions_per_payment: str
    status_changes_per_payment: str
    emails_per_payment: str
    duplicate_emails: int
    explained_duplicates: int
    lost: int
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _spread(values: list[int]) -> str:
    """'1' when every value is 1; else 'min..max' (and how many were not 1)."""
    if not values:
        return "-"
    low, high = min(values), max(values)
    if low == high:
        return str(low)
    off = sum(1 for v in values if v != 1)
    return f"{low}..{high} ({off} not 1)"


def tally(
    scenario: str,
    engine: Engine,
    smtp: StampingSmtp,
    emails: dict[str, str],
    worker_kills: list[float],
    seconds: float,
    notes: dict[str, Any] | None = None,
    charges: dict[str, int] | None = None,
) -> Row:
    """Count what the scenario left behind for the accepted payments `emails` (id -> to);
    with `charges` (the gateway's own count per payment), also that each SUCCESS payment was
    charged once and each FAILED one not at all."""
    with engine.connect() as conn:
        rows = {r[0]: r for r in conn.execute(_PER_PAYMENT)}
    problems: list[str] = []
    stray = set(rows) - set(emails)
    if stray:
        problems.append(f"{len(stray)} payments in the database were never accepted")
    terminal = lost = duplicates = explained = 0
    windows: list[float | None] = []
    txs, changes, mails = [], [], []
    for pid, to in emails.items():
        row = rows.get(pid)
        received = smtp.received(to)
        mails.append(len(received))
        if row is None:
            lost += 1
            problems.append(f"accepted payment {pid} is not in the database")
            continue
        _, status, tx_count, pay_changes, tx_changes, terminal_events, recorded = row
        if charges is not None:
            charged = charges.get(pid, 0)
            if charged > 1 or (status, charged) in (("SUCCESS", 0), ("FAILED", 1)):
                problems.append(f"{pid}: {status} with {charged} charges at the gateway")
        txs.append(tx_count)
        changes.append(pay_changes)
        if status != "PENDING" and (pay_changes, tx_changes, terminal_events) != (1, 1, 1):
            problems.append(
                f"{pid}: {pay_changes} payment / {tx_changes} transaction changes, "
                f"{terminal_events} terminal events"
            )
        if status != "PENDING":
            terminal += 1
        if status == "PENDING" or not received:
            lost += 1
        extra = [(at, mid) for at, mid in received if mid != (recorded or "").strip()]
        if received and len(extra) == len(received):
            extra = extra[1:]  # nothing recorded (yet): count one of them as the e-mail
        for at, _ in extra:
            duplicates += 1
            offsets = [round(at - kill, 2) for kill in worker_kills]
            nearest = min(offsets, key=abs, default=None)
            if any(-DUPLICATE_WINDOW_S <= o <= LATE_ARRIVAL_S for o in offsets):
                explained += 1
                windows.append(nearest)
            else:
                problems.append(
                    f"{pid}: unexplained duplicate e-mail to {to} "
                    f"(arrived {nearest}s from the nearest worker kill)"
                )
    return Row(
        scenario,
        len(emails),
        terminal,
        _spread(txs),
        _spread(changes),
        _spread(mails),
        duplicates,
        explained,
        lost,
        round(seconds, 1),
        {**(notes or {}), **({"duplicate_vs_kill_s": windows} if windows else {})},
        problems,
    )


HEADERS = (
    ("scenario", 26),
    ("accepted", 8),
    ("terminal", 8),
    ("tx/pay", 7),
    ("changes/pay", 11),
    ("emails/pay", 10),
    ("dup emails", 10),
    ("lost", 4),
    ("secs", 6),
)


def table(rows: list[Row]) -> str:
    """The rows as a fixed-width text table, followed by each scenario's notes."""
    head = " | ".join(name.ljust(width) for name, width in HEADERS)
    lines = [head, "-" * len(head)]
    for r in rows:
        dup = str(r.duplicate_emails)
        if r.duplicate_emails:
            dup += f" ({r.explained_duplicates} expl.)"
        cells = (
            r.scenario,
            r.accepted,
            r.terminal,
            r.transactions_per_payment,
            r.status_changes_per_payment,
            r.emails_per_payment,
            dup,
            r.lost,
            r.seconds,
        )
        lines.append(" | ".join(str(c).ljust(w) for c, (_, w) in zip(cells, HEADERS, strict=True)))
    for r in rows:
        detail = ", ".join(f"{k}={v}" for k, v in r.notes.items())
        lines.append(f"  {r.scenario}: {detail}")
        lines.extend(f"    PROBLEM {p}" for p in r.problems[:10])
    return "\n".join(lines)


def status_summary(counts: Counter[int]) -> str:
    """HTTP statuses as '201x300 503x12'."""
    return " ".join(f"{status}x{n}" for status, n in sorted(counts.items()))


def failures(row: Row, expected: int) -> list[str]:
    """What is wrong with a scenario's row (empty when the guarantees held)."""
    wrong = list(row.problems)
    if row.accepted != expected:
        wrong.append(f"{row.accepted} of {expected} payments accepted")
    if row.lost or row.terminal != row.accepted:
        wrong.append(f"lost {row.lost}, terminal {row.terminal} of {row.accepted}")
    if row.transactions_per_payment != "1":
        wrong.append(f"transactions per payment: {row.transactions_per_payment}")
    if row.status_changes_per_payment != "1":
        wrong.append(f"terminal status changes per payment: {row.status_changes_per_payment}")
    if row.duplicate_emails != row.explained_duplicates:
        wrong.append(f"{row.duplicate_emails - row.explained_duplicates} unexplained e-mails")
    return wrong
