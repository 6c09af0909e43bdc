"""The import <-> exportfs handshake (Plan 9 exportfs(4), import(4)), both sides, on any link.

Exporter side, ``accept(link)`` (Plan 9 exportfs without ``-r``/``-S``):

1. One receive.  If the bytes begin with ``/`` and hold no NUL, they are the **tree name**
   (import writes it in one write and then waits).  Otherwise they are the start of plain
   9P2000: a 9P message begins with its size, whose fourth byte is NUL for any message under
   16 MiB, and tree names never contain NUL.  So host 9P clients can attach directly, with
   the tree as aname.
2. Tree name: the caller checks it (``check(tree)`` raises ``Error``); the answer is exactly
   ``OK``, or ``bad remote tree: <error>`` and the link is closed.
3. Then the ``impo <aan|nofilter> <clear|ssl>\\n`` line, if the next four bytes are ``impo``
   (otherwise it is an old import and 9P starts at once).  ``push_filter`` is the seam where
   an aan filter or an ssl/tls layer would be pushed on the link; only ``nofilter clear`` is
   accepted now, anything else is refused with one line and the link closed.

Importer side, ``request(link, tree)``: write the tree, read the two bytes ``OK`` (or the
error text, raised as ``Error``), write ``impo nofilter clear\\n``.

Bytes received beyond the handshake belong to 9P: ``accept`` returns a ``PrefixLink`` that
gives them back first.  Nothing here knows about fds, sockets or system calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lp49fs.errors import Ehungup, Error
from lp49fs.ninep import Link, PrefixLink  # Link: an ``FdLink`` on a network data fd or a pipe

IMPO = b"impo"
MAXTREE = 1024  # longest tree name accepted (Plan 9 reads ERRMAX-ish; be generous)
Check = Callable[[str], Awaitable[None]]


def is_tree(first: bytes) -> bool:
    """Step 1: do the first bytes of a connection name a tree (not a 9P message)?"""
    return first.startswith(b"/") and b"\0" not in first[:4]


async def _more(link: Link, buf: bytes, want: int) -> bytes:
    """``buf`` extended by receives until it holds ``want`` bytes (or EOF)."""
    while len(buf) < want:
        data = await link.receive_some(4096)
        if not data:
            break
        buf += data
    return buf


async def push_filter(link: PrefixLink, filt: str, enc: str) -> PrefixLink:
    """Step 3's seam: the link after the asked filter/encryption (only none/clear now)."""
    if filt != "nofilter":
        raise Error(f"exportfs: filter {filt} not supported")
    if enc != "clear":
        raise Error(f"exportfs: encryption {enc} not supported (no auth yet)")
    return link


async def accept(link: Link, check: Check) -> tuple[PrefixLink, str | None]:
    """Run the exporter side; returns the 9P link and the tree (None for plain 9P).

    Raises ``Error`` (after telling the importer and closing the link) on a bad tree or
    impo line, and ``Error(Ehungup)`` if the link ends during the handshake.
    """
    first = bytes(await link.receive_some(MAXTREE))
    if not first:
        raise Error(Ehungup)
    if not is_tree(first):
        return PrefixLink(link, first), None
    tree = first.decode("utf-8", "replace")
    try:
        await check(tree)
    except Error as e:
        await _refuse(link, f"bad remote tree: {e.ename}")
        raise
    await link.send_all(b"OK")
    buf = await _more(link, b"", 4)
    if not buf.startswith(IMPO):
        return PrefixLink(link, buf), tree
    while b"\n" not in buf and len(buf) < 256:
        data = await link.receive_some(256)
        if not data:
            raise Error(Ehungup)
        buf += data
    line, _, rest = buf.partition(b"\n")
    words = line.decode("utf-8", "replace").split()
    if len(words) != 3:
        await _refuse(link, f"exportfs: bad impo line: {line[:64]!r}")
        raise Error("exportfs: bad impo line")
    try:
        return await push_filter(PrefixLink(link, rest), words[1], words[2]), tree
    except Error as e:
        await _refuse(link, e.ename)
        raise


async def _refuse(link: Link, text: str) -> None:
    try:
        await link.send_all(text.encode()[:256])
    finally:
        await link.aclose()


async def request(link: Link, tree: str) -> None:
    """Run the importer side on ``link``; raises ``Error`` with the exporter's refusal."""
    if not tree.startswith("/"):
        tree = "/" + tree
    await link.send_all(tree.encode())
    answer = await link.receive_some(256)
    if answer == b"O":  # a split answer: wait for the second byte
        answer += await link.receive_some(1)
    if answer != b"OK":
        if not answer:
            raise Error(f"{Ehungup} (exporter closed the connection)")
        raise Error(answer.decode("utf-8", "replace").strip())
    await link.send_all(b"impo nofilter clear\n")
