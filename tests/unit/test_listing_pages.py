"""Pages and cursors (`payments.domain.listing`): limits, one cursor at a time, and a page
read in either direction handed back newest first with `has_more`."""

from __future__ import annotations

import uuid

import pytest

from payments.domain.listing import MAX_LIMIT, PageRequest, trim


@pytest.mark.parametrize("limit", [0, MAX_LIMIT + 1, -5])
def test_a_limit_is_1_to_100(limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        PageRequest(limit)


def test_both_cursors_make_a_window_read_newest_first() -> None:
    both = PageRequest(10, starting_after=uuid.uuid4(), ending_before=uuid.uuid4())
    assert not both.backwards
    assert trim([9, 8], both).items == [9, 8]
    assert PageRequest(10, ending_before=uuid.uuid4()).backwards


def test_a_page_after_a_cursor_keeps_the_newest_first_and_says_if_more_follow() -> None:
    rows = [9, 8, 7]  # read newest first, limit + 1 of them
    page = trim(rows, PageRequest(2, starting_after=uuid.uuid4()))
    assert page.items == [9, 8] and page.has_more is True
    assert trim([9, 8], PageRequest(2)).has_more is False


def test_a_page_before_a_cursor_is_read_oldest_first_and_turned_round() -> None:
    rows = [3, 4, 5]  # read oldest first from just before the cursor, limit + 1 of them
    page = trim(rows, PageRequest(2, ending_before=uuid.uuid4()))
    assert page.items == [4, 3] and page.has_more is True
