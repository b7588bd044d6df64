"""The e-mails as a fan sees them: every template in every language, in headless Chromium.

`python -m devstack.email_previews [OUT_DIR]` (or `make email-previews`) writes one PNG per
template, language and colour scheme to `docs/emails/`, rendered by the workers' own
renderer (templates, Flask-Babel) from sample payments with a long name and a long event
name. The tests use `layout_of` to check the same e-mails at a phone's width.
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from html import escape, unescape
from pathlib import Path
from typing import Any

from devstack import browser as chromium
from devstack.procs import ROOT
from payments.adapters.email_renderer import (
    KINDS,
    REFUND_KINDS,
    EmailRenderer,
    RefundEmailRenderer,
    mail_app,
)
from payments.config import Settings
from payments.domain.model import Payment, Reason, Status
from payments.domain.refund import Refund, RefundReason, RefundStatus
from payments.ports import Email

OUT_DIR = ROOT / "docs" / "emails"
LOCALES = {"en": ("USD", "en"), "pt_BR": ("BRL", "pt-BR"), "es": ("EUR", "es")}
# Chromium as a mail client in dark mode draws it.
DARK_FLAGS = ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]
# Longer than most, as fans and promoters write them: the layout must hold them.
LONG_NAME = "Maria Eduarda Albuquerque de Vasconcelos Cavalcanti"
LONG_EVENT = "Rock in Rio 2027 - Day 3: The Grand Finale with the Symphony Orchestra of Lisbon"
# An address that never answers, as an image a mail client blocks or cannot load looks.
UNREACHABLE_IMAGE = "http://127.0.0.1:9/event-banner.jpg"


@dataclass(frozen=True)
class Sample:
    """One rendered e-mail and the name of its preview."""

    kind: str
    locale: str
    email: Email

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.locale}"


def payment(locale: str, status: Status = Status.SUCCESS, **changes: object) -> Payment:
    """A finished sample payment in `locale`, with a long name and a long event name."""
    currency, tag = LOCALES.get(locale, ("USD", locale))
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    values: dict[str, object] = {
        "id": uuid.UUID("0b6f0a3c-5d1e-4d2a-9a55-6f2f3c1d7e90"),
        "status": status,
        "user_name": LONG_NAME,
        "user_email": "maria@example.com",
        "user_language": tag,
        "event_id": "evt-rir-2027-d3",
        "event_name": LONG_EVENT,
        "amount": Decimal("1250.50"),
        "currency": currency,
        "created_at": now,
        "updated_at": now,
        "failure_reason": None if status is Status.SUCCESS else Reason.REJECTED_BY_GATEWAY,
        **changes,
    }
    return Payment(**values)  # type: ignore[arg-type]


REFUND_STATUS_OF_KIND = {
    "refund_confirmed": RefundStatus.SUCCEEDED,
    "refund_failed": RefundStatus.FAILED,
    "refund_delayed": RefundStatus.PENDING,
}


def refund_of(paid: Payment, status: RefundStatus) -> Refund:
    """A sample refund of part of `paid`."""
    return Refund(
        id=uuid.UUID("7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"),
        payment_id=paid.id,
        amount=Decimal("250.50"),
        currency=paid.currency,
        reason=RefundReason.REQUESTED_BY_CUSTOMER,
        status=status,
        created_at=paid.created_at,
        updated_at=paid.updated_at,
    )


def samples(image_url: str | None = None) -> Iterator[Sample]:
    """Every template in every language, rendered by the workers' renderers."""
    app = mail_app(Settings())
    payments, refunds = EmailRenderer(app), RefundEmailRenderer(app)
    for locale in LOCALES:
        for kind in KINDS:
            status = Status.SUCCESS if kind == "approved" else Status.FAILED
            paid = payment(locale, status, event_image_url=image_url)
            yield Sample(kind, locale, payments(paid, kind))
        for kind in REFUND_KINDS:
            paid = payment(locale, event_image_url=image_url)
            outcome = REFUND_STATUS_OF_KIND[kind]
            yield Sample(kind, locale, refunds(paid, kind, refund_of(paid, outcome)))


