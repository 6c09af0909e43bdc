"""The FUSE view's walked fds per inode (lp49fs.fuse.fids), through a real mount.

The view is mounted with the node's shell on a console socket (``proc=sh``), so "another
process" is that shell: it renames, removes and binds inside the node while the view holds
walked fds of the files.  The kernel's entry and attribute caches last ``attr.TIMEOUT``, so
a change made behind the view's back is waited for, never slept on.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import pytest

from lp49fs.fuse.fids import CAP
from tests.fuse_view import LP49, mounted, run
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pathlib.Path, str]]:
    base = tmp_path_factory.mktemp("fids")
    sock = base / "sh.cons"
    with mounted(base, f"proc=sh,console=unix!{sock}") as mnt:
        yield mnt, f"unix!{sock}"


def sh(console: str, text: str) -> str:
    """Type ``text`` at the node's shell; what it printed."""
    r = run([str(LP49), "console", console], input=text)
    assert r.returncode == 0, r
    return r.stdout


def gone(p: pathlib.Path) -> bool:
    return not os.path.exists(p)


def test_rename_and_remove_by_another_process(shown: tuple[pathlib.Path, str]) -> None:
    mnt, console = shown
    d = mnt / "tmp" / "rr"
    d.mkdir()
    (d / "a").write_text("one\n")
    assert (d / "a").read_text() == "one\n"  # looked up and opened: its fd is kept
    sh(console, "mv /tmp/rr/a /tmp/rr/b\n")
    wait_until(lambda: gone(d / "a"), "the old name to go")
    assert (d / "b").read_text() == "one\n"
    ino = os.stat(d / "b").st_ino
    sh(console, "rm /tmp/rr/b; echo two > /tmp/rr/b\n")  # the same name, another file
    wait_until(lambda: os.stat(d / "b").st_ino != ino, "the new file under the old name")
    assert (d / "b").read_text() == "two\n"
    sh(console, "rm /tmp/rr/b\n")
    wait_until(lambda: gone(d / "b"), "the removed file to go")
    d.rmdir()


def test_a_bind_over_a_kept_directory_shows_at_once(shown: tuple[pathlib.Path, str]) -> None:
    """The view's walked fd of ``sub`` is the ramfs directory; after a bind over it the
    next open of ``sub`` is the bound directory (fids.py Rule 5a), not the kept fd's."""
    mnt, console = shown
    d = mnt / "tmp" / "bb"
    (d / "sub").mkdir(parents=True)
    assert os.listdir(d / "sub") == []
    sh(console, "bind '#e' /tmp/bb/sub\n")
    assert "sysname" in os.listdir(d / "sub")  # at once: root acts as the view itself
    assert (d / "sub" / "sysname").read_text() == "lp49"
    sh(console, "unmount /tmp/bb/sub\n")
    assert os.listdir(d / "sub") == []
    (d / "sub").rmdir()
    d.rmdir()


def test_a_bind_over_the_working_directory_shows_at_once(
    shown: tuple[pathlib.Path, str],
) -> None:
    """Listing "." opens the working directory's inode without a lookup, so only the name
    space's version (fids.py Rule 5a) tells the view that its kept fd is not what the
    path means any more."""
    mnt, console = shown
    d = mnt / "tmp" / "cwd"
    d.mkdir()
    here = os.getcwd()
    os.chdir(d)
    try:
        assert os.listdir(".") == []
        sh(console, "bind '#e' /tmp/cwd\n")
        try:
            assert "sysname" in os.listdir(".")  # the next open, at once
        finally:
            sh(console, "unmount /tmp/cwd\n")
        assert os.listdir(".") == []
    finally:
        os.chdir(here)
    d.rmdir()


def test_walked_fds_are_bounded(shown: tuple[pathlib.Path, str]) -> None:
    """More inodes than ``CAP`` in use: the view's fd table stays bounded (least recently
    used fds closed) and every file still reads (a miss walks its path again)."""
    mnt, console = shown
    d = mnt / "tmp" / "many"
    d.mkdir()
    n = CAP + 50
    for i in range(n):
        (d / f"f{i}").write_text(f"{i}\n")
    for i in range(n):
        assert (d / f"f{i}").read_text() == f"{i}\n"
    pid = next(ln.split()[1] for ln in sh(console, "ps\n").splitlines() if ln.endswith(" fuse"))
    fds = [ln for ln in sh(console, f"cat /proc/{pid}/fd\n").splitlines() if "/tmp/many" in ln]
    assert 0 < len(fds) <= CAP
    for i in range(n):
        os.remove(d / f"f{i}")
    d.rmdir()
