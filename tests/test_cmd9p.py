"""``lp49 9p``: output formats pinned against Plan 9's, and the verbs run for real.

The verbs run as a subprocess (``python -m lp49fs.host.cli 9p ...``) against p9fs's py9p
server, a 9P2000 server nobody here wrote; the issue's ramfs round trip is the same commands.
"""

from __future__ import annotations

import grp
import pathlib
import pwd
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from conftest import peer_python

from lp49fs.host.cmd9p import dirfmt, dirmode, lslines, lstime, netmkaddr, quote
from lp49fs.host.demo.netns import free_port
from lp49fs.ninep import DMAPPEND, DMDIR, DMEXCL, Dir, Qid
from tests.waiting import DEADLINE


def test_dirmode_is_plan9_dirmodefmt() -> None:
    assert dirmode(0o664) == "--rw-rw-r--"
    assert dirmode(DMDIR | 0o775) == "d-rwxrwxr-x"
    assert dirmode(DMAPPEND | DMEXCL | 0o600) == "alrw-------"


def test_ls_long_line_matches_plan9_shape() -> None:
    now = time.mktime((2024, 11, 26, 12, 0, 0, 0, 0, -1))
    mtime = int(time.mktime((2024, 11, 26, 10, 11, 0, 0, 0, -1)))
    x = Dir(qid=Qid(0, 0, 1), mode=0o664, mtime=mtime, length=3, name="x", uid="glenda",
            gid="glenda", muid="glenda")
    longer = Dir(qid=Qid(0, 0, 2), mode=0o664, mtime=mtime, length=1234, name="a b",
                 uid="bootes", gid="sys", muid="bootes")
    assert lslines([x], now) == ["--rw-rw-r-- M 0 glenda glenda 3 Nov 26 10:11 x"]
    assert lslines([x, longer], now) == [
        "--rw-rw-r-- M 0 glenda glenda    3 Nov 26 10:11 x",
        "--rw-rw-r-- M 0 bootes sys    1234 Nov 26 10:11 'a b'",
    ]


def test_old_files_show_the_year() -> None:
    now = time.mktime((2024, 11, 26, 12, 0, 0, 0, 0, -1))
    old = int(time.mktime((2019, 3, 5, 9, 0, 0, 0, 0, -1)))
    assert lstime(old, now) == "Mar  5  2019"


def test_quote_is_rc_quoting() -> None:
    assert quote("plain.txt") == "plain.txt"
    assert quote("it's") == "'it''s'"
    assert quote("") == "''"


def test_stat_line_is_fcallfmt_dirfmt() -> None:
    d = Dir(type=0, dev=0, qid=Qid(0x80, 3, 0x2a), mode=DMDIR | 0o775, atime=1, mtime=2,
            length=0, name="d", uid="u", gid="g", muid="m")
    assert dirfmt(d) == (
        "'d' 'u' 'g' 'm' q (000000000000002a 3 d) m 020000000775 at 1 mt 2 l 0 t 0 d 0"
    )


def test_netmkaddr_defaults_to_tcp_9fs() -> None:
    assert netmkaddr("example.org") == "tcp!example.org!9fs"
    assert netmkaddr("unix!/tmp/s") == "unix!/tmp/s"


def lp49_9p(addr: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, "-m", "lp49fs.host.cli", "9p", "-a", addr, *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, check=False)


@pytest.fixture
def py9p_addr(tmp_path: pathlib.Path) -> Iterator[tuple[str, pathlib.Path]]:
    """p9fs's py9p server exporting a fresh directory (aio9p's example server would not do:
    it makes a new, empty tree for every connection)."""
    py = peer_python("p9fs")
    root = tmp_path / "export"
    root.mkdir()
    port = free_port()
    argv = [str(py), "-m", "py9p", "-w", "-p", str(port), "-a", "127.0.0.1", "-r", str(root)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            with socket.socket() as s:
                try:
                    s.connect(("127.0.0.1", port))
                    break
                except OSError:
                    assert time.monotonic() < deadline and proc.poll() is None
                    time.sleep(0.05)
        yield f"tcp!127.0.0.1!{port}", root
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.peers
def test_create_write_read_ls_stat_rm(py9p_addr: tuple[str, pathlib.Path]) -> None:
    a, export = py9p_addr
    assert lp49_9p(a, "create", "/x").returncode == 0
    r = lp49_9p(a, "write", "/x", stdin=b"hi\n")
    assert r.returncode == 0, r.stderr
    r = lp49_9p(a, "read", "/x")
    assert (r.returncode, r.stdout) == (0, b"hi\n")
    r = lp49_9p(a, "ls", "/")
    assert r.stdout == b"x\n"
    r = lp49_9p(a, "ls", "-l", "/")
    st = (export / "x").stat()
    owner, group = pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name
    mode = dirmode(st.st_mode & 0o777)
    when = lstime(int(st.st_mtime))
    assert r.stdout.decode() == f"{mode} M 0 {owner} {group} 3 {when} x\n"
    r = lp49_9p(a, "stat", "/x")
    assert r.stdout.startswith(f"'x' '{owner}' '{group}' ".encode()), r.stdout
    assert b" l 3 t 0 d " in r.stdout  # py9p reports st_dev as dev
    assert (export / "x").read_bytes() == b"hi\n"
    assert lp49_9p(a, "rm", "/x").returncode == 0
    assert lp49_9p(a, "ls", "/").stdout == b""


@pytest.mark.peers
def test_errors_and_usage(py9p_addr: tuple[str, pathlib.Path]) -> None:
    r = lp49_9p(py9p_addr[0], "frob", "/x")
    assert r.returncode == 2 and b"usage: lp49 9p" in r.stderr
    r = lp49_9p("unix!/nonexistent/sock", "read", "/x")
    assert r.returncode == 1 and r.stderr.startswith(b"9p: read /x: ")
    r = lp49_9p(py9p_addr[0], "read", "/missing")
    assert r.returncode == 1 and r.stderr.startswith(b"9p: read /missing: "), r.stderr
