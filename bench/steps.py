"""Client CPU of one payment, step by step, in one process: where a payment's Python time goes.

`make bench-steps` runs it on the embedded services: each payment is placed, then goes through
the steps the actors run (the charge, which opens the transaction, asks the gateway and
settles; the e-mail) by calling the use cases directly, on real PostgreSQL and the SMTP
sink, with no Kafka, Dramatiq or HTTP in between. The e-mail step is also measured in its
parts (the payment's read, rendering, sending), on a copy of the e-mail that is sent as well.
CPU is this process's (`time.process_time`), not the servers'.

Knobs: `--payments` (300), `--warmup` (30), `--rounds` (3): the table shows each round.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from payments import bootstrap, services
from payments.bootstrap import Container
from payments.domain.secret import PaymentToken

T = TypeVar("T")
STEPS = ("place", "charge", "notify", "read", "render", "send")


def _command(i: int) -> services.PlacePayment:
    return services.PlacePayment(
        user_name="Ana Souza",
        user_email=f"steps-{i}@bench.example",
        user_language="pt-BR",
        event_id="bench-steps",
        amount=Decimal("125.50"),
        currency="BRL",
        payment_token=PaymentToken("tok_bench_steps"),
        event_name="Show da Música",
        event_description="Uma noite de música",
        event_image_url="https://img.example/show.png",
    )


def _payment(c: Container, i: int, spent: dict[str, float]) -> None:
    def timed(step: str, call: Callable[..., T], *args: Any) -> T:
        started = time.process_time()
        result = call(*args)
        spent[step] += time.process_time() - started
        return result

    payment = timed("place", services.place_payment, c.uow(), _command(i))
    if timed("charge", services.charge_payment, c.uow(), c.gateway, payment.id) is None:
        raise SystemExit(f"payment {payment.id} was not charged")
    timed("notify", services.notify, c.uow(), c.renderer, c.mailer, payment.id)
    found = timed("read", services.find_payment, c.uow(), payment.id)
    assert found is not None
    email = timed("render", c.renderer, found[0], services.email_kind(found[0]))
    timed("send", c.mailer.send, email)


def measure(c: Container, payments: int, warmup: int) -> dict[str, float]:
    """Milliseconds of this process's CPU per payment, by step."""
    spent = dict.fromkeys(STEPS, 0.0)
    for i in range(warmup):
        _payment(c, i, spent)
    spent = dict.fromkeys(STEPS, 0.0)
    for i in range(payments):
        _payment(c, warmup + i, spent)
    return {step: 1000 * seconds / payments for step, seconds in spent.items()}


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    container = bootstrap.from_env()
    if container.settings.gateway_latency_ms:
        print(f"note: GATEWAY_LATENCY_MS={container.settings.gateway_latency_ms} (sleeps, no CPU)")
    print("| round | " + " | ".join(STEPS) + " | place + 4 steps |")
    print("|---" * (len(STEPS) + 2) + "|")
    for n in range(1, args.rounds + 1):
        ms = measure(container, args.payments, args.warmup)
        pipeline = sum(ms[s] for s in ("place", "charge", "notify"))
        cells = " | ".join(f"{ms[s]:.2f}" for s in STEPS)
        print(f"| {n} | {cells} | {pipeline:.2f} |")
    print(
        f"ms of client CPU per payment, {args.payments} payments a round; "
        "read + render + send repeat notify's parts on a second e-mail"
    )


if __name__ == "__main__":
    main()
