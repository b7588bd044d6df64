"""GET /problems and GET /problems/<slug>: a short page for each problem `type` the API answers
with (RFC 9457 says a type URI should resolve to documentation for people): its title, when
it happens, what to do. Translated by Accept-Language like the problems themselves; never
rate limited, no key needed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template_string
from flask_babel import get_locale, gettext

from web.problems import PROBLEM_TYPE_BASE, Problem
from web.validation import N_

bp = Blueprint("problem_pages", __name__)

# slug -> (HTTP status, title, when it happens, what to do): msgids, translated per request.
PAGES: dict[str, tuple[int, str, str, str]] = {
    "bad-request": (
        400,
        N_("Bad request"),
        N_("The body is not valid JSON, or not a JSON object."),
        N_("Send one JSON object, encoded in UTF-8."),
    ),
    "unauthorized": (
        401,
        N_("Unauthorized"),
        N_("Keys are in use and the request has no key, an unknown one, or a revoked one."),
        N_("Send `Authorization: Bearer <key>` with a key the operators gave you."),
    ),
    "invalid-signature": (
        400,
        N_("Invalid signature"),
        N_(
            "A webhook event without a valid Stripe-Signature: unsigned, signed with another"
            " secret, or older than five minutes."
        ),
        N_(
            "Stripe signs its deliveries itself; check STRIPE_WEBHOOK_SECRET against the"
            " endpoint's signing secret in Stripe's dashboard."
        ),
    ),
    "webhooks-not-configured": (
        503,
        N_("Webhooks not configured"),
        N_("The service has no signing secret to check webhook events with."),
        N_("Set STRIPE_WEBHOOK_SECRET to the endpoint's signing secret; Stripe retries meanwhile."),
    ),
    "insufficient-scope": (
        403,
        N_("Insufficient scope"),
        N_("The key is known but may not do this: it lacks the scope the endpoint needs."),
        N_("Use the key made for this job; `WWW-Authenticate` names the scope needed."),
    ),
    "not-found": (
        404,
        N_("Not found"),
        N_("No payment, refund or cancellation has this id (ids that are not UUIDs included)."),
        N_("Check the id; a payment accepted with 201 is always found by its id."),
    ),
    "method-not-allowed": (
        405,
        N_("Method not allowed"),
        N_("The path exists but not with this HTTP method."),
        N_("The `Allow` header lists the methods the path takes."),
    ),
    "conflict": (
        409,
        N_("Conflict"),
        N_("The request conflicts with the state of the resource."),
        N_("Read the resource again, then decide."),
    ),
    "idempotency-key-in-flight": (
        409,
        N_("Request in progress"),
        N_("A request with the same Idempotency-Key is still being processed."),
        N_("Wait a moment and send the same request again, with the same key."),
    ),
    "event-cancelled": (
        409,
        N_("Event cancelled"),
        N_("The event was cancelled: it takes no more payments."),
        N_("Do not sell tickets for it; its paid payments are being refunded."),
    ),
    "payment-not-refundable": (
        409,
        N_("Payment not refundable"),
        N_("Only a SUCCESS payment can be refunded."),
        N_("Wait for the payment to succeed; a FAILED payment charged nothing."),
    ),
    "refund-reason-reserved": (
        409,
        N_("Refund reason reserved"),
        N_("The reason event_cancelled belongs to an event's cancellation."),
        N_("Cancel the event instead, or refund with another reason."),
    ),
    "payload-too-large": (
        413,
        N_("Payload too large"),
        N_("The body is over 64 KiB."),
        N_("Send a smaller body: no field needs that much."),
    ),
    "unsupported-media-type": (
        415,
        N_("Unsupported media type"),
        N_("The Content-Type is not JSON."),
        N_("Send `Content-Type: application/json`."),
    ),
    "validation-error": (
        422,
        N_("Validation failed"),
        N_("A field of the body or a query parameter is missing, unknown or invalid."),
        N_("`errors` names each field with what is wrong; fix those and send again."),
    ),
    "amount-exceeds-refundable": (
        422,
        N_("Amount exceeds what is refundable"),
        N_("The refund asks for more than the payment's amount minus its other refunds."),
        N_("`refundable` says how much is left; ask for at most that."),
    ),
    "idempotency-key-reused": (
        422,
        N_("Idempotency key reused"),
        N_("The Idempotency-Key was used before with a different body."),
        N_("Use a new key for a new request; the same key only to retry the same one."),
    ),
    "rate-limited": (
        429,
        N_("Too many requests"),
        N_("The caller sent more requests than its rate limit allows."),
        N_("Wait the seconds `Retry-After` says, then retry."),
    ),
    "internal-error": (
        500,
        N_("Internal error"),
        N_("Something unexpected failed in the service."),
        N_("Retry with the same Idempotency-Key; give `request_id` to the operators."),
    ),
    "service-unavailable": (
        503,
        N_("Service unavailable"),
        N_("The database could not be reached; nothing was stored."),
        N_("Retry with the same Idempotency-Key after a few seconds."),
    ),
    "http-error": (
        400,
        N_("HTTP error"),
        N_("The request was refused for a reason of HTTP itself."),
        N_("`status` and `detail` say which."),
    ),
}

PAGE = """<!doctype html>
<html lang="{{ lang }}">
<head><meta charset="utf-8"><title>{{ title }}</title>
<style>body { font: 16px/1.5 system-ui, sans-serif; max-width: 40em; margin: 2em auto; }</style>
</head>
<body>
{% if slug %}<p><a href="{{ base }}">{{ all_problems }}</a></p>
<h1>{{ status }} {{ title }}</h1>
<p><code>type: {{ base }}{{ slug }}</code></p>
<h2>{{ when_label }}</h2><p>{{ when }}</p>
<h2>{{ todo_label }}</h2><p>{{ todo }}</p>
{% else %}<h1>{{ title }}</h1>
<ul>{% for s, status, t in items %}<li><a href="{{ base }}{{ s }}">{{ status }} {{ t }}</a>
<code>{{ s }}</code></li>{% endfor %}</ul>{% endif %}
</body>
</html>
"""


def _lang() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "en"


@bp.get("/problems")
def index() -> Any:
    """Every problem type, with its status and title."""
    items = [(slug, status, gettext(title)) for slug, (status, title, _, _) in PAGES.items()]
    return render_template_string(
        PAGE,
        lang=_lang(),
        title=gettext("Problem types"),
        items=sorted(items, key=lambda item: (item[1], item[0])),
        base=PROBLEM_TYPE_BASE,
        slug=None,
    )


@bp.get("/problems/<slug>")
def page(slug: str) -> Any:
    """One problem type: when it happens, what to do."""
    if slug not in PAGES:
        raise Problem(404, "not-found", gettext("Not found"), gettext("No such problem type."))
    status, title, when, todo = PAGES[slug]
    return render_template_string(
        PAGE,
        lang=_lang(),
        slug=slug,
        status=status,
        title=gettext(title),
        when=gettext(when),
        todo=gettext(todo),
        when_label=gettext("When it happens"),
        todo_label=gettext("What to do"),
        all_problems=gettext("All problem types"),
        base=PROBLEM_TYPE_BASE,
    )