def screenshot(html: str, path: Path, width: int = 680, dark: bool = False) -> Path:
    """A PNG of `html` as Chromium draws it `width` pixels wide (dark: a dark-mode client)."""
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "email.html"
        page.write_text(html, encoding="utf-8")
        height = _height(html, width)
        chromium.run(
            [
                *(DARK_FLAGS if dark else []),
                f"--window-size={width},{height}",
                f"--screenshot={path}",
                "--virtual-time-budget=3000",
                page.as_uri(),
            ]
        )
    if not path.exists():
        raise RuntimeError(f"Chromium drew no screenshot of {path.name}")
    return path


# The e-mail goes in an iframe of the width under test (a headless window is never narrower
# than 500 px), and the page around it reports how the e-mail laid out.
PROBE = """<!doctype html><html><body style="margin:0">
<iframe id="mail" width="%(width)d" height="900" style="border:0" srcdoc="%(srcdoc)s"></iframe>
<script>
document.getElementById('mail').addEventListener('load', function () {
  var win = this.contentWindow, doc = win.document, root = doc.documentElement;
  var widest = 0, culprit = '', eventCell = 0;
  doc.querySelectorAll('body *').forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.right > widest) { widest = box.right; culprit = el.tagName; }
    if (el.tagName === 'TD' && el.textContent.trim() === %(event)s) { eventCell = box.width; }
  });
  var out = document.createElement('pre');
  out.id = 'layout';
  out.textContent = JSON.stringify({
    viewport: win.innerWidth, scroll_width: root.scrollWidth,
    widest: Math.ceil(widest), culprit: culprit,
    height: Math.ceil(doc.body.getBoundingClientRect().height),
    event_cell_width: Math.floor(eventCell),
    dark: win.matchMedia('(prefers-color-scheme: dark)').matches,
    page_background: win.getComputedStyle(doc.body).backgroundColor,
    text_color: win.getComputedStyle(doc.querySelector('h1 + p')).color});
  document.body.appendChild(out);
});
</script></body></html>"""


def layout_of(html: str, width: int, dark: bool = False) -> dict[str, Any]:
    """How the e-mail lays out `width` pixels wide (dark: in a dark-mode client): the
    viewport, the document's scroll width, the right edge of its widest element (and which),
    its height, the width of the cell holding the event's name, the page's background and
    the text's colour (CSS `rgb(...)`)."""
    probe = PROBE % {
        "width": width,
        "srcdoc": escape(html, quote=True),
        "event": json.dumps(LONG_EVENT),
    }
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "probe.html"
        page.write_text(probe, encoding="utf-8")
        dom = chromium.run(
            [
                *(DARK_FLAGS if dark else []),
                f"--window-size={max(width, 500) + 20},1000",
                "--virtual-time-budget=3000",
                "--dump-dom",
                page.as_uri(),
            ]
        )
    start = dom.find('<pre id="layout">')
    if start < 0:
        raise RuntimeError("the layout probe did not run")
    body = dom[start + len('<pre id="layout">') : dom.index("</pre>", start)]
    result: dict[str, Any] = json.loads(unescape(body))
    return result


def _height(html: str, width: int) -> int:
    """The e-mail's height at `width`, so a screenshot holds all of it."""
    return max(400, int(layout_of(html, width)["height"]) + 8)


def write_previews(out_dir: Path = OUT_DIR) -> list[Path]:
    """Every template in every language, light, dark, and at a phone's width, as PNGs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for sample in samples():
        written.append(screenshot(sample.email.html, out_dir / f"{sample.name}.png"))
    approved = {s.locale: s for s in samples(UNREACHABLE_IMAGE) if s.kind == "approved"}
    dark, phone = out_dir / "approved-en-dark.png", out_dir / "approved-pt_BR-phone.png"
    written.append(screenshot(approved["en"].email.html, dark, dark=True))
    written.append(screenshot(approved["pt_BR"].email.html, phone, width=375))
    return written


def main(argv: list[str]) -> int:
    """Write the previews; exit 1 with one line when Chromium is missing."""
    out_dir = Path(argv[0]) if argv else OUT_DIR
    if chromium.browser() is None:
        print("email previews: no Chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    for path in write_previews(out_dir):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
