"""Table tests of #c's pure parts: fixed-width numbers, /dev/time, and the line discipline."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lp49fs.servants.cons import (
    NUMSIZE,
    TIMELEN,
    VLNUMSIZE,
    bintime,
    crlf,
    fixnum,
    readstr,
    timetext,
)
from lp49fs.servants.cons.kbd import LINELEN, Kbd


@pytest.mark.parametrize(
    ("val", "size", "want"),
    [
        (0, NUMSIZE, b"          0 "),
        (42, NUMSIZE, b"         42 "),
        (4294967295, NUMSIZE, b" 4294967295 "),
        (7, VLNUMSIZE, b"                    7 "),
        (2**64 - 1, VLNUMSIZE, b" 18446744073709551615 "),
    ],
)
def test_fixnum(val: int, size: int, want: bytes) -> None:
    assert fixnum(val, size) == want
    assert len(fixnum(val, size)) == size


def test_numsizes() -> None:
    assert (NUMSIZE, VLNUMSIZE, TIMELEN) == (12, 22, 78)


def test_time_layout() -> None:
    t = timetext(1_700_000_000, 1_700_000_000_123_456_789, 5_000, 1_000_000_000)
    assert len(t) == 78
    assert t[:12] == b" 1700000000 "
    assert t[12:34] == b"  1700000000123456789 "
    assert t[34:56] == b"5000".rjust(21) + b" "
    assert t[56:78] == b"1000000000".rjust(21) + b" "
    assert [int(f) for f in t.split()] == [1_700_000_000, 1_700_000_000_123_456_789, 5000, 10**9]


def test_bintime_big_endian() -> None:
    b = bintime(1, 2, 0x0102030405060708)
    assert len(b) == 24
    assert b[:8] == b"\0" * 7 + b"\1"
    assert b[16:] == bytes(range(1, 9))


@pytest.mark.parametrize(
    ("offset", "count", "want"),
    [(0, 100, b"plan9"), (2, 2, b"an"), (5, 10, b""), (9, 1, b""), (0, 0, b"")],
)
def test_readstr(offset: int, count: int, want: bytes) -> None:
    assert readstr(offset, count, b"plan9") == want


def test_crlf() -> None:
    assert crlf(b"a\nb\n") == b"a\r\nb\r\n"


# ---- line discipline ----


@pytest.mark.parametrize(
    ("typed", "lines"),
    [
        (b"hello\n", [b"hello\n"]),
        (b"hello\r", [b"hello\n"]),
        (b"helx\blo\n", [b"hello\n"]),
        (b"\b\bok\n", [b"ok\n"]),  # backspace on an empty line does nothing
        (b"junk\x15ok\n", [b"ok\n"]),  # ^U kills the line
        (b"abc\x04", [b"abc"]),  # ^D sends without a newline
        (b"\x04", [b""]),  # ^D on an empty line: end of file
        (b"one\ntwo\n", [b"one\n", b"two\n"]),
        (b"partial", []),
    ],
)
def test_cooked_lines(typed: bytes, lines: list[bytes]) -> None:
    k = Kbd()
    k.input(typed)
    got = []
    while (chunk := k.take(1000)) is not None:
        got.append(chunk)
    assert got == lines


def test_one_line_per_read_and_rest_stays() -> None:
    k = Kbd()
    k.input(b"first line\nsecond\n")
    assert k.take(5) == b"first"
    assert k.take(100) == b" line\n"  # never spans into the next line
    assert k.take(100) == b"second\n"
    assert k.take(100) is None


def test_echo() -> None:
    k = Kbd()
    assert k.input(b"ab\rc\x15") == b"ab\r\nc^U\n"


def test_raw_mode() -> None:
    k = Kbd()
    k.input(b"par")
    k.setraw(True)  # going raw flushes the partial line
    assert k.input(b"x\by") == b""  # no echo
    k.input(b"\n")
    assert k.take(4) == b"parx"  # raw reads take what is queued, across chunks
    assert k.take(100) == b"\by\n"  # no editing
    k.setraw(False)
    k.input(b"a\bb\n")
    assert k.take(100) == b"b\n"


def test_long_line_is_sent() -> None:
    k = Kbd()
    k.input(b"x" * (LINELEN + 3))
    assert k.take(10_000) == b"x" * LINELEN
    assert k.take(10_000) is None
    assert k.line == bytearray(b"xxx")


@settings(max_examples=60)
@given(st.lists(st.sampled_from([b"a", b"b", b"\b", b"\x15", b"\n", b"\x04", b"\r"]), max_size=40))
def test_cooking_matches_model(keys: list[bytes]) -> None:
    """Fed all at once or key by key, the line discipline gives the same lines as a model."""
    whole, single = Kbd(), Kbd()
    whole.input(b"".join(keys))
    for key in keys:
        single.input(key)
    lines, cur = [], b""
    for key in keys:
        if key == b"\b":
            cur = cur[:-1]
        elif key == b"\x15":
            cur = b""
        elif key in (b"\n", b"\r"):
            lines.append(cur + b"\n")
            cur = b""
        elif key == b"\x04":
            lines.append(cur)
            cur = b""
        else:
            cur += key
    assert list(whole.ready) == list(single.ready) == lines
