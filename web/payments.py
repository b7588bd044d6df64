"""The payments resource: POST /payments and GET /payments/<id>."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from marshmallow import ValidationError

from payments import services
from payments.domain.model import Payment, Transaction
from payments.i18n import negotiate
from web import container_of
from web.problems import Problem
from web.schemas import PaymentRequestSchema, PaymentResourceSchema

bp = Blueprint("payments", __name__)
_resource = PaymentResourceSchema()


def resource(payment: Payment, transaction: Transaction | None) -> dict[str, Any]:
    """The payment resource of contract section 3."""
    data = {**payment.__dict__, "amount": str(payment.amount), "transaction": None}
    if transaction is not None:
        data["transaction"] = {**transaction.__dict__, "reason": transaction.reason}
    return _resource.dump(data)


def parse_json_object() -> dict[str, Any]:
    """The body as a JSON object with decimals kept exact; 415/400 problems otherwise."""
    if not request.is_json:
        raise Problem(
            415,
            "unsupported-media-type",
            _("Unsupported media type"),
            _("Send the body as application/json."),
        )
    try:
        body = json.loads(
            request.get_data(cache=True), parse_float=Decimal, parse_constant=_reject_constant
        )
    except (ValueError, UnicodeDecodeError):
        raise Problem(
            400, "bad-request", _("Bad request"), _("The body is not valid JSON.")
        ) from None
    if not isinstance(body, dict):
        raise Problem(400, "bad-request", _("Bad request"), _("The body must be a JSON object."))
    return body


def _reject_constant(name: str) -> None:
    raise ValueError(name)


def validate_payment(body: dict[str, Any]) -> services.PlacePayment:
    """Validate with marshmallow; a 422 problem naming each bad field."""
    settings = container_of(current_app).settings
    schema = PaymentRequestSchema()
    schema.default_currency = settings.default_currency  # type: ignore[attr-defined]
    try:
        data = schema.load(body)
    except ValidationError as err:
        raise Problem(
            422,
            "validation-error",
            _("Validation failed"),
            _("The request body has invalid fields."),
            errors=_flatten(err.messages),
        ) from None
    return services.PlacePayment(
        user_name=data["user_name"],
        user_email=data["user_email"],
        user_language=negotiate(data.get("user_language"), _accepted_languages()),
        event_id=data["event_id"],
        amount=data["event_amount"],
        currency=(data.get("currency") or settings.default_currency).upper(),
        payment_token=data["payment_token"],
        event_name=data.get("event_name"),
        event_description=data.get("event_description"),
        event_image_url=data.get("event_image_url"),
    )


def _accepted_languages() -> list[str]:
    return [tag for tag, _q in request.accept_languages]


def _flatten(messages: Any) -> list[dict[str, str]]:
    errors = []
    for field, value in sorted(messages.items()):
        texts = value if isinstance(value, list) else [str(value)]
        errors.extend({"field": field, "message": str(text)} for text in texts)
    return errors


@bp.post("/payments")
@bp.post("/payments/")
def create_payment() -> Any:
    """Accept a payment: store it PENDING with its payment.created event."""
    command = validate_payment(parse_json_object())
    payment = services.place_payment(container_of(current_app).uow(), command)
    return resource(payment, None), 201, {"Location": f"/payments/{payment.id}"}


@bp.get("/payments/<payment_id>")
def get_payment(payment_id: str) -> Any:
    """Show one payment with its transaction."""
    try:
        pid = uuid.UUID(payment_id)
    except ValueError:
        pid = None
    found = services.find_payment(container_of(current_app).uow(), pid) if pid else None
    if found is None:
        raise Problem(404, "not-found", _("Not found"), _("No payment with this id."))
    return resource(*found)
