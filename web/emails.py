"""Rendering the result e-mails from templates, in the payment's locale (Flask-Babel)."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import force_locale, format_currency
from flask_babel import gettext as _
from flask_mail import Mail

from payments.domain.model import Payment
from payments.ports import Email, EmailRenderer


def init_app(app: Flask) -> None:
    """Attach Flask-Mail."""
    app.extensions["payments.mail"] = Mail(app)


def subject(kind: str, event_name: str) -> str:
    """The translated subject line (call under the payment's locale)."""
    if kind == "approved":
        return _("Payment approved: %(event)s", event=event_name)
    return _("Payment not approved: %(event)s", event=event_name)


def renderer_for(app: Flask) -> EmailRenderer:
    """A renderer that builds the multipart e-mail in the payment's stored locale."""

    def render(payment: Payment, kind: str) -> Email:
        with app.app_context(), force_locale(payment.user_language):
            event_name = payment.event_name or payment.event_id
            context = {
                "payment": payment,
                "event_name": event_name,
                "amount": format_currency(payment.amount, payment.currency),
                "reason": payment.failure_reason.value if payment.failure_reason else None,
            }
            return Email(
                to=payment.user_email,
                subject=subject(kind, event_name),
                text=render_template(f"email/{kind}.txt", **context),
                html=render_template(f"email/{kind}.html", **context),
            )

    return render
