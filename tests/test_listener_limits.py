"""Listener bounds on a real ``lp49 ramfs`` process over TCP (``lp49fs.lib9p.limits``).

The connection cap holds under idle connections (the next client is served only once the
idle timeout has cut one: checked by order, never by a clock), and running out of file
descriptors (a low RLIMIT_NOFILE, more connections than it allows) makes accept back off
and log instead of killing the server; once the flood is gone a new client is served.
"""

from __future__ import annotations

import re
import resource
import select
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from waiting import DEADLINE as GUARD
from waiting import wait_until

from lp49fs.ninep import Rversion, Tversion, decode, encode


class Ramfs:
    def __init__(self, *args: str, nofile: int | None = None) -> None:
        def limit() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.p = subprocess.Popen([sys.executable, "-m", "lp49fs.host.cli", "ramfs", "--listen",
                                   "tcp!127.0.0.1!0", *args], stderr=subprocess.PIPE,
                                  text=True, preexec_fn=limit)  # fmt: skip
        assert self.p.stderr is not None
        line = self.p.stderr.readline()
        m = re.search(r"!(\d+)$", line.strip())
        assert m, line
        self.port = int(m.group(1))
        self.lines: list[str] = []

        self.returncode: int | None = None

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
        _, err = self.p.communicate(timeout=GUARD)
        self.lines += err.splitlines()
        self.returncode = self.p.returncode


@pytest.fixture
def servers() -> Iterator[list[Ramfs]]:
    made: list[Ramfs] = []
    yield made
    for r in made:
        if r.returncode is None:
            r.stop()


def version(s: socket.socket) -> None:
    """Tversion on ``s`` and wait (hang guard only) for Rversion."""
    s.sendall(encode(0xFFFF, Tversion(8192, "9P2000")))
    s.settimeout(GUARD)
    data = b""
    while len(data) < 4 or len(data) < int.from_bytes(data[:4], "little"):
        chunk = s.recv(4096)
        assert chunk, "the server hung up"
        data += chunk
    assert isinstance(decode(data)[1], Rversion)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=GUARD)


def test_the_cap_holds_until_the_idle_timeout_frees_a_slot(servers: list[Ramfs]) -> None:
    r = Ramfs("--maxconns", "4", "--idle", "1")
    servers.append(r)
    idle = [connect(r.port) for _ in range(4)]
    for s in idle:  # each is being served: it answers
        version(s)
    late = connect(r.port)  # queued in the backlog: no slot
    version(late)  # answered only after an idle connection was cut ...
    readable, _, _ = select.select(idle, [], [], 0)
    assert readable, "a fifth client was served while four connections held the cap"
    assert any(s.recv(1) == b"" for s in readable)  # ... by the server (EOF)
    for s in [*idle, late]:
        s.close()
    assert r.p.poll() is None


def test_out_of_descriptors_backs_off_and_recovers(servers: list[Ramfs]) -> None:
    r = Ramfs("--idle", "600", nofile=24)
    servers.append(r)
    flood = [connect(r.port) for _ in range(40)]  # more than the server's fds allow
    wait_until(lambda: r.p.poll() is not None or _readable(r), "an accept back-off line")
    assert r.p.poll() is None, "the server died of EMFILE"
    for s in flood:
        s.close()
    fresh = connect(r.port)
    version(fresh)
    fresh.close()
    r.stop()
    assert any("Too many open files; retrying" in line for line in r.lines), r.lines[-5:]


def _readable(r: Ramfs) -> bool:
    assert r.p.stderr is not None
    ready, _, _ = select.select([r.p.stderr], [], [], 0)
    if ready:
        r.lines.append(r.p.stderr.readline())
    return any("retrying" in line for line in r.lines)
