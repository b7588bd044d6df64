"""The OpenAPI document: generated from the schemas, with errors and the idempotency header."""

from __future__ import annotations

import json

import pytest

from devstack.procs import ROOT
from web.openapi import build_spec


@pytest.fixture(scope="module")
def spec() -> dict:
    return build_spec(secured=False)


def test_it_is_openapi_3_with_the_payment_operations_and_the_lists(spec: dict) -> None:
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]["/payments"]) == {"post", "get"}
    assert set(spec["paths"]["/payments/{payment_id}"]) == {"get"}
    assert set(spec["paths"]["/refunds"]) == {"get"}
    listed = spec["paths"]["/payments"]["get"]
    names = {p["name"] for p in listed["parameters"]}
    assert {"limit", "starting_after", "ending_before", "created[gte]", "created[lt]"} <= names
    page = listed["responses"]["200"]["content"]["application/json"]["schema"]
    assert page["properties"]["data"]["items"] == {"$ref": "#/components/schemas/Payment"}


def test_the_request_schema_comes_from_marshmallow(spec: dict) -> None:
    request = spec["components"]["schemas"]["PaymentRequest"]
    assert set(request["required"]) == {
        "user_name",
        "user_email",
        "event_id",
        "event_amount",
        "payment_token",
    }
    assert request["additionalProperties"] is False
    assert request["properties"]["user_name"]["maxLength"] == 200
    assert request["properties"]["event_amount"]["type"] == ["number", "string"]
    assert request["properties"]["payment_token"]["writeOnly"] is True


def test_the_resource_never_documents_the_token(spec: dict) -> None:
    assert "payment_token" not in spec["components"]["schemas"]["Payment"]["properties"]


def test_every_error_is_a_problem(spec: dict) -> None:
    responses = spec["paths"]["/payments"]["post"]["responses"]
    assert {"400", "409", "413", "415", "422", "500", "503"} <= set(responses)
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            [media_type] = response["content"]
            assert media_type == "application/problem+json"
            assert response["content"][media_type]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
    get = spec["paths"]["/payments/{payment_id}"]["get"]["responses"]
    assert {"200", "404", "500", "503"} <= set(get)


