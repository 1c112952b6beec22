"""Subject validation and wildcard matching (both buses rely on these rules)."""

from __future__ import annotations

import pytest

from nbamcp.bus.subjects import (
    check_headers,
    check_publish_subject,
    check_queue,
    check_subscribe_subject,
    matches,
)
from nbamcp.errors import BusError, InvalidSubject, PayloadTooLarge


@pytest.mark.parametrize("subject", ["a", "nba.stats.player", "_INBOX.abc.1", "a-b.c_d.E9", "$JS.API.INFO"])
def test_valid_publish_subjects(subject: str) -> None:
    assert check_publish_subject(subject) == subject


@pytest.mark.parametrize(
    ("subject", "why"),
    [
        ("", "empty"),
        ("a..b", "empty token"),
        (".a", "empty token"),
        ("a.", "empty token"),
        ("a.*", "wildcard"),
        ("a.>", "wildcard"),
        ("a.b*", "wildcard"),
        ("a b", "whitespace"),
        ("a\tb", "whitespace"),
        ("a\nb", "whitespace"),
    ],
)
def test_invalid_publish_subjects_say_why(subject: str, why: str) -> None:
    with pytest.raises(InvalidSubject, match=why) as info:
        check_publish_subject(subject)
    assert info.value.code == "invalid_subject"


@pytest.mark.parametrize("subject", ["a", "a.*", "a.>", "*", ">", "*.b.*", "a.*.>", "nba.stats.*"])
def test_valid_subscribe_subjects(subject: str) -> None:
    assert check_subscribe_subject(subject) == subject


@pytest.mark.parametrize(
    ("subject", "why"),
    [
        ("", "empty"),
        ("a..b", "empty token"),
        ("a.>.b", "last token"),
        (">.a", "last token"),
        ("a*", "whole token"),
        ("a.b>", "whole token"),
        ("a.*b", "whole token"),
        ("a b", "whitespace"),
    ],
)
def test_invalid_subscribe_subjects_say_why(subject: str, why: str) -> None:
    with pytest.raises(InvalidSubject, match=why):
        check_subscribe_subject(subject)


def test_non_string_subject() -> None:
    with pytest.raises(InvalidSubject, match="must be a string"):
        check_publish_subject(b"a.b")  # type: ignore[arg-type]


def test_queue_names() -> None:
    assert check_queue(None) is None
    assert check_queue("workers") == "workers"
    for bad in ("", "two words", "tab\there"):
        with pytest.raises(InvalidSubject, match="queue group"):
            check_queue(bad)


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("a.b", "a.b", True),
        ("a.b", "a.c", False),
        ("a.*", "a.b", True),
        ("a.*", "a", False),
        ("a.*", "a.b.c", False),
        ("*.b", "a.b", True),
        ("*", "a", True),
        ("*", "a.b", False),
        ("a.>", "a.b", True),
        ("a.>", "a.b.c.d", True),
        ("a.>", "a", False),
        (">", "a", True),
        (">", "a.b.c", True),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.b.d", False),
        ("a.*.>", "a.b", False),
        ("a.*.>", "a.b.c", True),
        ("nba.stats.*", "nba.stats.player", True),
        ("nba.stats.*", "nba.statsx.player", False),
        ("ab.*", "a.b", False),
    ],
)
def test_matches(pattern: str, subject: str, expected: bool) -> None:
    assert matches(pattern, subject) is expected


def test_headers_are_checked_normalised_and_counted() -> None:
    out = check_headers("s", 10, {"A-B": "  padded  ", "C": "x\r\ny"}, 1000)
    assert out == {"A-B": "padded", "C": "x  y"}
    # 12 bytes of header block + "A-B: v\r\n" (8) + 10 bytes of data = 30
    assert check_headers("s", 10, {"A-B": "v"}, 30) == {"A-B": "v"}
    with pytest.raises(PayloadTooLarge, match="31 bytes"):
        check_headers("s", 11, {"A-B": "v"}, 30)
    # Non-ASCII values count in bytes, as on the wire.
    with pytest.raises(PayloadTooLarge):
        check_headers("s", 10, {"A-B": "é"}, 30)


@pytest.mark.parametrize("name", ["", "with space", "colon:", "é", "new\nline"])
def test_bad_header_names(name: str) -> None:
    with pytest.raises(BusError, match="header name"):
        check_headers("s", 0, {name: "v"}, 1000)


def test_header_values_must_be_strings() -> None:
    with pytest.raises(BusError, match="must be a string"):
        check_headers("s", 0, {"A": 1}, 1000)  # type: ignore[dict-item]
