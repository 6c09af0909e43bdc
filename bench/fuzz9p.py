"""Seeded 9P fuzz against a live server: random and malformed frames over many connections,
with an honest client working beside them.

Each fuzz connection: TCP connect, Tversion, a burst of 1-150 random but well-formed
T-messages (fids 0-7, names from a small vocabulary of real names and garbage, any modes,
offsets up to 2^64-1, wstats of random Dirs, flushes, attaches by random unames), then, for
about half the connections, one malformed frame (a size below 7 or past msize, an unknown or
reply type, a body cut short or with bytes left over, one corrupted byte), then a half-close
and a read until the server hangs up.  The server must answer or refuse each well-formed
frame, close the connection at a malformed one with one logged reason, and never die.  The
honest client (``Honest``) runs its own attach in a thread throughout and checks every
answer.

``python bench/fuzz9p.py [frames] [seed] [ramfs|node ...]`` (default a million frames, seed
1, both) runs it against a host ``lp49 ramfs`` and a node's loopback export listener, each
getting an equal share, and
prints frames, connections, closes and honest operations per target with the rate;
tests/test_fuzz9p.py runs 50,000 frames.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Any

from lp49fs.ninep import (
    NOFID,
    NOTAG,
    Dir,
    Qid,
    Rerror,
    Tattach,
    Tauth,
    Tclunk,
    Tcreate,
    Tflush,
    Topen,
    Tread,
    Tremove,
    Tstat,
    Tversion,
    Twalk,
    Twrite,
    Twstat,
    encode,
)
from lp49fs.ninep._codec import parse_message

if __package__:
    from .churn9p import reply
else:  # run as a script: bench/ is sys.path[0]
    from churn9p import reply  # type: ignore[no-redef]

MSIZE = 8192
NAMES = ("dev", "tmp", "env", "sysname", "user", "x", "y", "..", ".", "")
U64 = (1 << 64) - 1


def _name(rng: random.Random) -> str:
    if rng.random() < 0.8:
        return rng.choice(NAMES)
    return rng.randbytes(rng.randint(1, 12)).decode("latin-1").replace("\0", "\1")


def _num(rng: random.Random, bits: int) -> int:
    """Small numbers mostly, and the edges of the field sometimes."""
    r = rng.random()
    if r < 0.6:
        return rng.randint(0, 64)
    if r < 0.8:
        return (1 << bits) - 1 - rng.randint(0, 2)
    return rng.getrandbits(bits)


def message(rng: random.Random) -> Any:
    """One random, well-formed T-message."""
    fid, newfid = rng.randint(0, 7), rng.randint(0, 8)
    k = rng.randrange(13)
    if k == 0:
        return Tattach(fid, NOFID if rng.random() < 0.8 else fid, _name(rng), _name(rng))
    if k == 1:
        return Tauth(fid, _name(rng), _name(rng))
    if k == 2:
        return Twalk(fid, newfid, tuple(_name(rng) for _ in range(rng.randint(0, 16))))
    if k == 3:
        return Topen(fid, rng.randint(0, 255))
    if k == 4:
        return Tcreate(fid, _name(rng), _num(rng, 32), rng.randint(0, 255))
    if k == 5:
        return Tread(fid, _num(rng, 64), _num(rng, 32))
    if k == 6:
        return Twrite(fid, _num(rng, 64), rng.randbytes(rng.randint(0, 200)))
    if k == 7:
        return Tclunk(fid)
    if k == 8:
        return Tremove(fid)
    if k == 9:
        return Tstat(fid)
    if k == 10:
        d = Dir(_num(rng, 16), _num(rng, 32), Qid(rng.randint(0, 255), _num(rng, 32),
                _num(rng, 64)), _num(rng, 32), _num(rng, 32), _num(rng, 32), _num(rng, 64),
                _name(rng), _name(rng), _name(rng), _name(rng))  # fmt: skip
        return Twstat(fid, Dir.nulldir() if rng.random() < 0.2 else d)
    if k == 11:
        return Tflush(rng.randint(0, 200))
    return Tversion(rng.choice((MSIZE, 256, 100, 1 << 20)), rng.choice(("9P2000", "9P", "")))


def malformed(rng: random.Random) -> bytes:
    """One frame the server must refuse by closing the connection."""
    good = encode(rng.randint(0, 100), message(rng))
    k = rng.randrange(6)
    if k == 0:
        return struct.pack("<I", rng.randint(0, 6)) + b"\x00" * 6  # size below 7
    if k == 1:
        return struct.pack("<IBH", MSIZE + rng.randint(1, 1 << 20), 118, 1)  # past msize
    if k == 2:
        return struct.pack("<IBH", 7, rng.choice((99, 106, 128, 255)), 1)  # unknown type
    if k == 3:
        return struct.pack("<IBH", 7, rng.choice((101, 105, 107, 117, 125)), 1)  # a reply
    if k == 4:  # a body cut short: the size says less than the fields need
        cut = rng.randint(7, max(7, len(good) - 1))
        return struct.pack("<I", cut) + good[4:cut]
    at = rng.randrange(4, len(good))  # one byte corrupted (may happen to stay valid)
    return good[:at] + bytes([good[at] ^ rng.randint(1, 255)]) + good[at + 1 :]


@dataclass
class Tally:
    frames: int = 0  # frames sent
    conns: int = 0  # fuzz connections
    malformed: int = 0  # connections that ended with a malformed frame
    honest: int = 0  # honest operations checked


def one_connection(port: int, rng: random.Random, t: Tally) -> None:
    """One fuzz connection (module docstring)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        frames = [encode(NOTAG, Tversion(MSIZE, "9P2000"))]
        frames += [encode(i + 1, message(rng)) for i in range(rng.randint(1, 150))]
        if rng.random() < 0.5:
            frames.append(malformed(rng))
            t.malformed += 1
        try:
            s.sendall(b"".join(frames))
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):  # the server answers what it can and hangs up
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass  # it hung up with our frames still unread: a reset

    t.frames += len(frames)
    t.conns += 1


