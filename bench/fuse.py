"""FUSE view cost next to a minimal in-memory pyfuse3 file system, measured in one run.

Usage: ``.venv/bin/python bench/fuse.py [--no-big] [N]`` (``--no-big``: no 64 MiB rows). The
script pins itself to CPU 0 before it starts anything (waking a process on the other vCPU is
a large part of a round trip), so both daemons inherit the mask. Both file systems use the
same options: 1 s entry and attribute timeouts, flush answered ENOSYS, direct_io for
synthetic files, page cache without keep_cache for ordinary files.
Rows (lp49 path | minimal fs path):

* open + read 16 B + close and stat of ``/dev/sysname`` (a servant file | a 16 B direct_io file);
* the same of a 16 B ramfs file ``/tmp/f16`` (through #M and 9P | a 16 B cached file);
* 64 MiB sequential read of ``/tmp/big`` in 1 MiB reads, MB/s, cold (the file's cached pages
  are dropped with ``posix_fadvise(DONTNEED)`` before each run: lp49 keeps server files'
  pages across opens while qid.vers is unchanged) and, for lp49 only, warm (from the cache);
* ``os.listdir`` of ``/tmp/many``, 10,000 entries (readdirplus).

The ramfs rows are measured on two lp49 views side by side: one booted with the service bus off
(``LP49_BUS=0``, ``classic``: each read crosses the core, #M and the pipe) and one with it on
(``bus``: the bridge reads a granted fd straight from ramfs's endpoint, docs/servicebus.md).
The ramfs files are made through each mount before measuring. Only ratios and p50s matter; p99
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

HERE = pathlib.Path(__file__).resolve()
LP49 = pathlib.Path(sys.executable).parent / "lp49"
DATA = b"0123456789abcdef"


BIG = 64 << 20
MANY = 10_000
CHUNK = 1 << 20
RAM = "256M"  # the views' emulated RAM: ramfs -r takes half, enough for /tmp/big


def minimal(mnt: str) -> None:
    """Serve the minimal tree until unmounted (child process): ``/dev/sysname`` (16 B,
    direct_io), ``/tmp/f16`` (16 B), ``/tmp/big`` (64 MiB), ``/tmp/many`` (10,000 empty files)."""
    import pyfuse3
    import trio

    big = bytes(BIG)
    dirs = {1: {b"dev": 2, b"tmp": 4}, 2: {b"sysname": 3}, 4: {b"f16": 5, b"big": 6, b"many": 7}}
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


def make_ramfs_files(tmp: str, big: bool = True) -> None:
    """``f16``, ``big`` (unless not ``big``) and ``many`` in the view's ramfs, written
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


def rate_rows(ours: str, base: str, runs: int = 5, tag: str = "", big: bool = True) -> None:
    big_o, big_b = os.path.join(ours, "tmp/big"), os.path.join(base, "tmp/big")
    if not big:
        return listing_row(ours, base, runs, tag)
    to = statistics.median(seqread(big_o) for _ in range(runs))
    tb = statistics.median(seqread(big_b) for _ in range(runs))
    mb = BIG / 1e6
    print(f"{'read 64 MiB, 1 MiB reads' + tag:38} lp49 {mb / to:8.0f} MB/s | minimal "
          f"{mb / tb:8.0f} MB/s | lp49/minimal {tb / to:5.0%}")  # fmt: skip
    seqread(big_o, cold=False)
    tw = statistics.median(seqread(big_o, cold=False) for _ in range(runs))
    print(f"{'read 64 MiB again (page cache kept)' + tag:38} lp49 {mb / tw:8.0f} MB/s")
    listing_row(ours, base, runs, tag)


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
        conf = os.path.join(d, "node.toml")  # the default node, with room for /tmp/big
        with open(conf, "w") as f:
            f.write(f'[hardware]\nram = "{RAM}"\n')
        for tag, ours in views.items():
            env = dict(os.environ, LP49_BUS="0" if "classic" in tag else "1")
            subprocess.run([str(LP49), "mount", conf, ours], check=True, env=env)
        try:
            wait_mounted(base)
            latency_rows(views[" [bus]"], base, "dev/sysname", n)
            for tag, ours in views.items():
                t = time.perf_counter()
                make_ramfs_files(os.path.join(ours, "tmp"), big)
                print(f"(made the ramfs files through the{tag} mount in "
                      f"{time.perf_counter() - t:.1f} s)")  # fmt: skip
            for tag, ours in views.items():
                latency_rows(ours, base, "tmp/f16", n, tag)
            for tag, ours in views.items():
                rate_rows(ours, base, tag=tag, big=big)
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
