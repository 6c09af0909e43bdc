"""The node's export listener is bounded like the host servers (lib9p.limits): at most
``maxconns`` exportfs processes at once (the next caller waits in the backlog), and a
connection silent for ``idle`` seconds is ended, which frees its slot."""

from __future__ import annotations

import os
import resource
import socket
import struct

from test_import import accepting, free_port, start

from bench.churn9p import churn
from lp49fs.host.demo.console import NodeProc
from tests.waiting import DEADLINE as GUARD
from tests.waiting import wait_until

TVERSION = 100


def tversion() -> bytes:
    body = struct.pack("<BHI", TVERSION, 0xFFFF, 8192) + struct.pack("<H", 6) + b"9P2000"
    return struct.pack("<I", 4 + len(body)) + body


def logtext(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()


def beta(tmp_path: os.PathLike[str], port: int, config: str = "") -> NodeProc:
    """Node beta exporting on ``port`` without auth, with ``config`` as its node.toml."""
    path = None
    if config:
        path = os.path.join(str(tmp_path), "node.toml")
        with open(path, "w") as f:
            f.write(config)
    return start("beta", str(tmp_path), f"tcp!127.0.0.1!{port}", auth=False, config=path)


def events(path: str, what: str) -> list[int]:
    """The numbers of the log's lines that contain ``what``."""
    return [i for i, line in enumerate(logtext(path).splitlines()) if what in line]


def closed(s: socket.socket) -> bool:
    """Whether the server has hung up ``s`` (EOF or reset now, without waiting)."""
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_the_cap_holds_and_idle_callers_make_room(tmp_path: os.PathLike[str]) -> None:
    port = free_port()
    node = beta(tmp_path, port, "[node]\nmaxconns = 2\nidle = 2\n")
    socks: list[socket.socket] = []
    try:
        wait_until(lambda: accepting(port), "beta's exportfs")
        for _ in range(2):  # two callers that say nothing hold both slots
            socks.append(socket.create_connection(("127.0.0.1", port)))
        third = socket.create_connection(("127.0.0.1", port))  # queued in the backlog
        socks.append(third)
        third.settimeout(GUARD)
        third.sendall(tversion())
        reply = third.recv(4096)
        assert reply[4] == TVERSION + 1 and b"9P2000" in reply  # served in the end
        # ... but only once a silent caller's exportfs had ended (idle), never alongside both:
        # the listener logs each exit as it frees the slot, before it takes the next call, so
        # the log's order says it whatever the load; the hang-up itself reaches the socket a
        # moment later, and the other caller's idle bound ends it too
        wait_until(lambda: len(events(node.log, "served by pid")) >= 3, "the third logged")
        assert events(node.log, "exportfs: pid ")[0] < events(node.log, "served by pid")[2]
        wait_until(lambda: all(closed(s) for s in socks[:2]), "both silent callers ended", GUARD)
    finally:
        for s in socks:
            s.close()
        node.stop()


def test_out_of_descriptors_the_listener_backs_off_and_lives(tmp_path: os.PathLike[str]) -> None:
    port = free_port()
    node = beta(tmp_path, port)
    pid = node.proc.pid
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    try:
        wait_until(lambda: accepting(port), "beta's exportfs")
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (3, old[1]))  # no fd can be made
        with socket.create_connection(("127.0.0.1", port), timeout=60) as c:
            c.sendall(tversion())  # waits in the backlog: #I's accept gets EMFILE
            wait_until(lambda: "Too many open files" in logtext(node.log), "the log line")
            resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
            reply = c.recv(4096)  # served once descriptors are there again
            assert reply[4] == TVERSION + 1
        assert node.proc.poll() is None
    finally:
        if node.proc.poll() is None:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        node.stop()


def test_connection_churn_leaves_nothing_behind(tmp_path: os.PathLike[str]) -> None:
    """connect/attach/reset 1,000 times after a warm-up: the node's RSS grows by less than
    2 KiB a connection (each used to leave its process's library state, its kernel threads
    and their tasks behind: about 11 KiB), and no exportfs worker dies."""
    port = free_port()
    node = beta(tmp_path, port)
    try:
        wait_until(lambda: accepting(port), "beta's exportfs")
        n = 1000
        before, after = churn(port, node.proc.pid, n, warmup=200)
        assert after - before < 2 * n, f"RSS {before} -> {after} KiB over {n} connections"
        assert node.proc.poll() is None
        text = logtext(node.log)
        assert "Traceback" not in text and "died" not in text
    finally:
        node.stop()


def test_two_thousand_idle_callers_get_the_cap_and_the_node_answers(
    tmp_path: os.PathLike[str],
) -> None:
    """2,000 callers that connect and say nothing: never more than ``maxconns`` exportfs
    processes, the console still answers, the idle timeout keeps the queue moving, and once
    they hang up a new caller is served."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    port = free_port()
    node = beta(tmp_path, port, "[node]\nmaxconns = 4\nidle = 2\n")
    socks: list[socket.socket] = []
    try:
        wait_until(lambda: accepting(port), "beta's exportfs")
        for _ in range(2000):  # non-blocking: those past the backlog stay in SYN_SENT
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            socks.append(s)
        served = lambda: logtext(node.log).count("served by pid")  # noqa: E731
        wait_until(lambda: served() >= 4, "the first four callers served", timeout=GUARD)
        assert node.console is not None
        for _ in range(3):  # the cap holds while the queue waits, and the shell answers
            out, status = node.console.run("ps")
            assert status == "" and out.count("exportfs") <= 1 + 4, out  # listener + 4
        # two idle rounds of four; 2,000 callers in the backlog make a loaded machine slow
        wait_until(lambda: served() >= 12, "callers cut when idle, and the next served",
                   timeout=GUARD)  # fmt: skip
        out, _ = node.console.run("ps")
        assert out.count("exportfs") <= 1 + 4, out
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        socks.clear()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as c:
            c.sendall(tversion())
            assert c.recv(4096)[4] == TVERSION + 1
        assert node.proc.poll() is None and "Traceback" not in logtext(node.log)
    finally:
        for s in socks:
            s.close()
        node.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