def test_the_idempotency_header_is_documented(spec: dict) -> None:
    post = spec["paths"]["/payments"]["post"]
    [key] = [p for p in post["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["in"] == "header" and key["schema"]["maxLength"] == 255
    assert "Idempotent-Replayed" in post["responses"]["201"]["headers"]


def test_bearer_auth_is_documented_when_keys_are_set(spec: dict) -> None:
    assert "security" not in spec["paths"]["/payments"]["post"]
    secured = build_spec(secured=True)
    assert secured["paths"]["/payments"]["post"]["security"] == [{"bearerAuth": []}]
    assert "401" in secured["paths"]["/payments"]["post"]["responses"]
    assert secured["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_each_secured_operation_names_the_scope_its_route_declares() -> None:
    from payments.bootstrap import bootstrap
    from payments.config import Settings
    from web import create_app
    from web.openapi import declared_scopes, with_scopes

    app = create_app({"TESTING": True, "CONTAINER": bootstrap(Settings())})
    scopes = declared_scopes(app)
    document = with_scopes(build_spec(secured=True), scopes)
    paths = document["paths"]
    assert paths["/payments"]["post"]["security"] == [{"bearerAuth": ["payments:write"]}]
    assert paths["/payments/{payment_id}"]["get"]["security"] == [{"bearerAuth": ["payments:read"]}]
    assert paths["/payments/{payment_id}/refunds"]["post"]["security"] == [
        {"bearerAuth": ["refunds:write"]}
    ]
    assert paths["/refunds/{refund_id}"]["get"]["security"] == [{"bearerAuth": ["payments:read"]}]
    cancellation = paths["/events/{event_id}/cancellation"]
    assert cancellation["post"]["security"] == [{"bearerAuth": ["events:write"]}]
    assert cancellation["get"]["security"] == [{"bearerAuth": ["events:read"]}]
    forbidden = cancellation["post"]["responses"]["403"]
    assert forbidden["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert "security" not in paths["/healthz"]["get"]


def test_the_committed_document_is_the_one_the_api_serves() -> None:
    """docs/openapi.json is what GET /openapi.json serves, so that every API change shows in
    review and clients are generated from a committed file. After changing the API:
    `flask openapi write`."""
    from payments.bootstrap import bootstrap
    from payments.config import Settings
    from web import create_app
    from web.cli import DOCUMENT_PATH, serialise

    app = create_app({"CONTAINER": bootstrap(Settings(rate_limit="off"))})
    served = app.test_client().get("/openapi.json").get_json()
    committed = (ROOT / DOCUMENT_PATH).read_text(encoding="utf-8")
    assert committed == serialise(served), "docs/openapi.json is stale: run `flask openapi write`"


def test_every_operation_has_a_tag_an_id_and_uuid_ids() -> None:
    document = json.loads((ROOT / "docs/openapi.json").read_text(encoding="utf-8"))
    operations = [(p, m, o) for p, ops in document["paths"].items() for m, o in ops.items()]
    assert {t["name"] for t in document["tags"]} == {o["tags"][0] for _, _, o in operations}
    assert all(o.get("operationId") for _, _, o in operations)
    unkeyed = ("healthz", "readyz", "/webhooks/stripe")  # the webhook's key is its signature
    api = [(p, m, o) for p, m, o in operations if not p.endswith(unkeyed)]
    assert all(o["security"][0]["bearerAuth"] for _, _, o in api)  # each names its scope
    assert "security" not in document["paths"]["/webhooks/stripe"]["post"]
    for _path, _method, operation in api:
        for parameter in operation["parameters"]:
            if parameter["name"] in ("payment_id", "refund_id"):
                assert parameter["schema"]["format"] == "uuid"


def test_the_document_refuses_what_the_api_refuses_zero_amounts_and_unknown_currencies() -> None:
    """A client generated from the document must not accept what the API rejects (issue 30:
    Schemathesis found `event_amount: "0"` and `currency: "AAA"` schema-valid)."""
    import re

    from web.schemas import documented_currency_pattern, known_currencies

    document = json.loads((ROOT / "docs/openapi.json").read_text(encoding="utf-8"))
    request = document["components"]["schemas"]["PaymentRequest"]["properties"]
    amount, currency = request["event_amount"]["pattern"], request["currency"]["pattern"]
    assert currency == documented_currency_pattern()
    for refused in ("0", "0.00", "00", "0.0"):
        assert not re.fullmatch(amount, refused), refused
    for accepted in ("1", "0.5", "125.50", "10"):
        assert re.fullmatch(amount, accepted), accepted
    assert not re.fullmatch(currency, "AAA") and not re.fullmatch(currency, "US")
    assert all(re.fullmatch(currency, c) for c in ("BRL", "brl", "bRl", "JPY", ""))
    assert all(re.fullmatch(currency, c) for c in known_currencies())


def _schema_of(document: dict, media: dict) -> dict:
    schema = media["schema"]
    if "$ref" in schema:
        return dict(document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    return dict(schema)


def test_every_request_and_response_has_an_example_that_fits_its_schema() -> None:
    import jsonschema_rs

    document = json.loads((ROOT / "docs/openapi.json").read_text(encoding="utf-8"))
    bodies = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            request = operation.get("requestBody", {}).get("content", {})
            bodies += [(where + " request", media) for media in request.values()]
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                bodies += [(f"{where} {status}", media) for media in content.values()]
    assert len(bodies) > 40
    for where, media in bodies:
        schema = _schema_of(document, media)
        assert "example" in schema, f"no example for {where}"
        rooted = {**schema, "components": document["components"]}
        errors = [
            e.message for e in jsonschema_rs.validator_for(rooted).iter_errors(schema["example"])
        ]
        assert errors == [], (where, errors)
