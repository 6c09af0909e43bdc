"""FUSE view cost next to a minimal in-memory pyfuse3 file system, measured in one run.

Usage: ``.venv/bin/python bench/fuse.py [--no-big] [N]`` (``--no-big``: no 64 MiB rows). The
script pins itself to CPU 0 before it starts anything (waking a process on the other vCPU is a
large part of a round trip), so both daemons inherit the mask. Both file systems use the same
options: 1 s entry and attribute timeouts, flush answered ENOSYS, direct_io for synthetic
files, page cache without keep_cache for ordinary files. Rows (lp49 path | minimal fs path):

* open + read 16 B + close and stat of ``/dev/sysname`` (a servant file | a 16 B direct_io file);
* the same of a 16 B ramfs file ``/tmp/f16`` (through #M and 9P | a 16 B cached file);
* 64 MiB sequential read of ``/tmp/big`` in 1 MiB reads, MB/s, cold (the file's cached pages
  are dropped with ``posix_fadvise(DONTNEED)`` before each run: lp49 keeps server files'
  pages across opens while qid.vers is unchanged) and, for lp49 only, warm (from the cache);
* 64 MiB sequential write in 1 MiB writes, MB/s (over ``/tmp/big`` in place | to a sink file
  whose writes are dropped);
* ``os.listdir`` of ``/tmp/many``, 10,000 entries (readdirplus).

The read rows run twice, with every mount's readahead at the kernel's default 128 KiB and then
at the 1 MiB that ``lp49 mount`` sets when root mounts (``lp49fs.fuse.bdi``): the same for
both file systems.  The ``readahead`` line says what each mount had when it came up.

The ramfs rows are measured on two lp49 views side by side, each a node booted from a config
written here (``VIEW_CONFIG``: the default node's plain ramfs on /tmp, without the retained
log, which would fill before 64 MiB): one with the service bus off (``bus = false``,
``classic``: each read crosses the core, #M and the pipe) and one with it on (``bus``: the
bridge reads a granted fd straight from ramfs's endpoint, docs/servicebus.md).  The ramfs
files are made through each mount before measuring. Only ratios and p50s matter; p99
is dominated by host stalls here. Targets: small read p50 <= 1.5x, 64 MiB read >= 40% of the
minimal fs, 10k listing <= 2x.
"""

from __future__ import annotations

import errno
import os
import pathlib
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from lp49fs.fuse import bdi

HERE = pathlib.Path(__file__).resolve()
LP49 = pathlib.Path(sys.executable).parent / "lp49"
DATA = b"0123456789abcdef"


BIG = 64 << 20
MANY = 10_000
CHUNK = 1 << 20
# Copies of each byte of a cold read, server to FUSE (docs/fuse.md, "Bulk reads and writes").
COPIES = {
    "classic": ("ramfs blocks joined", "Rread frame joined", "store in ramfs's window",
                "core loads it for the pipe", "pipe's 32 KiB pieces", "#M Framer.feed",
                "Rread data out of the frame", "clerk stores in the bridge's window",
                "bridge loads it", "two MAXIO preads joined", "pyfuse3 to the kernel"),
    "bus": ("ramfs blocks joined", "endpoint stores in the bridge's window", "bridge loads it",
            "two MAXIO preads joined", "pyfuse3 to the kernel"),
}  # fmt: skip
VIEW_CONFIG = """[node]
bus = {bus}
[[servers]]
srvname = "ramfs"
prog = "ramfs"
args = ["-S", "ramfs"]
mount = "/tmp"
"""


