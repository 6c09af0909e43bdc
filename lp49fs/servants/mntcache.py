"""#M's side of the Pager's page cache: which server a proxy Chan's file lives on, and reads.

The cache itself belongs to the Pager (``lp49fs.hvm.pagecache``; the core holds it as
``Core.pagecache``, None when the node has none); ``#M`` only asks it, as Plan 9's devmnt
calls port/cache.c.  This module holds what ``#M`` adds:

1. Server incarnations.  A cached file is keyed by ``(server, qid.path)``.  ``server`` is a
   number given to each plain ``Session`` (the live link at the end of a recovering
   session's chain, ``mntrecover.Recovering.plain``): a new mount channel and each restart of
   a posted server get a new one, so a restarted server that reuses qid paths and versions
   is never answered from its predecessor's pages.  When a mount channel moves to a new
   incarnation, or ends (``drop``), the old one's pages are forgotten at once.
2. ``read``: a read of a cacheable, open file is first asked of the cache; a miss reads the
   whole pages around the request (one Tread when they fit the fid's iounit) and stores
   them, unless the server incarnation changed while the Tread was out (the reply may then
   come from the new server and is not stored).
3. ``opened`` (Topen, Rwalk, Rstat, Rcreate), ``wrote`` (Twrite, length-changing Twstat,
   Tremove): the qid the server just reported validates the file's pages; a change made
   through this node drops them.
"""

from __future__ import annotations

import itertools
import weakref
from typing import TYPE_CHECKING

from lp49fs.core.chan import Chan
from lp49fs.core.core import Core, PageCache
from lp49fs.lib9p.client import Session
from lp49fs.ninep import QTDIR, Qid
from lp49fs.servants import mntrecover

if TYPE_CHECKING:
    from lp49fs.servants.mnt import Mfid


class Mntcache:
    """The page-cache glue of one ``#M`` servant (module docstring)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.serial = itertools.count(1)
        self.servers: weakref.WeakKeyDictionary[Session, int] = weakref.WeakKeyDictionary()
        self.current: dict[int, int] = {}  # mount channel id -> its server incarnation now

    @property
    def cache(self) -> PageCache | None:
        """``Core.pagecache`` (None: the node caches nothing)."""
        return self.core.pagecache

    def key(self, mf: Mfid, qid: Qid) -> tuple[int, int] | None:
        """Rule 1: the cache key of ``mf``'s file, or None when the node caches nothing."""
        cache = self.cache
        if cache is None or not cache.on or mf.mnt is None:
            return None
        s = mf.session
        plain = s.plain() if isinstance(s, mntrecover.Recovering) else s
        server = self.servers.get(plain)
        if server is None:
            server = self.servers[plain] = next(self.serial)
        old = self.current.get(mf.mnt.id)
        if old != server:
            if old is not None:
                cache.forget(old)
            self.current[mf.mnt.id] = server
        return server, qid.path

    def drop(self, mid: int) -> None:
        """Rule 1: mount channel ``mid`` ended."""
        server = self.current.pop(mid, None)
        if server is not None and self.cache is not None:
            self.cache.forget(server)

    def opened(self, mf: Mfid, qid: Qid) -> None:
        """Rule 3: the server just said ``qid`` is the file's current qid."""
        key = self.key(mf, qid)
        if key is not None and self.cache is not None:
            self.cache.copen(key, qid)

    def wrote(self, mf: Mfid, qid: Qid) -> None:
        """Rule 3: the file changed through this node."""
        key = self.key(mf, qid)
        if key is not None and self.cache is not None:
            self.cache.cwrite(key)

    async def read(self, c: Chan, mf: Mfid, count: int, offset: int) -> bytes:
        """Rule 2: ``count`` bytes at ``offset`` of open proxy ``c``."""
        key = None if c.qid.type & QTDIR else self.key(mf, c.qid)
        cache = self.cache
        if key is None or cache is None:
            return await mf.read(count, offset)
        got = cache.cread(key, c.qid, offset, count)
        if isinstance(got, bytes):
            return got
        if got is None:
            return await mf.read(count, offset)
        start, n = cache.span(offset, count, mf.maxio)
        data = await mf.read(n, start)
        if self.key(mf, c.qid) == key:
            cache.cupdate(key, c.qid, got, start, n, data)
        if start == offset and n <= count:
            return data
        return data[offset - start : offset - start + count]