class Honest(threading.Thread):
    """An honest client: attaches as ``uname`` and repeats ``op`` until ``stop``; every
    answer is checked, and the first failure ends it (``error``)."""

    def __init__(self, port: int, uname: str, ramfs: bool) -> None:
        super().__init__(daemon=True)
        self.port, self.uname, self.ramfs = port, uname, ramfs
        self.ops = 0
        self.error: str | None = None
        self.stop = threading.Event()
        self.tag = 0

    def rpc(self, s: socket.socket, msg: Any) -> Any:
        self.tag = NOTAG if isinstance(msg, Tversion) else self.tag % 1000 + 1
        s.sendall(encode(self.tag, msg))
        tag, r = parse_message(reply(s))
        if tag != self.tag or isinstance(r, Rerror):
            raise ConnectionError(f"{msg} answered {r} (tag {tag})")
        return r

    def run(self) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=60) as s:
                self.rpc(s, Tversion(MSIZE, "9P2000"))
                self.rpc(s, Tattach(0, NOFID, self.uname, ""))
                if self.ramfs:
                    self.rpc(s, Twalk(0, 1, ()))
                    self.rpc(s, Tcreate(1, self.uname, 0x80000000 | 0o700, 0))
                    self.rpc(s, Tclunk(1))
                while not self.stop.is_set():
                    self.ramfs_op(s) if self.ramfs else self.node_op(s)
                    self.ops += 1
        except (OSError, ValueError) as e:
            self.error = str(e)

    def ramfs_op(self, s: socket.socket) -> None:
        data = random.randbytes(100)
        self.rpc(s, Twalk(0, 1, (self.uname,)))
        self.rpc(s, Tcreate(1, "f", 0o600, 2))
        self.rpc(s, Twrite(1, 0, data))
        if self.rpc(s, Tread(1, 0, 200)).data != data:
            raise ValueError("the honest client read back other data")
        self.rpc(s, Tremove(1))

    def node_op(self, s: socket.socket) -> None:
        self.rpc(s, Twalk(0, 1, ("dev", "sysname")))
        self.rpc(s, Topen(1, 0))
        if not self.rpc(s, Tread(1, 0, 100)).data:
            raise ValueError("the honest client read an empty sysname")
        self.rpc(s, Tclunk(1))


def fuzz(port: int, frames: int, seed: int, ramfs: bool) -> tuple[Tally, Honest]:
    """Send about ``frames`` frames (seeded) to the server on ``port`` beside an honest
    client; the tally and the honest client (stopped)."""
    rng, t = random.Random(seed), Tally()
    honest = Honest(port, "honest", ramfs)
    honest.start()
    try:
        while t.frames < frames and honest.error is None:
            one_connection(port, rng, t)
    finally:
        honest.stop.set()
        honest.join(60)
    t.honest = honest.ops
    return t, honest


def _report(name: str, port: int, frames: int, seed: int, alive: Any) -> None:
    import time

    t0 = time.monotonic()
    t, honest = fuzz(port, frames, seed, ramfs=name == "ramfs")
    dt = time.monotonic() - t0
    print(f"{name}: {t.frames} frames on {t.conns} connections ({t.malformed} malformed) in "
          f"{dt:.1f} s, {t.frames / dt:.0f} frames/s; honest ops {t.honest}, error "
          f"{honest.error}; server alive {alive()}")  # fmt: skip


def main() -> None:
    import subprocess
    import sys
    import tempfile

    sys.path[:0] = [".", "tests"]
    from test_import import accepting, free_port, start

    from tests.waiting import wait_until

    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    targets = sys.argv[3:] or ["ramfs", "node"]
    with tempfile.TemporaryDirectory() as d, open(f"{d}/ramfs.log", "w") as log:
        port = free_port()
        ramfs = subprocess.Popen([sys.executable, "-m", "lp49fs.host.cli", "ramfs", "--listen",
                                  f"tcp!127.0.0.1!{port}", "--maxsize", str(64 << 20)],
                                 stderr=log)  # fmt: skip
        try:
            wait_until(lambda: accepting(port), "ramfs")
            if "ramfs" in targets:
                _report("ramfs", port, frames // len(targets), seed, lambda: ramfs.poll() is None)
        finally:
            ramfs.terminate()
            ramfs.wait()
        if "node" not in targets:
            return
        nport = free_port()
        node = start("fuzz", d, f"tcp!127.0.0.1!{nport}", auth=False)
        try:
            wait_until(lambda: accepting(nport), "the node's exportfs")
            _report("node", nport, frames // len(targets), seed, lambda: node.proc.poll() is None)
        finally:
            node.stop()


if __name__ == "__main__":
    main()
