"""A silently broken link between two nodes: keepalive turns it into a hungup mount.

Two node daemons in two network namespaces joined by a veth pair (``lp49fs.host.demo.netns``),
with mutual TLS on the link (an authority made per test; the import pushes ``#a``
on the conversation, whose reads see the hang-up of the conversation beneath);
node ``a`` imports ``b``'s ``/dev`` with a short keepalive (``import -k 2``) and blocks reading
``/n/cons``.  Then ``b``'s end of the veth is taken down: no FIN and no reset can reach ``a``,
so only the keepalive ``import`` asked ``#I`` for can notice.  The blocked read must fail with
``i/o on hungup channel`` within a few keepalive periods, and ``a`` must keep running; once
the link is up again, the import's re-dialler makes the mount work again by itself.
"""

from __future__ import annotations

import functools
import pathlib
import socket
import subprocess
import time

import pytest

from lp49fs.auth.authority import NODES, USERS, Authority
from lp49fs.host.demo.console import NodeProc
from lp49fs.host.demo.netns import Hosts, ip

PERIOD = 2  # import -k: seconds
HUNGUP = "i/o on hungup channel"


def veth(netns: str) -> str:
    """The name of the (only) veth device in ``netns``."""
    r = subprocess.run(["ip", "-n", netns, "-o", "link", "show", "type", "veth"],
                       capture_output=True, text=True, check=True, timeout=30)  # fmt: skip
    return r.stdout.split(":")[1].strip().split("@")[0]


@pytest.mark.root
def test_silent_break_hangs_up_the_import_within_the_keepalive(
    require_root: None, tmp_path: pathlib.Path
) -> None:
    with Hosts(["a", "b"], netns=True) as hosts:
        hosts.link("a", "b")
        auth = Authority(tmp_path / "auth")  # every link TLS (docs/security.md)
        auth.init()
        auth.issue(USERS, "glenda")
        for n in ("a", "b"):
            auth.issue(NODES, n, tuple(hosts[n].addrs.values()))
        tls = ("--auth", str(auth.root))
        wrap = {n: functools.partial(hosts.argv, n) for n in ("a", "b")}
        nodes = {n: NodeProc.start(n, wrap[n], "tcp!*!17007", str(tmp_path), tls) for n in wrap}
        try:
            for node in nodes.values():
                node.attach()
            a = nodes["a"].console
            assert a is not None
            dial = hosts["b"].dial(hosts["a"])
            assert a.run(f"import -k {PERIOD} {dial} /dev /n") == ("", "")
            assert a.run("cat /n/sysname") == ("b", "")
            a.sock.sendall(b"cat /n/cons; echo @@x $status @@\n")  # blocks: nobody types at b
            buf = _read_for(a.sock, 0.5)
            assert "@@x " not in buf.replace("@@x $status", ""), f"cat did not block: {buf!r}"
            b_ns = hosts["b"].netns
            assert b_ns is not None
            t0 = time.monotonic()
            ip("-n", b_ns, "link", "set", veth(b_ns), "down")
            while "@@x " not in buf.replace("@@x $status", ""):
                left = t0 + 3 * PERIOD + 2 - time.monotonic()  # a little past the bound
                assert left > 0, f"the read still blocks: {buf!r}"
                a.sock.settimeout(left)
                try:
                    buf += a.sock.recv(4096).decode(errors="replace")
                except TimeoutError:
                    continue
            took = time.monotonic() - t0
            assert HUNGUP in buf, buf
            assert took < 3 * PERIOD, f"the silent break took {took:.1f} s to notice"
            a.buf = ""
            a.run("echo sync")  # the rest of that exchange (its prompt)
            assert a.run("cat /dev/sysname") == ("a", "")  # a lives on
            ip("-n", b_ns, "link", "set", veth(b_ns), "up")  # the import re-dials by itself
            assert a.run("cat /n/sysname", timeout=40) == ("b", "")
        finally:
            for node in nodes.values():
                node.stop()


def _read_for(sock: socket.socket, secs: float) -> str:
    """What the console says within ``secs`` seconds."""
    buf, deadline = "", time.monotonic() + secs
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            buf += sock.recv(4096).decode(errors="replace")
        except TimeoutError:
            break
    return buf
