"""Chaos: a write/read/verify workload on the FUSE view while the node's ramfs is killed.

Usage: ``.venv/bin/python bench/chaos.py [--minutes N | --seconds S] [--every S]``.

Mounts the default node (the checkout's own ``lp49 mount default``) and runs, for the given
time, one writer thread that rewrites files of ``/tmp/chaos`` in the view (create, write,
close, then read one back and compare), while the main thread kills the node's ramfs every
``--every`` seconds the way a user of the view would: it finds the pid in ``/dev/servers``
and writes ``kill`` to ``/proc/PID/ctl``.  The supervisor restarts ramfs on its retained
region and ``#M`` carries the view's mount over (docs/recovery.md).  At the end every write
that was acknowledged (its close returned) is read back.  It prints:

* acknowledged writes lost (target 0): files whose last acknowledged contents differ;
* client errors per restart (target <= 1): OSErrors the workload saw, divided by the kills;
* restart time (target < 1 s): from the kill to /dev/servers showing the new pid up
  (median and worst);
* whether the node survived (``/dev/sysname`` still reads).

Exit status 1 if a write was lost or the node died.  Not covered yet: an import's peer and
u9fs as victims (the FUSE view's node has no host servers, and import does not re-dial).
"""

from __future__ import annotations

import argparse
import pathlib
import random
import statistics
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuse_view import mounted  # noqa: E402

NFILES = 30


def servers(mnt: pathlib.Path) -> dict[str, list[str]]:
    """/dev/servers as name -> fields."""
    out = {}
    for line in (mnt / "dev" / "servers").read_text().splitlines():
        f = line.split(" ", 6)
        out[f[0]] = f
    return out


class Workload(threading.Thread):
    """Rewrite random files; keep what each acknowledged write left (module docstring)."""

    def __init__(self, d: pathlib.Path, seed: int) -> None:
        super().__init__(daemon=True)
        self.d = d
        self.rng = random.Random(seed)
        self.acked: dict[str, bytes] = {}
        self.errors: list[str] = []
        self.writes = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            name = f"f{self.rng.randrange(NFILES)}"
            data = self.rng.randbytes(self.rng.randrange(1, 64 << 10))
            try:
                with open(self.d / name, "wb") as f:
                    f.write(data)
                self.acked[name] = data
                self.writes += 1
                back = self.rng.choice(sorted(self.acked))
                if (self.d / back).read_bytes() != self.acked[back]:
                    self.errors.append(f"{back}: read back differs")
            except OSError as e:
                self.errors.append(f"{name}: {e}")
                self.acked.pop(name, None)  # unknown now: it may or may not have happened


def kill_ramfs(mnt: pathlib.Path) -> float:
    """Kill ramfs through the view; seconds until /dev/servers shows its successor up."""
    old = servers(mnt)["ramfs"][3]
    t0 = time.monotonic()
    (mnt / "proc" / old / "ctl").write_text("kill")
    while True:
        f = servers(mnt)["ramfs"]
        if f[2] == "up" and f[3] not in (old, "0"):
            return time.monotonic() - t0
        if time.monotonic() - t0 > 60:
            raise RuntimeError("ramfs not back within 60 s")
        time.sleep(0.005)


def chaos(mnt: pathlib.Path, seconds: float, every: float, seed: int) -> int:
    d = mnt / "tmp" / "chaos"
    d.mkdir()
    w = Workload(d, seed)
    w.start()
    restarts: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() + every < end:
        time.sleep(every)
        restarts.append(kill_ramfs(mnt))
    w.stop.set()
    w.join()
    lost = [n for n, data in w.acked.items() if (d / n).read_bytes() != data]
    alive = (mnt / "dev" / "sysname").read_text() != ""
    kills = max(len(restarts), 1)
    print(f"{seconds:.0f} s, {len(restarts)} kills of ramfs, {w.writes} acknowledged writes")
    print(f"acknowledged writes lost: {len(lost)}  (target 0) {lost[:5]}")
    print(f"client errors per restart: {len(w.errors) / kills:.2f}  (target <= 1) "
          f"{w.errors[:3]}")  # fmt: skip
    if restarts:
        print(f"restart time: median {statistics.median(restarts):.3f} s, worst "
              f"{max(restarts):.3f} s  (target < 1 s)")  # fmt: skip
    print(f"node alive: {'yes' if alive else 'no'}")
    return 0 if not lost and alive else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--every", type=float, default=3.0, help="seconds between kills")
    ap.add_argument("--seed", type=int, default=49)
    a = ap.parse_args()
    seconds = a.seconds if a.seconds is not None else 60 * (a.minutes or 2)
    with tempfile.TemporaryDirectory() as top, mounted(pathlib.Path(top)) as mnt:
        return chaos(mnt, seconds, a.every, a.seed)


if __name__ == "__main__":
    sys.exit(main())
