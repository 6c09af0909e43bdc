"""u9fs confinement against a Linux-side attacker (u9fs Rules 7, 8; ``u9fs.beneath``).

A thread keeps swapping a served directory for a symlink to a directory outside the root
while a 9P client walks into it and reads, creates, removes, renames and chmods, a bounded
number of times: no read may ever return the outside file, and nothing outside may ever be
made, removed, renamed or changed.  FIFOs and device files are refused unless ``devices``.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import tempfile
import threading

import pytest
import trio
from conformance import ninep_tree

from lp49fs.errors import Edevice, Error
from lp49fs.ninep import OREAD, Dir
from lp49fs.servers.u9fs import U9fs, beneath
from lp49fs.servers.u9fs.beneath import open_beneath

TRIES = 2000
CHANGES = 1000  # rounds of create, remove, rename and chmod
SECRET = b"outside the root"


@pytest.fixture(params=["openat2", "walk"])
def resolution(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test below runs on both of ``beneath``'s ways: openat2, and the O_NOFOLLOW walk
    of a kernel without it (selected by the module's own flag, as ENOSYS would)."""
    if request.param == "walk":
        monkeypatch.setattr(beneath, "_have_openat2", False)
    return str(request.param)


def swapper(top: pathlib.Path, stop: threading.Event) -> None:
    """Swap top/d between a real directory and a symlink to ../outside, forever."""
    d, real, link = top / "d", top / "d.real", top / "d.link"
    while not stop.is_set():  # d starts as the real directory
        os.rename(d, real)
        os.rename(link, d)  # now d -> ../outside
        os.rename(d, link)
        os.rename(real, d)


async def test_swapping_a_walked_directory_for_a_symlink_never_escapes(
    tmp_path: pathlib.Path, resolution: str
) -> None:
    top, outside = tmp_path / "top", tmp_path / "outside"
    top.mkdir()
    outside.mkdir()
    (outside / "f").write_bytes(SECRET)
    (top / "d").mkdir()
    (top / "d" / "f").write_bytes(b"inside")
    (top / "d.link").symlink_to(outside)
    stop = threading.Event()
    t = threading.Thread(target=swapper, args=(top, stop), daemon=True)
    escapes = served = 0
    async with ninep_tree(U9fs(str(top), owner="glenda")) as tree:
        t.start()
        try:
            for _ in range(TRIES):
                try:
                    data = await tree.read("d/f")
                except Error:
                    continue  # the name was mid-swap or is a symlink out: refused
                served += 1
                escapes += data == SECRET
        finally:
            stop.set()
            await trio.to_thread.run_sync(t.join)
    assert escapes == 0
    assert served > 0, "the race never let a read through: the test tested nothing"


async def test_changes_through_a_swapped_directory_never_escape(
    tmp_path: pathlib.Path, resolution: str
) -> None:
    top, outside = tmp_path / "top", tmp_path / "outside"
    for d in (top, outside, top / "d"):
        d.mkdir()
    for d in (outside, top / "d"):  # the same names on both sides: an escape would hit these
        for i in range(CHANGES):
            (d / f"v{i}").write_bytes(b"")
            (d / f"r{i}").write_bytes(b"")
        (d / "f").write_bytes(b"x")
        (d / "f").chmod(0o644)
    (top / "d.link").symlink_to(outside)
    before = sorted(os.listdir(outside))
    stop = threading.Event()
    t = threading.Thread(target=swapper, args=(top, stop), daemon=True)
    served = dict.fromkeys(("create", "remove", "rename", "chmod"), 0)
    async with ninep_tree(U9fs(str(top), owner="glenda")) as tree:
        t.start()
        try:
            for i in range(CHANGES):
                steps = {
                    "create": tree.create(f"d/c{i}", 0o644),
                    "remove": tree.remove(f"d/v{i}"),
                    "rename": tree.wstat(f"d/r{i}", dataclasses.replace(Dir.nulldir(),
                                                                        name=f"m{i}")),
                    "chmod": tree.wstat("d/f", dataclasses.replace(Dir.nulldir(),
                                                                   mode=0o600 | i % 2 * 0o44)),
                }  # fmt: skip
                for what, step in steps.items():
                    try:
                        await step
                        served[what] += 1
                    except Error:
                        pass  # mid-swap, or the symlink out: refused
        finally:
            stop.set()
            await trio.to_thread.run_sync(t.join)
    assert sorted(os.listdir(outside)) == before  # nothing made, removed or renamed there
    assert (outside / "f").stat().st_mode & 0o777 == 0o644
    assert all(served.values()), f"the race let none of some kind through: {served}"


def test_open_beneath_refuses_escapes(tmp_path: pathlib.Path, resolution: str) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "ok").write_bytes(b"ok")
    (tmp_path / "in" / "up").symlink_to("..")
    (tmp_path / "in" / "abs").symlink_to("/etc")
    (tmp_path / "in" / "inner").symlink_to("ok")
    root = os.open(tmp_path / "in", os.O_PATH | os.O_DIRECTORY)
    try:
        if resolution == "openat2":  # the walk follows no symlink at all
            fd = open_beneath(root, ("inner",), os.O_RDONLY)  # an in-root symlink is fine
            assert os.read(fd, 10) == b"ok"
            os.close(fd)
        for names in (("up", "in", "ok"), ("abs", "passwd"), ("..", "in", "ok"), ("abs",)):
            for flags in (os.O_RDONLY, os.O_PATH):
                with pytest.raises(OSError):
                    os.close(open_beneath(root, names, flags))
    finally:
        os.close(root)


async def test_fifos_are_refused_unless_devices(tmp_path: pathlib.Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    async with ninep_tree(U9fs(str(tmp_path), owner="glenda")) as tree:
        with pytest.raises(Error, match=re.escape(Edevice)):
            await tree.read("fifo")
        assert [d.name for d in await tree.listdir("")] == ["fifo"]  # still listed


async def test_a_search_only_directory_is_passed_through(resolution: str) -> None:
    """Resolution needs search (x) on a directory, not read: nobody reads x/f in a --x x."""
    if os.geteuid() != 0:
        pytest.fail("acting as another user needs root (setfsuid)")
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        top = pathlib.Path(d)
        os.chmod(top, 0o755)
        (top / "x").mkdir(mode=0o711)
        (top / "x" / "f").write_bytes(b"reachable")
        os.chmod(top / "x" / "f", 0o644)
        async with ninep_tree(U9fs(str(top), owner="glenda"), uname="nobody") as tree:
            assert await tree.read("x/f") == b"reachable"
            with pytest.raises(Error, match="permission denied"):
                await tree.listdir("x")  # reading the directory itself still needs r


async def test_open_asks_about_the_inode_beneath_the_root(resolution: str) -> None:
    """A walked directory nobody may not read, swapped for a symlink to a readable one
    outside: the open's permission question is about what lies beneath the root."""
    if os.geteuid() != 0:
        pytest.fail("acting as another user needs root (setfsuid)")
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        top, outside = pathlib.Path(d) / "top", pathlib.Path(d) / "outside"
        for p in (top, outside):
            p.mkdir(mode=0o755)
        os.chmod(d, 0o755)
        (top / "d").mkdir(mode=0o700)
        fs = U9fs(str(top), owner="glenda")
        walked = await (await fs.attach("nobody", "")).walk1("d")
        os.rename(top / "d", top / "d.real")
        (top / "d").symlink_to(outside)
        with pytest.raises(Error):
            await walked.open(OREAD)
        with pytest.raises(Error):
            await walked.stat()  # nor is the outside directory's stat served
