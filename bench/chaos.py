"""Chaos: write/read/verify workloads on the FUSE view while random servers are killed.

Usage: ``.venv/bin/python bench/chaos.py [--minutes N | --seconds S] [--every S] [--seed N]
[--rounds N] [--stop S] [--targets ramfs,unix,dos,ext2,remote,remote-stop] [--dir DIR]``.

The rig, all real processes:

* the **view**: ``lp49 mount CONFIG DIR -o disk=IMAGE,console=...,proc=sh``, a node booted
  in the mount process from a config with the default ramfs on ``/tmp``, a host server u9fs
  (``[[hostservers]]`` ``unix``) serving a temporary Linux directory on ``/mnt``, and a disk
  image (an MBR with a FAT16 and an ext2 partition: dossrv on ``/n/c``, ext2srv on
  ``/n/sdC0linux``).  The view shows the name space of init's shell (``proc=sh``: made by
  the namespace file; ``proc=init`` could be taken before init makes it), where the shell (on
  the view's console socket) runs ``import -c tcp!127.0.0.1!PORT /mnt /n/remote``;
* the **remote** node: ``lp49 node --listen tcp!127.0.0.1!PORT --auth DIR`` (mutual TLS with
  an authority made for the run), with its own u9fs of another Linux directory on ``/mnt``.

One writer thread per target rewrites files of a ``chaos`` directory in the view (``/tmp``,
``/mnt``, ``/n/c``, ``/n/sdC0linux``, ``/n/remote``): create, write, close, then read one of
its files back and compare.  Every ``--every`` seconds the main thread picks a victim (each
round of victims in a random order drawn from ``--seed``) and hurts it the way an operator
would: ramfs, dossrv and ext2srv get ``kill`` in ``/proc/PID/ctl`` of the view (the pid from
``/dev/servers``), u9fs a ``kill -9`` of its Linux process, the remote node ``kill -9`` of
its whole process group (the run starts it again on the same port) or, as ``remote-stop``, a
SIGSTOP held for ``--stop`` seconds, then SIGCONT.  The node's supervisors restart the
servers and ``#M`` carries the mounts over; the import re-dials (docs/recovery.md).

A write is acknowledged when its close returned.  At the end each workload's last
acknowledged contents are checked where they are durable: ramfs through the view (its
retained region), u9fs's and the remote's in their Linux directories, the disks in the image
after the view is unmounted (``mtype`` for FAT, ``debugfs`` for ext2).  It prints per victim:
kills, acknowledged writes, lost (target 0), client errors per restart (target <= 1),
restart time median/worst (target < 1 s: kill to the new pid up in ``/dev/servers``; for
the remote node kill to a listing through the import working again, a node boot included),
and whether the view's node survived (``/dev/sysname`` reads).  Exit status 1 if a write was
lost or the node died.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import pathlib
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from dos_helpers import mget  # noqa: E402
from ext2_helpers import cat  # noqa: E402
from test_disks_fuse import EXT2, FAT, cut, disk  # noqa: E402

from lp49fs.auth.authority import NODES, USERS, Authority  # noqa: E402
from lp49fs.host.demo.console import LP49, Console, NodeProc  # noqa: E402
from lp49fs.host.demo.netns import accepting, free_port  # noqa: E402
from tests.fuse_view import mounted  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

NFILES = 30
MAXSIZE = 64 << 10
TARGETS = ("ramfs", "unix", "dos", "ext2", "remote", "remote-stop")
WHERE = {"ramfs": "tmp", "unix": "mnt", "dos": "n/c", "ext2": "n/sdC0linux",
         "remote": "n/remote"}  # fmt: skip
GUARD = 60.0  # seconds: a hang guard for one restart, never a measurement
HOSTSERVER = """
[[hostservers]]
name = "unix"
cmd = "u9fs"
args = ["{root}"]
mount = "/mnt"
"""
VIEWCONF = '[node]\nname = "chaos"\n[auth]\ndir = "{auth}"\nuser = "glenda"\n' + HOSTSERVER


def servers(mnt: pathlib.Path) -> dict[str, list[str]]:
    """/dev/servers as name -> fields (name kind state pid starts restarts last exit)."""
    out = {}
    for line in (mnt / "dev" / "servers").read_text().splitlines():
        f = line.split(" ", 6)
        out[f[0]] = f
    return out


class Workload(threading.Thread):
    """Rewrite random files of ``d``; keep what each acknowledged write left."""

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
            data = self.rng.randbytes(self.rng.randrange(1, MAXSIZE))
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

    def lost(self, read: Callable[[str], bytes]) -> list[str]:
        """Files whose durable bytes (``read(name)``) differ from the last acknowledged."""
        out = []
        for name, data in sorted(self.acked.items()):
            try:
                if read(name) != data:
                    out.append(name)
            except (OSError, RuntimeError, AssertionError) as e:
                out.append(f"{name} ({e.__class__.__name__})")
        return out


@dataclass
class Remote:
    """The exporting node: ``lp49 node CONFIG --listen --auth``, restartable on its port."""

    top: pathlib.Path
    port: int
    auth: str
    node: NodeProc | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        cons, conf = self.top / "remote.cons", self.top / "remote.toml"
        cons.unlink(missing_ok=True)  # a killed node leaves its socket behind
        argv = [*LP49, "node", str(conf), "--name", "remote", "--console", f"unix!{cons}",
                "--listen", f"tcp!127.0.0.1!{self.port}", "--auth", self.auth]  # fmt: skip
        self.node = NodeProc("remote", argv, str(cons), str(self.top / f"remote{self.starts}.log"))
        self.node.attach(GUARD)
        wait_until(lambda: accepting(self.port), "the remote's exportfs", GUARD)

    def signal(self, sig: int) -> None:
        """``sig`` to the node's process group; with SIGKILL, to its host servers too (each
        in a session of its own, they outlive a node killed so), as systemd's cgroup would."""
        assert self.node is not None
        pid = self.node.proc.pid
        kids = set()
        for tid in os.listdir(f"/proc/{pid}/task") if sig == signal.SIGKILL else ():
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.update(int(c) for c in f.read().split())
        os.killpg(pid, sig)
        for kid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(kid, signal.SIGKILL)

    def stop(self) -> None:
        if self.node is not None:
            if self.node.proc.poll() is None:
                self.signal(signal.SIGCONT)  # a stopped node cannot take its SIGTERM
            self.node.stop()