def minimal(mnt: str) -> None:
    """Serve the minimal tree until unmounted (child process): ``/dev/sysname`` (16 B,
    direct_io), ``/tmp/f16`` (16 B), ``/tmp/big`` (64 MiB), ``/tmp/many`` (10,000 empty files)."""
    import pyfuse3
    import trio

    big = bytes(BIG)
    dirs = {1: {b"dev": 2, b"tmp": 4}, 2: {b"sysname": 3}, 4: {b"f16": 5, b"big": 6, b"many": 7}}
    dirs[4][b"sink"] = 8
    dirs[7] = {b"f%05d" % i: 100 + i for i in range(MANY)}
    sizes = {3: len(DATA), 5: len(DATA), 6: BIG}

    class Min(pyfuse3.Operations):
        def _attr(self, ino: int) -> pyfuse3.EntryAttributes:
            a = pyfuse3.EntryAttributes()
            a.st_ino = ino
            a.st_mode = (stat.S_IFDIR | 0o755) if ino in dirs else (stat.S_IFREG | 0o644)
            a.st_size = sizes.get(ino, 0)
            a.attr_timeout = a.entry_timeout = 1.0
            return a

        async def getattr(self, inode: int, ctx: object = None) -> pyfuse3.EntryAttributes:
            return self._attr(inode)

        async def lookup(
            self, parent: int, name: bytes, ctx: object = None
        ) -> pyfuse3.EntryAttributes:
            ino = dirs.get(parent, {}).get(name)
            if ino is None:
                raise pyfuse3.FUSEError(errno.ENOENT)
            return self._attr(ino)

        async def opendir(self, inode: int, ctx: object) -> int:
            return inode

        async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
            entries = list(dirs[fh].items())
            for i in range(start_id, len(entries)):
                name, ino = entries[i]
                if not pyfuse3.readdir_reply(token, name, self._attr(ino), i + 1):
                    return

        async def open(self, inode: int, flags: int, ctx: object) -> pyfuse3.FileInfo:
            return pyfuse3.FileInfo(fh=inode, direct_io=inode == 3, keep_cache=False)

        async def read(self, fh: int, off: int, size: int) -> bytes:
            return big[off : off + size] if fh == 6 else DATA[off : off + size]

        async def write(self, fh: int, off: int, buf: bytes) -> int:
            return len(buf)

        async def flush(self, fh: int) -> None:
            raise pyfuse3.FUSEError(errno.ENOSYS)

    pyfuse3.init(Min(), mnt, {"fsname=minimal", "subtype=min"})
    try:
        trio.run(pyfuse3.main)
    finally:
        pyfuse3.close(unmount=True)


def times(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - t)
    return out


