"""``/net/cs``: the connection server's translation, served as a file of ``#I``.

Plan 9 runs cs (ndb(8)) as a user-level server mounted on ``/net/cs``; here it is a file of
the ``#I`` servant, so ``bind -a '#I' /net`` brings ``/net/cs`` with ``/net/tcp``.  The
protocol is Plan 9's: open ``/net/cs`` ORDWR, write a dial string, seek to 0, and read the
answers one line per read (no newline), e.g. ``/net/tcp/clone 127.0.0.1!564``; a read after
the last line returns 0 bytes.  Each open Chan keeps its own answers (``Cs`` in ``c.aux``).

Translation (``translate``):

=========================  ==========================================================
``tcp!host!service``       one line per address of ``host``: ``/net/tcp/clone ip!port``
``udp!host!service``       the same under ``/net/udp``
``net!host!service``       ``net`` means any network: TCP here
``tcp!*!service``          announce form: ``/net/tcp/clone port``
``tcp!host`` / ``host``    no service: ``/net/tcp/clone ip`` (the caller adds the port)
=========================  ==========================================================

A service is a decimal port or a name of ``SERVICES`` (Plan 9's /lib/ndb/common).  Host
names go through the host resolver (``trio.socket.getaddrinfo``); IPv4 answers come first.
Anything else fails with ``can't translate address: ...`` (Plan 9's cs error text, plus the
reason).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

import trio

from lp49fs.errors import Error, Etranslate

NETS = ("tcp", "udp")

# Plan 9 /lib/ndb/common services (TCP/UDP ports)
SERVICES = {
    "echo": 7, "discard": 9, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53,
    "http": 80, "9fs": 564, "9pfs": 564, "whoami": 565, "ticket": 567, "https": 443,
    "styx": 6666, "exportfs": 17007, "rexexec": 17009, "ncpu": 17010, "cpu": 17010,
    "venti": 17034,
}  # fmt: skip


def _bad(s: str, why: str) -> Error:
    return Error(f"{Etranslate}: {why}: {s}"[:127])


def port_of(service: str, s: str) -> int:
    if service in SERVICES:
        return SERVICES[service]
    if not service.isdigit() or int(service) > 65535:
        raise _bad(s, f"unknown service {service}")
    return int(service)


async def resolve(host: str, s: str) -> list[str]:
    """The addresses of ``host`` (literal or name), IPv4 first, without duplicates."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = await trio.socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise _bad(s, f"unknown host {host}") from None
    addrs: list[str] = []
    for fam in (socket.AF_INET, socket.AF_INET6):
        for f, _, _, _, sa in infos:
            if f == fam and str(sa[0]) not in addrs:
                addrs.append(str(sa[0]))
    if not addrs:
        raise _bad(s, f"unknown host {host}")
    return addrs


async def translate(s: str, netroot: str = "/net") -> list[str]:
    """The cs answer lines for dial string ``s`` (see the module table)."""
    s = s.strip()
    f = s.split("!")
    if not s or len(f) > 3 or not all(f):
        raise _bad(s, "want net!host!service")
    if len(f) == 1:
        f = ["net", f[0]]
    net, host = f[0], f[1]
    if net == "net":
        net = "tcp"
    if net not in NETS:
        raise _bad(s, f"unknown network {net}")
    clone = f"{netroot}/{net}/clone"
    port = port_of(f[2], s) if len(f) == 3 else None
    if host == "*":
        if port is None:
            raise _bad(s, "announce needs a service")
        return [f"{clone} {port}"]
    suffix = "" if port is None else f"!{port}"
    return [f"{clone} {a}{suffix}" for a in await resolve(host, s)]


@dataclass
class Cs:
    """The answers of one open ``/net/cs`` Chan."""

    lines: list[str] = field(default_factory=list)  # not yet read, in order

    async def write(self, data: bytes) -> int:
        self.lines = []  # a failed translation leaves nothing to read
        self.lines = await translate(data.decode(errors="replace"))
        return len(data)

    def read(self) -> bytes:
        return self.lines.pop(0).encode() if self.lines else b""
