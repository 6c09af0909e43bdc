"""The own IP stack against the Linux kernel's, over a TAP device in a namespace made here.

All traffic stays inside network namespace ``lp49-<pid>-...``: Linux owns 10.88.0.1 on the
TAP interface there, the node 10.88.0.2 on its card.  Two ways to get the node there:

- ``lp49 node --nic tap:NAME --ip 10.88.0.2/24`` run with ``ip netns exec`` (the daemon,
  driven through its unix-socket console): Linux pings the node, the node pings Linux;
- a node booted in this process whose card's TAP is moved into the namespace after the
  card opened it (the fd stays attached): Linux ``curl`` fetches bytes from a TCP server
  program in the node, and the node dials ``python3 -m http.server`` in the namespace and
  reads a file; sha256 equal both ways.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import trio
from lib_helpers import run_as
from test_node_daemon import LP49, _connect, _read_until

from lp49fs import lib
from lp49fs.node.boot import boot
from lp49fs.servants import OWNSTACK
from tests.waiting import DEADLINE as GUARD
from tests.waiting import await_until

LINUX, NODE = "10.88.0.1", "10.88.0.2"


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


@pytest.fixture
def netns(require_root: None, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(namespace, tap name), both deleted at the end."""
    tag = request.node.name[-6:].replace("[", "").replace("]", "")
    ns, tap = f"lp49-{os.getpid()}-{tag}", f"lp49t{os.getpid() % 10000}{len(tag)}"
    ip("netns", "add", ns)
    ip("-n", ns, "link", "set", "lo", "up")
    try:
        yield ns, tap
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def linux_side(ns: str, tap: str) -> None:
    ip("-n", ns, "addr", "add", f"{LINUX}/24", "dev", tap)
    ip("-n", ns, "link", "set", tap, "up")


def test_ping_both_ways_with_the_node_daemon(
    netns: tuple[str, str], tmp_path: pathlib.Path
) -> None:
    ns, tap = netns
    ip("-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
    linux_side(ns, tap)
    cons = tmp_path / "cons"
    argv = ["ip", "netns", "exec", ns, *LP49, "node", "--name", "tapnode", "--console",
            f"unix!{cons}", "--nic", f"tap:{tap}", "--ip", f"{NODE}/24"]  # fmt: skip
    p = subprocess.Popen(argv, start_new_session=True, stderr=subprocess.PIPE)
    try:
        s = _connect(cons, timeout=GUARD)
        _read_until(s, b"% ", timeout=GUARD)
        # -w: ping sends until 3 replies are in (or the guard ends it), so a request lost
        # while Linux's ARP waits for a busy node is sent again instead of failing the count
        r = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "3", "-w", str(int(GUARD)),
                            NODE], capture_output=True, text=True, timeout=GUARD + 30)  # fmt: skip
        assert r.returncode == 0 and "3 received" in r.stdout, r.stdout + r.stderr
        # the node's ping waits -w seconds a reply (2 by default: less than a loaded node needs)
        # read to a line of our own: the last prompt may come in the same chunk as the rest
        s.sendall(f"ping -n 3 -w {GUARD:g} {LINUX}; cat /net/arp; ls /net; echo end\n".encode())
        out = _read_until(s, b"\r\nend\r\n", timeout=GUARD).decode()
        assert "ether0" in out, out
        assert out.count("rtt") == 3, out
        assert LINUX in out and "OK" in out
        s.close()
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=30)
        assert p.stderr is not None
        err = p.stderr.read().decode()
        p.stderr.close()
    assert p.returncode == 0, err


async def test_tcp_with_linux_both_ways(netns: tuple[str, str], tmp_path: pathlib.Path) -> None:
    ns, tap = netns
    blob = os.urandom(3 << 20)
    (tmp_path / "blob").write_bytes(blob)
    want = hashlib.sha256(blob).hexdigest()
    web: subprocess.Popen[bytes] | None = None
    try:
        async with boot("tn", ram=16 << 20, config=OWNSTACK, nics=[f"tap:{tap}"],
                        ips=[f"{NODE}/24"]) as node:  # fmt: skip
            ip("link", "set", tap, "netns", ns)
            linux_side(ns, tap)  # the address exists now: http.server can bind it
            cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "http.server", "-b", LINUX,
                   "8000", "-d", str(tmp_path)]  # fmt: skip
            web = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            async def fetch() -> None:  # the node dials Linux's http.server
                while True:
                    try:
                        fd = await lib.dial(f"tcp!{LINUX}!8000")
                        break
                    except Exception as e:  # http.server not listening yet: refused
                        assert "refused" in str(e)
                        await lib.sleep(50)
                await lib.write(fd, b"GET /blob HTTP/1.0\r\n\r\n")
                got = bytearray()
                while chunk := await lib.read(fd, 65536):
                    got += chunk
                body = bytes(got).split(b"\r\n\r\n", 1)[1]
                assert hashlib.sha256(body).hexdigest() == want

            await run_as(node, fetch, timeout=60)

            async def serve() -> None:  # Linux's curl fetches from the node
                ctl, d = await lib.announce("tcp!*!8080")
                lctl, ld = await lib.listen(d)
                fd = await lib.accept(lctl, ld)
                await lib.read(fd, 4096)  # the request
                await lib.write(fd, b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(blob))
                for i in range(0, len(blob), 65536):
                    await lib.write(fd, blob[i : i + 65536])
                await lib.close(fd)
                await lib.close(lctl)
                await lib.close(ctl)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_as, node, serve)
                await trio.testing.wait_all_tasks_blocked()
                r = await trio.run_process(
                    ["ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "60",
                     f"http://{NODE}:8080/x"], capture_stdout=True, check=False)  # fmt: skip
            assert r.returncode == 0
            assert hashlib.sha256(r.stdout).hexdigest() == want
            stack = node.core.devtab["I"].stack  # type: ignore[attr-defined]
            await await_until(lambda: stack.stats["TcpInSegs"] > 0, "segments counted")
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=30)


def test_a_tap_without_root_or_a_bad_spec_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    r = subprocess.run([*LP49, "node", "--console", "none", "--nic", "vde:/x"],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1 and "want tap:NAME or hub:PATH" in r.stderr
    argv = [*LP49, "node", "--console", "none", "--nic", f"hub:{tmp_path}/no",
            "--ip", "10.0.0.1/24"]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "ether0 hub:" in r.stderr, r.stderr
