"""``lp49 u9fs`` as a subprocess: the command line, its log lines, and 9P clients nobody
here wrote (``.peers/python-9p``, ``.peers/p9fs``) listing, reading and writing a Linux
directory through it, with the results checked on the Linux side."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import trio
from conformance import check_tree, dial_tree
from test_interop_clients import run_peer

from lp49fs.errors import Eperm, Error
from lp49fs.ninep import OWRITE
from lp49fs.transport import dial
from tests.waiting import DEADLINE


@contextmanager
def u9fs_at(root: pathlib.Path, addr: str = "tcp!127.0.0.1!0", *extra: str) -> Iterator[
    tuple[str, subprocess.Popen[bytes]]
]:
    """Run ``lp49 u9fs --listen addr -u root ROOT`` (every attach as root: these clients
    attach by names without Linux accounts); yields the bound dial string and the process."""
    argv = [sys.executable, "-m", "lp49fs.host.cli", "u9fs", "--listen", addr, "-u", "root", *extra,
            str(root)]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()  # written once it listens
        assert line.startswith(f"u9fs: serving {root} on "), (line, proc.poll())
        yield line.split()[-1], proc
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


@pytest.mark.parametrize("kind", ["unix", "tcp"])
async def test_lp49_u9fs_command(kind: str, tmp_path: pathlib.Path) -> None:
    root = tmp_path / "served"
    root.mkdir()
    (root / "motd").write_bytes(b"from linux\n")
    addr = f"unix!{tmp_path}/u9fs" if kind == "unix" else "tcp!127.0.0.1!0"
    with u9fs_at(root, addr) as (bound, proc):
        if kind == "tcp":
            assert bound.startswith("tcp!127.0.0.1!") and not bound.endswith("!0")
        bad = await dial(bound)
        await bad.send_all(b"\xff\xff\xff\xff garbage")
        with trio.fail_after(DEADLINE):
            assert await bad.receive_some(10) == b""
        await bad.aclose()
        async with dial_tree(bound) as t:
            assert await t.read("motd") == b"from linux\n"
            await t.create("hello", 0o644)
            await t.write("hello", b"world")
            await check_tree(t, {"": "dir", "hello": "file", "motd": "file"})
        assert (root / "hello").read_bytes() == b"world"
        assert proc.poll() is None  # still serving
        proc.terminate()
        assert proc.stderr is not None
        rest = proc.stderr.read()
    assert rest.count(b"closing connection") == 1, rest  # one line for the bad client


async def test_lp49_u9fs_readonly(tmp_path: pathlib.Path) -> None:
    (tmp_path / "f").write_bytes(b"keep")
    with u9fs_at(tmp_path, "tcp!127.0.0.1!0", "--readonly") as (bound, _):
        async with dial_tree(bound) as t:
            assert await t.read("f") == b"keep"
            with pytest.raises(Error) as e:
                await t.open_close("f", OWRITE)
            assert e.value.ename == Eperm
            with pytest.raises(Error):
                await t.create("g", 0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_lp49_u9fs_bad_dir(tmp_path: pathlib.Path) -> None:
    argv = [sys.executable, "-m", "lp49fs.host.cli", "u9fs", "--listen", "tcp!127.0.0.1!0",
            str(tmp_path / "missing")]
    done = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    assert done.returncode == 1
    assert b"No such file or directory" in done.stderr


PYTHON_9P = r"""
import json, sys
from py9p import OREAD, ORDWR, Client
from py9p.native import decode_dir

out = {}
c = Client.connect_tcp(sys.argv[1], int(sys.argv[2]), msize=8192 + 24)
c.negotiate()
c.attach(0, uname="ken")
c.walk(0, 1, "")
c.open(1, OREAD)
data, off = b"", 0
while chunk := c.read(1, 8192, off):
    data, off = data + chunk, off + len(chunk)
c.clunk(1)
ls = []
while data:
    n = int.from_bytes(data[:2], "little") + 2
    d, data = decode_dir(data[:n]), data[n:]
    ls.append([d.name, d.length])
out["ls"] = sorted(ls)
c.walk(0, 2, "sub/motd")
c.open(2, OREAD)
out["read"] = c.read(2, 100, 0).decode()
c.clunk(2)
c.walk(0, 3, "sub")
c.create(3, "new", 0o644, ORDWR)
out["write"] = c.write(3, b"from python-9p", 0)
c.clunk(3)
c.close()
print(json.dumps(out))
"""

P9FS_PY9P = r"""
import json, socket, sys
from py9p import py9p

out = {}
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c = py9p.Client(s, py9p.Credentials(user="ken"), ver=py9p.Version.v9P2000, msize=8192 + 24)
out["ls"] = sorted(n.decode() for n in c.ls())
c.open("/sub/motd")
out["read"] = c.read(100).decode()
c.close()
c.create("/sub/p9", 0o640, py9p.OWRITE)
out["write"] = c.write(b"from p9fs")
c.close()
print(json.dumps(out))
"""


@pytest.fixture
def served(tmp_path: pathlib.Path) -> Iterator[tuple[pathlib.Path, str, str]]:
    """A served tree with sub/motd, and the (host, port) of its ``lp49 u9fs``."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "motd").write_bytes(b"hello from linux")
    with u9fs_at(tmp_path) as (bound, _):
        _, host, port = bound.split("!")
        yield tmp_path, host, port


@pytest.mark.peers
async def test_python_9p_against_u9fs(served: tuple[pathlib.Path, str, str]) -> None:
    root, host, port = served
    out = await run_peer("python-9p", PYTHON_9P, host, port)
    assert out["ls"] == [["sub", 0]]
    assert out["read"] == "hello from linux"
    assert out["write"] == 14
    assert (root / "sub" / "new").read_bytes() == b"from python-9p"


@pytest.mark.peers
async def test_p9fs_against_u9fs(served: tuple[pathlib.Path, str, str]) -> None:
    root, host, port = served
    out = await run_peer("p9fs", P9FS_PY9P, host, port)
    assert out["ls"] == ["sub"]
    assert out["read"] == "hello from linux"
    assert out["write"] == 9
    assert (root / "sub" / "p9").read_bytes() == b"from p9fs"
    assert (root / "sub" / "p9").stat().st_mode & 0o777 == 0o640 & (root / "sub").stat().st_mode
