"""Fuzz the API from its own OpenAPI document (schemathesis), on the real app and PostgreSQL.

Positive and negative cases for every documented operation, called through WSGI. Each response
must be no 5xx, a documented status with a documented content type, headers and body schema,
and schema-invalid requests must be rejected. The run is bounded by a number of examples, not
by time, and asserts how many requests it really sent.

The examples are the same at every run (`derandomize`), so that the suite gates a change on
what the change did, not on the draw; `FUZZ_RANDOM=1` draws new ones (with `FUZZ_EXAMPLES`
to draw more) to look for what the fixed draw misses.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MIN_REQUESTS = 1000
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1100"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


KEY = "fuzz-key-with-every-scope"


def with_key(headers: dict[str, str] | None) -> dict[str, str]:
    """The case's headers with its generated bearer token replaced by a real key; a case
    left without one (a negative case about authentication) stays without."""
    headers = dict(headers or {})
    if "Authorization" in headers:
        headers["Authorization"] = f"Bearer {KEY}"
    return headers


@pytest.fixture
def app(make_app):  # type: ignore[no-untyped-def]
    """The API with keys in use, as the document says (a request without one: 401)."""
    return make_app(api_keys=(KEY,))


def test_fuzz_every_operation_from_the_openapi_document(app) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    cases = st.one_of(
        schema.as_strategy(generation_mode=GenerationMode.POSITIVE),
        schema.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    sent: Counter[tuple[str, int]] = Counter()

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def exchange(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(headers=with_key(case.headers))
        sent[(case.operation.label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    exchange()
    total = sum(sent.values())
    print(f"fuzz: {total} requests", dict(sorted(sent.items())))
    assert total >= MIN_REQUESTS
    assert any(status == 201 for (_label, status) in sent), "no payment was ever accepted"
    assert any(status == 422 for (_label, status) in sent), "no validation failure was ever seen"


def test_stateful_sequences_follow_the_documents_links(app) -> None:  # type: ignore[no-untyped-def]
    """Schemathesis's stateful phase: it creates payments and follows the links the document
    declares (to the payment, its refunds, a refund) with every check on every answer."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    machine = schema.as_state_machine()
    transitions = Counter()

    class Counted(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case):  # type: ignore[no-untyped-def]
            return {"headers": with_key(case.headers)}

        def validate_response(self, response, case, **kwargs):  # type: ignore[no-untyped-def]
            transitions[(case.operation.label, response.status_code)] += 1
            case.validate_response(response, checks=CHECKS)

    run_state_machine_as_test(
        Counted,
        settings=settings(
            max_examples=40,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=not RANDOM,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print("stateful:", dict(sorted(transitions.items())))
    followed = {label for label, _status in transitions}
    assert "POST /payments" in followed
    assert followed & {"GET /payments/{payment_id}", "POST /payments/{payment_id}/refunds",
                       "GET /refunds"}, followed  # fmt: skip
