"""Contract section 7: the payment token appears in no log line, error report or response,
whatever fails: here a real database error on the payment INSERT (a database where
`flask db init` has not run), with every logger at DEBUG through the service's formatter."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from payments.bootstrap import bootstrap
from payments.config import Settings
from payments.db.engine import make_engine
from payments.logs import ContextFilter, JsonFormatter, TextFormatter, configure
from tests.support import env
from tests.support.factories import payment_body

CANARY = "TOKEN-LEAK-CANARY-4242"


@pytest.fixture
def every_log_line() -> Iterator[io.StringIO]:
    """Everything any logger emits (SQLAlchemy's and psycopg's too), in both formats."""
    configure(Settings())  # the service's own set-up first: it replaces the root's handlers
    stream = io.StringIO()
    handlers = []
    for formatter in (JsonFormatter(), TextFormatter("%(name)s %(message)s")):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(ContextFilter())
        handlers.append(handler)
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
    yield stream
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(old)


def test_a_database_error_on_the_payment_insert_logs_no_token(
    settings: Settings, every_log_line: io.StringIO
) -> None:
    from web import create_app

    with env.own_database("noschema") as url:
        engine = make_engine(url, pool_size=1)
        try:
            with engine.connect() as conn:  # the database answers: only the table is missing
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
            app = create_app({"CONTAINER": bootstrap(settings, engine=engine)})
            response = app.test_client().post("/payments", json=payment_body(payment_token=CANARY))
        finally:
            engine.dispose()

    assert response.status_code >= 500
    logged = every_log_line.getvalue()
    assert "payments" in logged and "UndefinedTable" in logged  # the error was logged
    assert CANARY not in logged
    assert CANARY not in response.get_data(as_text=True)
