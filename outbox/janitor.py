"""The relay process's janitor: retention and self-healing, in a thread beside the relay.

- Retention (contract section 10): published outbox rows older than OUTBOX_RETENTION_HOURS
  are deleted in batches of PURGE_BATCH, a short pause between batches, so that it never
  holds locks the relay or the API wait on. Unpublished rows are never deleted.
- Self-healing (contract section 7): every SWEEP_INTERVAL the payments that have not moved
  for STUCK_AFTER_SECONDS are re-driven from their current step (`payments.recovery.sweep`),
  enqueued by actor name, unless their step's message is still on its way: upstream of
  Redis (its event unpublished, or not yet past the bridge: the delivery horizon,
  `payments.horizon`) or in Redis (queued behind a backlog, running, or waiting for a
  retry). Only a lost message is sent again. With several relays, an advisory lock lets one
  sweep at a time.

Both are counted in the relay's metrics; a failure (PostgreSQL or Redis down) is logged in
one line and tried again at the next round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payments import recovery
from payments.bootstrap import Container
from payments.db.outbox_store import SqlOutbox
from payments.errors import summary
from payments.horizon import Horizon, Positions
from payments.queue import names
from payments.queue.queued import QueuedStep, queued_steps
from payments.recovery import Redrive, Step

log = logging.getLogger("payments.janitor")

PURGE_BATCH = 500
PURGE_PAUSE_S = 0.05
PURGE_MAX_BATCHES = 200  # per round: at most 100,000 rows, then the next round goes on
SWEEP_LIMIT = 500
# Stripe redelivers a webhook event for up to three days: its id is kept a week.
GATEWAY_EVENT_RETENTION_S = 7 * 24 * 3600.0


def sweep_interval(stuck_after_s: float) -> float:
    """How often to sweep: a quarter of the idle time, between 1 and 30 s."""
    return max(1.0, min(30.0, stuck_after_s / 4))


@dataclass
class JanitorHooks:
    """What the janitor reports (the relay's metrics)."""

    on_purged: Callable[[int], None] = lambda n: None
    on_redriven: Callable[[Step], None] = lambda step: None
    on_still_queued: Callable[[Step], None] = lambda step: None
    on_redriven_refunds: Callable[[int], None] = lambda n: None
    on_error: Callable[[str, BaseException], None] = lambda task, err: None


class Janitor:
    """Purges old published rows and re-drives stalled payments, round after round."""

    def __init__(
        self,
        container: Container,
        hooks: JanitorHooks | None = None,
        positions: Callable[[], Positions] | None = None,
    ):
        """`positions` makes the bridge's Kafka positions (None: no Kafka between the outbox
        and Redis, as in the tests' stub broker; only unpublished events are upstream)."""
        self.container = container
        self._positions = positions
        self.horizon: Horizon | None = None
        settings = container.settings
        self.retention_s = settings.outbox_retention_hours * 3600.0
        self.stuck_after_s = float(settings.stuck_after_seconds)
        self.action_timeout_s = float(settings.payment_action_timeout_s)
        self.interval_s = min(
            sweep_interval(self.stuck_after_s), sweep_interval(self.action_timeout_s)
        )
        self.hooks = hooks or JanitorHooks()
        self.purged = 0
        self.redriven = 0

    def purge(self, stop: threading.Event | None = None) -> int:
        """Delete published rows past retention, batch by batch; how many went."""
        total = 0
        for _ in range(PURGE_MAX_BATCHES):
            with self.container.engine.begin() as conn:
                count = SqlOutbox(conn).purge_published(self.retention_s, PURGE_BATCH)
            total += count
            self.hooks.on_purged(count)
            if count == 0 or (stop is not None and stop.wait(PURGE_PAUSE_S)):
                break
        self.purged += total
        return total

    def queued_steps(self) -> set[QueuedStep]:
        """The steps with a message still in Redis (waiting, running, or delayed for a retry):
        idle because of a backlog, not lost."""
        broker: Any = self.container.broker
        client = getattr(broker, "client", None)
        if client is None:  # a broker without Redis (the tests' stub): nothing known queued
            return set()
        return queued_steps(client, broker.namespace, names.QUEUES)

    def delivered_before(self) -> tuple[bool, datetime | None]:
        """(known, horizon): the delivery horizon moved on by one snapshot. Unknown until
        the bridge was first seen caught up; while Kafka cannot be asked, the horizon so far
        (it stays true)."""
        if self._positions is None:
            return True, None
        try:
            if self.horizon is None:
                engine = self.container.engine

                def clock() -> datetime:
                    with engine.connect() as conn:
                        return SqlOutbox(conn).clock()

                self.horizon = Horizon(self._positions(), clock)
            horizon = self.horizon.advance()
        except Exception as err:
            self.hooks.on_error("horizon", err)
            log.warning("janitor could not read the bridge's positions (%s)", summary(err))
            horizon = self.horizon.time if self.horizon is not None else None
        return horizon is not None, horizon

    def sweep(self) -> list[Redrive] | None:
        """Re-drive the stalled payments once (None if another relay is sweeping, or the
        delivery horizon is not known yet)."""
        known, delivered_before = self.delivered_before()
        if not known:
            return None
        broker = self.container.broker

        def send(redrive: Redrive) -> None:
            actor = recovery.ACTOR_OF_STEP[redrive.step]
            names.send(broker, actor, str(redrive.target), redrive=True)

        done = recovery.sweep(
            self.container.uow(),
            self.stuck_after_s,
            send,
            SWEEP_LIMIT,
            queued=self.queued_steps,
            on_queued=lambda redrive: self.hooks.on_still_queued(redrive.step),
            delivered_before=delivered_before,
        )
        for redrive in done or ():
            self.hooks.on_redriven(redrive.step)
            log.warning(
                "re-drove %s: unchanged for over %ds",
                redrive.step,
                int(self.stuck_after_s),
                extra={"payment_id": str(redrive.payment_id)},
            )
        self.redriven += len(done or ())
        self.sweep_refunds(delivered_before)
        return done

    def sweep_refunds(
        self, delivered_before: datetime | None = None
    ) -> recovery.RefundRedrives | None:
        """Re-drive the stalled refunds and cancellations once."""
        broker = self.container.broker

        def send(actor: names.ActorRef, target: str) -> None:
            names.send(broker, actor, target, redrive=True)

        done = recovery.sweep_refunds(
            self.container.uow(),
            self.stuck_after_s,
            send,
            SWEEP_LIMIT,
            queued=self.queued_steps,
            delivered_before=delivered_before,
        )
        if done:
            self.hooks.on_redriven_refunds(len(done))
            log.warning(
                "re-drove %d refund(s) to the gateway, %d to their e-mail, %d cancellation(s)",
                len(done.charge),
                len(done.notify),
                len(done.cancellations),
            )
            self.redriven += len(done)
        return done

    def expire_actions(self) -> int:
        """Ask for the cancellation of each 3-D Secure authentication past
        PAYMENT_ACTION_TIMEOUT_S, and for the refund of each stray charge; how many."""
        uow = self.container.uow()
        with uow.reading():
            expired = uow.repo.expired_actions(self.action_timeout_s, SWEEP_LIMIT)
            strays = uow.repo.unsettled_strays(SWEEP_LIMIT)
        broker = self.container.broker
        with uow:  # the webhook events' ids past Stripe's redelivery window, a batch a round
            uow.repo.purge_gateway_events(GATEWAY_EVENT_RETENTION_S, PURGE_BATCH)
            uow.commit()
        for payment_id in expired:
            names.send(broker, names.EXPIRE_PAYMENT_ACTION, str(payment_id))
        for reference in strays:
            names.send(broker, names.REFUND_STRAY_CHARGE, reference)
        if expired or strays:
            log.warning(
                "asked to expire %d 3-D Secure authentication(s) and refund %d stray charge(s)",
                len(expired),
                len(strays),
            )
        return len(expired) + len(strays)

    def run_once(self, stop: threading.Event | None = None) -> None:
        """One round: sweep, expire, then purge; each failure logged and counted, never
        raised."""
        for task, work in (
            ("sweep", self.sweep),
            ("expire", self.expire_actions),
            ("purge", lambda: self.purge(stop)),
        ):
            try:
                work()
            except Exception as err:
                self.hooks.on_error(task, err)
                log.warning("janitor %s failed (%s); trying again next round", task, summary(err))

    def run(self, stop: threading.Event) -> None:
        """Round after round until `stop` is set."""
        while not stop.wait(self.interval_s):
            self.run_once(stop)

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run in a daemon thread (the relay's own loop keeps the main thread)."""
        thread = threading.Thread(target=self.run, args=(stop,), name="janitor", daemon=True)
        thread.start()
        return thread
