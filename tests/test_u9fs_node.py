"""A node mounts a Linux directory served by ``lp49 u9fs``, the Plan 9 way.

``lp49 u9fs --listen tcp!127.0.0.1!0 DIR`` runs as a host process; a node daemon
(``lp49 node --console unix!PATH``) is driven through its console by
``lp49fs.host.demo.console``: its shell runs ``srv tcp!127.0.0.1!PORT unix`` (an LP49 program
dialling through ``#I``, posting the connection as /srv/unix) then ``mount -c /srv/unix /n``.
Every change the shell makes is checked on the Linux side (``os.listdir``, file bytes), and
every change made on Linux is seen by the shell.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

from lp49fs.host.demo.console import LP49, NodeProc


def start_u9fs(root: pathlib.Path) -> tuple[subprocess.Popen[bytes], str]:
    """``lp49 u9fs`` on a port the kernel picks; the process and its bound dial string."""
    argv = [sys.executable, "-m", "lp49fs.host.cli", "u9fs", "--listen", "tcp!127.0.0.1!0",
            "--owner", "glenda", str(root)]  # the node's host owner acts as this process
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()  # "u9fs: serving DIR on ADDR", once it listens
    assert line.startswith(f"u9fs: serving {root} on "), (line, proc.poll())
    return proc, line.split()[-1]


@pytest.fixture
def share(tmp_path: pathlib.Path) -> Iterator[tuple[NodeProc, pathlib.Path, str]]:
    """A u9fs of ``tmp_path/share`` and a booted node; (node, share dir, u9fs address)."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "hello").write_bytes(b"hello from linux\n")
    (root / "sub").mkdir()
    u9fs, addr = start_u9fs(root)
    cons, log = str(tmp_path / "n.cons"), str(tmp_path / "n.log")
    node = NodeProc("n", [*LP49, "node", "--name", "n", "--console", f"unix!{cons}"], cons, log)
    try:
        node.attach()
        yield node, root, addr
    finally:
        node.stop()
        u9fs.kill()
        u9fs.wait()
        assert u9fs.stderr is not None
        u9fs.stderr.close()


def test_srv_and_mount_a_u9fs_then_change_files_seen_on_linux(
    share: tuple[NodeProc, pathlib.Path, str],
) -> None:
    node, root, addr = share
    assert node.console is not None
    sh = node.console.run
    assert sh(f"srv {addr} unix") == ("", "")
    # dos and n: the default node's disk on /n/c (lp49fs/host/cdisk.py)
    assert sh("ls /srv") == ("/srv/dos\n/srv/n\n/srv/ramfs\n/srv/unix\n", "")
    assert sh("mount -c /srv/unix /n") == ("", "")  # -c: creation allowed
    assert sh("ls /n") == ("/n/hello\n/n/sub\n", "")
    assert sh("cat /n/hello") == ("hello from linux\n", "")

    assert sh("echo x > /n/new") == ("", "")
    assert (root / "new").read_bytes() == b"x\n"
    assert sh("echo more >> /n/new") == ("", "")
    assert (root / "new").read_bytes() == b"x\nmore\n"

    assert sh("mv /n/new /n/renamed") == ("", "")
    assert sorted(os.listdir(root)) == ["hello", "renamed", "sub"]
    assert sh("mv /n/renamed /n/sub") == ("", "")  # across directories: into sub
    assert os.listdir(root / "sub") == ["renamed"]
    assert (root / "sub" / "renamed").read_bytes() == b"x\nmore\n"

    assert sh("rm /n/sub/renamed /n/hello") == ("", "")
    assert sorted(os.listdir(root)) == ["sub"] and os.listdir(root / "sub") == []

    (root / "from-linux").write_bytes(b"made on the host\n")  # and the other way round
    assert sh("cat /n/from-linux") == ("made on the host\n", "")
    out, status = sh("cat /n/nonexistent")
    assert status and "does not exist" in out
    assert sh("cat /dev/sysname") == ("n", "")  # the node is fine
