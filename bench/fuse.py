"""FUSE view cost next to a minimal in-memory pyfuse3 file system, measured in one run.

Usage: ``taskset -c 0 .venv/bin/python bench/fuse.py [N]`` (BASELINES.md pins everything to
CPU 0; the daemons inherit the mask).  Both file systems use the same options: 1 s entry and
attribute timeouts, flush answered ENOSYS, direct_io for synthetic files.  Rows:

* open + read 16 B + close of ``/dev/sysname`` (a servant file; minimal fs: a 16 B file);
* stat of it (cached after the first call, as with 1 s timeouts);
* ramfs rows (16 B ramfs file, 64 MiB sequential read, 10,000-entry listing) run only when
  the default node has a writable /tmp (ramfs in node, issue 4); otherwise they say so.

Only ratios and p50s matter; p99 is dominated by host stalls here.
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

HERE = pathlib.Path(__file__).resolve()
LP49 = pathlib.Path(sys.executable).parent / "lp49"
DATA = b"0123456789abcdef"


def minimal(mnt: str) -> None:
    """Serve one 16 B direct_io file ``sysname`` in ``/dev`` until unmounted (child process)."""
    import pyfuse3
    import trio

    class Min(pyfuse3.Operations):
        def _attr(self, ino: int) -> pyfuse3.EntryAttributes:
            a = pyfuse3.EntryAttributes()
            a.st_ino = ino
            a.st_mode = (stat.S_IFDIR | 0o755) if ino < 3 else (stat.S_IFREG | 0o644)
            a.st_size = len(DATA) if ino == 3 else 0
            a.attr_timeout = a.entry_timeout = 1.0
            return a

        async def getattr(self, inode: int, ctx: object = None) -> pyfuse3.EntryAttributes:
            return self._attr(inode)

        async def lookup(
            self, parent: int, name: bytes, ctx: object = None
        ) -> pyfuse3.EntryAttributes:
            table = {(1, b"dev"): 2, (2, b"sysname"): 3}
            if (parent, name) not in table:
                raise pyfuse3.FUSEError(errno.ENOENT)
            return self._attr(table[parent, name])

        async def open(self, inode: int, flags: int, ctx: object) -> pyfuse3.FileInfo:
            return pyfuse3.FileInfo(fh=inode, direct_io=True, keep_cache=False)

        async def read(self, fh: int, off: int, size: int) -> bytes:
            return DATA[off : off + size]

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


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        ours, base = os.path.join(d, "lp49"), os.path.join(d, "min")
        os.mkdir(ours)
        os.mkdir(base)
        mp = subprocess.Popen([sys.executable, str(HERE), "--minimal", base])
        subprocess.run([str(LP49), "mount", "default", ours], check=True)
        try:
            wait_mounted(base)
            for label, rel in (("open+read 16 B+close /dev/sysname", "dev/sysname"),):
                po, pb = os.path.join(ours, rel), os.path.join(base, rel)
                small_read(po)  # warm the dentries
                small_read(pb)
                row(
                    label,
                    times(lambda p=po: small_read(p), n),
                    times(lambda p=pb: small_read(p), n),
                )
                row(
                    "stat " + rel,
                    times(lambda p=po: os.stat(p), n),
                    times(lambda p=pb: os.stat(p), n),
                )
            if (
                not os.access(os.path.join(ours, "tmp"), os.W_OK)
                or subprocess.run(
                    ["touch", os.path.join(ours, "tmp", ".probe")], capture_output=True
                ).returncode
            ):
                print("ramfs rows: skipped, this build's default node has no writable /tmp")
        finally:
            subprocess.run(["fusermount3", "-u", ours])
            subprocess.run(["fusermount3", "-u", base])
            mp.wait(timeout=10)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--minimal":
        minimal(sys.argv[2])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
