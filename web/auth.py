"""Bearer authentication (`API_KEYS`, and the keys of `flask keys`), authorization by the
scope each view declares (contract section 11), and the caller's scope for idempotency keys."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from flask import current_app, g, request
from flask_babel import gettext as _

from payments import bootstrap
from payments.api_keys import ALL_SCOPES, Caller, Scope
from web.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])

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


def needs(scope: Scope) -> Callable[[F], F]:
    """Declare the scope a view needs, where the view is registered. Deny by default: a view
    of the API's blueprints that declares none refuses every caller (and a test walks the
    URL map for any such view)."""

    def declare(view: F) -> F:
        view.required_scope = scope  # type: ignore[attr-defined]
        return view

    return declare


def required_scope(endpoint: str | None) -> Scope | None:
    """The scope the view of `endpoint` declared, or None."""
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, "required_scope", None)


def require_api_key() -> None:
    """Before each request of the API's blueprints: who calls (401 problem unless the bearer
    key is in `API_KEYS` or an active key of `flask keys`), and may it (403 problem unless
    the key holds the scope the view declared).

    With neither `API_KEYS` nor any key created, the API is open (development): every
    caller is anonymous. Sets `g.caller_scope` (idempotency keys and rate limits are counted
    per key) and `g.api_key_name` (a `flask keys` key's name, for the logs).
    """
    container = bootstrap.current()
    scope = required_scope(request.endpoint)
    api_keys = container.settings.api_keys
    token = bearer_token()
    caller = _caller(container, token, api_keys) if token is not None else None
    if caller is None:
        if not api_keys and not container.key_ring.any_key():
            g.caller_scope = ANONYMOUS
            return
        _unauthorized(token)
    assert token is not None and caller is not None
    g.caller_scope = scope_of(token)
    g.api_key_name = caller.name
    if scope is None or scope not in caller.scopes:
        raise _insufficient(scope)


def _caller(container: Any, token: str, api_keys: tuple[str, ...]) -> Caller | None:
    if matching_key(token, api_keys) is not None:
        return Caller(None, ALL_SCOPES)  # API_KEYS keys hold every scope
    return container.key_ring.caller(token)


def _unauthorized(token: str | None) -> NoReturn:
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


def _insufficient(scope: Scope | None) -> Problem:
    needed = scope.value if scope is not None else "none declared"
    return Problem(
        403,
        "insufficient-scope",
        _("Insufficient scope"),
        _("This API key may not do this: it needs the %(scope)s scope.", scope=needed),
        headers={
            "WWW-Authenticate": f'Bearer realm="payments", error="insufficient_scope", '
            f'scope="{needed}"'
        },
    )


def caller_scope() -> str:
    """The idempotency and rate-limit scope `require_api_key` gave this request."""
    return g.get("caller_scope", ANONYMOUS)
