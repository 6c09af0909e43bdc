"""Emulated hosts for ``lp49 demo multihost --stack own``: nodes on emulated NICs and hubs.

Theory of operation.  ``OwnHosts`` has the shape of ``netns.Hosts`` (``[name]``, ``link``,
``argv``, ``close``, ``nodeargs``), but a host is an LP49 node whose ``/net`` is its own IP
stack (docs/net.md): ``link(a, b)`` starts an ``lp49 hub`` on a unix socket in the work
directory and gives both ends an address on a /24 of its own under 10.250.0.0/16
(``10.250.N.1`` for the first host, ``.2`` for the second); ``nodeargs(name)`` is the
``--nic hub:PATH --ip ADDR/24`` pair of every link of that host, in link order (ether0,
ether1 ...), with ``--stack own``.  A host reaches exactly the hosts it shares a hub with:
its stack has a route to each of its subnets and no default route.  No root is needed and
nothing leaves the work directory; Linux itself is on no hub, so it cannot dial the nodes.

Rules:
1. A hub runs as its own process (``lp49 hub PATH``); ``link`` returns once it listens.
2. ``close`` (idempotent) stops every hub after the nodes are down (the demo's teardown
   order), so no node loses its cable while it shuts down.
"""

from __future__ import annotations

import os
import subprocess

from lp49fs.host.demo.console import LP49
from lp49fs.host.demo.netns import PORT, Host, NetnsError

SUBNET = "10.250"  # link N is 10.250.N.0/24


class OwnHost(Host):
    """A node on hubs: it dials a peer at the peer's address on their shared hub."""

    def dial(self, peer: Host | None = None) -> str:
        if peer is None or peer is self:
            if not self.addrs:
                raise NetnsError(f"host {self.name} is on no hub")
            return f"tcp!{next(iter(self.addrs.values()))}!{self.port}"
        if peer.name not in self.addrs:
            raise NetnsError(f"host {peer.name} has no link to host {self.name}")
        return f"tcp!{self.addrs[peer.name]}!{self.port}"


class OwnHosts:
    """The demo's hosts on hubs (see the module docstring)."""

    netns = False
    isolated = True  # a host reaches only the hosts of its hubs

    def __init__(self, names: list[str], workdir: str) -> None:
        self.workdir = workdir
        self.hosts: dict[str, Host] = {n: OwnHost(n, None, PORT) for n in names}
        self.nics: dict[str, list[tuple[str, str]]] = {n: [] for n in names}  # (hub, ADDR/24)
        self.hubs: list[subprocess.Popen[str]] = []

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def link(self, a: str, b: str) -> None:
        """A hub between ``a`` and ``b`` (Rule 1) and an address for each on it."""
        n = len(self.hubs)
        path = os.path.join(self.workdir, f"hub-{a}{b}")
        hub = subprocess.Popen([*LP49, "hub", path], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)  # fmt: skip
        self.hubs.append(hub)
        assert hub.stdout is not None
        line = hub.stdout.readline()
        if line != f"hub {path}\n":
            raise NetnsError(f"lp49 hub {path}: {line.strip() or 'exited'}")
        for me, peer, last in ((a, b, 1), (b, a, 2)):
            addr = f"{SUBNET}.{n}.{last}"
            self.nics[me].append((path, f"{addr}/24"))
            self.hosts[me].addrs[peer] = addr

    def nodeargs(self, name: str) -> tuple[str, ...]:
        """``lp49 node`` options for host ``name``: its cards, addresses and stack."""
        args: list[str] = ["--stack", "own"]
        for path, cidr in self.nics[name]:
            args += ["--nic", f"hub:{path}", "--ip", cidr]
        return tuple(args)

    def argv(self, name: str, argv: list[str]) -> list[str]:
        """A command "in" host ``name``: a Linux process; only the node is on the hubs."""
        return argv

    def close(self) -> None:
        """Stop the hubs (Rule 2)."""
        for hub in self.hubs:
            if hub.poll() is None:
                hub.terminate()
                try:
                    hub.wait(10)
                except subprocess.TimeoutExpired:
                    hub.kill()
                    hub.wait()
            if hub.stdout is not None:
                hub.stdout.close()
        self.hubs.clear()
