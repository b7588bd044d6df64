"""An event cancelled end to end, on the real processes (contract section 9): each paid fan
gets one refund, and one refund e-mail in their own language with the amount formatted."""

from __future__ import annotations

import time
import uuid

import requests

from tests.support.factories import payment_body
from tests.support.procs import wait_until
from tests.support.smtp import parts

NBSP = "\u00a0"
FANS = [
    # (user_language, currency, amount, subject starts, amount as the e-mail shows it)
    ("pt-BR", "BRL", "125.50", "Reembolso confirmado", f"R${NBSP}125,50"),
    ("es-MX", "MXN", "80.00", "Reembolso confirmado", "$80.00"),
    ("en", "USD", "42.10", "Refund confirmed", "$42.10"),
]


def test_a_cancelled_events_fans_each_get_one_refund_and_one_email_in_their_language(
    stack,  # type: ignore[no-untyped-def]
) -> None:
    base = stack.base_url
    front, back = stack.keys.front(), stack.keys.back()
    event = f"evt-cancel-e2e-{uuid.uuid4().hex[:8]}"
    created = []
    for language, currency, amount, _subject, _shown in FANS:
        body = payment_body(
            event_id=event, user_language=language, currency=currency, event_amount=amount
        )
        response = requests.post(f"{base}/payments", json=body, headers=front, timeout=10)
        assert response.status_code == 201, response.text
        created.append(response.json())

    def all_paid() -> bool:
        return all(
            requests.get(f"{base}/payments/{p['id']}", headers=front, timeout=5).json()["status"]
            == "SUCCESS"
            for p in created
        )

    wait_until(all_paid, timeout=60, message="the payments did not all succeed")
    for payment in created:  # their result e-mails first
        stack.smtp.wait_for(payment["user_email"], count=1, timeout=30)

    accepted = requests.post(
        f"{base}/events/{event}/cancellation",
        json={"reason": "venue flooded"},
        headers=back,
        timeout=10,
    )
    assert accepted.status_code == 202, accepted.text

    def completed() -> dict | None:
        body = requests.get(f"{base}/events/{event}/cancellation", headers=back, timeout=5).json()
        return body if body["status"] == "COMPLETED" else None

    final = wait_until(completed, timeout=90, message="the cancellation never completed")
    assert final["payments"] == 3 and final["refunds_succeeded"] == 3
    assert final["amount_refunded"] == {"BRL": "125.50", "MXN": "80.00", "USD": "42.10"}

    for payment, (_language, _currency, amount, subject, shown) in zip(created, FANS, strict=True):
        mails = stack.smtp.wait_for(payment["user_email"], count=2, timeout=30)
        refund_mail = mails[-1]
        assert refund_mail["Subject"].startswith(subject)
        text, _html = parts(refund_mail)
        assert shown in text and payment["id"] in text
        resource = requests.get(f"{base}/payments/{payment['id']}", headers=back, timeout=5).json()
        assert resource["status"] == "SUCCESS" and resource["amount_refunded"] == amount
        assert [(r["reason"], r["status"]) for r in resource["refunds"]] == [
            ("event_cancelled", "SUCCEEDED")
        ]
    time.sleep(1)  # a duplicate would have arrived by now
    for payment in created:
        assert len(stack.smtp.for_recipient(payment["user_email"])) == 2