def small_read(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    os.read(fd, 16)
    os.close(fd)


def row(name: str, ours: list[float], base: list[float]) -> None:
    p50o, p50b = statistics.median(ours), statistics.median(base)
    p99o = sorted(ours)[int(len(ours) * 0.99)]
    p99b = sorted(base)[int(len(base) * 0.99)]
    print(f"{name:38} lp49 p50 {p50o * 1e6:8.1f} us p99 {p99o * 1e6:8.1f} | minimal p50 "
          f"{p50b * 1e6:7.1f} us p99 {p99b * 1e6:8.1f} | ratio {p50o / p50b:5.2f}x")  # fmt: skip


def wait_mounted(path: str) -> None:
    for _ in range(400):
        if os.path.ismount(path):
            return
        time.sleep(0.025)
    raise SystemExit(f"{path} did not mount")


def seqread(path: str, cold: bool = True) -> float:
    """Seconds to read ``path`` to the end in 1 MiB reads (``cold``: page cache dropped)."""
    if cold:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    t = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        while os.read(fd, CHUNK):
            pass
    finally:
        os.close(fd)
    return time.perf_counter() - t


def seqwrite(path: str) -> float:
    """Seconds to write 64 MiB over ``path`` in 1 MiB writes (no truncation)."""
    data = bytes(CHUNK)
    t = time.perf_counter()
    fd = os.open(path, os.O_WRONLY)
    try:
        for _ in range(BIG // CHUNK):
            os.write(fd, data)
    finally:
        os.close(fd)
    return time.perf_counter() - t


def readahead(path: str) -> str:
    try:
        with open(bdi.BDI.format(bdi.device(path))) as f:
            return f.read().strip() + " KiB"
    except OSError:
        return "?"


def set_readahead(path: str, kb: int) -> None:
    with open(bdi.BDI.format(bdi.device(path)), "w") as f:
        f.write(str(kb))


def make_ramfs_files(tmp: str, big: bool = True) -> None:
    """``f16``, ``big`` (empty unless ``big``) and ``many`` in the view's ramfs, written
    through the mount."""
    with open(os.path.join(tmp, "f16"), "wb") as f:
        f.write(DATA)
    with open(os.path.join(tmp, "big"), "wb") as f:
        for _ in range(BIG // CHUNK if big else 0):
            f.write(bytes(CHUNK))
    many = os.path.join(tmp, "many")
    os.mkdir(many)
    for i in range(MANY):
        os.close(os.open(os.path.join(many, f"f{i:05d}"), os.O_CREAT | os.O_WRONLY, 0o644))


def latency_rows(ours: str, base: str, rel: str, n: int, tag: str = "") -> None:
    po, pb = os.path.join(ours, rel), os.path.join(base, rel)
    small_read(po)  # warm the dentries
    small_read(pb)
    row(f"open+read 16 B+close {rel}{tag}", times(lambda: small_read(po), n),
        times(lambda: small_read(pb), n))  # fmt: skip
    row(f"stat {rel}{tag}", times(lambda: os.stat(po), n), times(lambda: os.stat(pb), n))


def read_rows(ours: str, base: str, runs: int = 5, tag: str = "") -> None:
    big_o, big_b = os.path.join(ours, "tmp/big"), os.path.join(base, "tmp/big")
    to = statistics.median(seqread(big_o) for _ in range(runs))
    tb = statistics.median(seqread(big_b) for _ in range(runs))
    mb = BIG / 1e6
    print(f"{'read 64 MiB, 1 MiB reads' + tag:38} lp49 {mb / to:8.0f} MB/s | minimal "
          f"{mb / tb:8.0f} MB/s | lp49/minimal {tb / to:5.0%}")  # fmt: skip
    seqread(big_o, cold=False)
    tw = statistics.median(seqread(big_o, cold=False) for _ in range(runs))
    print(f"{'read 64 MiB again (page cache kept)' + tag:38} lp49 {mb / tw:8.0f} MB/s")


def rate_rows(ours: str, base: str, runs: int = 5, tag: str = "") -> None:
    write_row(ours, base, runs, tag)
    listing_row(ours, base, runs, tag)


def write_row(ours: str, base: str, runs: int, tag: str) -> None:
    mb = BIG / 1e6
    wo = statistics.median(seqwrite(os.path.join(ours, "tmp/big")) for _ in range(runs))
    wb = statistics.median(seqwrite(os.path.join(base, "tmp/sink")) for _ in range(runs))
    print(f"{'write 64 MiB, 1 MiB writes' + tag:38} lp49 {mb / wo:8.0f} MB/s | minimal "
          f"{mb / wb:8.0f} MB/s | lp49/minimal {wb / wo:5.0%}")  # fmt: skip


def listing_row(ours: str, base: str, runs: int, tag: str) -> None:
    many_o, many_b = os.path.join(ours, "tmp/many"), os.path.join(base, "tmp/many")
    assert len(os.listdir(many_o)) == MANY == len(os.listdir(many_b))
    lo: Callable[[], object] = lambda: os.listdir(many_o)  # noqa: E731
    lb: Callable[[], object] = lambda: os.listdir(many_b)  # noqa: E731
    row(f"listdir of {MANY} entries{tag}", times(lo, runs), times(lb, runs))


def main(n: int, big: bool = True) -> None:
    os.sched_setaffinity(0, {0})  # pinned: the daemons inherit it
    with tempfile.TemporaryDirectory() as d:
        views = {" [classic]": os.path.join(d, "classic"), " [bus]": os.path.join(d, "bus")}
        base = os.path.join(d, "min")
        for p in (*views.values(), base):
            os.mkdir(p)
        mp = subprocess.Popen([sys.executable, str(HERE), "--minimal", base])
        for tag, ours in views.items():
            conf = ours + ".toml"
            with open(conf, "w") as f:
                f.write(VIEW_CONFIG.format(bus="false" if "classic" in tag else "true"))
            subprocess.run([str(LP49), "mount", conf, ours], check=True)
        try:
            wait_mounted(base)
            print("readahead: " + ", ".join(f"{p} {readahead(p)}" for p in (*views.values(), base)))
            for path, steps in COPIES.items():
                print(f"copies per byte read [{path}]: {len(steps)} ({'; '.join(steps)})")
            latency_rows(views[" [bus]"], base, "dev/sysname", n)
            for tag, ours in views.items():
                t = time.perf_counter()
                make_ramfs_files(os.path.join(ours, "tmp"), big)
                print(f"(made the ramfs files through the{tag} mount in "
                      f"{time.perf_counter() - t:.1f} s)")  # fmt: skip
            for tag, ours in views.items():
                latency_rows(ours, base, "tmp/f16", n, tag)
            for kb in (128, bdi.READAHEAD_KB) if big else ():  # the kernel's default, ours
                for p in (*views.values(), base):
                    set_readahead(p, kb)
                for tag, ours in views.items():
                    read_rows(ours, base, tag=f"{tag} ra {kb}K")
            for tag, ours in views.items():
                (rate_rows if big else listing_row)(ours, base, 5, tag)
        finally:
            for p in (*views.values(), base):
                subprocess.run(["fusermount3", "-u", p])
            mp.wait(timeout=10)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--minimal":
        minimal(sys.argv[2])
    else:
        args = [a for a in sys.argv[1:] if a != "--no-big"]
        main(int(args[0]) if args else 2000, "--no-big" not in sys.argv)
