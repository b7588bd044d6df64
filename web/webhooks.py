"""POST /webhooks/stripe: the gateway's signed events (contract section 12).

The signature is the endpoint's authentication (no API key) and it is never rate limited:
Stripe must always get through. The event is applied in one short PostgreSQL transaction
and answered at once; nothing slow (no gateway call, no e-mail) happens in the request.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from flask_babel import gettext as _
from prometheus_client import CollectorRegistry, Counter

from payments import bootstrap, webhooks
from payments.adapters.stripe_events import BadSignature, verified_event
from web.problems import Problem

bp = Blueprint("webhooks", __name__)
log = logging.getLogger("payments.webhooks")
COUNTER = "payments.webhook_events"


def init_app(app: Flask, registry: CollectorRegistry) -> None:
    """Serve the endpoint (no API key, no rate limit) and count its events."""
    app.extensions[COUNTER] = Counter(
        "gateway_webhook_events",
        "Webhook events received from the gateway, by type and outcome (applied, duplicate,"
        " ignored, stray, invalid_signature).",
        ["type", "outcome"],
        registry=registry,
    )
    app.register_blueprint(bp)


@bp.post("/webhooks/stripe")
def stripe_event() -> Any:
    """Verify, apply once, answer 200 (400 problem for a bad signature)."""
    container = bootstrap.current()
    secret = container.settings.webhook_secret
    if not secret:
        raise Problem(
            503,
            "webhooks-not-configured",
            _("Webhooks not configured"),
            _("The service has no signing secret to check webhook events with."),
        )
    try:
        event = verified_event(
            request.get_data(cache=False), request.headers.get("Stripe-Signature"), secret
        )
    except BadSignature as err:
        current_app.extensions[COUNTER].labels("-", "invalid_signature").inc()
        log.warning("webhook refused: %s", err)
        raise Problem(
            400,
            "invalid-signature",
            _("Invalid signature"),
            _("The Stripe-Signature header does not prove this event."),
        ) from None
    outcome = webhooks.apply_event(container.uow(), event)
    kind = event.type if event.type in webhooks.APPLIED_TYPES else "other"
    current_app.extensions[COUNTER].labels(kind, outcome.value).inc()
    if outcome is webhooks.Outcome.STRAY:
        log.error(
            "a charge succeeded for a payment that had failed: it will be refunded",
            extra={"transaction_id": str(event.transaction_id)},
        )
    return jsonify({"received": True, "outcome": outcome.value})
