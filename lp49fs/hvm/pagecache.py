"""The Pager's page cache: pages of files served by 9P servers, valid while qid.vers holds.

LP49's paper names two optimisations of the remote path; one is a cache of server files
in the memory manager.  Here the Pager keeps it, and ``#M`` (the core's 9P client,
``servants/mnt.py``) asks it, in the roles of Plan 9's port/cache.c (the mount cache that
``mount -C`` turns on): ``copen`` when a file is opened, walked to or stat'ed (the server
has just said its current qid), ``cread`` before a Tread, ``cupdate`` with what a Tread
brought back, ``cwrite`` after a Twrite.

Theory of operation.  A cached file is keyed by ``(server, qid.path)``, where ``server``
names one incarnation of one mounted server (``#M`` gives a new one to every mount channel
and to every restart of a recovering one, so a restarted server that reuses paths and
versions never sees its predecessor's pages).  Each file holds the ``qid.vers`` its pages
were read at, its pages (page index -> bytes, ``PAGE`` each; the last may be short) and,
once a short read showed it, its length.  A page is only ever stored whole (or up to the
end of the file), so a read of a cached range needs no server at all.

Rules
  1. Cacheable (``cacheable``): a plain file (no QTDIR, QTAPPEND, QTEXCL, QTAUTH bit) whose
     qid.vers is not 0.  intro(5) says vers is bumped by every change of a file; Plan 9's
     devices and the project's synthetic servants, which do not version their files, report
     vers 0, so they (also when imported through exportfs) are never cached.  Directories,
     append-only and exclusive-use files are never cached either.
  2. Validation: ``copen`` with a qid whose vers differs from the file's drops every page of
     the file.  The server is asked at every open (Topen/Rwalk), so a change made by another
     client is seen by the next open on this node; within one open the pages are as fresh as
     the last open's check (Plan 9's cache has the same contract).
  3. A write through this node (``cwrite``) drops the file: the server has bumped vers, and
     the pages are read again after the next open.  Each file has a generation, renewed by
     every drop: a ``cupdate`` for a Tread that was sent before the drop is ignored, so a read that
     raced a write never stores the old bytes.
  4. Bounded: at most ``maxpages`` pages in all; the least recently used page goes first.
     ``on`` False (node config ``[node] pagecache = false``) turns every call into a miss
     that stores nothing.
  5. ``forget(server)`` drops every file of a server (its mount channel ended, it restarted).
  6. ``status()`` is the text of ``#c/pagecache``: pages held and allowed, hits, misses,
     pages stored, files dropped by validation or writes, pages evicted.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from kernel.types import PAGE_SIZE
from lp49fs.ninep import QTAPPEND, QTAUTH, QTDIR, QTEXCL, Qid

PAGE = PAGE_SIZE  # bytes of one cached page
MAXPAGES = 4096  # default bound: 16 MiB of cached file pages
NOCACHE = QTDIR | QTAPPEND | QTEXCL | QTAUTH  # qid type bits that forbid caching (Rule 1)

Key = tuple[int, int]  # (server incarnation, qid.path)


def cacheable(qid: Qid) -> bool:
    """Rule 1."""
    return not qid.type & NOCACHE and qid.vers != 0


@dataclass(eq=False)
class File:
    """The cached pages of one file."""

    vers: int  # the qid.vers its pages were read at
    pages: dict[int, bytes] = field(default_factory=dict)  # page index -> contents
    length: int | None = None  # the file's length, once a short read showed it
    gen: int = 0  # the cache's clock at the file's making or last drop (Rule 3)


class PageCache:
    """The page cache of one node (module docstring)."""

    def __init__(self, maxpages: int = MAXPAGES, on: bool = True) -> None:
        self.maxpages = maxpages  # Rule 4
        self.on = on  # Rule 4
        self.files: dict[Key, File] = {}
        self.lru: OrderedDict[tuple[Key, int], None] = OrderedDict()  # oldest first
        self.hits = 0  # reads answered from pages
        self.misses = 0  # reads of cacheable files that went to the server
        self.stored = 0  # pages stored by cupdate
        self.dropped = 0  # files dropped by a vers change or a write
        self.evicted = 0  # pages evicted by the bound
        self.clock = 0  # generations: a dropped or remade file never reuses one

    @property
    def npages(self) -> int:
        return len(self.lru)

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def _file(self, key: Key, qid: Qid) -> File | None:
        """The file for ``key`` valid at ``qid`` (Rule 2), made when missing; None if not
        cacheable."""
        if not self.on or not cacheable(qid):
            return None
        f = self.files.get(key)
        if f is None:
            f = self.files[key] = File(qid.vers, gen=self._tick())
        elif f.vers != qid.vers:
            self._drop(key, f)
            f.vers = qid.vers
        return f

    def copen(self, key: Key, qid: Qid) -> None:
        """The server says ``qid`` is current (open, walk, stat): Rule 2."""
        f = self.files.get(key)
        if f is not None and f.vers != qid.vers:
            self._drop(key, f)
            f.vers = qid.vers

    def cread(self, key: Key, qid: Qid, offset: int, count: int) -> bytes | int | None:
        """``count`` bytes at ``offset`` from the pages (a hit), or on a miss the file's
        generation to hand to ``cupdate`` (None: not cacheable)."""
        f = self._file(key, qid)
        if f is None:
            return None
        if f.length is not None:
            count = max(0, min(count, f.length - offset))
        first, last = offset // PAGE, (offset + count - 1) // PAGE
        if count <= 0:
            self.hits += 1
            return b""
        pages = f.pages
        if not all(i in pages for i in range(first, last + 1)):
            self.misses += 1
            return f.gen
        for i in range(first, last + 1):
            self.lru.move_to_end((key, i))
        self.hits += 1
        if first == last:
            at = offset - first * PAGE
            return pages[first][at : at + count]
        data = b"".join(pages[i] for i in range(first, last + 1))
        at = offset - first * PAGE
        return data[at : at + count]

    def span(self, offset: int, count: int, limit: int) -> tuple[int, int]:
        """The page-aligned (offset, count) to read from the server for a miss of
        ``count`` bytes at ``offset``, at most ``limit`` bytes (whole pages when it can)."""
        start = offset - offset % PAGE
        end = -(-(offset + count) // PAGE) * PAGE
        if end - start > limit:
            return offset, count  # too big for one message: read what was asked
        return start, end - start

    def cupdate(self, key: Key, qid: Qid, gen: int, offset: int, asked: int, data: bytes) -> None:
        """Store what a Tread of ``asked`` bytes at ``offset`` returned (Rule 3: only if the
        file's generation is still ``gen``).  A short reply marks the file's end."""
        f = self._file(key, qid)
        if f is None or f.gen != gen:
            return
        end = offset + len(data)
        if len(data) < asked:
            f.length = end
        i = -(-offset // PAGE)  # the first page that starts inside the data
        while i * PAGE < end:
            at = i * PAGE - offset
            piece = data[at : at + PAGE]
            if len(piece) < PAGE and (f.length is None or i * PAGE + len(piece) < f.length):
                break  # a partial page that is not the file's last
            if i not in f.pages:
                self.stored += 1
            f.pages[i] = piece
            self.lru[(key, i)] = None
            self.lru.move_to_end((key, i))
            i += 1
        while len(self.lru) > self.maxpages:
            (k, j), _ = self.lru.popitem(last=False)
            g = self.files[k]
            g.pages.pop(j, None)
            if not g.pages:
                del self.files[k]  # a new File gets a new generation
            self.evicted += 1

    def cwrite(self, key: Key) -> None:
        """Rule 3: a write through this node drops the file."""
        f = self.files.get(key)
        if f is not None:
            self._drop(key, f)

    def forget(self, server: int) -> None:
        """Rule 5: drop every file of ``server``."""
        for key in [k for k in self.files if k[0] == server]:
            f = self.files.pop(key)
            for i in f.pages:
                self.lru.pop((key, i), None)

    def _drop(self, key: Key, f: File) -> None:
        for i in f.pages:
            self.lru.pop((key, i), None)
        f.pages.clear()
        f.length = None
        f.gen = self._tick()
        self.dropped += 1

    def status(self) -> str:
        """Rule 6."""
        return (f"{self.npages}/{self.maxpages} pages\n{self.hits} hits\n{self.misses} misses\n"
                f"{self.stored} stored\n{self.dropped} dropped\n{self.evicted} evicted\n"
                f"{'on' if self.on else 'off'}\n")  # fmt: skip
