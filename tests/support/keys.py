"""The two keys the fault and e2e suites call with (contract section 11): the fans' front
end and the back office, each with only its own scopes, stored as the CLI stores them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from payments import api_keys
from payments.api_keys import Scope

SECRET = "api-key-secret-of-the-test-stacks"  # noqa: S105 (the suites' own)
FRONT_END = (Scope.PAYMENTS_WRITE, Scope.PAYMENTS_READ)
BACK_OFFICE = (Scope.PAYMENTS_READ, Scope.REFUNDS_WRITE, Scope.EVENTS_WRITE, Scope.EVENTS_READ)


@dataclass(frozen=True)
class Keys:
    """A stack's two keys, and the headers that present them."""

    front_end: str
    back_office: str

    def front(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.front_end}"}

    def back(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.back_office}"}


def issue(engine: Engine) -> Keys:
    """Create the two keys in the stack's database (API_KEY_SECRET must be `SECRET`)."""
    with engine.begin() as conn:
        front = api_keys.create(conn, SECRET, "front-end", FRONT_END)
        back = api_keys.create(conn, SECRET, "back-office", BACK_OFFICE)
    return Keys(front, back)
