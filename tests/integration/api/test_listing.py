"""GET /payments and GET /refunds on real PostgreSQL (issue 30): Stripe-shaped pages newest
first, cursors both ways, every filter, every bad parameter a 422 problem naming it, and each
filter's page read off its own index (checked on the plan, on a table of 30,000 payments)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from payments import refunds, services
from payments.adapters.gateway import FakeGateway
from payments.bootstrap import Container
from payments.db.listing_store import SqlListing
from payments.domain.listing import PageRequest, PaymentFilter, RefundFilter
from payments.domain.model import Status
from payments.domain.refund import RefundReason, RefundStatus
from tests.support import env
from tests.support.factories import payment_body
from tests.support.wiring import schema_engine


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def post(client: FlaskClient, **changes: Any) -> dict[str, Any]:
    answer = client.post("/payments", json=payment_body(**changes))
    assert answer.status_code == 201, answer.get_json()
    return dict(answer.get_json())


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["data"]]


def test_an_events_payments_page_newest_first_both_ways(client: FlaskClient) -> None:
    event = f"evt-list-{uuid.uuid4().hex[:8]}"
    made = [post(client, event_id=event)["id"] for _ in range(5)]
    newest_first = made[::-1]

    first = client.get(f"/payments?event_id={event}&limit=2").get_json()
    assert first["object"] == "list" and first["url"] == "/payments"
    assert ids(first) == newest_first[:2] and first["has_more"] is True
    second = client.get(f"/payments?event_id={event}&limit=2&starting_after={made[3]}").get_json()
    assert ids(second) == newest_first[2:4] and second["has_more"] is True
    last = client.get(f"/payments?event_id={event}&limit=2&starting_after={made[1]}").get_json()
    assert ids(last) == newest_first[4:] and last["has_more"] is False

    back = client.get(f"/payments?event_id={event}&limit=2&ending_before={made[2]}").get_json()
    assert ids(back) == newest_first[:2] and back["has_more"] is False
    back_more = client.get(f"/payments?event_id={event}&limit=1&ending_before={made[1]}")
    assert ids(back_more.get_json()) == [made[2]] and back_more.get_json()["has_more"] is True

    window = client.get(
        f"/payments?event_id={event}&starting_after={made[4]}&ending_before={made[0]}&limit=2"
    ).get_json()
    assert ids(window) == [made[3], made[2]] and window["has_more"] is True  # made[1] left

    every = client.get(f"/payments?event_id={event}").get_json()  # limit 20 by default
    assert ids(every) == newest_first and every["has_more"] is False
    assert every["data"][0]["status"] == "PENDING" and "payment_token" not in every["data"][0]


def test_filters_by_status_email_and_creation_time(
    client: FlaskClient, make_app: Callable[..., Flask], engine: Engine, settings: Any
) -> None:
    event = f"evt-filter-{uuid.uuid4().hex[:8]}"
    email = f"fan-{uuid.uuid4().hex[:8]}@example.com"
    mine = post(client, event_id=event, user_email=email)["id"]
    other = post(client, event_id=event)["id"]
    container = Container(settings, engine=engine, gateway=FakeGateway())
    services.charge_payment(container.uow(), container.gateway, uuid.UUID(other))

    by_email = client.get(f"/payments?user_email={email}").get_json()
    assert ids(by_email) == [mine]
    succeeded = client.get(f"/payments?event_id={event}&status=SUCCESS").get_json()
    assert ids(succeeded) == [other] and succeeded["data"][0]["transaction"]["status"] == "SUCCESS"
    pending = client.get(f"/payments?event_id={event}&status=PENDING").get_json()
    assert ids(pending) == [mine]

    now = datetime.now(UTC)
    later = (now + timedelta(hours=1)).isoformat()
    earlier = (now - timedelta(hours=1)).isoformat()
    window = client.get("/payments", query_string={"event_id": event, "created[gte]": earlier,
                                                   "created[lt]": later}).get_json()  # fmt: skip
    assert set(ids(window)) == {mine, other}
    future = client.get("/payments", query_string={"event_id": event, "created[gte]": later})
    assert ids(future.get_json()) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("starting_after=nope", "starting_after"),
        ("status=DONE", "status"),
        ("created[gte]=yesterday", "created[gte]"),
        ("created[lt]=2026-12-06T10:00:00", "created[lt]"),
        ("colour=red", "colour"),
        ("event_id=evt%00nul", "event_id"),  # PostgreSQL cannot hold a NUL: refused, not a 500
        ("limit=2&limit=3", "limit"),
    ],
)
def test_every_bad_parameter_is_a_422_naming_it(
    client: FlaskClient, query: str, field: str
) -> None:
    answer = client.get(f"/payments?{query}", headers={"Accept-Language": "pt-BR"})
    assert answer.status_code == 422
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    problem = answer.get_json()
    assert problem["type"].endswith("validation-error")
    assert field in [e["field"] for e in problem["errors"]]
    assert problem["detail"] == "A consulta tem parâmetros inválidos."


@pytest.mark.parametrize("cursor", ["starting_after", "ending_before"])
def test_a_cursor_naming_no_item_is_a_404_naming_it(client: FlaskClient, cursor: str) -> None:
    answer = client.get(f"/payments?{cursor}={uuid.uuid4()}")
    assert answer.status_code == 404 and answer.get_json()["type"].endswith("not-found")
    assert [e["field"] for e in answer.get_json()["errors"]] == [cursor]


def test_refunds_are_listed_by_payment_event_and_status(
    client: FlaskClient, engine: Engine, settings: Any
) -> None:
    event = f"evt-refunds-{uuid.uuid4().hex[:8]}"
    container = Container(settings, engine=engine, gateway=FakeGateway())
    paid = [uuid.UUID(post(client, event_id=event)["id"]) for _ in range(2)]
    for pid in paid:
        services.charge_payment(container.uow(), container.gateway, pid)
    made = [
        refunds.request_refund(container.uow(), pid, None, RefundReason.REQUESTED_BY_CUSTOMER)
        for pid in paid
    ]

    of_event = client.get(f"/refunds?event_id={event}").get_json()
    assert of_event["url"] == "/refunds" and ids(of_event) == [str(r.id) for r in made[::-1]]
    of_payment = client.get(f"/refunds?payment_id={paid[0]}").get_json()
    assert ids(of_payment) == [str(made[0].id)]
    assert of_payment["data"][0]["status"] == "PENDING"
    paged = client.get(f"/refunds?event_id={event}&limit=1&starting_after={made[1].id}")
    assert ids(paged.get_json()) == [str(made[0].id)] and paged.get_json()["has_more"] is False
    assert client.get("/refunds?status=LOST").status_code == 422


def test_the_lists_need_payments_read(make_app: Callable[..., Flask]) -> None:
    app = make_app(api_keys=("all-scopes-key",))
    assert app.test_client().get("/payments").status_code == 401
    assert app.test_client().get("/refunds").status_code == 401
    ok = app.test_client().get("/payments", headers={"Authorization": "Bearer all-scopes-key"})
    assert ok.status_code == 200


# -- the plans: one index range per page, whatever the history --------------------------

HISTORY = 30_000


@pytest.fixture(scope="module")
def history() -> Iterator[str]:
    """A database of its own with 30,000 payments over 30 days, their refunds, analysed."""
    with env.own_database("listing") as url, schema_engine(url, pool_size=1):
        libpq = env.libpq(url)
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO payments (id, status, user_name, user_email, user_language, "
                "event_id, amount, currency, created_at, updated_at) "
                "SELECT md5('p' || g)::uuid, (ARRAY['SUCCESS','FAILED','PENDING'])[1 + mod(g, 3)], "
                "'Fan', 'fan' || mod(g, 5000) || '@example.com', 'en', 'evt-' || mod(g, 300), "
                "10, 'USD', now() - g * interval '86 seconds', now() "
                "FROM generate_series(1, %s) g",
                (HISTORY,),
            )
            conn.execute(
                "INSERT INTO refunds (id, payment_id, amount, currency, reason, status, "
                "created_at) SELECT md5('r' || g)::uuid, md5('p' || g)::uuid, 1, 'USD', "
                "'requested_by_customer', 'SUCCEEDED', now() - g * interval '86 seconds' "
                "FROM generate_series(1, %s, 3) g",
                (HISTORY,),
            )
            conn.execute("VACUUM ANALYZE payments")
            conn.execute("VACUUM ANALYZE refunds")
        yield libpq


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plan(libpq: str, query: Any) -> list[dict[str, Any]]:
    compiled = query.compile(dialect=psycopg_dialect())
    with psycopg.connect(libpq) as conn:
        explain = "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled)
        (raw,) = conn.execute(explain, compiled.params).fetchone()  # type: ignore[misc]
        conn.rollback()
    return list(_nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]))


class Capture:
    """A connection stand-in that keeps the page's statement instead of running it."""

    def __init__(self) -> None:
        self.statements: list[Any] = []

    def execute(self, statement: Any) -> Any:
        self.statements.append(statement)
        return _NoRows()


