"""Table tests of #p's text formats: status (176 bytes), ns lines, fd lines, args, wait."""

from __future__ import annotations

import pytest

from lp49fs.servants.proc.fmt import (
    STATSIZE,
    argstext,
    bindline,
    cdline,
    int2flag,
    mountline,
    quote,
    status,
    waitline,
)
from lp49fs.syscall import MAFTER, MBEFORE, MCACHE, MCREATE, MREPL


def test_status_layout() -> None:
    s = status("rc", "glenda", "Running", (1, 2, 3, 4, 5, 6), 1024, 10, 13)
    assert STATSIZE == 176
    assert len(s) == 176
    assert s[:28] == b"rc".ljust(28)
    assert s[28:56] == b"glenda".ljust(28)
    assert s[56:68] == b"Running     "
    nums = s[68:]
    assert [nums[i : i + 12] for i in range(0, 108, 12)][:2] == [b"          1 ", b"          2 "]
    assert [int(x) for x in nums.split()] == [1, 2, 3, 4, 5, 6, 1024, 10, 13]


def test_status_truncates_long_fields() -> None:
    s = status("n" * 40, "u" * 40, "Queueing Forever")
    assert len(s) == 176
    assert s[:28] == b"n" * 27 + b" "
    assert s[28:56] == b"u" * 27 + b" "
    assert s[56:68] == b"Queueing Fo "


@pytest.mark.parametrize(
    ("flag", "want"),
    [
        (MREPL, ""),
        (MBEFORE, "-b"),
        (MAFTER, "-a"),
        (MCREATE, "-c"),
        (MAFTER | MCREATE, "-ac"),
        (MAFTER | MCACHE, "-aC"),
        (MBEFORE | MCREATE | MCACHE, "-bcC"),
    ],
)
def test_int2flag(flag: int, want: str) -> None:
    assert int2flag(flag) == want


@pytest.mark.parametrize(
    ("line", "want"),
    [
        (bindline(MREPL, "#c", "/dev"), "bind  #c /dev\n"),
        (bindline(MAFTER, "#l", "/net"), "bind -a #l /net\n"),
        (bindline(MCREATE, "#e", "/env"), "bind -c #e /env\n"),
        (mountline(MAFTER | MCACHE, "#s/boot", "/root", ""), "mount -aC #s/boot /root \n"),
        (mountline(MREPL, "/net/tcp/5/data", "/n/kremvax", "/usr"),
         "mount  /net/tcp/5/data /n/kremvax /usr\n"),
        (cdline("/usr/glenda"), "cd /usr/glenda\n"),
    ],
)
def test_ns_lines(line: str, want: str) -> None:
    assert line == want


@pytest.mark.parametrize(
    ("s", "want"),
    [("rc", "rc"), ("", "''"), ("a b", "'a b'"), ("it's", "'it''s'"), ("tab\t", "'tab\t'")],
)
def test_quote(s: str, want: str) -> None:
    assert quote(s) == want


def test_args_and_wait() -> None:
    assert argstext(["echo", "hello world", ""]) == "echo 'hello world' ''"
    assert waitline(12, 1, 2, 3, "") == "12 1 2 3 ''"
    assert waitline(12, 1, 2, 3, "sys: killed") == "12 1 2 3 'sys: killed'"

