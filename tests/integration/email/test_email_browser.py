"""Every e-mail template in every language, laid out by a real headless Chromium: a long
name and a long event name fit a phone's width, details stack there instead of squeezing,
and a dark-mode client gets the dark palette. Skipped, saying why, without Chromium
(`.ci/run` installs it)."""

from __future__ import annotations

import pytest

from devstack import browser, email_previews
from devstack.email_previews import Sample

pytestmark = pytest.mark.skipif(
    browser.browser() is None,
    reason="no Chromium (apt-get install chromium): e-mail layouts not checked",
)
PHONE = 375
SAMPLES = list(email_previews.samples(email_previews.UNREACHABLE_IMAGE))


def luminance(css_rgb: str) -> float:
    """Relative brightness, 0 (black) to 1 (white), of a CSS `rgb(r, g, b)` colour."""
    r, g, b = (int(x) for x in css_rgb.removeprefix("rgb(").rstrip(")").split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_every_template_and_language_is_checked() -> None:
    assert {(s.kind, s.locale) for s in SAMPLES} == {
        (kind, locale)
        for kind in ("approved", "rejected", "refund_confirmed", "refund_failed", "refund_delayed")
        for locale in ("en", "pt_BR", "es")
    }


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_a_long_name_and_event_fit_a_phone_with_details_stacked(sample: Sample) -> None:
    layout = email_previews.layout_of(sample.email.html, PHONE)
    assert layout["viewport"] == PHONE
    assert layout["scroll_width"] <= PHONE, layout  # nothing scrolls sideways
    assert layout["widest"] <= PHONE, layout
    # The event's name gets the card's whole width, not a squeezed right-hand column.
    assert layout["event_cell_width"] >= 0.75 * PHONE, layout


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_a_dark_mode_client_gets_the_dark_palette(dark: bool) -> None:
    [sample] = [s for s in SAMPLES if s.name == "approved-en"]
    layout = email_previews.layout_of(sample.email.html, 680, dark=dark)
    assert layout["dark"] is dark
    page, text = luminance(layout["page_background"]), luminance(layout["text_color"])
    if dark:
        assert page < 0.15 and text > 0.8, layout
    else:
        assert page > 0.85 and text < 0.25, layout