class _NoRows(list):  # type: ignore[type-arg]
    def scalar(self) -> Any:
        return datetime.now(UTC)  # the cursor's created_at


SINCE = datetime.now(UTC) - timedelta(days=3)
CURSOR = uuid.UUID(int=1)
PAYMENT_FILTERS = {
    "none": PaymentFilter(),
    "event and status": PaymentFilter(event_id="evt-7", status=Status.SUCCESS),
    "email": PaymentFilter(user_email="fan42@example.com"),
    "status since": PaymentFilter(status=Status.PENDING, created_gte=SINCE),
    "a status no payment has": PaymentFilter(status=Status.FAILED, user_email="nobody@x.org"),
    "a time range": PaymentFilter(created_gte=SINCE, created_lt=SINCE + timedelta(days=1)),
}
REFUND_FILTERS = {
    "none": RefundFilter(),
    "status": RefundFilter(status=RefundStatus.SUCCEEDED),
    "a status no refund has": RefundFilter(status=RefundStatus.FAILED),
    "payment": RefundFilter(payment_id=uuid.UUID(int=5)),
}


READ_AT_MOST = 200  # rows per page of 21, against a history of 30,000


def _rows_read(nodes: list[dict[str, Any]]) -> int:
    """Rows the plan's scans touched: those they returned and those they threw away."""
    return sum(
        n.get("Actual Rows", 0)
        + n.get("Rows Removed by Filter", 0)
        + n.get("Rows Removed by Index Recheck", 0)
        for n in nodes
        if "Scan" in n["Node Type"]
    )