def rig(top: pathlib.Path) -> tuple[pathlib.Path, Remote]:
    """The authority, the u9fs directories, the configs and the disk; (image, remote)."""
    auth = top / "auth"
    a = Authority(auth)
    a.init()
    a.issue(USERS, "glenda")
    a.issue(NODES, "remote", ("127.0.0.1",))
    for who in ("unix", "remote"):
        (top / f"{who}.dir").mkdir()
    (top / "view.toml").write_text(VIEWCONF.format(auth=auth, root=top / "unix.dir"))
    (top / "remote.toml").write_text(HOSTSERVER.format(root=top / "remote.dir"))
    return disk(top), Remote(top, free_port(), str(auth))


@dataclass
class Victim:
    """One victim: its restart times (its workload is the one of WHERE it names)."""

    name: str
    restarts: list[float] = field(default_factory=list)


def kill_server(mnt: pathlib.Path, name: str) -> float:
    """Kill a supervised server of the view's node; seconds until its successor is up."""
    f = servers(mnt)[name]
    old = f[3]
    t0 = time.monotonic()
    if f[1] == "host":
        os.kill(int(old), signal.SIGKILL)
    else:
        (mnt / "proc" / old / "ctl").write_text("kill")
    while True:
        f = servers(mnt)[name]
        if f[2] == "up" and f[3] not in (old, "0"):
            return time.monotonic() - t0
        if time.monotonic() - t0 > GUARD:
            raise RuntimeError(f"{name} not back within {GUARD:.0f} s")
        time.sleep(0.005)


def listing(d: pathlib.Path, t0: float) -> float:
    """Seconds from ``t0`` until ``d`` lists again (errors on the way are the bench's own)."""
    while True:
        try:
            os.listdir(d)
            return time.monotonic() - t0
        except OSError:
            if time.monotonic() - t0 > GUARD:
                raise
            time.sleep(0.005)


def hurt(mnt: pathlib.Path, remote: Remote, name: str, stop: float) -> float:
    """Kill or stop victim ``name``; its restart time."""
    if name == "remote":
        t0 = time.monotonic()
        remote.signal(signal.SIGKILL)
        assert remote.node is not None
        remote.node.proc.wait()
        remote.stop()
        remote.start()
        return listing(mnt / WHERE["remote"], t0)
    if name == "remote-stop":
        remote.signal(signal.SIGSTOP)
        time.sleep(stop)  # the freeze itself, not a wait for something
        t0 = time.monotonic()
        remote.signal(signal.SIGCONT)
        return listing(mnt / WHERE["remote"], t0)
    return kill_server(mnt, name)


def durable(top: pathlib.Path, mnt: pathlib.Path, img: pathlib.Path, target: str):  # type: ignore[no-untyped-def]
    """Where ``target``'s workload is durable: name -> bytes (disks after the unmount)."""
    match target:
        case "ramfs":
            return lambda n: (mnt / "tmp" / "chaos" / n).read_bytes()
        case "unix" | "remote":
            return lambda n: (top / f"{target}.dir" / "chaos" / n).read_bytes()
        case "dos":
            part = cut(img, FAT, "fat.part")
            return lambda n: mget(part, f"chaos/{n}")
        case _:
            part = cut(img, EXT2, "ext2.part")
            return lambda n: cat(part, f"/chaos/{n}")


