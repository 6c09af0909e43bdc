"""The FUSE view's pure parts: inode table, attribute and mode mapping, interrupt watcher."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess

import pyfuse3
import pytest
import trio

from lp49fs.fuse import attr
from lp49fs.fuse.inodes import ROOT_INODE, SERVER_TYPE, InodeTable, is_server, join
from lp49fs.fuse.intr import Interrupted, Interrupts, signalled
from lp49fs.ninep import DMDIR, ORDWR, OREAD, OTRUNC, OWRITE, QTDIR, Dir, Qid
from tests.waiting import DEADLINE


def sdir(dc: str, path: int, name: str = "f", mode: int = 0o644, dev: int = 0) -> Dir:
    qtype = QTDIR if mode & DMDIR else 0
    return Dir(type=ord(dc), dev=dev, qid=Qid(qtype, 0, path), mode=mode, name=name)


def test_join_is_lexical() -> None:
    assert join("/", "dev") == "/dev"
    assert join("/dev", "cons") == "/dev/cons"
    assert join("/dev", "..") == "/"
    assert join("/a/b", "..") == "/a"
    assert join("/a", ".") == "/a"


def test_inode_stable_per_key_after_forget() -> None:
    t = InodeTable()
    t.set_root(sdir("R", 0, "/", DMDIR | 0o555))
    a = t.enter(sdir("c", 7, "cons"), "/dev/cons")
    assert a.ino != ROOT_INODE and a.nlookup == 1
    assert t.enter(sdir("c", 7, "cons"), "/dev/cons").ino == a.ino
    assert t.get(a.ino).nlookup == 2
    t.forget(a.ino, 2)
    with pytest.raises(KeyError):
        t.get(a.ino)
    assert t.enter(sdir("c", 7, "cons"), "/x/cons").ino == a.ino  # Rule 1
    assert t.enter(sdir("e", 7, "cons"), "/env/cons").ino != a.ino  # other servant
    assert t.enter(sdir("c", 7, "cons", dev=1), "/c1/cons").ino != a.ino  # other dev


def test_root_is_never_forgotten() -> None:
    t = InodeTable()
    t.set_root(sdir("R", 0, "/", DMDIR | 0o555))
    t.forget(ROOT_INODE, 100)
    assert t.get(ROOT_INODE).path == "/"


def test_renamed_rewrites_subtree() -> None:
    t = InodeTable()
    t.set_root(sdir("R", 0, "/", DMDIR | 0o555))
    d = t.enter(sdir("M", 1, "d", DMDIR | 0o755), "/tmp/d")
    f = t.enter(sdir("M", 2, "f"), "/tmp/d/f")
    other = t.enter(sdir("M", 3, "dd"), "/tmp/dd")
    t.renamed("/tmp/d", "/tmp/e")
    assert (d.path, f.path, other.path) == ("/tmp/e", "/tmp/e/f", "/tmp/dd")


def test_stamp_gives_servers_their_own_dev() -> None:
    t = InodeTable()
    root = t.set_root(sdir("R", 0, "/", DMDIR | 0o555))
    raw = Dir(qid=Qid(QTDIR, 0, 0), mode=DMDIR | 0o777, name="/")  # a server root, type 0
    tmp = t.stamp(raw, root, "/tmp")
    n9 = t.stamp(raw, root, "/n/9")
    assert tmp.type == n9.type == SERVER_TYPE and is_server(tmp)
    assert tmp.dev != n9.dev  # two servers' qid 0 are different files
    tmp_node = t.enter(tmp, "/tmp")
    child = t.stamp(Dir(qid=Qid(0, 0, 5), name="x"), tmp_node, "/tmp/x")
    assert child.dev == tmp.dev  # the same server below its root
    stamped = sdir("c", 3)
    assert t.stamp(stamped, root, "/dev/x") is stamped  # servants stamp themselves
    assert t.stamp(raw, root, "/tmp").dev == tmp.dev  # stable per mount point


@pytest.mark.parametrize(
    ("flags", "mode"),
    [
        (os.O_RDONLY, OREAD),
        (os.O_WRONLY, OWRITE),
        (os.O_RDWR, ORDWR),
        (os.O_WRONLY | os.O_TRUNC, OWRITE | OTRUNC),
        (os.O_RDWR | os.O_TRUNC | os.O_CREAT, ORDWR | OTRUNC),
        (os.O_WRONLY | os.O_APPEND, OWRITE),
    ],
)
def test_open_mode(flags: int, mode: int) -> None:
    assert attr.open_mode(flags) == mode


def test_attributes_of_dir_and_file() -> None:
    owners = attr.Owners(uid=4242, gid=4343)
    d = Dir(type=ord("M"), qid=Qid(QTDIR, 0, 1), mode=DMDIR | 0o750, mtime=1000, atime=900,
            length=0, name="d", uid="root", gid="nosuchgroup9p")  # fmt: skip
    a = attr.attributes(d, 5, owners)
    assert stat.S_ISDIR(a.st_mode) and stat.S_IMODE(a.st_mode) == 0o750
    assert (a.st_ino, a.st_nlink, a.st_uid, a.st_gid) == (5, 2, 0, 4343)
    assert a.st_mtime_ns == a.st_ctime_ns == 1000 * 10**9 and a.st_atime_ns == 900 * 10**9
    f = Dir(type=ord("M"), qid=Qid(0, 0, 2), mode=0o640, length=1000, name="f",
            uid="glenda-not-here", gid="root")  # fmt: skip
    b = attr.attributes(f, 6, owners)
    assert stat.S_ISREG(b.st_mode) and b.st_size == 1000 and b.st_blocks == 2
    assert (b.st_uid, b.st_gid, b.st_nlink) == (4242, 0, 1)
    assert b.attr_timeout == b.entry_timeout == attr.TIMEOUT


def test_file_info_caching_rules() -> None:
    server = Dir(type=ord("M"), qid=Qid(0, 0, 2), name="f")
    cons = sdir("c", 1, "cons")
    sysname = sdir("c", 2, "sysname")
    pipe = sdir("|", 1, "data")
    fs = attr.file_info(3, is_server(server), attr.is_stream(server))
    assert (fs.fh, fs.direct_io, fs.keep_cache, fs.nonseekable) == (3, False, False, False)
    fc = attr.file_info(4, is_server(cons), attr.is_stream(cons))
    assert (fc.direct_io, fc.nonseekable) == (True, True)
    fy = attr.file_info(5, is_server(sysname), attr.is_stream(sysname))
    assert (fy.direct_io, fy.nonseekable) == (True, False)
    assert attr.is_stream(pipe) and not attr.is_stream(server)


def test_signalled_sees_pending_signals() -> None:
    assert not signalled(os.getpid())
    p = subprocess.Popen(["sleep", "30"])
    try:
        assert not signalled(p.pid)
        os.kill(p.pid, signal.SIGSTOP)  # a stopped process keeps a new signal pending
        os.kill(p.pid, signal.SIGINT)
        for _ in range(100):
            if signalled(p.pid):
                break
            os.sched_yield()
        assert signalled(p.pid)
    finally:
        p.kill()
        p.wait()
    assert signalled(p.pid)  # gone


async def test_interrupts_abandon_a_blocked_call() -> None:
    intr = Interrupts()
    p = subprocess.Popen(["sleep", "30"])
    finished = trio.Event()

    async def blocked() -> int:
        await finished.wait()
        return 1

    async def quick(x: int) -> int:
        return x + 1

    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(intr.run)
            assert await intr.call(p.pid, quick, 1) == 2
            os.kill(p.pid, signal.SIGSTOP)
            os.kill(p.pid, signal.SIGINT)
            with trio.fail_after(DEADLINE), pytest.raises(Interrupted):
                await intr.call(p.pid, blocked)
            assert intr.cancelled == 1
            finished.set()  # the abandoned call may still finish on its own
            nursery.cancel_scope.cancel()
    finally:
        p.kill()
        p.wait()


def test_errno_of_enonexist_path() -> None:
    from lp49fs.errors import Error
    from lp49fs.fuse.errno import errno_of

    assert errno_of(Error("'/x' does not exist")) == errno.ENOENT
    assert pyfuse3.ROOT_INODE == ROOT_INODE
