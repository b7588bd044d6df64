"""The payment gateway over Stripe's HTTP API, with the official `stripe` library (contract
section 12): Stripe itself, or the simulator that speaks its API (`stripesim`).

One PaymentIntent per transaction, created and confirmed at once with the transaction id as
its `Idempotency-Key`; one Refund per refund, keyed by the refund id. Every call is bounded by
`timeout_s`; the library's own retries are off, so that the worker's retries (with backoff,
counted per message) are the only ones and one call never outlasts the timeout. The secret
key is given to the library only: it never appears in a log line, an error or a metric.

How an unknown outcome is closed (the Kill Bill "UNKNOWN" problem): see docs/gateway.md.
"""

from __future__ import annotations

import logging
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import requests
import stripe
from requests.adapters import HTTPAdapter

from payments import money
from payments.domain.gateway_rule import Decision, GatewayRefused, TransientGatewayError
from payments.domain.model import Reason, Status
from payments.ports import Charge, RefundOrder, RefundOutcome

log = logging.getLogger("payments.gateway")

STRIPE_API = "https://api.stripe.com"
# Stripe's search reads an index that may lag writes by up to a minute ("Don't use search in
# read-after-write flows", docs.stripe.com/search#data-freshness): a PaymentIntent not found
# sooner after its first attempt is not proof that none exists.
STRIPE_SEARCH_LAG = timedelta(seconds=60)
# A PaymentIntent in one of these states has not charged and can still be cancelled.
CANCELLABLE = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"}
)
# Errors about the payment itself (the front end's data): the payment fails for good.
PAYMENT_PARAMS = frozenset({"payment_method", "amount", "currency"})
PAYMENT_CODES = frozenset(
    {"resource_missing", "payment_method_unactivated", "amount_too_small", "amount_too_large"}
)


def session(pool_size: int) -> requests.Session:
    """One HTTP connection pool for every thread of a process (keep-alive to the API).

    The proxy settings of the environment (HTTPS_PROXY, NO_PROXY) are read once, here:
    requests would otherwise walk the whole environment on every call (a tenth of a charge's
    CPU, measured with cProfile)."""
    pooled = requests.Session()
    pooled.proxies = urllib.request.getproxies()
    pooled.trust_env = False
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
    pooled.mount("https://", adapter)
    pooled.mount("http://", adapter)
    return pooled


