"""POSIX behaviour of the FUSE view on the node's /tmp (ramfs), driven with plain system calls.

One mount for the module (tests/fuse_view.py): long names and paths, the errno of each
unsupported operation, shared mmap both ways, sqlite in WAL mode, and the daemon's log.
"""

from __future__ import annotations

import errno
import mmap
import os
import pathlib
import sqlite3
import stat
from collections.abc import Iterator

import pytest

from tests.fuse_view import mounted, scratch

pytestmark = pytest.mark.fuse


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("posix")


@pytest.fixture(scope="module")
def view(base: pathlib.Path) -> Iterator[pathlib.Path]:
    with mounted(base) as mnt:
        yield mnt


@pytest.fixture
def tmp(view: pathlib.Path, request: pytest.FixtureRequest) -> Iterator[pathlib.Path]:
    """A fresh directory in the node's ramfs, removed afterwards."""
    with scratch(view, request.node.name) as d:
        yield d


def errno_of(f: object, *args: object) -> int:
    with pytest.raises(OSError) as e:
        f(*args)  # type: ignore[operator]
    return e.value.errno or 0


@pytest.mark.parametrize("n", [1, 100, 110, 200, 255])
def test_long_names_work(tmp: pathlib.Path, n: int) -> None:
    f = tmp / ("a" * n)
    f.write_bytes(b"x" * n)
    assert f.read_bytes() == b"x" * n
    assert ("a" * n) in os.listdir(tmp)
    d = tmp / ("d" * n)
    d.mkdir()
    (d / "in").write_text("in")
    os.rename(d / "in", d / ("r" * n))
    assert os.listdir(d) == ["r" * n]
    assert errno_of(os.lstat, tmp / ("m" * n)) == errno.ENOENT
    assert errno_of(os.lstat, d / ("m" * n) / "x") == errno.ENOENT


def test_a_256_byte_name_is_enametoolong(tmp: pathlib.Path) -> None:
    long = tmp / ("a" * 256)
    for call in (os.lstat, os.mkdir, pathlib.Path.touch, os.unlink, os.rmdir):
        assert errno_of(call, long) == errno.ENAMETOOLONG
    (tmp / "f").write_text("f")
    assert errno_of(os.rename, tmp / "f", long) == errno.ENAMETOOLONG
    assert os.statvfs(tmp).f_namemax == 255


@pytest.mark.parametrize("total", [1000, 4000])
def test_long_paths(tmp: pathlib.Path, total: int) -> None:
    d = tmp
    while len(os.fsencode(d / ("p" * 99))) < total - 10:
        d = d / ("p" * 99)
        d.mkdir()
    f = d / "last"
    assert len(os.fsencode(f)) >= total - 110
    f.write_text("deep")
    assert f.read_text() == "deep" and os.stat(f).st_size == 4
    assert errno_of(os.lstat, d / "missing") == errno.ENOENT


def test_unsupported_types_are_eperm(tmp: pathlib.Path) -> None:
    (tmp / "f").write_text("f")
    assert errno_of(os.symlink, "f", tmp / "sl") == errno.EPERM
    assert errno_of(os.link, tmp / "f", tmp / "hl") == errno.EPERM
    assert errno_of(os.mkfifo, tmp / "fifo") == errno.EPERM
    chr_dev = stat.S_IFCHR | 0o600
    assert errno_of(os.mknod, tmp / "null", chr_dev, os.makedev(1, 3)) == errno.EPERM
    assert errno_of(os.mknod, tmp / "sock", stat.S_IFSOCK | 0o600) == errno.EPERM
    assert sorted(os.listdir(tmp)) == ["f"]


def test_mknod_of_a_regular_file_creates_it(tmp: pathlib.Path) -> None:
    os.mknod(tmp / "reg", stat.S_IFREG | 0o640)
    st = os.stat(tmp / "reg")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640 and st.st_size == 0
    assert errno_of(os.mknod, tmp / "reg", stat.S_IFREG | 0o640) == errno.EEXIST


def test_shared_mmap_write_is_seen_by_read(tmp: pathlib.Path) -> None:
    f = tmp / "m"
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, 3 * mmap.PAGESIZE)
        with mmap.mmap(fd, 0) as m:  # a shared mapping of the whole file
            m[10:15] = b"hello"
            m[2 * mmap.PAGESIZE : 2 * mmap.PAGESIZE + 3] = b"end"
            m.flush()
    finally:
        os.close(fd)
    data = f.read_bytes()
    assert len(data) == 3 * mmap.PAGESIZE and data[10:15] == b"hello"
    assert data[2 * mmap.PAGESIZE : 2 * mmap.PAGESIZE + 3] == b"end"


def test_write_is_seen_by_a_later_shared_mapping(tmp: pathlib.Path) -> None:
    f = tmp / "w"
    f.write_bytes(b"a" * 5000)
    with open(f, "r+b") as fh:
        fh.seek(4000)
        fh.write(b"written")
    with open(f, "rb") as fh, mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ) as m:
        assert m[4000:4007] == b"written" and m[:3] == b"aaa" and len(m) == 5000
    with open(f, "r+b") as fh, mmap.mmap(fh.fileno(), 0) as m:
        fh.seek(0)
        fh.write(b"BBB")
        fh.flush()
        assert m[:3] == b"BBB"  # the same page cache: write then mapping agree


def test_sqlite_wal_two_connections(tmp: pathlib.Path) -> None:
    db = tmp / "w.db"
    a = sqlite3.connect(db)
    b = sqlite3.connect(db)
    try:
        assert a.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
        a.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
        a.commit()
        for i in range(200):
            (a if i % 2 else b).execute("INSERT INTO t VALUES (?, ?)", (i, "v" * i))
            (a if i % 2 else b).commit()
        assert a.execute("SELECT count(*), sum(k) FROM t").fetchone() == (200, 199 * 100)
        assert b.execute("SELECT count(*) FROM t").fetchone() == (200,)
        assert (tmp / "w.db-wal").exists() and (tmp / "w.db-shm").exists()
        assert b.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        a.close()
        b.close()
    c = sqlite3.connect(db)
    try:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert c.execute("SELECT count(*) FROM t").fetchone() == (200,)
    finally:
        c.close()


def test_servant_files_stay_direct_io(view: pathlib.Path) -> None:
    """A synthetic file is never cached: sysname reports length 0 and still reads, and an
    env file cannot be mapped shared (FUSE refuses mmap of direct_io files: ENODEV)."""
    assert (view / "dev" / "sysname").read_text() == "lp49"
    var = view / "env" / "mmapvar"
    var.write_text("value")
    try:
        with open(var, "rb") as fh:
            assert errno_of(mmap.mmap, fh.fileno(), 5, mmap.MAP_SHARED, mmap.PROT_READ) == (
                errno.ENODEV)  # fmt: skip
        var.write_text("other")
        assert var.read_text() == "other"
    finally:
        var.unlink()


def test_the_daemon_log_names_each_eio(base: pathlib.Path, view: pathlib.Path) -> None:
    log = (base / "view.log").read_text()
    assert "EIO" not in log, log  # nothing above was an I/O error
