"""The mailer's header policy writes exactly what the standard library's compat32 writes."""

from __future__ import annotations

import random
import string
from email import policy

import pytest
from flask import Flask
from flask_mail import Mail

from payments.adapters import mailer

COMPAT32_CRLF = policy.compat32.clone(linesep="\r\n")
NAMES = ("To", "From", "Subject", "Date", "Message-ID", "Content-Type", "X-A-Much-Longer-Name")
# Letters, digits and what makes a header value hard: runs of spaces and tabs, RFC 2047
# markers, address and parameter specials.
ALPHABET = string.ascii_letters + string.digits + "    \t\t=?=?<>@,;:\"()[]\\.'"


def test_any_ascii_value_is_written_as_compat32_writes_it() -> None:
    draw = random.Random(20261204)
    for _ in range(20_000):
        name = draw.choice(NAMES)
        # around the 78-column line: values that fit, and values compat32 must fold
        value = "".join(draw.choice(ALPHABET) for _ in range(draw.randint(0, 100)))
        assert mailer._AS_SENT.fold_binary(name, value) == COMPAT32_CRLF.fold_binary(name, value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        " leading and trailing ",
        "x" * 68,  # "Subject: " + 68 = 77 columns
        "x" * 69,
        "x" * 70,  # one column past the line: compat32 decides
        "word " * 20,  # folds at spaces
        "two\r\nlines",
        "bare\nnewline",
        "Música São Paulo",  # not ASCII
        "=?utf-8?b?w6k=?=",
    ],
)
def test_edge_values_are_written_as_compat32_writes_them(value: str) -> None:
    assert mailer._AS_SENT.fold_binary("Subject", value) == COMPAT32_CRLF.fold_binary(
        "Subject", value
    )


@pytest.mark.parametrize(
    "subject",
    ["Payment approved: Rock Night", "Pagamento aprovado: " + "Música São Paulo " * 6],
)
def test_a_whole_message_is_byte_for_byte_what_compat32_makes(subject: str) -> None:
    app = Flask("policy-test")
    app.config["MAIL_DEFAULT_SENDER"] = "Tickets <payments@tickets.example>"
    Mail(app)
    with app.app_context():
        message = mailer._Message(
            subject=subject,
            recipients=["Ana Souza <ana@example.com>"],
            body="Olá Ana\n" * 40,
            html="<p>Olá <b>Ana</b></p>\n" * 40,
        )
        built = message._message()
    sent = built.as_bytes()
    built.policy = COMPAT32_CRLF
    assert sent == built.as_bytes()
    assert sent.count(b"\r\n") > 40  # both parts and every header went through the policy
