"""The result e-mails as rendered: language, amounts, escaping, and what never goes in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from flask import Flask

from payments.adapters import email_renderer as emails
from payments.config import Settings
from payments.domain.model import Payment, Reason, Status
from payments.domain.refund import Refund, RefundReason
from payments.ports import Email

NBSP = "\u00a0"
REFUND_REASON = RefundReason.REQUESTED_BY_CUSTOMER


@pytest.fixture(scope="module")
def app() -> Flask:
    return emails.mail_app(Settings())


def payment(
    language: str = "en",
    *,
    status: Status = Status.SUCCESS,
    reason: Reason | None = None,
    amount: str = "125.50",
    currency: str = "USD",
    **details: object,
) -> Payment:
    now = datetime.now(UTC)
    fields: dict[str, object] = {
        "user_name": "Ana Souza",
        "user_email": "ana@example.com",
        "event_id": "evt-42",
        "event_name": "Rock in Rio",
        "event_image_url": "https://img.example/rock.png",
        **details,
    }
    return Payment(
        id=uuid.uuid4(),
        status=status,
        user_language=language,
        amount=Decimal(amount),
        currency=currency,
        created_at=now,
        updated_at=now,
        failure_reason=reason,
        **fields,  # type: ignore[arg-type]
    )


def render(app: Flask, p: Payment, kind: str = "approved") -> Email:
    return emails.EmailRenderer(app)(p, kind)


@pytest.mark.parametrize(
    ("language", "currency", "subject", "phrase", "amount"),
    [
        ("en", "USD", "Payment approved: Rock in Rio", "Good news", "$125.50"),
        ("pt", "BRL", "Pagamento aprovado: Rock in Rio", "Boa notícia", f"R${NBSP}125,50"),
        ("pt_BR", "BRL", "Pagamento aprovado: Rock in Rio", "Boa notícia", f"R${NBSP}125,50"),
        ("pt_PT", "EUR", "Pagamento aprovado: Rock in Rio", "Boa notícia", f"125,50{NBSP}€"),
        ("es", "EUR", "Pago aprobado: Rock in Rio", "Buenas noticias", f"125,50{NBSP}€"),
        ("es_MX", "MXN", "Pago aprobado: Rock in Rio", "Buenas noticias", "$125.50"),
    ],
)
def test_an_approved_email_speaks_the_payments_language(
    app: Flask, language: str, currency: str, subject: str, phrase: str, amount: str
) -> None:
    p = payment(language, currency=currency)
    email = render(app, p)
    assert email.to == "ana@example.com"
    assert email.subject == subject
    for part in (email.text, email.html):
        assert phrase in part
        assert amount in part
        assert "Ana Souza" in part
        assert "Rock in Rio" in part
        assert str(p.id) in part


def test_an_amount_has_the_currencys_own_decimals(app: Flask) -> None:
    email = render(app, payment("en_US", amount="1250", currency="JPY"))
    assert "¥1,250" in email.text and "¥1,250." not in email.text


@pytest.mark.parametrize(
    ("language", "subject", "invitation"),
    [
        ("en", "Payment not approved: Rock in Rio", "Please try again"),
        ("pt_BR", "Pagamento não aprovado: Rock in Rio", "Tente novamente"),
        ("es_MX", "Pago no aprobado: Rock in Rio", "Inténtalo de nuevo"),
    ],
)
def test_a_rejected_email_invites_to_try_again(
    app: Flask, language: str, subject: str, invitation: str
) -> None:
    p = payment(language, status=Status.FAILED, reason=Reason.REJECTED_BY_GATEWAY)
    email = render(app, p, "rejected")
    assert email.subject == subject
    assert invitation in email.text and invitation in email.html


@pytest.mark.parametrize(
    ("reason", "explanation"),
    [
        (Reason.REJECTED_BY_GATEWAY, "declined by your bank or card issuer"),
        (Reason.GATEWAY_UNAVAILABLE, "did not respond in time"),
        (Reason.INVALID_PAYMENT_DATA, "incomplete or invalid"),
    ],
)
def test_a_rejected_email_says_why(app: Flask, reason: Reason, explanation: str) -> None:
    email = render(app, payment(status=Status.FAILED, reason=reason), "rejected")
    assert explanation in email.text and explanation in email.html


@pytest.mark.parametrize(
    ("language", "decline_code", "explanation"),
    [
        ("en", "insufficient_funds", "insufficient funds"),
        ("pt_BR", "insufficient_funds", "saldo insuficiente"),
        ("es", "insufficient_funds", "fondos insuficientes"),
        ("en", "expired_card", "the card has expired"),
        ("pt_BR", "expired_card", "o cartão está vencido"),
        ("es", "expired_card", "la tarjeta está vencida"),
    ],
)
def test_a_decline_says_what_the_issuer_said_where_it_helps(
    app: Flask, language: str, decline_code: str, explanation: str
) -> None:
    p = payment(language, status=Status.FAILED, reason=Reason.REJECTED_BY_GATEWAY)
    email = emails.EmailRenderer(app)(p, "rejected", decline_code)
    assert explanation in email.text and explanation in email.html


def test_other_decline_codes_say_no_more_than_declined(app: Flask) -> None:
    p = payment("en", status=Status.FAILED, reason=Reason.REJECTED_BY_GATEWAY)
    email = emails.EmailRenderer(app)(p, "rejected", "fraudulent")
    assert "declined by your bank or card issuer" in email.text
    assert "fraud" not in email.text.lower() and "fraud" not in email.html.lower()


def test_user_fields_are_escaped_in_html_and_verbatim_elsewhere(app: Flask) -> None:
    name = '<script>alert("x")</script> Ana & Bia'
    event = "<b>Rock</b> & 'Roll'"
    email = render(app, payment(user_name=name, event_name=event))

    assert email.subject == f"Payment approved: {event}"
    assert name in email.text and event in email.text
    assert "<script>" not in email.html and "<b>Rock" not in email.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Ana &amp; Bia" in email.html
    assert "&lt;b&gt;Rock&lt;/b&gt; &amp; &#39;Roll&#39;" in email.html


def test_the_subject_is_one_line_whatever_the_event_name(app: Flask) -> None:
    email = render(app, payment(event_name="Rock\r\nBcc: victim@example.com\tin Rio"))
    assert email.subject == "Payment approved: Rock Bcc: victim@example.com in Rio"


def test_the_payment_token_never_appears(app: Flask) -> None:
    p = payment(payment_token="TOKEN-SECRET-4242")
    for kind in ("approved", "rejected"):
        email = render(app, p, kind)
        assert "TOKEN-SECRET-4242" not in email.subject + email.text + email.html


def test_the_event_image_is_shown_when_it_is_an_http_url(app: Flask) -> None:
    html = render(app, payment(event_image_url="https://img.example/a.png?x=1&y=2")).html
    assert '<img src="https://img.example/a.png?x=1&amp;y=2" alt="Rock in Rio"' in html


@pytest.mark.parametrize("url", [None, "", "javascript:alert(1)", "data:image/png;base64,AA"])
def test_no_image_without_a_safe_url(app: Flask, url: str | None) -> None:
    html = render(app, payment(event_image_url=url)).html
    assert "<img" not in html
    assert "javascript:" not in html


def test_without_an_event_name_the_event_id_stands_in(app: Flask) -> None:
    email = render(app, payment(event_name=None))
    assert email.subject == "Payment approved: evt-42"
    assert "evt-42" in email.text


def test_the_html_part_declares_its_language(app: Flask) -> None:
    assert '<html lang="pt-BR">' in render(app, payment("pt_BR", currency="BRL")).html


@pytest.mark.parametrize("stored", ["de", "xx_YY", "", "pt-"])
def test_an_unusable_stored_locale_renders_in_english(app: Flask, stored: str) -> None:
    email = render(app, payment(stored))
    assert email.subject == "Payment approved: Rock in Rio"
    assert "$125.50" in email.text


def test_an_unknown_kind_is_refused(app: Flask) -> None:
    with pytest.raises(ValueError, match="kind"):
        render(app, payment(), "refunded")


@pytest.mark.parametrize(
    ("language", "cancelled", "kept"),
    [
        ("en", "Rock in Rio has been cancelled, so we have refunded your payment.", "$100.50"),
        (
            "pt-BR",
            "Rock in Rio foi cancelado, por isso reembolsamos seu pagamento.",
            "R$\u00a0100,50",
        ),
        ("es", "Rock in Rio fue cancelado, por eso te reembolsamos el pago.", "100,50"),
    ],
)
def test_a_cancellations_refund_says_the_event_was_cancelled(
    app: Flask, language: str, cancelled: str, kept: str
) -> None:
    paid = payment(language, currency="BRL" if language == "pt-BR" else "USD")
    render_refund = emails.RefundEmailRenderer(app)
    own = Refund.request(uuid.uuid4(), paid, Decimal("25.00"), REFUND_REASON, paid.created_at)
    by_cancellation = Refund.for_cancellation(uuid.uuid4(), paid, paid.created_at)
    told = render_refund(paid, "refund_confirmed", by_cancellation)
    assert cancelled in told.text and kept in told.text
    assert cancelled in told.html
    assert cancelled not in render_refund(paid, "refund_confirmed", own).text


def test_a_failed_refund_promises_nothing_the_service_does_not_do(app: Flask) -> None:
    paid = payment()
    refund = Refund.request(uuid.uuid4(), paid, Decimal("25.00"), REFUND_REASON, paid.created_at)
    told = emails.RefundEmailRenderer(app)(paid, "refund_failed", refund)
    assert told.subject == "Refund not completed: Rock in Rio"
    assert "Our team has been alerted" in told.text
    assert "write again" not in told.text  # nothing writes again on its own
    assert "#b3261e" not in told.html  # no alarm red: there is nothing for the fan to do


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        ("en", "Refund on its way: Rock in Rio"),
        ("pt-BR", "Reembolso a caminho: Rock in Rio"),
        ("es", "Reembolso en camino: Rock in Rio"),
    ],
)
def test_a_delayed_refund_is_told_calmly_once(app: Flask, language: str, subject: str) -> None:
    paid = payment(language)
    refund = Refund.request(uuid.uuid4(), paid, Decimal("25.00"), REFUND_REASON, paid.created_at)
    told = emails.RefundEmailRenderer(app)(paid, "refund_delayed", refund)
    assert told.subject == subject
    assert "#1f5fa8" in told.html and "#b3261e" not in told.html  # calm blue, never alarm red
    assert str(paid.id) in told.text  # the payment reference, as in every e-mail
