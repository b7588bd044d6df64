"""The API stores the e-mail's locale: the explicit tag, else Accept-Language, else en."""

from __future__ import annotations

import uuid
from typing import Any

import pytest


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "user_name": "Ana",
        "user_email": f"fan-{uuid.uuid4().hex[:10]}@example.com",
        "event_id": "evt-1",
        "event_amount": "10.00",
        "payment_token": "TOKEN123",
        **extra,
    }


@pytest.mark.parametrize(
    ("language", "accept", "stored"),
    [
        ("pt-BR", None, "pt_BR"),
        ("pt-PT", "es", "pt_PT"),
        ("es-MX", None, "es_MX"),
        ("de", None, "en"),
        ("de", "fr, pt-BR;q=0.7", "pt_BR"),
        (None, "de-DE, es-MX;q=0.8, en;q=0.5", "es_MX"),
        (None, "pt;q=0, es;q=0.5", "es"),
        (None, "fr, pt;q=0", "en"),
        (None, "fr, de;q=0.5", "en"),
        (None, None, "en"),
    ],
)
def test_the_resolved_locale_is_stored_with_the_payment(
    client: Any, language: str | None, accept: str | None, stored: str
) -> None:
    body = _body(**({"user_language": language} if language else {}))
    headers = {"Accept-Language": accept} if accept else {}

    created = client.post("/payments", json=body, headers=headers)

    assert created.status_code == 201, created.get_json()
    assert created.get_json()["user_language"] == stored
    fetched = client.get(created.headers["Location"])
    assert fetched.get_json()["user_language"] == stored