def chaos(a: argparse.Namespace, top: pathlib.Path) -> int:
    img, remote = rig(top)
    targets = [t for t in TARGETS if t in a.targets.split(",")]
    works = sorted({t.removesuffix("-stop") for t in targets})
    cons = top / "view.cons"
    opts = f"disk={img},console=unix!{cons},proc=sh"
    victims = {t: Victim(t) for t in targets}
    ws: dict[str, Workload] = {}
    lost: dict[str, list[str]] = {}
    rng = random.Random(a.seed)
    try:
        if "remote" in works:
            remote.start()
        with mounted(top, opts, str(top / "view.toml")) as mnt:
            if "remote" in works:
                (mnt / "n" / "remote").mkdir()
                c = Console(str(cons))
                c.run("echo ready", GUARD)  # past the first prompt
                r = c.run(f"import -c tcp!127.0.0.1!{remote.port} /mnt /n/remote", GUARD)
                assert r == ("", ""), r
                c.close()
            for i, t in enumerate(works):
                (mnt / WHERE[t] / "chaos").mkdir()
                ws[t] = Workload(mnt / WHERE[t] / "chaos", a.seed + i)
                ws[t].start()
            t0 = time.monotonic()
            end = t0 + a.seconds
            order: list[str] = []
            rounds = 0
            while time.monotonic() + a.every < end or (a.rounds and (rounds < a.rounds or order)):
                time.sleep(a.every)  # the chaos period, not a wait for something
                if not order:
                    order = rng.sample(targets, len(targets))
                    rounds += 1
                v = order.pop()
                try:
                    victims[v].restarts.append(hurt(mnt, remote, v, a.stop))
                except (OSError, RuntimeError) as e:  # not back within GUARD: say so, go on
                    print(f"{v}: not back within {GUARD:.0f} s: {e}", flush=True)
                    victims[v].restarts.append(math.inf)
            elapsed = time.monotonic() - t0
            for w in ws.values():
                w.stop.set()
            for w in ws.values():
                w.join()
            alive = (mnt / "dev" / "sysname").read_text() != ""
            if "ramfs" in ws:
                lost["ramfs"] = ws["ramfs"].lost(durable(top, mnt, img, "ramfs"))
        for t in works:  # the view is unmounted: the image is complete
            if t != "ramfs":
                lost[t] = ws[t].lost(durable(top, mnt, img, t))
    finally:
        remote.stop()
    return report(a, elapsed, victims, ws, lost, alive)


def report(a: argparse.Namespace, elapsed: float, victims: dict[str, Victim],
           ws: dict[str, Workload], lost: dict[str, list[str]], alive: bool) -> int:  # fmt: skip
    kills = sum(len(v.restarts) for v in victims.values())
    print(f"{elapsed:.0f} s, {kills} kills (every {a.every} s, seed {a.seed}), "
          f"{sum(w.writes for w in ws.values())} acknowledged writes")  # fmt: skip
    print(f"{'victim':12} {'kills':>5} {'acked':>6} {'lost':>4} {'err/restart':>11} "
          f"{'restart median':>14} {'worst':>7}")  # fmt: skip
    for v in victims.values():
        w = ws[v.name.removesuffix("-stop")]
        hits = sum(len(u.restarts) for u in victims.values()
                   if u.name.removesuffix("-stop") == v.name.removesuffix("-stop"))  # fmt: skip
        stop = v.name.endswith("-stop")
        acked, nlost = ("-", "-") if stop else (str(w.writes), str(len(lost[v.name])))
        per = "-" if stop else f"{len(w.errors) / max(hits, 1):.2f}"
        med = f"{statistics.median(v.restarts):.3f} s" if v.restarts else "-"
        worst = f"{max(v.restarts):.3f} s" if v.restarts else "-"
        print(f"{v.name:12} {len(v.restarts):5} {acked:>6} {nlost:>4} {per:>11} {med:>14} "
              f"{worst:>7}")  # fmt: skip
    nlost = sum(len(x) for x in lost.values())
    print(f"acknowledged writes lost: {nlost}  (target 0) "
          f"{ {t: x[:3] for t, x in lost.items() if x} }")  # fmt: skip
    errs = sum(len(w.errors) for w in ws.values())
    print(f"client errors per restart: {errs / max(kills, 1):.2f}  (target <= 1) "
          f"{[e for w in ws.values() for e in w.errors][:4]}")  # fmt: skip
    print(f"node alive: {'yes' if alive else 'no'}")
    return 0 if not nlost and alive else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--every", type=float, default=3.0, help="seconds between kills")
    ap.add_argument("--stop", type=float, default=1.0, help="seconds a SIGSTOP lasts")
    ap.add_argument("--seed", type=int, default=49)
    ap.add_argument("--rounds", type=int, default=0, help="at least this many rounds of victims")
    ap.add_argument("--targets", default=",".join(TARGETS), help="victims, comma-separated")
    ap.add_argument("--dir", help="an empty directory for the rig, kept (logs)")
    a = ap.parse_args()
    a.seconds = a.seconds if a.seconds is not None else 60 * (a.minutes or 2)
    if a.dir:
        return chaos(a, pathlib.Path(a.dir).resolve())
    with tempfile.TemporaryDirectory() as top:
        return chaos(a, pathlib.Path(top))


if __name__ == "__main__":
    sys.exit(main())
