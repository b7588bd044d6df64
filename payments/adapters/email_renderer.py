"""Rendering the result e-mails from templates, in the payment's locale (Flask-Babel).

The HTML part is autoescaped (Flask escapes `.html` templates, and Flask-Babel's
new-style gettext escapes the values it substitutes); the text part and the subject
carry the user's fields verbatim. The payment token is never given to a template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, render_template
from flask_babel import Babel, force_locale, format_currency
from flask_babel import gettext as _
from flask_mail import Mail

from payments.adapters.catalogs import DOMAIN, TRANSLATIONS, ensure_compiled
from payments.config import Settings
from payments.domain.model import Payment, Reason
from payments.i18n import DEFAULT_LOCALE, resolve_locale
from payments.ports import Email

KINDS = ("approved", "rejected")
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def mail_app(settings: Settings) -> Flask:
    """The small Flask object the e-mail extensions need: templates, Flask-Babel, Flask-Mail.

    Not the HTTP app: no blueprint, no route, no CLI. The workers render and send with it.
    """
    app = Flask("payments.email", root_path=str(PACKAGE_DIR), template_folder="templates")
    app.config.from_mapping(
        MAIL_SERVER=settings.mail_server,
        MAIL_PORT=settings.mail_port,
        MAIL_USERNAME=settings.mail_username,
        MAIL_PASSWORD=settings.mail_password,
        MAIL_USE_TLS=settings.mail_use_tls,
        MAIL_USE_SSL=settings.mail_use_ssl,
        MAIL_DEFAULT_SENDER=settings.mail_default_sender,
    )
    ensure_compiled(TRANSLATIONS)
    Babel(
        app,
        default_locale=DEFAULT_LOCALE,
        default_domain=DOMAIN,
        default_translation_directories=str(TRANSLATIONS),
    )
    Mail(app)
    return app


def one_line(value: str) -> str:
    """The value with every run of whitespace (newlines included) made one space."""
    return " ".join(value.split())


def subject(kind: str, event_name: str) -> str:
    """The translated subject line (call under the payment's locale); never HTML-escaped."""
    event = one_line(event_name)
    if kind == "approved":
        return _("Payment approved: %(event)s", event=event)
    if kind == "refund_confirmed":
        return _("Refund confirmed: %(event)s", event=event)
    if kind == "refund_failed":
        return _("Refund not completed: %(event)s", event=event)
    if kind == "refund_delayed":
        return _("Refund on its way: %(event)s", event=event)
    return _("Payment not approved: %(event)s", event=event)


def reason_message(reason: Reason | None, decline_code: str | None = None) -> str | None:
    """Why a payment failed, in words a fan understands (call under the payment's locale):
    for a decline, what the card's issuer said where that helps the fan (no funds, an
    expired card), never more (contract section 12)."""
    if reason is None:
        return None
    if reason is Reason.REJECTED_BY_GATEWAY:
        if decline_code == "insufficient_funds":
            return _("Your bank or card issuer declined the payment: insufficient funds.")
        if decline_code == "expired_card":
            return _("Your bank or card issuer declined the payment: the card has expired.")
        return _("The payment was declined by your bank or card issuer.")
    if reason is Reason.GATEWAY_UNAVAILABLE:
        return _("The payment service did not respond in time.")
    if reason is Reason.AUTHENTICATION_FAILED:
        return _("The payment was not confirmed with your bank in time.")
    return _("The payment details were incomplete or invalid.")


def image_url(url: str | None) -> str | None:
    """The event image's URL if it is an absolute http(s) URL, else None."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def context_of(payment: Payment, locale: str, decline_code: str | None = None) -> dict[str, Any]:
    """What the templates see (call under the payment's locale): no token, amount formatted."""
    return {
        "locale": locale,
        "html_lang": locale.replace("_", "-"),
        "name": payment.user_name,
        "event_name": payment.event_name or payment.event_id,
        "image_url": image_url(payment.event_image_url),
        "amount": format_currency(payment.amount, payment.currency),
        "reference": str(payment.id),
        "reason_text": reason_message(payment.failure_reason, decline_code),
    }


class EmailRenderer:
    """Builds the multipart e-mail of a finished payment in its stored locale."""

    def __init__(self, app: Flask):
        self.app = app

    def __call__(self, payment: Payment, kind: str, decline_code: str | None = None) -> Email:
        """The e-mail of `kind` ('approved' or 'rejected') for `payment`."""
        if kind not in KINDS:
            raise ValueError(f"unknown e-mail kind {kind!r}")
        locale = resolve_locale(payment.user_language) or DEFAULT_LOCALE
        with self.app.app_context(), force_locale(locale):
            context = context_of(payment, locale, decline_code)
            return Email(
                to=payment.user_email,
                subject=subject(kind, context["event_name"]),
                text=render_template(f"email/{kind}.txt", **context),
                html=render_template(f"email/{kind}.html", **context),
                kind=kind,
            )


REFUND_KINDS = ("refund_confirmed", "refund_failed", "refund_delayed")


class RefundEmailRenderer:
    """Builds a refund's outcome e-mail in its payment's stored locale, with the refunded
    amount formatted for that locale and the currency's own decimals."""

    def __init__(self, app: Flask):
        self.app = app

    def __call__(self, payment: Payment, kind: str, refund: Any) -> Email:
        """The e-mail of `kind` ('refund_confirmed', 'refund_failed' or 'refund_delayed') for
        `refund`."""
        if kind not in REFUND_KINDS:
            raise ValueError(f"unknown refund e-mail kind {kind!r}")
        locale = resolve_locale(payment.user_language) or DEFAULT_LOCALE
        with self.app.app_context(), force_locale(locale):
            context = {
                **context_of(payment, locale),
                "amount": format_currency(refund.amount, refund.currency),
                # the cancellation's refund says why the fan gets their money back
                "event_cancelled": getattr(refund, "by_cancellation", False),
            }
            return Email(
                to=payment.user_email,
                subject=subject(kind, context["event_name"]),
                text=render_template(f"email/{kind}.txt", **context),
                html=render_template(f"email/{kind}.html", **context),
                kind=kind,
            )
