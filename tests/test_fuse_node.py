"""Mounting a node from its TOML file, its console on a socket, and two views of two processes.

Two daemons boot the same node file (``lp49 mount CONFIG DIR``), each with its console on a
unix socket (``-o console=unix!PATH``):

* ``boot``: the default view, the boot process's name space (ramfs on /tmp, #d on /fd);
* ``sh``: ``-o proc=sh``, the name space of the shell init runs on the console (built from
  the node file's namespace: ramfs on /tmp as well, nothing on /fd).

Commands typed with ``lp49 console unix!PATH`` change the shell's name space; the ``sh`` view
shows a bind at once (the bridge shares the shell's name space group), the ``boot`` view never
does, and after ``rfork n`` the shell's further binds are its own.  Every file-system access
runs in a subprocess.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import have_fuse, skip_or_fail
from tests.fuse_view import daemons
from tests.waiting import DEADLINE, wait_until

pytestmark = pytest.mark.fuse

LP49 = pathlib.Path(sys.executable).parent / "lp49"
NODE = """\
[node]
name = "fusenode"
namespace = '''
bind #c /dev
bind -c #e /env
bind #p /proc
bind -c #s /srv
bind -a #I /net
mount -c /srv/ramfs /tmp
cd /
'''
"""


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE, **kw)  # type: ignore[call-overload, no-any-return]


def console(sock: pathlib.Path, lines: str) -> str:
    """Type ``lines`` at the node's console; what it printed meanwhile."""
    r = run([str(LP49), "console", f"unix!{sock}"], input=lines)
    assert r.returncode == 0, r.stderr
    return r.stdout


def ls(path: pathlib.Path) -> list[str]:
    r = run(["ls", "-a", str(path)])
    assert r.returncode == 0, r.stderr
    return sorted(set(r.stdout.split()) - {".", ".."})


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, pathlib.Path]]:
    reason = have_fuse()
    if reason:
        skip_or_fail("LP49_REQUIRE_FUSE", reason)
    top = tmp_path_factory.mktemp("node")
    (top / "node.toml").write_text(NODE)
    out: dict[str, pathlib.Path] = {}
    try:
        for name, opts in (("boot", ""), ("sh", "proc=sh,")):
            mnt = out[name] = top / name
            mnt.mkdir()
            sock = top / f"{name}.cons"
            r = run([str(LP49), "mount", "-o", f"{opts}console=unix!{sock}", str(top / "node.toml"),
                     str(mnt)])  # fmt: skip
            assert (r.returncode, r.stderr) == (0, ""), r
            assert sock.exists()
        yield out
    finally:
        for mnt in out.values():
            if os.path.ismount(mnt):
                run(["fusermount3", "-u", "-z", str(mnt)])
            for pid in daemons(mnt):
                os.kill(pid, signal.SIGKILL)


def test_config_source_names_the_node(views: dict[str, pathlib.Path]) -> None:
    for mnt in views.values():
        assert run(["cat", str(mnt / "dev" / "sysname")]).stdout == "fusenode"
        assert "ramfs" in ls(mnt / "srv")
    assert "node.toml" in run(["df", str(views["boot"])]).stdout  # fsname: the file's path


def test_console_socket_reaches_the_nodes_shell(views: dict[str, pathlib.Path]) -> None:
    sock = views["boot"].parent / "boot.cons"
    out = console(sock, "cat /dev/sysname; echo\necho hello from $sysname\n")
    assert "fusenode" in out and "hello from fusenode" in out


def test_two_views_of_two_name_spaces(views: dict[str, pathlib.Path]) -> None:
    boot, shv = views["boot"], views["sh"]
    assert "0" in ls(boot / "fd") and ls(shv / "fd") == []  # boot binds #d, the file does not
    console(shv.parent / "sh.cons", "bind -c '#e' /mnt\n")
    # the shell's bind shows live in its view (once the 1 s entry timeout has passed)
    wait_until(lambda: "sysname" in ls(shv / "mnt"), "the shell's bind in its view")
    assert ls(boot / "mnt") == []  # and not in the boot process's
    out = console(shv.parent / "sh.cons", "rfork n\nbind '#p' /n\nls /n\n")
    assert "/n/1" in out.split()  # the shell sees its private bind ...
    assert ls(shv / "n") == []  # ... the view keeps the name space it shared (readdir is
    # never cached: each opendir reads the directory afresh)


def test_wait_in_the_shown_shell_returns(views: dict[str, pathlib.Path]) -> None:
    """The bridge is no child of the shell it shows (RFNOWAIT), so wait does not hang."""
    out = console(views["sh"].parent / "sh.cons", "wait\necho waited-$sysname\n")
    assert "waited-fusenode" in out, out  # the console echoes "waited-$sysname" as typed
    assert run(["cat", str(views["sh"] / "dev" / "sysname")]).stdout == "fusenode"


def test_console_socket_removed_at_unmount(views: dict[str, pathlib.Path]) -> None:
    for name, mnt in views.items():
        assert run(["fusermount3", "-u", str(mnt)]).returncode == 0
        wait_until(lambda m=mnt: not daemons(m), f"the {name} view's daemon to exit")
        assert not (mnt.parent / f"{name}.cons").exists()
