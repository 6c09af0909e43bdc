"""Done-check of issue 2: ``lp49 9p`` against ``lp49 ramfs --listen``, both real processes.

``ramfs_at`` starts ``lp49 ramfs --listen tcp!127.0.0.1!0`` (the kernel picks the port), reads
its one ``ramfs: serving on ADDR`` line from stderr to learn the address actually bound, and
kills the server afterwards.  ``tests/test_interop_clients.py`` uses it too.  The verbs run
as ``python -m lp49fs.host.cli 9p -a ADDR ...`` exactly as a user would type them, and the output
is compared with what Plan 9's ``9p`` prints for the same files (``%M``-style ``ls -l`` lines,
fcallfmt's ``%D`` for ``stat``).
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lp49fs.host.cmd9p import lstime


@contextmanager
def ramfs_at(addr: str = "tcp!127.0.0.1!0", *extra: str) -> Iterator[str]:
    """Run ``lp49 ramfs --listen addr --owner glenda``; yields the bound dial string."""
    argv = [sys.executable, "-m", "lp49fs.host.cli", "ramfs", "--listen", addr, "--owner", "glenda",
            *extra]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()  # the server writes it once it listens
        assert line.startswith("ramfs: serving on "), (line, proc.poll())
        yield line.split()[-1]
        assert proc.poll() is None, "ramfs died while serving"
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture
def ramfs_addr() -> Iterator[str]:
    with ramfs_at() as addr:
        yield addr


def lp49_9p(addr: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, "-m", "lp49fs.host.cli", "9p", "-a", addr, "-u", "ken", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, check=False)


STAT = re.compile(
    r"'x' 'ken' 'glenda' 'ken' q \((?P<path>[0-9a-f]{16}) (?P<vers>\d+) \) m 0664 "
    r"at (?P<atime>\d+) mt (?P<mtime>\d+) l 3 t 0 d 0\n"
)


def test_issue2_create_write_read_ls_stat_against_lp49_ramfs(ramfs_addr: str) -> None:
    a = ramfs_addr
    assert a.startswith("tcp!127.0.0.1!") and not a.endswith("!0")
    r = lp49_9p(a, "create", "/x")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
    r = lp49_9p(a, "write", "/x", stdin=b"hi\n")  # echo hi | lp49 9p write /x
    assert (r.returncode, r.stderr) == (0, b"")
    r = lp49_9p(a, "read", "/x")
    assert (r.returncode, r.stdout) == (0, b"hi\n")

    r = lp49_9p(a, "stat", "/x")
    assert r.returncode == 0, r.stderr
    m = STAT.fullmatch(r.stdout.decode())
    assert m, r.stdout
    assert int(m["vers"]) >= 1  # the write changed the file
    assert int(m["path"], 16) != 0 and int(m["atime"]) >= int(m["mtime"]) > 0

    r = lp49_9p(a, "ls", "-l", "/")
    assert r.returncode == 0, r.stderr
    # ramfs: file perm = 0664 & (~0666 | 0777&0666); owner = the attaching user, group = the
    # directory's group
    assert r.stdout.decode() == f"--rw-rw-r-- M 0 ken glenda 3 {lstime(int(m['mtime']))} x\n"
    r = lp49_9p(a, "stat", "/")
    assert r.stdout.startswith(b"'/' 'glenda' 'glenda' 'ken' q (0000000000000001 "), r.stdout
    assert b" d) m 020000000777 " in r.stdout

    r = lp49_9p(a, "create", "-d", "/d")
    assert r.returncode == 0, r.stderr
    r = lp49_9p(a, "ls", "/")
    assert r.stdout == b"d\nx\n"
    r = lp49_9p(a, "ls", "-ld", "/d")
    assert r.stdout.startswith(b"d-rwxrwxr-x M 0 ken glenda 0 "), r.stdout
    assert r.stdout.endswith(b" d\n")

    assert lp49_9p(a, "rm", "/x").returncode == 0
    r = lp49_9p(a, "read", "/x")
    assert (r.returncode, r.stderr) == (1, b"9p: read /x: file not found\n")
    assert lp49_9p(a, "ls", "/").stdout == b"d\n"


def test_ramfs_over_a_unix_socket(tmp_path: pathlib.Path) -> None:
    with ramfs_at(f"unix!{tmp_path}/ramfs") as a:
        assert a == f"unix!{tmp_path}/ramfs"
        assert lp49_9p(a, "create", "-p", "600", "/secret").returncode == 0
        assert lp49_9p(a, "write", "/secret", stdin=b"1\n2\n").returncode == 0
        assert lp49_9p(a, "read", "/secret").stdout == b"1\n2\n"
        r = lp49_9p(a, "ls", "-l", "/secret")
        assert r.stdout.startswith(b"--rw------- M 0 ken glenda 4 "), r.stdout
