"""The simulator's memory: PaymentIntents, Refunds, idempotent answers and charge counts.

Thread-safe (the HTTP server answers each request on a thread of its own) and bounded: past
`capacity` objects the oldest are forgotten, as Stripe forgets idempotency keys after 24 h.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stripesim import rules
from stripesim.errors import StripeError, invalid, missing

CAPACITY = 500_000


def new_id(prefix: str) -> str:
    """An id in Stripe's style: `pi_` and 24 characters."""
    return f"{prefix}_{secrets.token_hex(12)}"


Fingerprint = tuple[str, str, tuple[tuple[str, str], ...]]  # method, path, sorted form


@dataclass
class Answer:
    """A finished request's response, replayed for its idempotency key."""

    fingerprint: Fingerprint
    status: int
    body: dict[str, Any]


@dataclass
class Knobs:
    """What a test may change while the simulator runs."""

    latency_ms: int = 0
    transient_failure_rate: float = 0.0
    refunds_pending: bool = False  # refunds answer `pending` until finished by hand


@dataclass
class State:
    knobs: Knobs = field(default_factory=Knobs)
    capacity: int = CAPACITY
    intents: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    refunds: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    answers: OrderedDict[str, Answer] = field(default_factory=OrderedDict)
    in_flight: set[str] = field(default_factory=set)
    charges_by_key: Counter[str] = field(default_factory=Counter)
    charges_by_payment: Counter[str] = field(default_factory=Counter)
    refunds_by_key: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with (event type, object) after a change Stripe would send a webhook for.
    notify: Callable[[str, dict[str, Any]], object] = lambda kind, obj: None

    # idempotency (https://docs.stripe.com/api/idempotent_requests)
    def begin(self, key: str, fingerprint: Fingerprint) -> Answer | None:
        """The saved answer for `key`, or None after marking it in flight. A key in flight
        is a 409; the same key with other parameters a 400 idempotency_error."""
        with self.lock:
            saved = self.answers.get(key)
            if saved is not None:
                if saved.fingerprint != fingerprint:
                    raise StripeError(
                        400,
                        {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with the"
                            " same parameters they were first used with. Try using a key other"
                            f" than '{key}' if you meant to execute a different request.",
                        },
                    )
                return saved
            if key in self.in_flight:
                raise StripeError(
                    409,
                    {
                        "type": "idempotency_error",
                        "code": "idempotency_key_in_use",
                        "message": "There is currently another in-progress request using this"
                        " Idempotent Key (that probably means you submitted twice, and the other"
                        " request is still going through).",
                    },
                    {"Stripe-Should-Retry": "true"},
                )
            self.in_flight.add(key)
            return None

    def finish(self, key: str, answer: Answer | None) -> None:
        """Save the answer of a request that started executing (None: nothing to save)."""
        with self.lock:
            self.in_flight.discard(key)
            if answer is not None:
                self.answers[key] = answer
                _trim(self.answers, self.capacity)

    # payment intents
    def create_intent(self, form: dict[str, Any], key: str | None) -> dict[str, Any]:
        """Create and (with confirm=true) confirm a PaymentIntent; a decline raises a 402."""
        amount = rules.positive_amount(form.get("amount"))
        currency = str(form.get("currency") or "").lower()
        if len(currency) != 3:
            raise invalid("Missing required param: currency.", "currency", "parameter_missing")
        method = str(form.get("payment_method") or "")
        metadata = form.get("metadata") or {}
        intent: dict[str, Any] = {
            "id": new_id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "capture_method": "automatic",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "livemode": False,
            "metadata": metadata,
            "payment_method": method or None,
            "payment_method_types": form.get("payment_method_types") or ["card"],
            "status": "requires_payment_method" if not method else "requires_confirmation",
            "last_payment_error": None,
            "next_action": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "latest_charge": None,
        }
        intent["client_secret"] = f"{intent['id']}_secret_{secrets.token_hex(12)}"
        if str(form.get("confirm")) == "true":
            if not method:
                raise invalid(
                    "You cannot confirm this PaymentIntent because it's missing a payment method.",
                    "payment_method",
                    "payment_intent_unexpected_state",
                )
            self._confirm(intent, method)
        with self.lock:
            self.intents[intent["id"]] = intent
            _trim(self.intents, self.capacity)
            if intent["status"] == "succeeded":
                self._count_charge(intent, key or intent["id"])
        if intent["last_payment_error"] is not None:
            raise StripeError(402, {**intent["last_payment_error"], "payment_intent": intent})
        return intent

    def _confirm(self, intent: dict[str, Any], method: str) -> None:
        outcome = rules.outcome(method)
        if outcome.status == "succeeded":
            intent["status"], intent["amount_received"] = "succeeded", intent["amount"]
            intent["latest_charge"] = new_id("ch")
        elif outcome.status == "requires_action":
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": ""},
            }
        else:
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                "type": "card_error",
                "code": outcome.code,
                "decline_code": outcome.decline_code,
                "message": outcome.message,
                "param": None,
            }

    def intent(self, intent_id: str) -> dict[str, Any]:
        with self.lock:
            found = self.intents.get(intent_id)
        if found is None:
            raise missing("payment_intent", intent_id, "intent")
        return found

    def cancel_intent(self, intent_id: str) -> dict[str, Any]:
        with self.lock:
            intent = self.intents.get(intent_id)
            if intent is not None and intent["status"] not in ("succeeded", "canceled"):
                intent["status"], intent["canceled_at"] = "canceled", int(time.time())
                intent["next_action"] = None
                intent["cancellation_reason"] = "requested_by_customer"
                self.notify("payment_intent.canceled", intent)
                return intent
        found = self.intent(intent_id)
        raise invalid(
            f"You cannot cancel this PaymentIntent because it has a status of {found['status']}.",
            None,
            "payment_intent_unexpected_state",
        )

    def authenticate(self, intent_id: str, succeeded: bool, late: bool = False) -> dict[str, Any]:
        """Test control: the cardholder completes (or fails) 3-D Secure. With `late`, a
        PaymentIntent cancelled meanwhile succeeds all the same: the race Stripe can report
        after a cancel (the cardholder's confirmation reached the issuer first)."""
        intent = self.intent(intent_id)
        with self.lock:
            allowed = ("requires_action", "canceled") if late else ("requires_action",)
            if intent["status"] not in allowed:
                raise invalid(
                    f"PaymentIntent {intent_id} is {intent['status']}, not waiting for 3-D Secure.",
                    None,
                    "payment_intent_unexpected_state",
                )
            intent["next_action"] = None
            if succeeded:
                intent["status"], intent["amount_received"] = "succeeded", intent["amount"]
                intent["latest_charge"], intent["canceled_at"] = new_id("ch"), None
                intent["cancellation_reason"] = None
                self._count_charge(intent, str(intent["metadata"].get("transaction_id", intent_id)))
                kind = "payment_intent.succeeded"
            else:
                intent["status"] = "requires_payment_method"
                intent["last_payment_error"] = {
                    "type": "invalid_request_error",
                    "code": "payment_intent_authentication_failure",
                    "decline_code": None,
                    "message": "The provided PaymentMethod has failed authentication.",
                    "param": None,
                }
                kind = "payment_intent.payment_failed"
            self.notify(kind, intent)
        return intent

    def _count_charge(self, intent: dict[str, Any], key: str) -> None:
        """Count a charge made, by idempotency key and by payment (under the lock)."""
        self.charges_by_key[key] += 1
        self.charges_by_payment[str(intent["metadata"].get("payment_id", ""))] += 1

    def search_intents(self, field_name: str, value: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                i for i in reversed(self.intents.values()) if i["metadata"].get(field_name) == value
            ][:100]

    # refunds
    def create_refund(self, form: dict[str, Any], key: str | None) -> dict[str, Any]:
        intent_id = str(form.get("payment_intent") or "")
        if not intent_id:
            raise invalid("Missing required param: payment_intent.", "payment_intent")
        intent = self.intent(intent_id)
        with self.lock:
            if intent["status"] != "succeeded":
                raise invalid(
                    f"PaymentIntent {intent_id} does not have a successful charge to refund.",
                    "payment_intent",
                    "charge_not_refundable",
                )
            taken = sum(
                r["amount"]
                for r in self.refunds.values()
                if r["payment_intent"] == intent_id and r["status"] in ("succeeded", "pending")
            )
            left = intent["amount_received"] - taken
            amount = left if form.get("amount") in (None, "") else int(form["amount"])
            if amount <= 0 or amount > left:
                raise invalid(
                    f"Refund amount ({amount}) is greater than unrefunded amount ({left}).",
                    "amount",
                    "amount_too_large",
                )
            refund = {
                "id": new_id("re"),
                "object": "refund",
                "amount": amount,
                "currency": intent["currency"],
                "charge": intent["latest_charge"],
                "payment_intent": intent_id,
                "created": int(time.time()),
                "metadata": form.get("metadata") or {},
                "reason": form.get("reason"),
                "status": "pending" if self.knobs.refunds_pending else "succeeded",
            }
            self.refunds[refund["id"]] = refund
            _trim(self.refunds, self.capacity)
            self.refunds_by_key[key or refund["id"]] += 1
        return refund

    def refund(self, refund_id: str) -> dict[str, Any]:
        with self.lock:
            found = self.refunds.get(refund_id)
        if found is None:
            raise missing("refund", refund_id, "id")
        return found

    def refunds_of(self, intent_id: str) -> list[dict[str, Any]]:
        """Test control: every refund of a PaymentIntent."""
        with self.lock:
            return [r for r in self.refunds.values() if r["payment_intent"] == intent_id]

    def finish_pending_refunds(self, status: str) -> int:
        """Test control: every pending refund becomes `status` (succeeded or failed)."""
        with self.lock:
            pending = [r for r in self.refunds.values() if r["status"] == "pending"]
            for refund in pending:
                refund["status"] = status
                self.notify("refund.updated", refund)
        return len(pending)

    def counts(self) -> dict[str, Any]:
        with self.lock:
            return {
                "charges_by_idempotency_key": dict(self.charges_by_key),
                "charges_by_payment": dict(self.charges_by_payment),
                "refunds_by_idempotency_key": dict(self.refunds_by_key),
            }


def _trim(table: OrderedDict[str, Any], capacity: int) -> None:
    while len(table) > capacity:
        table.popitem(last=False)
