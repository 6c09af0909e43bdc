"""Connect/attach/reset churn against a node's loopback export listener, measuring the node
daemon's RSS (VmRSS in /proc/PID/status) after a warm-up and after ``n`` more cycles.

Each cycle: TCP connect, Tversion, Tattach (as none, the tree ``/``), then a reset
(SO_LINGER 0) instead of a goodbye, so the node's exportfs process for that call must find
the hang-up and end, releasing everything.  ``python bench/churn9p.py [n]`` (default
10,000) prints the RSS before and after and their difference; tests/test_exportfs_limits.py
runs a bounded version.
"""

from __future__ import annotations

import socket
import struct
import sys

from lp49fs.ninep import NOFID, Tattach, Tversion
from lp49fs.ninep._codec import build_message, parse_message

NOTAG = 0xFFFF


def rss_kib(pid: int) -> int:
    """The resident set size of ``pid`` in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ValueError(f"no VmRSS for pid {pid}")


def reply(s: socket.socket) -> bytes:
    """One whole 9P frame from ``s``; ConnectionError if the server hangs up first."""
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            raise ConnectionError("hung up")
        head += chunk
    size = int.from_bytes(head, "little")
    body = head
    while len(body) < size:
        chunk = s.recv(size - len(body))
        if not chunk:
            raise ConnectionError("hung up")
        body += chunk
    return body


def cycle(port: int) -> None:
    """One connect/attach/reset; raises if the node did not answer the attach."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(build_message(NOTAG, Tversion(8192, "9P2000")))
        reply(s)
        s.sendall(build_message(1, Tattach(0, NOFID, "none", "/")))
        _, r = parse_message(reply(s))
        if type(r).__name__ != "Rattach":
            raise ConnectionError(f"attach answered {r}")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def churn(port: int, pid: int, n: int, warmup: int = 200) -> tuple[int, int]:
    """(RSS KiB after ``warmup`` cycles, RSS KiB after ``n`` more)."""
    for _ in range(warmup):
        cycle(port)
    before = rss_kib(pid)
    for _ in range(n):
        cycle(port)
    return before, rss_kib(pid)


def main() -> None:
    import tempfile

    sys.path[:0] = [".", "tests"]
    from test_import import accepting, free_port, start

    from tests.waiting import wait_until

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        node = start("churn", d, f"tcp!127.0.0.1!{port}", auth=False)
        try:
            wait_until(lambda: accepting(port), "the node's exportfs")
            before, after = churn(port, node.proc.pid, n)
        finally:
            node.stop()
    print(f"{n} cycles: RSS {before} KiB -> {after} KiB, growth {after - before} KiB")


if __name__ == "__main__":
    main()
