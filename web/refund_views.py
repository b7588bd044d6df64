"""Refunds and event cancellation (contract section 9): POST /payments/<id>/refunds,
GET /refunds/<id>, POST and GET /events/<event_id>/cancellation."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from flask import Blueprint
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError

from payments import bootstrap, money, refunds
from payments.api_keys import Scope
from payments.bootstrap import Container
from payments.domain.refund import (
    Cancellation,
    ExceedsRefundable,
    NotRefundable,
    ReasonReserved,
    Refund,
    RefundReason,
)
from payments.errors import NotFound
from web import auth, idempotency
from web.bodies import parse_json_object
from web.problems import Problem
from web.refund_schemas import (
    CancellationRequestSchema,
    CancellationResourceSchema,
    RefundRequestSchema,
    RefundResourceSchema,
)
from web.validation import N_, Length, Msg, field_errors, invalid_body

bp = Blueprint("refunds", __name__)
bp.before_request(auth.require_api_key)
_refund = RefundResourceSchema()
_cancellation = CancellationResourceSchema()
_refund_request = RefundRequestSchema()
_cancellation_request = CancellationRequestSchema()
MAX_EVENT_ID = 64
_EVENT_ID_LENGTH = Length(min=1, max=MAX_EVENT_ID)


def refund_fields(refund: Refund) -> dict[str, Any]:
    """The refund's fields as the resource schema reads them (amount in its decimals)."""
    return {**refund.__dict__, "amount": str(money.exact(refund.amount, refund.currency))}


def refund_resource(refund: Refund) -> dict[str, Any]:
    """The refund resource."""
    return _refund.dump(refund_fields(refund))


def _optional_body() -> dict[str, Any]:
    """The JSON object body; an empty body is an empty object (a full refund)."""
    return parse_json_object(empty_is_object=True)


def _load(schema: Schema, body: dict[str, Any]) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(body)
    except ValidationError as err:
        raise invalid_body(err.messages) from None
    return loaded


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _no_payment() -> Problem:
    return Problem(404, "not-found", _("Not found"), _("No payment with this id."))


@bp.post("/payments/<payment_id>/refunds")
@auth.needs(Scope.REFUNDS_WRITE)
def create_refund(payment_id: str) -> Any:
    """Refund all or part of a SUCCESS payment (once per Idempotency-Key)."""
    body = _optional_body()
    key = idempotency.header_key()
    data = _load(_refund_request, body)
    pid = _uuid(payment_id)
    if pid is None:
        raise _no_payment()
    container = bootstrap.current()
    amount = data.get("amount")
    if amount is not None:
        _check_places(amount, _currency_of(container, pid))
    reason = RefundReason(data.get("reason") or RefundReason.REQUESTED_BY_CUSTOMER)
    if key is None:
        return _created(_refund_or_problem(container, pid, amount, reason, None))
    fingerprint = idempotency.request_hash(body)
    claim = idempotency.begin(container, auth.caller_scope(), key, fingerprint, "/refunds")
    if not isinstance(claim, idempotency.Claim):
        return claim
    with idempotency.released_on_error(container, claim):
        refund = _refund_or_problem(container, pid, amount, reason, claim.finisher(refund_resource))
    return _created(refund)


def _refund_or_problem(
    container: Container, pid: uuid.UUID, amount: Any, reason: RefundReason, finish: Any
) -> Refund:
    try:
        return refunds.request_refund(container.uow(), pid, amount, reason, before_commit=finish)
    except NotFound:
        raise _no_payment() from None
    except ReasonReserved:
        raise Problem(
            409,
            "refund-reason-reserved",
            _("Refund reason reserved"),
            _(
                "Refunds with the reason event_cancelled are made by the event's cancellation "
                "(POST /events/{event_id}/cancellation), which refunds all that is left of "
                "every paid payment of the event."
            ),
        ) from None
    except NotRefundable:
        raise Problem(
            409,
            "payment-not-refundable",
            _("Payment not refundable"),
            _("Only a payment whose status is SUCCESS can be refunded."),
        ) from None
    except ExceedsRefundable as err:
        left = str(money.exact(err.refundable, _currency_of(container, pid)))
        raise Problem(
            422,
            "amount-exceeds-refundable",
            _("Amount exceeds refundable"),
            _("At most %(amount)s of this payment can still be refunded.", amount=left),
            refundable=left,
        ) from None