class StripeGateway:
    """The gateway port on Stripe's API (or the simulator's, at `base_url`)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = STRIPE_API,
        timeout_s: float = 30.0,
        pool_size: int = 10,
        search_lag: timedelta = STRIPE_SEARCH_LAG,
    ):
        self.search_lag = search_lag
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": base_url.rstrip("/")},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout_s, session=session(pool_size)),
        )

    # charges
    def charge(self, charge: Charge) -> Decision:
        if not charge.token:  # nothing the gateway could charge (contract section 4, rule 1)
            return Decision(Status.FAILED, Reason.INVALID_PAYMENT_DATA)
        params: Any = {
            "amount": money.minor_units(charge.amount, charge.currency),
            "currency": charge.currency.lower(),
            "payment_method": charge.token.reveal(),
            "payment_method_types": ["card"],  # cards only: no redirect to another site
            "confirm": True,
            "metadata": {
                "payment_id": str(charge.payment_id),
                "transaction_id": str(charge.transaction_id),
            },
        }
        options: Any = {"idempotency_key": str(charge.transaction_id)}
        try:
            intent = self.client.v1.payment_intents.create(params=params, options=options)
        except stripe.CardError as err:
            return declined(err)
        except stripe.InvalidRequestError as err:
            if err.param in PAYMENT_PARAMS or err.code in PAYMENT_CODES:
                reference = _intent_id(err)
                return Decision(Status.FAILED, Reason.INVALID_PAYMENT_DATA, reference=reference)
            raise refused(err) from None
        except stripe.StripeError as err:
            raise unknown_or_refused(err) from None
        return decision_of(intent)

    def resolve(self, charge: Charge) -> Decision:
        """Find the PaymentIntent by its metadata; cancel it while it can still charge."""
        try:
            intents = self.intents_of(charge.transaction_id)
            if not intents:
                if datetime.now(UTC) - charge.opened_at < self.search_lag:
                    raise TransientGatewayError("not found yet: Stripe's search may lag")
                return Decision(Status.FAILED, Reason.GATEWAY_UNAVAILABLE)
            for intent in intents:  # a charge made, or declined: that is the answer
                if intent.status == "succeeded" or getattr(intent, "last_payment_error", None):
                    return decision_of(intent)
            for intent in intents:
                if intent.status in CANCELLABLE:
                    self.client.v1.payment_intents.cancel(
                        intent.id, options={"idempotency_key": f"cancel-{intent.id}"}
                    )
                elif intent.status != "canceled":  # processing: not settled either way yet
                    raise TransientGatewayError(f"PaymentIntent {intent.id} is {intent.status}")
        except stripe.StripeError as err:
            raise unknown_or_refused(err) from None
        return Decision(Status.FAILED, Reason.GATEWAY_UNAVAILABLE, reference=intents[0].id)

    def cancel_action(self, charge: Charge) -> Decision:
        """Cancel the PaymentIntent waiting for 3-D Secure (its id is the transaction's
        reference, found by metadata otherwise); what it is once it can no longer change."""
        try:
            reference = charge.reference or next(
                (i.id for i in self.intents_of(charge.transaction_id)), None
            )
            if reference is None:
                return Decision(Status.FAILED, Reason.AUTHENTICATION_FAILED)
            try:
                intent = self.client.v1.payment_intents.cancel(
                    reference, options={"idempotency_key": f"cancel-{reference}"}
                )
            except stripe.InvalidRequestError as err:
                if err.code != "payment_intent_unexpected_state":
                    raise
                intent = self.client.v1.payment_intents.retrieve(reference)
        except stripe.StripeError as err:
            raise unknown_or_refused(err) from None
        if intent.status == "canceled":
            return Decision(Status.FAILED, Reason.AUTHENTICATION_FAILED, reference=intent.id)
        return decision_of(intent)

    # refunds
    def refund(self, order: RefundOrder) -> RefundOutcome:
        try:
            reference = order.gateway_reference or self._reference_of(order)
            if reference is None:
                log.error("refund %s: no charge found at the gateway", order.refund_id)
                return RefundOutcome.FAILED
            params: Any = {
                "payment_intent": reference,
                "metadata": {"refund_id": str(order.refund_id)},
            }
            if order.amount is not None:
                params["amount"] = money.minor_units(order.amount, order.currency)
            made = self.client.v1.refunds.create(
                params=params, options={"idempotency_key": str(order.refund_id)}
            )
            status = made.status
            if status == "pending":  # a replayed answer is the first one: read it afresh
                status = self.client.v1.refunds.retrieve(made.id).status
        except stripe.StripeError as err:
            raise unknown_or_refused(err) from None
        if status == "succeeded":
            return RefundOutcome.SUCCEEDED
        if status in ("failed", "canceled"):
            return RefundOutcome.FAILED
        return RefundOutcome.PENDING

    def _reference_of(self, order: RefundOrder) -> str | None:
        """The succeeded PaymentIntent of a transaction recorded before its reference was."""
        intents = self.intents_of(order.transaction_id)
        return next((i.id for i in intents if i.status == "succeeded"), None)

    def intents_of(self, transaction_id: UUID) -> list[Any]:
        """The transaction's PaymentIntents, found by their metadata (Stripe's search)."""
        query = f"metadata['transaction_id']:'{transaction_id}'"
        found = self.client.v1.payment_intents.search(params={"query": query, "limit": 10})
        return list(found.data)


def decision_of(intent: Any) -> Decision:
    """The transaction's outcome from a PaymentIntent (contract section 12's table)."""
    if intent.status == "succeeded":
        return Decision(Status.SUCCESS, reference=intent.id)
    if intent.status == "requires_action":
        return Decision(Status.PENDING, reference=intent.id, client_secret=intent.client_secret)
    error = getattr(intent, "last_payment_error", None)
    if intent.status == "requires_payment_method" and error is not None:
        return Decision(
            Status.FAILED,
            Reason.REJECTED_BY_GATEWAY,
            reference=intent.id,
            decline_code=getattr(error, "decline_code", None) or getattr(error, "code", None),
        )
    raise TransientGatewayError(f"PaymentIntent {intent.id} is {intent.status}")


def declined(err: stripe.CardError) -> Decision:
    """A card error (402): declined, with the issuer's reason."""
    detail = err.error
    decline_code = (detail.decline_code if detail else None) or err.code
    return Decision(
        Status.FAILED,
        Reason.REJECTED_BY_GATEWAY,
        reference=_intent_id(err),
        decline_code=decline_code,
    )


def _intent_id(err: stripe.StripeError) -> str | None:
    detail = err.error
    intent = detail.payment_intent if detail is not None else None
    return intent.id if intent is not None else None


def unknown_or_refused(err: stripe.StripeError) -> Exception:
    """A 429, a 409, a 5xx or no answer: the outcome is unknown (retry with the same key,
    unless Stripe says a retry would only repeat it); anything else: refused."""
    if isinstance(err, stripe.APIConnectionError):
        return TransientGatewayError(f"no answer from the gateway: {type(err).__name__}")
    status = err.http_status or 0
    if status == 429 or status == 409 or status >= 500:
        should_retry = (err.headers or {}).get("stripe-should-retry")
        return TransientGatewayError(
            f"the gateway answered {status} ({err.code or 'no code'})",
            retry=should_retry != "false",
        )
    return refused(err)


def refused(err: stripe.StripeError) -> GatewayRefused:
    """An error no retry of the call changes (the message carries no key: Stripe's never do)."""
    return GatewayRefused(f"the gateway refused the call: {err.http_status} {err.code or ''}")
