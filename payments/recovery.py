"""Recovery: which step re-drives a payment that stopped moving (`flask payments reprocess`).

Messages can be lost after the outbox handed them on (a Redis without persistence restarted,
dead letters discarded). The database still says how far each payment got, so the next step
can be asked for again; every step is idempotent, so asking for one that is in fact still
queued or running changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from payments.domain.model import Status
from payments.ports import Progress, UnitOfWork
from payments.queue import names
from payments.uow import SqlUnitOfWork


class Step(StrEnum):
    """A pipeline step, named after its use case."""

    CHARGE = "charge"
    NOTIFY = "notify"


# The actor that runs each step (the sweep and `flask payments reprocess` enqueue by name).
ACTOR_OF_STEP = {
    Step.CHARGE: names.CHARGE_PAYMENT,
    Step.NOTIFY: names.SEND_PAYMENT_EMAIL,
}


@dataclass(frozen=True)
class Redrive:
    """Run `step` again for a payment; `target` is the id that step takes."""

    payment_id: UUID
    step: Step
    target: UUID


@dataclass(frozen=True)
class Plan:
    """What reprocessing will do: the re-drives, and the ids it leaves alone."""

    redrives: list[Redrive]
    finished: list[UUID]
    unknown: list[UUID]


def next_step(progress: Progress) -> Redrive | None:
    """The step a payment waits for; None when it is finished and its e-mail recorded.

    Payment PENDING -> charge it (the step opens the transaction when it has none, and only
    settles one the gateway answered already); payment finished without its e-mail -> send
    the e-mail.
    """
    pid = progress.payment_id
    if progress.payment_status is Status.PENDING:
        return Redrive(pid, Step.CHARGE, pid)
    if not progress.email_sent:
        return Redrive(pid, Step.NOTIFY, pid)
    return None


def plan_for_ids(uow: UnitOfWork, payment_ids: Sequence[UUID]) -> Plan:
    """The re-drives for the named payments (finished and unknown ones are listed apart)."""
    wanted = list(dict.fromkeys(payment_ids))
    with uow:
        found = {p.payment_id: p for p in uow.repo.progress(payment_ids=wanted)}
    redrives, finished, unknown = [], [], []
    for pid in wanted:
        if pid not in found:
            unknown.append(pid)
        elif (redrive := next_step(found[pid])) is None:
            finished.append(pid)
        else:
            redrives.append(redrive)
    return Plan(redrives, finished, unknown)


def plan_for_stuck(uow: UnitOfWork, idle_seconds: float, limit: int = 10_000) -> Plan:
    """The re-drives for every unfinished payment that has not changed for `idle_seconds`."""
    with uow:
        stuck = uow.repo.progress(idle_seconds=idle_seconds, limit=limit)
    redrives = [r for r in map(next_step, stuck) if r is not None]
    return Plan(redrives, [], [])


def sweep(
    uow: UnitOfWork,
    idle_seconds: float,
    send: Callable[[Redrive], None],
    limit: int = 500,
    queued: Callable[[], Container[tuple[str, str]]] | None = None,
    on_queued: Callable[[Redrive], None] = lambda redrive: None,
    delivered_before: datetime | None = None,
) -> list[Redrive] | None:
    """Self-healing: re-drive every unfinished payment idle for `idle_seconds` whose step's
    message is gone, and remember when, so that the next sweep waits as long again. None
    when another sweep holds the lock.

    A step's message is on its way while its event is upstream of Redis: unpublished in the
    outbox, or published at or after `delivered_before`, the delivery horizon
    (`payments.horizon`; None: only unpublished events are upstream). Such payments are not
    even looked at. `queued` says which (actor name, id) still have a message waiting,
    running or delayed (`payments.queue.queued`); it is asked only when there are idle
    payments. A payment idle because its message waits behind a backlog is not re-driven
    (no duplicate message), only marked, so it is looked at again one idle period later,
    and told to `on_queued`.

    Runs in one transaction holding the sweep's advisory lock, so that several relays sweep
    one at a time; a failed `send` rolls the marks back and the next sweep tries again.
    Cheap when nothing was lost: the query reads only unfinished payments.
    """
    with uow:
        if not uow.repo.claim_sweep():
            return None
        stuck = uow.repo.progress(
            idle_seconds=idle_seconds,
            limit=limit,
            skip_in_flight=True,
            delivered_before=delivered_before,
        )
        redrives = [r for r in map(next_step, stuck) if r is not None]
        waiting = queued() if queued is not None and redrives else ()
        lost = [r for r in redrives if (ACTOR_OF_STEP[r.step].name, str(r.target)) not in waiting]
        for redrive in lost:
            send(redrive)
        for redrive in redrives:
            if redrive not in lost:
                on_queued(redrive)
        uow.repo.mark_redriven([r.payment_id for r in redrives])
        uow.commit()
    return lost


@dataclass(frozen=True)
class RefundRedrives:
    """What a refund sweep re-drove: refunds to the gateway or to their e-mail, and
    cancellations whose batches stopped."""

    charge: list[UUID]
    notify: list[UUID]
    cancellations: list[str]

    def __len__(self) -> int:
        return len(self.charge) + len(self.notify) + len(self.cancellations)


def sweep_refunds(
    uow: SqlUnitOfWork,
    idle_seconds: float,
    send: Callable[[names.ActorRef, str], None],
    limit: int = 500,
    queued: Callable[[], Container[tuple[str, str]]] | None = None,
    delivered_before: datetime | None = None,
) -> RefundRedrives | None:
    """Self-healing for refunds: every refund idle `idle_seconds` whose message is gone (see
    `sweep`) is re-driven from its step (a PENDING one to the gateway, a finished one without
    its e-mail to its e-mail), and each cancellation whose batches stopped gets its next
    batch. None when another sweep runs."""
    with uow:
        if not uow.repo.claim_sweep():
            return None
        stalled = uow.refunds.stalled(idle_seconds, limit, True, delivered_before)
        cancellations = uow.refunds.scanning(idle_seconds, limit, True, delivered_before)
        waiting = queued() if queued is not None and (stalled or cancellations) else ()

        def lost(actor: names.ActorRef, target: object) -> bool:
            return (actor.name, str(target)) not in waiting

        charge = [
            r.refund_id
            for r in stalled
            if not r.status.terminal and lost(names.PROCESS_REFUND, r.refund_id)
        ]
        notify = [
            r.refund_id
            for r in stalled
            if r.status.terminal and lost(names.SEND_REFUND_EMAIL, r.refund_id)
        ]
        cancellations = [e for e in cancellations if lost(names.REFUND_CANCELLED_EVENT, e)]
        for refund_id in charge:
            send(names.PROCESS_REFUND, str(refund_id))
        for refund_id in notify:
            send(names.SEND_REFUND_EMAIL, str(refund_id))
        for event_id in cancellations:
            send(names.REFUND_CANCELLED_EVENT, event_id)
        uow.refunds.mark_redriven([r.refund_id for r in stalled])
        uow.refunds.touch_cancellations(cancellations)
        uow.commit()
    return RefundRedrives(charge, notify, cancellations)
