"""Emulated hosts for the demos: Linux network namespaces joined by veth pairs, or loopback.

Theory of operation.  A demo needs a few *hosts*, each with an address the others dial.
``Hosts`` gives them in one of two shapes:

- **netns** (root and iproute2): every host is a Linux network namespace named
  ``lp49-<pid>-<host>`` (``ip netns add``) with its loopback up; ``link(a, b, ...)`` joins two
  of them with a veth pair (``ip link add ... netns A type veth peer ... netns B``) and gives
  each end an address of a /30 under 10.249.0.0/24.  Nothing is added to the host's own
  namespace and no forwarding or default route is set up, so a host reaches exactly the hosts
  it has a link to: traffic never leaves the machine.  A command runs inside a host through
  ``nsenter --net=/run/netns/NAME`` (``argv``); unlike ``ip netns exec`` this keeps the
  caller's mount namespace, so a FUSE mount made inside is visible on the host.
- **loopback** (anyone): every host is 127.0.0.1 with its own free TCP port, and ``argv``
  runs the command as it is.

Rules:
1. Every name carries this process's pid, so concurrent runs never collide, and ``close``
   (also on an exception: use ``Hosts`` as a context manager) deletes the namespaces, which
   deletes the veths in them.  ``sweep`` removes what a killed run left behind (names whose
   pid is no longer alive).
2. ``ip`` failures raise ``NetnsError`` with ip's own message.
3. Nothing here knows about LP49: the demo puts nodes on the hosts.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass, field

PREFIX = "lp49-"  # every namespace this module makes starts with it
SUBNET = "10.249.0"  # links get /30s of 10.249.0.0/24: .1/.2, .5/.6, ...
PORT = 17007  # exportfs, the port a node listens on inside its own namespace


class NetnsError(Exception):
    """An ``ip`` command failed; ``str(e)`` is one line."""


@dataclass
class Host:
    """One emulated host."""

    name: str  # short name: a, b, c
    netns: str | None  # Linux network namespace, or None on loopback
    port: int  # where its node listens
    addrs: dict[str, str] = field(default_factory=dict)  # peer host name -> my address there

    def dial(self, peer: Host | None = None) -> str:
        """The dial string at which ``peer`` (None: this host itself) reaches this host."""
        if self.netns is None or peer is None or peer is self:
            return f"tcp!127.0.0.1!{self.port}"
        if peer.name not in self.addrs:
            raise NetnsError(f"host {peer.name} has no link to host {self.name}")
        return f"tcp!{self.addrs[peer.name]}!{self.port}"


def can_netns() -> str | None:
    """None if network namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root"
    for tool in ("ip", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    return None


def ip(*args: str) -> None:
    """Run ``ip ARGS``; NetnsError with ip's message if it fails."""
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        msg = r.stderr.strip().splitlines()
        raise NetnsError(f"ip {' '.join(args)}: {msg[-1] if msg else 'failed'}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def accepting(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host!port`` now."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def sweep() -> list[str]:
    """Delete namespaces left by runs whose process is gone; the names deleted."""
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30)
    gone = []
    for line in r.stdout.splitlines():
        m = re.match(rf"({PREFIX}(\d+)-\S+)", line)
        if m and not os.path.exists(f"/proc/{m.group(2)}"):
            subprocess.run(["ip", "netns", "del", m.group(1)], capture_output=True, timeout=30)
            gone.append(m.group(1))
    return gone


class Hosts:
    """The demo's hosts (see the module docstring); a context manager that cleans up."""

    def __init__(self, names: list[str], netns: bool) -> None:
        self.netns = netns
        self.tag = f"{PREFIX}{os.getpid()}"
        self.hosts: dict[str, Host] = {}
        self.nlinks = 0
        try:
            for n in names:
                self.hosts[n] = self._make(n)
        except BaseException:
            self.close()
            raise

    def _make(self, name: str) -> Host:
        if not self.netns:
            return Host(name, None, free_port())
        ns = f"{self.tag}-{name}"
        ip("netns", "add", ns)
        self.hosts[name] = host = Host(name, ns, PORT)  # known before anything else can fail
        ip("-n", ns, "link", "set", "lo", "up")
        return host

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    @property
    def isolated(self) -> bool:
        """Whether a host reaches only the hosts it has a link to (not on loopback)."""
        return self.netns

    def nodeargs(self, name: str) -> tuple[str, ...]:
        """More ``lp49 node`` options for host ``name``: none (``ownnet`` has some)."""
        return ()

    def link(self, a: str, b: str) -> None:
        """Join hosts ``a`` and ``b`` by a veth pair with a /30 (no-op on loopback)."""
        ha, hb = self.hosts[a], self.hosts[b]
        if ha.netns is None or hb.netns is None:
            return
        n, self.nlinks = self.nlinks, self.nlinks + 1
        if n >= 64:
            raise NetnsError("at most 64 links fit in 10.249.0.0/24")
        ifa, ifb = f"v{os.getpid()}{a}{b}"[:15], f"v{os.getpid()}{b}{a}"[:15]
        ip("link", "add", ifa, "netns", ha.netns, "type", "veth", "peer", "name", ifb,
           "netns", hb.netns)  # fmt: skip
        for host, ifname, last, peer in ((ha, ifa, 4 * n + 1, b), (hb, ifb, 4 * n + 2, a)):
            assert host.netns is not None
            ip("-n", host.netns, "addr", "add", f"{SUBNET}.{last}/30", "dev", ifname)
            ip("-n", host.netns, "link", "set", ifname, "up")
            host.addrs[peer] = f"{SUBNET}.{last}"

    def argv(self, name: str, argv: list[str]) -> list[str]:
        """``argv`` as a command run inside host ``name``."""
        ns = self.hosts[name].netns
        return argv if ns is None else ["nsenter", f"--net=/run/netns/{ns}", *argv]

    def close(self) -> None:
        """Delete every namespace (and so every veth) this object made; idempotent."""
        for host in self.hosts.values():
            if host.netns is not None:
                subprocess.run(["ip", "netns", "del", host.netns], capture_output=True,
                               timeout=30)  # fmt: skip
                host.netns = None
        self.hosts.clear()

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
