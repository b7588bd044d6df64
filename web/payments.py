"""The payments resource: POST /payments and GET /payments/<id>."""

from __future__ import annotations

import functools
import json
import uuid
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from marshmallow import ValidationError

from payments import services
from payments.domain.model import Payment, Transaction
from payments.domain.secret import PaymentToken
from payments.i18n import negotiate
from web import auth, container_of, i18n, idempotency
from web.problems import Problem
from web.schemas import PaymentRequestSchema, PaymentResourceSchema, allowed_places
from web.validation import field_errors

bp = Blueprint("payments", __name__)
bp.before_request(auth.require_api_key)
_resource = PaymentResourceSchema()


def resource(payment: Payment, transaction: Transaction | None) -> dict[str, Any]:
    """The payment resource of contract section 3 (never the payment token)."""
    places = Decimal(1).scaleb(-allowed_places(payment.currency))
    data = {
        **payment.__dict__,
        "amount": str(payment.amount.quantize(places)),
        "transaction": transaction.__dict__ if transaction is not None else None,
    }
    return _resource.dump(data)


def parse_json_object() -> dict[str, Any]:
    """The body as a JSON object with numbers kept exact; 413/415/400 problems otherwise."""
    data = read_body(current_app.config["MAX_CONTENT_LENGTH"])
    if not request.is_json:
        raise Problem(
            415,
            "unsupported-media-type",
            _("Unsupported media type"),
            _("Send the body as application/json."),
        )
    try:
        body = json.loads(
            data, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
        )
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Problem(
            400, "bad-request", _("Bad request"), _("The body is not valid JSON.")
        ) from None
    if not isinstance(body, dict):
        raise Problem(400, "bad-request", _("Bad request"), _("The body must be a JSON object."))
    return body


def read_body(limit: int) -> bytes:
    """The raw body, or a 413 problem once it is known to be over `limit` bytes.

    Without Content-Length (chunked), read at most `limit + 1` bytes from a stream the
    server terminates: werkzeug's own limit would silently cut such a body at `limit`.
    """
    if request.content_length is not None and request.content_length > limit:
        raise too_large()
    if request.content_length is not None or "wsgi.input_terminated" not in request.environ:
        return request.get_data(cache=True)
    stream, data = request.environ["wsgi.input"], b""
    while len(data) <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - len(data)))
        if not chunk:
            return data
        data += chunk
    raise too_large()


def too_large() -> Problem:
    """The 413 problem."""
    return Problem(
        413,
        "payload-too-large",
        _("Payload too large"),
        _("The request body is larger than 64 KiB."),
    )


def _reject_constant(name: str) -> None:
    raise ValueError(name)


@functools.lru_cache(maxsize=8)
def _request_schema(default_currency: str) -> PaymentRequestSchema:
    """The request schema for a default currency, built once (building it costs as much as
    validating with it; loading keeps no state on the instance)."""
    return PaymentRequestSchema(default_currency=default_currency)


def validate_payment(body: dict[str, Any]) -> services.PlacePayment:
    """Validate with marshmallow; a 422 problem naming each bad field, in the caller's language."""
    settings = container_of(current_app).settings
    try:
        data = _request_schema(settings.default_currency).load(body)
    except ValidationError as err:
        raise Problem(
            422,
            "validation-error",
            _("Validation failed"),
            _("The request body has invalid fields."),
            errors=field_errors(err.messages),
        ) from None
    currency = (data.get("currency") or settings.default_currency).upper()
    amount: Decimal = data["event_amount"]
    return services.PlacePayment(
        user_name=data["user_name"],
        user_email=data["user_email"],
        user_language=negotiate(data.get("user_language"), _accepted_languages()),
        event_id=data["event_id"],
        amount=amount.quantize(Decimal(1).scaleb(-allowed_places(currency))),
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
def create_payment() -> Any:
    """Accept a payment: store it PENDING with its payment.created event (once per key)."""
    body = parse_json_object()
    key = idempotency.header_key()
    command = validate_payment(body)
    container = container_of(current_app)
    if key is None:
        return _created(resource(services.place_payment(container.uow(), command), None))
    fingerprint = idempotency.request_hash(body)
    claim = idempotency.begin(container, auth.caller_scope(), key, fingerprint)
    if not isinstance(claim, idempotency.Claim):
        return claim  # the first response, replayed
    with idempotency.released_on_error(container, claim):
        finish = claim.finisher(lambda payment: resource(payment, None))
        payment = services.place_payment(container.uow(), command, before_commit=finish)
    return _created(resource(payment, None))


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
