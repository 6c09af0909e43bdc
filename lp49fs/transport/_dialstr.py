"""Plan 9 dial strings: ``net!host!service`` parsed into a socket family and address.

Accepted forms (ndb(6)/dial(2) shapes, restricted to what a Linux host can do):

=====================  ==============================================================
``tcp!host!port``      TCP to ``host`` (name, IPv4 or IPv6 literal) on ``port``
``tcp!host``           the same on the 9P port 564 (``9fs``)
``tcp!*!port``         announce form: listen on every address (``*``)
``net!host!port``      ``net`` means "any network": TCP here
``unix!/path``         a unix-domain stream socket at ``/path``
=====================  ==============================================================

A service may be a decimal port or one of the names in ``SERVICES``.  Parsing is pure: it
never resolves names or touches the network.  A bad string raises ``DialError`` whose text
says what was wrong, so a command line can print it as is.
"""

from __future__ import annotations

from dataclasses import dataclass

from lp49fs.errors import Error

NINEP_PORT = 564  # IANA "9pfs"; Plan 9's "9fs" service

# Plan 9 /lib/ndb/common service names we accept besides decimal ports.
SERVICES = {"9fs": 564, "9pfs": 564, "styx": 6666, "exportfs": 17007, "rexexec": 17009}


class DialError(Error):
    """A dial string that cannot be parsed; ``ename`` names the problem."""


@dataclass(frozen=True, slots=True)
class Addr:
    """A parsed dial string.

    ``net`` is ``"tcp"`` or ``"unix"``.  For tcp, ``host`` is a name or literal (``"*"`` means
    any address, only meaningful when announcing) and ``port`` the port.  For unix, ``host``
    is the socket path and ``port`` is 0.
    """

    net: str  # "tcp" | "unix"
    host: str  # host name / literal / "*", or the unix socket path
    port: int  # TCP port; 0 for unix (and "pick one" when announcing tcp)

    def __str__(self) -> str:
        if self.net == "unix":
            return f"unix!{self.host}"
        return f"tcp!{self.host}!{self.port}"


def parse_port(service: str, addr: str) -> int:
    """The port named by ``service`` (decimal or a SERVICES name)."""
    if service in SERVICES:
        return SERVICES[service]
    if not service.isdigit():
        raise DialError(f"{addr!r}: unknown service {service!r} (want a port number)")
    port = int(service)
    if port > 65535:
        raise DialError(f"{addr!r}: port {port} out of range")
    return port


def parse(addr: str, *, announce: bool = False) -> Addr:
    """Parse dial string ``addr``; ``announce`` allows host ``*`` and port 0."""
    parts = addr.split("!")
    net = parts[0]
    if net == "unix":
        path = "!".join(parts[1:])
        if len(parts) < 2 or not path:
            raise DialError(f"{addr!r}: unix needs a path, as in unix!/tmp/ramfs")
        if "\0" in path:
            raise DialError(f"{addr!r}: NUL in unix socket path")
        return Addr("unix", path, 0)
    if net not in ("tcp", "net"):
        raise DialError(f"{addr!r}: unknown network {net!r} (want tcp, net or unix)")
    if len(parts) not in (2, 3) or not parts[1]:
        raise DialError(f"{addr!r}: want {net}!host!port or {net}!host")
    host = parts[1]
    port = parse_port(parts[2], addr) if len(parts) == 3 else NINEP_PORT
    if host == "*" and not announce:
        raise DialError(f"{addr!r}: '*' (any address) is only for announcing")
    if port == 0 and not announce:
        raise DialError(f"{addr!r}: cannot dial port 0")
    return Addr("tcp", host, port)
