"""``#¤`` cap: capabilities for changing user id (Plan 9 cap(3), devcap.c).

This is the one way a process becomes another user.  Two write-only files:

* ``caphash`` (mode 0200, owner the host owner): the host owner writes the hash of a
  capability: HMAC-SHA256 with key KEY of ``FROM@TO`` (hex or raw 32 bytes).  The hash is
  remembered (at most ``MAXCAPS``; the oldest is forgotten first).
* ``capuse`` (mode 0222): a process writes ``FROM@TO@KEY``.  If the hash of ``FROM@TO``
  under KEY was registered, it is used up, and if the caller's user is FROM, the caller's
  user becomes TO.  Otherwise ``invalid capability`` / ``permission denied``.

So the party that proves who a client is (the exportfs that verified a TLS certificate, later
a factotum) holds the host owner's power only for a moment: it registers one capability and
then the serving process uses it to *become* the client, after which it cannot go back.
``none`` can never be the source of a capability (Plan 9: ``from`` must not be none).

Rules
  1. Only the host owner may open ``caphash`` (devpermcheck on mode 0200, owner eve).
  2. A capability is used once; comparing hashes is done in constant time.
  3. Qid paths: 0 the directory, 1 caphash, 2 capuse.
"""

from __future__ import annotations

import hmac
from collections import deque
from enum import IntEnum

from lp49fs.auth.cap import HASHLEN, caphash
from lp49fs.core.chan import Chan
from lp49fs.core.dev import Dirtab, Servant
from lp49fs.errors import Einvalcap, Eisdir, Eperm, Error
from lp49fs.ninep import DMDIR, QTDIR, QTFILE, Qid

MAXCAPS = 128


class Q(IntEnum):
    DIR = 0
    CAPHASH = 1
    CAPUSE = 2


DIRTAB = (
    Dirtab(".", Qid(QTDIR, 0, Q.DIR), 0, DMDIR | 0o500),
    Dirtab("caphash", Qid(QTFILE, 0, Q.CAPHASH), 0, 0o200),
    Dirtab("capuse", Qid(QTFILE, 0, Q.CAPUSE), 0, 0o222),
)


class Cap(Servant):
    """The cap servant (module docstring)."""

    dc = "¤"
    name = "cap"
    dirtab = DIRTAB

    def reset(self) -> None:
        self.caps: deque[bytes] = deque(maxlen=MAXCAPS)

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if c.qid.path == Q.DIR:
            return self.devdirread(c, count, offset)
        raise Error(Eperm)

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        q = c.qid.path
        if q == Q.DIR:
            raise Error(Eisdir)
        if q == Q.CAPHASH:
            self._addhash(data)
        else:
            self._use(data)
        return len(data)

    def _addhash(self, data: bytes) -> None:
        if self.user() != self.core.eve:
            raise Error(Eperm)  # Rule 1, also when the Chan was passed on
        h = data
        if len(data) != HASHLEN:
            try:
                h = bytes.fromhex(data.decode().strip())
            except ValueError:
                raise Error(Einvalcap) from None
        if len(h) != HASHLEN:
            raise Error(Einvalcap)
        self.caps.append(h)

    def _use(self, data: bytes) -> None:
        try:
            fromuser, touser, key = data.decode().split("@", 2)
        except ValueError:
            raise Error(Einvalcap) from None
        if not fromuser or not touser or fromuser == "none" or "@" in key:
            raise Error(Einvalcap)
        h = caphash(f"{fromuser}@{touser}", key.encode())
        found = [have for have in self.caps if hmac.compare_digest(have, h)]
        if not found:
            raise Error(Einvalcap)
        self.caps.remove(found[0])  # Rule 2: used once, even when the user check fails
        p = self.up()
        if p is None or p.user != fromuser:
            raise Error(Eperm)
        p.user = touser
