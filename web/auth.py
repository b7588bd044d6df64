"""Bearer authentication with `API_KEYS`, and the caller's scope for idempotency keys."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, g, request
from flask_babel import gettext as _

from web import container_of
from web.problems import Problem

ANONYMOUS = "anonymous"


def scope_of(api_key: str) -> str:
    """The idempotency scope of an API key: a hash of it, never the key itself."""
    return "key:" + hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def matching_key(token: str, api_keys: tuple[str, ...]) -> str | None:
    """The configured key equal to `token`, compared in constant time against every key."""
    given = token.encode("utf-8")
    found = None
    for key in api_keys:
        if hmac.compare_digest(given, key.encode("utf-8")):
            found = key
    return found


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    scheme, _sep, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def require_api_key() -> None:
    """Before each /payments request: 401 problem unless the bearer key is configured.

    With `API_KEYS` unset every caller is anonymous. Sets `g.caller_scope`.
    """
    api_keys = container_of(current_app).settings.api_keys
    if not api_keys:
        g.caller_scope = ANONYMOUS
        return
    token = bearer_token()
    key = matching_key(token, api_keys) if token is not None else None
    if key is None:
        challenge = 'Bearer realm="payments"'
        if token is not None:
            challenge += ', error="invalid_token"'
        raise Problem(
            401,
            "unauthorized",
            _("Unauthorized"),
            _("Send a valid API key as Authorization: Bearer <key>."),
            headers={"WWW-Authenticate": challenge},
        )
    g.caller_scope = scope_of(key)


def caller_scope() -> str:
    """The scope `require_api_key` gave this request."""
    return g.get("caller_scope", ANONYMOUS)
