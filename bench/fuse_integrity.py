"""The long file-data integrity run: 50,000 random operations through the FUSE view.

Usage: ``.venv/bin/python bench/fuse_integrity.py [N] [SEED]``.  Mounts the default node (the
checkout's own ``lp49``), runs ``tests/integrity.py``'s ``run_ops`` on a file in the node's
/tmp, and the same sequence on a file of the host's /dev/shm (tmpfs) as the baseline, then
prints the operation counts, operations per second of each and their ratio.  Any mismatch
with the model raises (exit 1), naming the operation and the byte.
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuse_view import mounted  # noqa: E402
from tests.integrity import run_ops  # noqa: E402


def timed(path: str, n: int, seed: int) -> tuple[float, dict[str, int]]:
    t0 = time.perf_counter()
    done = run_ops(path, n, seed)
    return time.perf_counter() - t0, dict(done)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 49
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        base_s, done = timed(os.path.join(shm, "f"), n, seed)
    with tempfile.TemporaryDirectory() as top, mounted(pathlib.Path(top)) as mnt:
        f = mnt / "tmp" / "integrity"
        try:
            view_s, done_view = timed(str(f), n, seed)
        finally:
            f.unlink(missing_ok=True)
    assert done == done_view
    print(f"{n} operations, seed {seed}: {done}; file matched the model throughout")
    print(f"tmpfs     {n / base_s:10.0f} ops/s")
    print(f"lp49 view {n / view_s:10.0f} ops/s   ({base_s / view_s:.3f} of tmpfs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