@pytest.mark.parametrize("name", PAYMENT_FILTERS)
@pytest.mark.parametrize("page", [PageRequest(20), PageRequest(20, starting_after=CURSOR),
                                  PageRequest(20, ending_before=CURSOR)])  # fmt: skip
def test_a_page_of_payments_reads_an_index_and_not_the_history(
    history: str, name: str, page: PageRequest
) -> None:
    capture = Capture()
    SqlListing(capture).payments_page(PAYMENT_FILTERS[name], page)  # type: ignore[arg-type]
    nodes = _plan(history, capture.statements[-1])
    shape = [(n["Node Type"], n.get("Index Name")) for n in nodes]
    assert any(n.get("Index Name", "").startswith("payments_listing") for n in nodes), shape
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], shape
    assert _rows_read(nodes) <= READ_AT_MOST, shape


@pytest.mark.parametrize("name", REFUND_FILTERS)
def test_a_page_of_refunds_reads_an_index_and_not_the_history(history: str, name: str) -> None:
    capture = Capture()
    SqlListing(capture).refunds_page(REFUND_FILTERS[name], PageRequest(20))  # type: ignore[arg-type]
    nodes = _plan(history, capture.statements[-1])
    shape = [(n["Node Type"], n.get("Index Name")) for n in nodes]
    assert any(n.get("Index Name", "").startswith("refunds_listing") for n in nodes), shape
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], shape
    assert _rows_read(nodes) <= READ_AT_MOST, shape
