"""The simulated payment gateway, and a fake for unit tests."""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from decimal import Decimal
from uuid import UUID

from payments.domain.gateway_rule import Decision, TransientGatewayError, decide
from payments.domain.secret import PaymentToken


class SimulatedGateway:
    """Applies the contract's rule after `latency_ms`; remembers answers per idempotency key.

    A call that would take longer than `timeout_ms` gives up after `timeout_ms` with a
    `TransientGatewayError`, as a client's read timeout would (outcome unknown: retried).
    """

    def __init__(
        self,
        latency_ms: int = 0,
        transient_failure_rate: float = 0.0,
        memory: int = 10_000,
        timeout_ms: int = 30_000,
    ):
        self.latency_s = latency_ms / 1000
        self.timeout_s = timeout_ms / 1000
        self.failure_rate = transient_failure_rate
        self._answers: OrderedDict[UUID, Decision] = OrderedDict()
        self._refunded: OrderedDict[UUID, Decimal] = OrderedDict()
        self._memory = memory
        self._lock = threading.Lock()
        self._random = random.Random()

    def _wait(self) -> None:
        """The gateway's latency, bounded by the call's timeout."""
        if self.latency_s > self.timeout_s:
            time.sleep(self.timeout_s)
            raise TransientGatewayError(f"the gateway did not answer within {self.timeout_s} s")
        if self.latency_s:
            time.sleep(self.latency_s)

    def charge(
        self, idempotency_key: UUID, token: PaymentToken | None, amount: Decimal
    ) -> Decision:
        """The decision for this key: the remembered one, or a new one (may raise transient)."""
        with self._lock:
            if idempotency_key in self._answers:
                return self._answers[idempotency_key]
        self._wait()
        decision = decide(token, amount, self._random.random(), self.failure_rate)
        with self._lock:
            self._answers[idempotency_key] = decision
            while len(self._answers) > self._memory:
                self._answers.popitem(last=False)
        return decision

    def refund(self, idempotency_key: UUID, amount: Decimal) -> None:
        """Refund once per key (contract section 9); may raise `TransientGatewayError`. The
        token is not needed: the gateway refunds the charge it made."""
        with self._lock:
            if idempotency_key in self._refunded:
                return
        self._wait()
        if self._random.random() < self.failure_rate:
            raise TransientGatewayError("the gateway did not answer the refund")
        with self._lock:
            self._refunded[idempotency_key] = amount
            while len(self._refunded) > self._memory:
                self._refunded.popitem(last=False)


class FakeGateway:
    """Records calls; answers with the real rule (no latency, no randomness unless asked)."""

    def __init__(self, transient_failures: int = 0):
        self.calls: list[UUID] = []
        self.refunds: list[UUID] = []
        self.transient_failures = transient_failures

    def charge(
        self, idempotency_key: UUID, token: PaymentToken | None, amount: Decimal
    ) -> Decision:
        """Fail transiently the first `transient_failures` times, then decide."""
        self.calls.append(idempotency_key)
        roll = 0.0 if self.transient_failures > 0 else 1.0
        self.transient_failures = max(0, self.transient_failures - 1)
        return decide(token, amount, roll, 0.5)

    def refund(self, idempotency_key: UUID, amount: Decimal) -> None:
        """Record the refund; fail transiently the first `transient_failures` times."""
        self.refunds.append(idempotency_key)
        if self.transient_failures > 0:
            self.transient_failures -= 1
            raise TransientGatewayError("the gateway did not answer the refund")
