"""The payments resource: POST /payments and GET /payments/<id>."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask import Blueprint
from flask_babel import gettext as _
from marshmallow import ValidationError

from payments import bootstrap, money, refunds, services
from payments.api_keys import Scope
from payments.bootstrap import Container
from payments.domain.model import Payment, Transaction
from payments.domain.refund import EventIsCancelled, Refund, RefundStatus
from payments.domain.secret import PaymentToken
from payments.i18n import negotiate
from web import auth, i18n, idempotency
from web.bodies import parse_json_object
from web.problems import Problem
from web.refund_views import refund_fields
from web.schemas import PaymentRequestSchema, PaymentResourceSchema
from web.validation import invalid_body

bp = Blueprint("payments", __name__)
bp.before_request(auth.require_api_key)
_resource = PaymentResourceSchema()


def resource(
    payment: Payment, transaction: Transaction | None, refunds: Sequence[Refund] = ()
) -> dict[str, Any]:
    """The payment resource of contract sections 3 and 9 (never the payment token)."""
    refunded = sum((r.amount for r in refunds if r.status is RefundStatus.SUCCEEDED), Decimal(0))
    data = {
        **payment.__dict__,
        "amount": str(money.exact(payment.amount, payment.currency)),
        "transaction": transaction.__dict__ if transaction is not None else None,
        "next_action": next_action(transaction),
        "amount_refunded": str(money.exact(refunded, payment.currency)),
        "refunds": [refund_fields(r) for r in refunds],
    }
    return _resource.dump(data)


def next_action(transaction: Transaction | None) -> dict[str, str] | None:
    """The 3-D Secure step for the front end while the transaction waits for it (the client
    secret appears here and nowhere else: contract section 12)."""
    if transaction is None or not transaction.awaits_action or not transaction.action_secret:
        return None
    return {"type": "use_stripe_sdk", "client_secret": transaction.action_secret}


def new_resource(payment: Payment) -> dict[str, Any]:
    """A payment just placed: no transaction, no refunds yet."""
    return resource(payment, None)


@functools.lru_cache(maxsize=8)
def _request_schema(default_currency: str) -> PaymentRequestSchema:
    """The request schema for a default currency, built once (building it costs as much as
    validating with it; loading keeps no state on the instance)."""
    return PaymentRequestSchema(default_currency=default_currency)


def validate_payment(body: dict[str, Any]) -> services.PlacePayment:
    """Validate with marshmallow; a 422 problem naming each bad field, in the caller's language."""
    settings = bootstrap.current().settings
    try:
        data = _request_schema(settings.default_currency).load(body)
    except ValidationError as err:
        raise invalid_body(err.messages) from None
    currency = (data.get("currency") or settings.default_currency).upper()
    amount: Decimal = data["event_amount"]
    return services.PlacePayment(
        user_name=data["user_name"],
        user_email=data["user_email"],
        user_language=negotiate(data.get("user_language"), _accepted_languages()),
        event_id=data["event_id"],
        amount=money.exact(amount, currency),
        currency=currency,
        payment_token=PaymentToken(data["payment_token"]),
        event_name=data.get("event_name"),
        event_description=data.get("event_description"),
        event_image_url=data.get("event_image_url"),
    )


def _accepted_languages() -> list[str]:
    return i18n.request_languages()  # by quality, without the refused (q=0) ones


def _created(body: dict[str, Any]) -> Any:
    return body, 201, {"Location": f"/payments/{body['id']}"}


@bp.post("/payments")
@bp.post("/payments/")
@auth.needs(Scope.PAYMENTS_WRITE)
def create_payment() -> Any:
    """Accept a payment: store it PENDING with its payment.created event (once per key)."""
    body = parse_json_object()
    key = idempotency.header_key()
    command = validate_payment(body)
    container = bootstrap.current()
    try:
        return _place(container, command, body, key)
    except EventIsCancelled:
        raise Problem(
            409,
            "event-cancelled",
            _("Event cancelled"),
            _("This event was cancelled: it accepts no more payments."),
        ) from None


def _place(
    container: Container, command: services.PlacePayment, body: dict[str, Any], key: str | None
) -> Any:
    if key is None:
        return _created(new_resource(services.place_payment(container.uow(), command)))
    fingerprint = idempotency.request_hash(body)
    claim = idempotency.begin(container, auth.caller_scope(), key, fingerprint)
    if not isinstance(claim, idempotency.Claim):
        return claim  # the first response, replayed
    with idempotency.released_on_error(container, claim):
        finish = claim.finisher(new_resource)
        payment = services.place_payment(container.uow(), command, before_commit=finish)
    return _created(resource(payment, None))


@bp.get("/payments/<payment_id>")
@auth.needs(Scope.PAYMENTS_READ)
def get_payment(payment_id: str) -> Any:
    """Show one payment with its transaction."""
    try:
        pid = uuid.UUID(payment_id)
    except ValueError:
        pid = None
    container = bootstrap.current()
    found = services.find_payment(container.uow(), pid) if pid else None
    if found is None or pid is None:
        raise not_found()
    return resource(*found, refunds.refunds_of(container.uow(), pid))


def not_found() -> Problem:
    """The 404 problem for an unknown payment."""
    return Problem(404, "not-found", _("Not found"), _("No payment with this id."))
