"""Each language through the real renderer, Flask-Mail and a real SMTP server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payments import services
from payments.bootstrap import Container
from payments.domain.model import Payment, Reason
from tests.support.smtp import SmtpServer, parts

NBSP = "\u00a0"


def deliver(container: Container, mail: Container, payment: Payment) -> str | None:
    return services.notify(mail.uow(), mail.renderer, mail.mailer, payment.id)


@pytest.mark.parametrize(
    ("tag", "locale", "currency", "subject", "phrase", "foreign", "amount"),
    [
        ("en", "en", "USD", "Payment approved: Rock in Rio", "Good news", "Boa", "$125.50"),
        ("pt", "pt", "BRL", "Pagamento aprovado: Rock in Rio", "Boa notícia", "Good news",
         f"R${NBSP}125,50"),
        ("pt-BR", "pt_BR", "BRL", "Pagamento aprovado: Rock in Rio", "Boa notícia", "Good news",
         f"R${NBSP}125,50"),
        ("pt-PT", "pt_PT", "EUR", "Pagamento aprovado: Rock in Rio", "Boa notícia", "Good news",
         f"125,50{NBSP}€"),
        ("es", "es", "EUR", "Pago aprobado: Rock in Rio", "Buenas noticias", "Good news",
         f"125,50{NBSP}€"),
        ("es-MX", "es_MX", "MXN", "Pago aprobado: Rock in Rio", "Buenas noticias", "Good news",
         "$125.50"),
        ("de", "en", "USD", "Payment approved: Rock in Rio", "Good news", "Gute", "$125.50"),
    ],
)  # fmt: skip
def test_an_approved_payment_is_mailed_in_the_fans_language(
    email_container: Container,
    mail_app: Callable[[int], Container],
    smtp: SmtpServer,
    finished: Callable[..., Payment],
    tag: str,
    locale: str,
    currency: str,
    subject: str,
    phrase: str,
    foreign: str,
    amount: str,
) -> None:
    payment = finished(tag, currency=currency)
    assert payment.user_language == locale

    assert deliver(email_container, mail_app(smtp.port), payment)

    [mail] = smtp.wait_for(payment.user_email)
    text, html = parts(mail)
    assert mail["Subject"] == subject
    assert mail["From"] == email_container.settings.mail_default_sender
    for part in (text, html):
        assert phrase in part and foreign not in part
        assert amount in part
        assert "Ana Souza" in part and "Rock in Rio" in part
        assert str(payment.id) in part
    assert f'<html lang="{locale.replace("_", "-")}">' in html
    assert 'src="https://img.example/rock.png"' in html
    assert "TOKEN-SECRET-4242" not in mail.as_string()


@pytest.mark.parametrize(
    ("tag", "currency", "subject", "explanation", "invitation", "amount"),
    [
        ("en", "USD", "Payment not approved: Rock in Rio",
         "declined by your bank or card issuer", "Please try again", "$125.50"),
        ("pt-BR", "BRL", "Pagamento não aprovado: Rock in Rio",
         "recusado pelo seu banco", "Tente novamente", f"R${NBSP}125,50"),
        ("es-MX", "MXN", "Pago no aprobado: Rock in Rio",
         "rechazó el pago", "Inténtalo de nuevo", "$125.50"),
    ],
)  # fmt: skip
def test_a_rejected_payment_is_mailed_with_an_invitation_to_try_again(
    email_container: Container,
    mail_app: Callable[[int], Container],
    smtp: SmtpServer,
    finished: Callable[..., Payment],
    tag: str,
    currency: str,
    subject: str,
    explanation: str,
    invitation: str,
    amount: str,
) -> None:
    payment = finished(tag, currency=currency, reason=Reason.REJECTED_BY_GATEWAY)

    assert deliver(email_container, mail_app(smtp.port), payment)

    [mail] = smtp.wait_for(payment.user_email)
    text, html = parts(mail)
    assert mail["Subject"] == subject
    for part in (text, html):
        assert explanation in part and invitation in part and amount in part
