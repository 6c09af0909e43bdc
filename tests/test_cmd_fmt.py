"""The programs' pure parts as tables: output formats, flag parsing, path helpers."""

from __future__ import annotations

import time

import pytest

from lp49fs.cmd._fmt import Entry, ctime, dirmode, lslines, lstime, nsline, psline
from lp49fs.cmd._util import basename, dirname, splitflags
from lp49fs.cmd.bind import MAFTER, MBEFORE, MCACHE, MCREATE, MREPL, mountflag
from lp49fs.cmd.wc import wcline
from lp49fs.ninep import DMAPPEND, DMAUTH, DMDIR, DMEXCL, Dir, Qid
from lp49fs.servants.proc.fmt import status

MODES = [
    (0o664, "--rw-rw-r--"),
    (DMDIR | 0o755, "d-rwxr-xr-x"),
    (DMAPPEND | 0o600, "a-rw-------"),
    (DMEXCL | DMAPPEND | 0o640, "alrw-r-----"),
    (DMAUTH | 0o400, "A-r--------"),
    (DMDIR | DMEXCL | 0o1, "dl--------x"),
    (0, "-----------"),
]


@pytest.mark.parametrize(("mode", "want"), MODES)
def test_dirmode(mode: int, want: str) -> None:
    assert dirmode(mode) == want


def test_lstime_recent_and_old() -> None:
    now = int(time.mktime((2008, 11, 26, 10, 11, 0, 0, 0, -1)))
    assert lstime(now, now) == "Nov 26 10:11"
    assert lstime(now - 200 * 86400, now).endswith(" 2008")
    assert lstime(now - 200 * 86400, now)[:6] == time.strftime("%b %e", time.localtime(
        now - 200 * 86400))
    assert lstime(now + 2 * 86400, now) == "Nov 28  2008"


def test_ctime_utc() -> None:
    assert ctime(0, utc=True) == "Thu Jan  1 00:00:00 GMT 1970"
    assert ctime(1227694272, utc=True) == "Wed Nov 26 10:11:12 GMT 2008"


def _d(name: str, length: int, uid: str = "glenda", mode: int = 0o664, dev: int = 0,
       qpath: int = 1, vers: int = 0, typ: str = "M") -> Dir:
    qt = 0x80 if mode & DMDIR else 0
    return Dir(type=ord(typ), dev=dev, qid=Qid(qt, vers, qpath), mode=mode, mtime=1000,
               length=length, name=name, uid=uid, gid=uid, muid=uid)


def test_ls_l_line_matches_plan9() -> None:
    now = 1000
    (line,) = lslines([Entry(_d("x", 3), "x")], long=True, qid=False, now=now)
    assert line == f"--rw-rw-r-- M 0 glenda glenda 3 {lstime(1000, now)} x"


def test_ls_columns_are_aligned() -> None:
    now = 1000
    es = [Entry(_d("a", 5, uid="bob", dev=12), "a"),
          Entry(_d("b b", 12345, uid="glenda", mode=DMDIR | 0o775, dev=3, typ="c"), "b b")]
    t = lstime(1000, now)
    assert lslines(es, long=True, qid=False, now=now) == [
        f"--rw-rw-r-- M 12 bob    bob        5 {t} a",
        f"d-rwxrwxr-x c  3 glenda glenda 12345 {t} 'b b'",
    ]


def test_ls_q_prints_the_qid() -> None:
    es = [Entry(_d("f", 0, qpath=0x2a, vers=7), "f"),
          Entry(_d("d", 0, mode=DMDIR | 0o777, qpath=1, vers=12), "d")]
    assert lslines(es, long=False, qid=True, now=0) == [
        "(000000000000002a  7 00) f",
        "(0000000000000001 12 80) d",
    ]


def test_ps_line_from_a_status_record() -> None:
    rec = status("sh", "glenda", "Running", (61_000, 2_000, 9_000, 0, 0, 0), memkb=128)
    line = psline("12", rec.decode())
    assert line == "glenda           12    1:01   0:02      128K Running  sh"
    assert psline("1", "short record") is None


NSLINES = [
    ("bind  #c /dev", "bind  '#c' /dev"),
    ("bind -a #l /net", "bind -a '#l' /net"),
    ("mount -aC #s/boot /root ", "mount -aC '#s/boot' /root"),
    ("mount  #s/ramfs /tmp spec", "mount  '#s/ramfs' /tmp spec"),
    ("cd /usr/glenda", "cd /usr/glenda"),
]


@pytest.mark.parametrize(("raw", "want"), NSLINES)
def test_ns_lines_are_rc_commands(raw: str, want: str) -> None:
    assert nsline(raw) == want


FLAGS = [
    (["ls"], set(), []),
    (["ls", "-l", "x"], {"l"}, ["x"]),
    (["ls", "-lq", "-d", "x", "-l"], {"l", "q", "d"}, ["x", "-l"]),
    (["ls", "--", "-l"], set(), ["-l"]),
    (["cat", "-"], set(), ["-"]),
]


@pytest.mark.parametrize(("argv", "flags", "args"), FLAGS)
def test_splitflags(argv: list[str], flags: set[str], args: list[str]) -> None:
    assert splitflags(argv, "lqd") == (flags, args)


def test_splitflags_refuses_unknown_letters() -> None:
    assert splitflags(["ls", "-z"], "lqd") is None


@pytest.mark.parametrize(("letters", "flag"), [
    ("", MREPL), ("a", MAFTER), ("b", MBEFORE), ("ac", MAFTER | MCREATE),
    ("bcC", MBEFORE | MCREATE | MCACHE), ("ab", None),
])
def test_mountflag(letters: str, flag: int | None) -> None:
    assert mountflag(set(letters)) == flag


@pytest.mark.parametrize(("path", "base", "dir"), [
    ("/env/x", "x", "/env"), ("x", "x", "."), ("/x", "x", "/"), ("a/b/", "b", "a"),
    ("/", "/", "/"),
])
def test_basename_dirname(path: str, base: str, dir: str) -> None:
    assert basename(path) == base
    assert dirname(path) == dir


def test_wc_lines() -> None:
    assert wcline((1, 3, 6), {"l", "w", "c"}, "") == "      1       3       6"
    assert wcline((1, 3, 6), {"w"}, "f") == "      3 f"
