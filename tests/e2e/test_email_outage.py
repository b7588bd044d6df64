"""The whole pipeline with the SMTP server down for a while: the e-mail goes out once, later."""

from __future__ import annotations

import time

import requests
from sqlalchemy import Engine, text

from tests.support.factories import payment_body
from tests.support.procs import wait_until
from tests.support.smtp import parts


def _sent(engine: Engine, payment_id: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT kind FROM sent_emails WHERE payment_id = :p"), {"p": payment_id}
        )
        return [row[0] for row in rows]


def test_smtp_down_then_up_delivers_the_email_once(stack) -> None:  # type: ignore[no-untyped-def]
    engine: Engine = stack.engine
    body = payment_body(
        user_name="Lucía <Pérez>",
        event_id="evt-7",
        event_name="Vive Latino",
        event_description=...,
        event_image_url=...,
        user_language="es-MX",
        currency="MXN",
    )
    email = body["user_email"]
    worker = stack.processes["worker"]
    stack.smtp.stop()
    try:
        response = requests.post(
            f"{stack.base_url}/payments",
            json=body,
            headers=stack.keys.front(),
            timeout=10,
        )
        assert response.status_code == 201, response.text
        payment_id = response.json()["id"]

        failed = f"send_payment_email('{payment_id}')"
        wait_until(
            lambda: worker.output().count(failed) >= 2,
            timeout=60,
            message="the worker did not try (and retry) the e-mail while SMTP was down",
        )
        assert _sent(engine, payment_id) == []
        assert stack.smtp.for_recipient(email) == []
    finally:
        stack.smtp.start()

    [mail] = stack.smtp.wait_for(email, timeout=45)
    text_part, html = parts(mail)
    assert mail["Subject"] == "Pago aprobado: Vive Latino"
    assert "Hola, Lucía <Pérez>:" in text_part and "$125.50" in text_part
    assert "Lucía &lt;Pérez&gt;" in html
    # recorded right after the server's 250, which is when the sink already holds the mail
    wait_until(
        lambda: _sent(engine, payment_id) == ["approved"],
        timeout=10,
        message="the e-mail was sent but not recorded",
    )
    time.sleep(1)  # a duplicate would have arrived by now
    assert len(stack.smtp.for_recipient(email)) == 1
