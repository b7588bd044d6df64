"""The `Idempotency-Key` header of POST /payments (IETF draft semantics).

Flow: the view validates the body first (failed validation is never stored), then `begin`
claims the key in its own committed transaction, so that a concurrent request with the same
key sees it in flight (409). The payment, its outbox row and the stored response then commit
together (`Claim.finisher` runs inside `place_payment`'s unit of work); if the request fails
instead, `released_on_error` deletes the claim so that a retry can proceed. Records older than
`IDEMPOTENCY_KEY_TTL_HOURS` count as absent; every claim also purges a batch of expired ones
(cleanup on write, no separate job needed).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from uuid import UUID

from flask import Response, jsonify, request
from flask_babel import gettext as _

from payments import bootstrap
from payments.bootstrap import Container
from payments.config import DEV_IDEMPOTENCY_SECRET
from payments.ports import StoredKey, UnitOfWork
from web.problems import Problem
from web.validation import N_, translate

log = logging.getLogger("payments.api")


class _Created(Protocol):
    id: UUID


R = TypeVar("R", bound=_Created)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
LEASE = timedelta(seconds=60)  # an in-flight record older than this belongs to a dead request
CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    """This request owns the key until it finishes or releases it."""

    scope: str
    key: str
    claim_id: UUID

    def finisher(self, render: Callable[[R], dict[str, Any]]) -> Callable[[UnitOfWork, R], None]:
        """A `before_commit` step storing the 201 response (of a payment or a refund) in the
        transaction that creates it."""

        def finish(uow: UnitOfWork, created: R) -> None:
            body = render(created)
            if not uow.idempotency.finish(
                self.scope, self.key, self.claim_id, 201, body, created.id
            ):
                raise in_flight()  # another request took the key over: this one must not commit

        return finish


def header_key() -> str | None:
    """The request's idempotency key, or None; a 422 problem when it is malformed."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':  # a structured-field string
        key = key[1:-1]
    if 1 <= len(key) <= MAX_KEY_LENGTH and all(" " <= ch <= "~" for ch in key):
        return key
    message = N_("Must be 1 to 255 printable ASCII characters.")
    raise Problem(
        422,
        "validation-error",
        _("Validation failed"),
        _("The Idempotency-Key header is invalid."),
        errors=[{"field": HEADER, "message": translate(message)}],
    )


def request_hash(body: dict[str, Any]) -> str:
    """The fingerprint of method, path and body (canonical JSON: key order and spacing ignored).

    A keyed HMAC (IDEMPOTENCY_SECRET), never a bare hash: the body holds the payment token,
    and a bare sha256 of it would let anyone holding the table test guesses of the token.
    """
    canonical = json.dumps(
        {"method": request.method, "path": request.path.rstrip("/"), "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_exact,
    )
    secret = _secret()
    message = canonical.encode("utf-8", "surrogatepass")
    return "hmac-sha256:" + hmac.new(secret, message, hashlib.sha256).hexdigest()


@functools.cache
def _warn_once() -> None:
    log.warning("IDEMPOTENCY_SECRET is not set: using the development-only default")


def _secret() -> bytes:
    secret = bootstrap.current().settings.idempotency_secret
    if secret == DEV_IDEMPOTENCY_SECRET:
        _warn_once()
    return secret.encode()


def _exact(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def begin(
    container: Container, scope: str, key: str, fingerprint: str, collection: str = "/payments"
) -> Claim | Response:
    """Claim the key for this request, or answer from its live record (replay, 409, 422)."""
    ttl = timedelta(hours=container.settings.idempotency_key_ttl_hours)
    for _attempt in range(CLAIM_ATTEMPTS):
        with container.uow() as uow:
            uow.idempotency.purge_expired()
            claim_id = uow.idempotency.claim(scope, key, fingerprint, ttl, LEASE)
            stored = uow.idempotency.get(scope, key) if claim_id is None else None
            uow.commit()
        if claim_id is not None:
            return Claim(scope, key, claim_id)
        if stored is not None:
            return answer(stored, fingerprint, collection)
        # the record vanished between the claim and the read (its request failed): try again
    raise in_flight()


def answer(stored: StoredKey, fingerprint: str, collection: str = "/payments") -> Response:
    """The stored response again, marked as replayed; a 422 or 409 problem when it cannot be."""
    if stored.request_hash != fingerprint:
        raise Problem(
            422,
            "idempotency-key-reused",
            _("Idempotency key reused"),
            _("This Idempotency-Key was already used with a different request body."),
        )
    if stored.in_flight:
        raise in_flight()
    response = jsonify(stored.response_body)
    response.status_code = stored.response_status or 200
    response.headers[REPLAYED_HEADER] = "true"
    if stored.payment_id is not None and response.status_code == 201:
        response.headers["Location"] = f"{collection}/{stored.payment_id}"
    return response


def in_flight() -> Problem:
    """The 409 problem for a key whose first request is still running."""
    return Problem(
        409,
        "idempotency-key-in-flight",
        _("Request in progress"),
        _("A request with this Idempotency-Key is still being processed; retry later."),
        headers={"Retry-After": "1"},
    )


@contextmanager
def released_on_error(container: Container, claim: Claim) -> Iterator[None]:
    """Run the request's work; if it fails, delete the claim so that a retry can proceed."""
    try:
        yield
    except BaseException:
        try:
            with container.uow() as uow:
                uow.idempotency.release(claim.scope, claim.key, claim.claim_id)
                uow.commit()
        except Exception as err:  # e.g. the database is down: the lease frees the key later
            log.warning(
                "could not release idempotency key (%s); it frees itself after %s",
                type(err).__name__,
                LEASE,
            )
        raise
