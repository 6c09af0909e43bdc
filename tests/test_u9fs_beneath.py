"""u9fs confinement against a Linux-side attacker (u9fs Rules 7, 8; ``u9fs.beneath``).

A thread keeps swapping a served directory for a symlink to a directory outside the root
while a 9P client walks into it and reads, a bounded number of times: no read may ever
return the outside file.  FIFOs and device files are refused unless ``devices``.
"""

from __future__ import annotations

import os
import pathlib
import re
import threading

import pytest
import trio
from conformance import ninep_tree

from lp49fs.errors import Edevice, Error
from lp49fs.servers.u9fs import U9fs
from lp49fs.servers.u9fs.beneath import open_beneath

TRIES = 2000
SECRET = b"outside the root"


def swapper(top: pathlib.Path, stop: threading.Event) -> None:
    """Swap top/d between a real directory and a symlink to ../outside, forever."""
    d, real, link = top / "d", top / "d.real", top / "d.link"
    while not stop.is_set():  # d starts as the real directory
        os.rename(d, real)
        os.rename(link, d)  # now d -> ../outside
        os.rename(d, link)
        os.rename(real, d)


async def test_swapping_a_walked_directory_for_a_symlink_never_escapes(
    tmp_path: pathlib.Path,
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


def test_open_beneath_refuses_escapes(tmp_path: pathlib.Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "ok").write_bytes(b"ok")
    (tmp_path / "in" / "up").symlink_to("..")
    (tmp_path / "in" / "abs").symlink_to("/etc")
    (tmp_path / "in" / "inner").symlink_to("ok")
    root = os.open(tmp_path / "in", os.O_PATH | os.O_DIRECTORY)
    try:
        fd = open_beneath(root, ("inner",), os.O_RDONLY)  # an in-root symlink is fine
        assert os.read(fd, 10) == b"ok"
        os.close(fd)
        for names in (("up", "in", "ok"), ("abs", "passwd"), ("..", "in", "ok")):
            with pytest.raises(OSError):
                os.close(open_beneath(root, names, os.O_RDONLY))
    finally:
        os.close(root)


async def test_fifos_are_refused_unless_devices(tmp_path: pathlib.Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    async with ninep_tree(U9fs(str(tmp_path), owner="glenda")) as tree:
        with pytest.raises(Error, match=re.escape(Edevice)):
            await tree.read("fifo")
        assert [d.name for d in await tree.listdir("")] == ["fifo"]  # still listed