def _check_places(amount: Any, currency: str) -> None:
    """A 422 when the amount has more decimals than the payment's currency."""
    places = money.decimals(currency)
    if money.places_of(amount) > places:
        message = Msg(
            N_("%(currency)s amounts allow at most %(places)d decimal places."),
            currency=currency,
            places=places,
        )
        raise invalid_body({"amount": [message]})


def _currency_of(container: Container, pid: uuid.UUID) -> str:
    """The payment's currency; 404 problem if there is no such payment."""
    with container.uow() as uow:
        payment = uow.repo.get_payment(pid)
    if payment is None:
        raise _no_payment()
    return payment.currency


def _created(refund: Refund) -> Any:
    return refund_resource(refund), 201, {"Location": f"/refunds/{refund.id}"}


@bp.get("/refunds/<refund_id>")
@auth.needs(Scope.PAYMENTS_READ)
def get_refund(refund_id: str) -> Any:
    """Show one refund."""
    rid = _uuid(refund_id)
    found = refunds.find_refund(bootstrap.current().uow(), rid) if rid else None
    if found is None:
        raise Problem(404, "not-found", _("Not found"), _("No refund with this id."))
    return refund_resource(found)


def _has_event_id_shape(event_id: str) -> bool:
    """Whether a payment can name this event (contract section 4: 1 to 64 characters)."""
    return 1 <= len(event_id) <= MAX_EVENT_ID


def _cancellable_event_id(event_id: str) -> str:
    """The path's event id to cancel; a 422 naming `event_id` when no payment could name it."""
    try:
        return str(_EVENT_ID_LENGTH(event_id))
    except ValidationError as err:
        raise Problem(
            422,
            "validation-error",
            _("Validation failed"),
            _("The event id in the path is not valid."),
            errors=field_errors({"event_id": err.messages}),
        ) from None


@bp.post("/events/<event_id>/cancellation")
@auth.needs(Scope.EVENTS_WRITE)
def cancel_event(event_id: str) -> Any:
    """Cancel an event: 202 at once; its paid payments are refunded by the workers."""
    data = _load(_cancellation_request, _optional_body())
    container = bootstrap.current()
    cancellation, created = refunds.cancel_event(
        container.uow(), _cancellable_event_id(event_id), data.get("reason")
    )
    headers = {"Location": f"/events/{quote(event_id, safe='')}/cancellation"}
    return cancellation_resource(container, cancellation), 202 if created else 200, headers


@bp.get("/events/<event_id>/cancellation")
@auth.needs(Scope.EVENTS_READ)
def get_cancellation(event_id: str) -> Any:
    """The cancellation's progress; 404 if the event is not cancelled."""
    container = bootstrap.current()
    cancellation = None
    if _has_event_id_shape(event_id):
        with container.uow() as uow:
            cancellation = uow.refunds.get_cancellation(event_id)
    if cancellation is None:
        raise Problem(404, "not-found", _("Not found"), _("No cancellation of this event."))
    return cancellation_resource(container, cancellation)


def cancellation_resource(container: Container, cancellation: Cancellation) -> dict[str, Any]:
    """The cancellation resource with its refunds' progress."""
    with container.uow() as uow:
        stats = uow.refunds.stats(cancellation.event_id)
    completed = cancellation.scanned_at is not None and stats.completed
    return _cancellation.dump(
        {
            "event_id": cancellation.event_id,
            "reason": cancellation.reason,
            "status": "COMPLETED" if completed else "IN_PROGRESS",
            "payments": stats.payments,
            "refunds_pending": stats.pending,
            "refunds_succeeded": stats.succeeded,
            "refunds_failed": stats.failed,
            "amount_refunded": {code: str(total) for code, total in stats.amount_refunded.items()},
            "created_at": cancellation.created_at,
            "updated_at": cancellation.updated_at,
        }
    )
