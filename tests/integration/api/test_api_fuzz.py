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

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
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
        response = case.call()
        sent[(case.operation.label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    exchange()
    total = sum(sent.values())
    print(f"fuzz: {total} requests", dict(sorted(sent.items())))
    assert total >= MIN_REQUESTS
    assert any(status == 201 for (_label, status) in sent), "no payment was ever accepted"
    assert any(status == 422 for (_label, status) in sent), "no validation failure was ever seen"
