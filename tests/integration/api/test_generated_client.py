"""A client generated from the committed docs/openapi.json works (issue 30): openapi-python-client
writes a typed Python package, and it creates, fetches, lists, pages and refunds against the
API on real PostgreSQL (through httpx's WSGI transport: the app itself, no socket)."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine

from devstack.procs import ROOT
from payments import services
from payments.adapters.gateway import FakeGateway
from payments.bootstrap import Container

GENERATOR = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
KEY = "generated-client-key"

pytestmark = pytest.mark.skipif(
    GENERATOR is None, reason="openapi-python-client not installed (a dev dependency)"
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The client package, generated from the committed document into a directory on
    sys.path; its name."""
    out = tmp_path_factory.mktemp("client")
    assert GENERATOR is not None
    subprocess.run(
        [GENERATOR, "generate", "--path", str(ROOT / "docs/openapi.json"), "--meta", "none",
         "--output-path", str(out / "ticket_payments_client")],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    sys.path.insert(0, str(out))
    try:
        yield "ticket_payments_client"
    finally:
        sys.path.remove(str(out))


def module(package: str, name: str) -> ModuleType:
    return importlib.import_module(f"{package}.{name}")


@pytest.fixture
def client(generated: str, make_app: Callable[..., Flask]) -> Any:
    import httpx

    app = make_app(api_keys=(KEY,))
    authenticated = module(generated, "client").AuthenticatedClient
    return authenticated(
        base_url="http://payments.test",
        token=KEY,
        httpx_args={"transport": httpx.WSGITransport(app=app)},
    )


def test_create_fetch_list_page_and_refund_through_the_generated_client(
    generated: str, client: Any, engine: Engine, settings: Any
) -> None:
    models = module(generated, "models")
    create = module(generated, "api.payments.create_payment")
    fetch = module(generated, "api.payments.get_payment")
    listing = module(generated, "api.payments.list_payments")
    refund = module(generated, "api.refunds.create_refund")
    refunds = module(generated, "api.refunds.list_refunds")
    event = f"evt-client-{uuid.uuid4().hex[:8]}"

    made = []
    for i in range(3):
        body = models.PaymentRequest(
            user_name=f"Fan {i}",
            user_email=f"fan{i}-{uuid.uuid4().hex[:6]}@example.com",
            event_id=event,
            event_amount="125.50",
            currency="BRL",
            payment_token="TOKEN123",
            user_language="pt-BR",
        )
        answer = create.sync_detailed(client=client, body=body)
        assert answer.status_code == 201, answer.content
        made.append(answer.parsed)
    assert isinstance(made[0], models.Payment) and made[0].status.value == "PENDING"
    fetched = fetch.sync(payment_id=made[0].id, client=client)
    assert isinstance(fetched, models.Payment) and fetched.amount == "125.50"

    page = listing.sync(client=client, event_id=event, limit=2)
    assert [p.id for p in page.data] == [made[2].id, made[1].id] and page.has_more is True
    rest = listing.sync(client=client, event_id=event, limit=2, starting_after=made[1].id)
    assert [p.id for p in rest.data] == [made[0].id] and rest.has_more is False

    container = Container(settings, engine=engine, gateway=FakeGateway())
    services.charge_payment(container.uow(), container.gateway, made[0].id)
    refunded = refund.sync(
        payment_id=made[0].id, client=client, body=models.RefundRequest(amount="25.50")
    )
    assert isinstance(refunded, models.Refund), refunded
    assert refunded.status.value == "PENDING" and refunded.amount == "25.50"
    listed = refunds.sync(client=client, payment_id=made[0].id)
    assert [r.id for r in listed.data] == [refunded.id]

    problem = fetch.sync(payment_id=uuid.uuid4(), client=client)
    assert isinstance(problem, models.Problem) and problem.status == 404
