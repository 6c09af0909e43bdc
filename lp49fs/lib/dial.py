"""Plan 9's dial(2): dial, announce, listen, accept, reject, netmkaddr -- as plain file I/O.

Everything here is system calls on the network files (``#I`` bound on ``/net``), exactly
the steps of Plan 9's libc ``dial.c``/``announce.c``:

* ``dial("tcp!host!9fs")``: write the dial string to ``/net/cs``, seek to 0, read the answers
  (``/net/tcp/clone 127.0.0.1!564``, one per read); for each: open the clone (the fd is now
  conversation N's ``ctl``; reading it gives N), write ``connect 127.0.0.1!564 [local]``, and
  open ``/net/tcp/N/data``.  The first answer that connects wins; if none does, the error of
  the last attempt is raised (e.g. ``connection refused``).  Without ``/net/cs`` the dial
  string itself is used (``tcp!1.2.3.4!564`` -> ``/net/tcp/clone 1.2.3.4!564``).
* ``announce("tcp!*!0")`` -> ``(ctl, "/net/tcp/N")``: clone, write ``announce 0``.  Read
  ``/net/tcp/N/local`` to learn the port the host gave.
* ``listen(dir)`` -> ``(ctl, newdir)``: open ``dir/listen``; it blocks until a call comes and
  returns the ctl of the call's new conversation.  ``accept(ctl, newdir)`` writes
  ``accept N`` (ignoring failure, as libc does) and opens ``newdir/data``;
  ``reject(ctl, newdir, cause)`` writes ``reject N cause``.

Every function raises ``lp49fs.errors.Error`` with the failing call's Plan 9 text; fds a
failed call opened are closed.
"""

from __future__ import annotations

from lp49fs.errors import Error, Etranslate
from lp49fs.lib import sys
from lp49fs.ninep import ORDWR

NETROOT = "/net"
Enodial = Etranslate  # no cs answer and no usable literal address


def netmkaddr(linear: str, defnet: str | None = None, defsrv: str | None = None) -> str:
    """Complete ``linear`` to ``net!host!service`` with defaults (Plan 9 netmkaddr)."""
    if "!" not in linear:
        net = defnet or "net"
        return f"{net}!{linear}!{defsrv}" if defsrv else f"{net}!{linear}"
    if linear.count("!") >= 2 or not defsrv:
        return linear
    return f"{linear}!{defsrv}"


async def csquery(addr: str, netroot: str = NETROOT) -> list[tuple[str, str]]:
    """Ask ``/net/cs`` for ``addr``: a list of (clone path, address) pairs.

    Without a ``cs`` file the dial string is split by hand (``net!host!port``).
    """
    try:
        fd = await sys.open(f"{netroot}/cs", ORDWR)
    except Error:
        f = addr.split("!")
        if len(f) != 3 or f[0] == "net":
            raise Error(f"{Enodial}: {addr}") from None
        return [(f"{netroot}/{f[0]}/clone", f"{f[1]}!{f[2]}")]
    try:
        await sys.write(fd, addr.encode())
        await sys.seek(fd, 0, 0)
        out: list[tuple[str, str]] = []
        while line := (await sys.read(fd, 512)).decode():
            clone, _, rest = line.strip().partition(" ")
            out.append((clone, rest))
        return out
    finally:
        await sys.close(fd)


def _convdir(clone: str, n: str) -> str:
    """``/net/tcp/clone`` + conversation number -> ``/net/tcp/N``."""
    return f"{clone.rsplit('/', 1)[0]}/{n}"


async def _clone(clone: str) -> tuple[int, str]:
    """Open ``clone``: (ctl fd, conversation directory)."""
    ctl = await sys.open(clone, ORDWR)
    try:
        n = (await sys.read(ctl, 32)).decode().strip()
    except BaseException:
        await sys.close(ctl)
        raise
    return ctl, _convdir(clone, n)


async def _call(clone: str, dest: str, local: str | None) -> tuple[int, int, str]:
    ctl, d = await _clone(clone)
    try:
        msg = f"connect {dest}" + (f" {local}" if local else "")
        await sys.write(ctl, msg.encode())
        data = await sys.open(f"{d}/data", ORDWR)
    except BaseException:
        await sys.close(ctl)
        raise
    return data, ctl, d


async def dialctl(addr: str, local: str | None = None) -> tuple[int, int, str]:
    """Dial ``addr``: (data fd, ctl fd, conversation dir) -- Plan 9 dial with ``cfdp``/``dir``."""
    last: Error | None = None
    for clone, dest in await csquery(addr):
        try:
            return await _call(clone, dest, local)
        except Error as e:
            last = e
    raise last or Error(f"{Enodial}: {addr}")


async def dial(addr: str, local: str | None = None) -> int:
    """Dial ``addr`` (``tcp!host!service``); returns the data fd (the ctl is closed)."""
    data, ctl, _ = await dialctl(addr, local)
    await sys.close(ctl)
    return data


async def announce(addr: str) -> tuple[int, str]:
    """Announce ``addr`` (``tcp!*!port``): (ctl fd, conversation dir)."""
    last: Error | None = None
    for clone, dest in await csquery(addr):
        ctl, d = await _clone(clone)
        try:
            await sys.write(ctl, f"announce {dest}".encode())
        except Error as e:
            await sys.close(ctl)
            last = e
            continue
        return ctl, d
    raise last or Error(f"{Enodial}: {addr}")


async def listen(d: str) -> tuple[int, str]:
    """Wait for a call on announced conversation ``d``: (ctl fd of the call, its dir)."""
    ctl = await sys.open(f"{d}/listen", ORDWR)
    try:
        n = (await sys.read(ctl, 32)).decode().strip()
    except BaseException:
        await sys.close(ctl)
        raise
    return ctl, f"{d.rsplit('/', 1)[0]}/{n}"


def _num(d: str) -> str:
    return d.rstrip("/").rsplit("/", 1)[-1]


async def accept(ctl: int, d: str) -> int:
    """Accept the call of ``listen``: the data fd of conversation ``d``."""
    try:
        await sys.write(ctl, f"accept {_num(d)}".encode())
    except Error:
        pass  # the network may not need accepts (libc ignores this too)
    return await sys.open(f"{d}/data", ORDWR)


async def reject(ctl: int, d: str, cause: str = "") -> None:
    """Refuse the call of ``listen`` with ``cause``."""
    await sys.write(ctl, f"reject {_num(d)} {cause or 'rejected'}".encode())
