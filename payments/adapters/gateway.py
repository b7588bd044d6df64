"""A fake gateway for the unit tier: the contract's section 4 rule, in process.

The service's gateway is `payments.adapters.stripe_gateway.StripeGateway`, over HTTP, to
Stripe or to its simulator (`stripesim`).
"""

from __future__ import annotations

from uuid import UUID

from payments.domain.gateway_rule import Decision, TransientGatewayError, decide
from payments.domain.model import Reason, Status
from payments.ports import Charge, RefundOrder, RefundOutcome


class FakeGateway:
    """Records calls; answers with the section 4 rule (no latency, no randomness unless
    asked: the first `transient_failures` calls fail with an unknown outcome)."""

    def __init__(self, transient_failures: int = 0, charged_before_failing: bool = False):
        self.calls: list[UUID] = []
        self.refunds: list[UUID] = []
        self.resolved: list[UUID] = []
        self.transient_failures = transient_failures
        # With `charged_before_failing`, a failed call had charged (its answer was lost).
        self.charged_before_failing = charged_before_failing
        self.charged: dict[UUID, Decision] = {}

    def _fail_now(self) -> bool:
        if self.transient_failures > 0:
            self.transient_failures -= 1
            return True
        return False

    def charge(self, charge: Charge) -> Decision:
        """Fail transiently the first `transient_failures` times, then decide."""
        self.calls.append(charge.transaction_id)
        if charge.transaction_id in self.charged:
            return self.charged[charge.transaction_id]
        failing = self._fail_now()
        if failing and not self.charged_before_failing:
            raise TransientGatewayError("the gateway did not answer")
        decision = decide(charge.token, charge.amount, 1.0, 0.0)
        if decision.status is Status.SUCCESS:
            decision = Decision(Status.SUCCESS, reference=f"pi_fake_{charge.transaction_id.hex}")
        self.charged[charge.transaction_id] = decision
        if failing:
            raise TransientGatewayError("the gateway's answer was lost")
        return decision

    def resolve(self, charge: Charge) -> Decision:
        """The charge it made, if any; else nothing stands: gateway_unavailable."""
        self.resolved.append(charge.transaction_id)
        found = self.charged.get(charge.transaction_id)
        return found or Decision(Status.FAILED, Reason.GATEWAY_UNAVAILABLE)

    def cancel_action(self, charge: Charge) -> Decision:
        """Cancelled: the cardholder did not authenticate in time."""
        self.resolved.append(charge.transaction_id)
        return Decision(Status.FAILED, Reason.AUTHENTICATION_FAILED, reference=charge.reference)

    def refund(self, order: RefundOrder) -> RefundOutcome:
        """Record the refund; fail transiently the first `transient_failures` times."""
        self.refunds.append(order.refund_id)
        if self._fail_now():
            raise TransientGatewayError("the gateway did not answer the refund")
        return RefundOutcome.SUCCEEDED
