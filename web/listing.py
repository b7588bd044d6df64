"""GET /payments and GET /refunds: lists a page at a time, Stripe-shaped.

`{"object": "list", "url": ..., "has_more": ..., "data": [...]}`, newest first; `limit` 1..100
(20), `starting_after` / `ending_before` an id of the list (both: the items between them).
Query parameters are validated like bodies: a 422 problem naming each bad one, an unknown one
included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, request
from flask_babel import gettext
from marshmallow import RAISE, Schema, ValidationError, fields

from payments import bootstrap, listing
from payments.api_keys import Scope
from payments.domain import listing as pages
from payments.domain.model import Status
from payments.domain.refund import RefundStatus
from payments.errors import UnknownCursor
from web import auth
from web.payments import resource
from web.problems import Problem
from web.refund_views import refund_resource
from web.schemas import plain_text
from web.validation import (
    N_,
    SCHEMA_MESSAGES,
    Length,
    Msg,
    OneOf,
    Range,
    field_errors,
    invalid_body,
    messages,
)

bp = Blueprint("listing", __name__)
T = TypeVar("T")
bp.before_request(auth.require_api_key)


def _text(high: int) -> fields.String:
    return fields.String(validate=[Length(1, high), plain_text], error_messages=messages())


class PageQuerySchema(Schema):
    """The cursor parameters every list takes."""

    class Meta:
        unknown = RAISE

    limit = fields.Integer(
        load_default=pages.DEFAULT_LIMIT,
        validate=Range(1, pages.MAX_LIMIT),
        error_messages=messages(invalid=N_("Must be a whole number.")),
        metadata={"description": "How many items, 1 to 100 (20)."},
    )
    starting_after = fields.UUID(
        error_messages=messages(invalid=N_("Must be a UUID.")),
        metadata={"description": "The page after this item (the last of the page before)."},
    )
    ending_before = fields.UUID(
        error_messages=messages(invalid=N_("Must be a UUID.")),
        metadata={
            "description": "The page before this item (the first of the page after); with "
            "starting_after, the items between the two."
        },
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error_messages = {**self.error_messages, **SCHEMA_MESSAGES}


class PaymentListQuerySchema(PageQuerySchema):
    """GET /payments's filters."""

    event_id = _text(64)
    status = fields.String(validate=OneOf([s.value for s in Status]), error_messages=messages())
    user_email = _text(254)
    created_gte = fields.AwareDateTime(
        data_key="created[gte]",
        error_messages=messages(invalid=N_("Must be an ISO 8601 time with its offset.")),
        metadata={"description": "Created at or after (ISO 8601 with offset)."},
    )
    created_lt = fields.AwareDateTime(
        data_key="created[lt]",
        error_messages=messages(invalid=N_("Must be an ISO 8601 time with its offset.")),
        metadata={"description": "Created before (ISO 8601 with offset)."},
    )


class RefundListQuerySchema(PageQuerySchema):
    """GET /refunds's filters."""

    payment_id = fields.UUID(error_messages=messages(invalid=N_("Must be a UUID.")))
    event_id = _text(64)
    status = fields.String(
        validate=OneOf([s.value for s in RefundStatus]), error_messages=messages()
    )


_payments_query = PaymentListQuerySchema()
_refunds_query = RefundListQuerySchema()


def _query(schema: Schema) -> dict[str, Any]:
    """The query string, validated (a parameter given twice is refused: one value each)."""
    repeated = sorted(k for k, values in request.args.lists() if len(values) > 1)
    errors: dict[str, Any] = {k: [Msg(N_("Give this parameter once."))] for k in repeated}
    try:
        loaded: dict[str, Any] = schema.load(request.args.to_dict())
    except ValidationError as err:
        errors = {**err.messages_dict, **errors}
        loaded = {}
    if errors:
        raise invalid_query(errors)
    return loaded


def invalid_query(messages_by_field: Any) -> Problem:
    return invalid_body(messages_by_field, gettext("The query has invalid parameters."))


def _page(query: dict[str, Any]) -> pages.PageRequest:
    return pages.PageRequest(
        query["limit"], query.get("starting_after"), query.get("ending_before")
    )


def _unknown_cursor(query: dict[str, Any]) -> Problem:
    """A cursor naming no item of the list: as for any unknown id, a 404 (naming it)."""
    name = "starting_after" if query.get("starting_after") else "ending_before"
    return Problem(
        404,
        "not-found",
        gettext("Not found"),
        gettext("No item of this list has this id."),
        errors=field_errors({name: [Msg(N_("No item of this list has this id."))]}),
    )


def _list(url: str, has_more: bool, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "url": url, "has_more": has_more, "data": data}


def _read(
    use_case: Callable[..., pages.Page[T]], where: Any, query: dict[str, Any]
) -> pages.Page[T]:
    """One page from a listing use case; a cursor naming no item is its 404."""
    try:
        return use_case(bootstrap.current().uow(), where, _page(query))
    except UnknownCursor:
        raise _unknown_cursor(query) from None


@bp.get("/payments")
@auth.needs(Scope.PAYMENTS_READ)
def list_payments() -> Any:
    """Payments, newest first, a page at a time."""
    query = _query(_payments_query)
    where = pages.PaymentFilter(
        event_id=query.get("event_id"),
        status=Status(query["status"]) if "status" in query else None,
        user_email=query.get("user_email"),
        created_gte=query.get("created_gte"),
        created_lt=query.get("created_lt"),
    )
    page = _read(listing.list_payments, where, query)
    data = [resource(p.payment, p.transaction, p.refunds) for p in page.items]
    return _list("/payments", page.has_more, data)


@bp.get("/refunds")
@auth.needs(Scope.PAYMENTS_READ)
def list_refunds() -> Any:
    """Refunds, newest first, a page at a time."""
    query = _query(_refunds_query)
    where = pages.RefundFilter(
        payment_id=query.get("payment_id"),
        event_id=query.get("event_id"),
        status=RefundStatus(query["status"]) if "status" in query else None,
    )
    page = _read(listing.list_refunds, where, query)
    return _list("/refunds", page.has_more, [refund_resource(r) for r in page.items])
