"""Inode numbers and lookup counts for the FUSE view (passthroughfs's two maps, kept small).

The Linux kernel names files by inode number; LP49 names them by path, and identifies a file
by (servant type, dev, qid.path) -- the same key the mount table uses (qid.vers ignored).
``InodeTable`` joins the two:

Rule 1. An inode number is a function of the key for the life of the table: the first time a
        key is seen it gets the next number, and it keeps it even after the kernel forgets
        it (``_ino_of`` is never pruned), so ``stat`` and ``ls -i`` agree over time.
        The root of the shown name space is ``ROOT_INODE`` (1).
Rule 2. A ``Node`` exists while the kernel holds lookups on its inode: ``enter`` (lookup,
        create, mkdir, every readdirplus entry) adds one, ``forget`` takes them away and
        drops the Node at zero.  The root is never dropped.
Rule 3. A Node remembers the path it was last reached by: the view's walked fd of it
        (fids.py) is walked again by that path when it is not kept.  A file reached by two
        paths (a bind) is one Node with the latest path.  ``renamed`` rewrites the paths of
        a renamed subtree.
Rule 4. Servants stamp their letter in ``Dir.type``; a 9P server's entries arrive as the
        server wrote them (type 0) unless ``#M`` stamps them as Plan 9's mntdirfix does.
        ``stamp`` does it here: an unstamped entry gets type 'M' and the dev of its parent
        when the parent is a server file, else a dev allocated per mount-point path (the
        place where the walk crossed into the server), so two servers' qids never collide.

No system calls here and no pyfuse3 errors: ``get`` raises KeyError for an unknown inode and
the Operations class turns that into ENOENT.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass, replace

from lp49fs.ninep import Dir

ROOT_INODE = 1  # pyfuse3.ROOT_INODE, FUSE_ROOT_ID

Key = tuple[int, int, int]  # (servant type, dev, qid.path)
SERVER_TYPE = ord("M")  # Dir.type of every file reached through the mount servant


def key_of(d: Dir) -> Key:
    return (d.type, d.dev, d.qid.path)


def join(parent: str, name: str) -> str:
    """The LP49 path of ``name`` in directory ``parent`` ('..' is lexical, as in namec)."""
    if name == "..":
        return posixpath.dirname(parent) or "/"
    if name in ("", "."):
        return parent
    return parent + name if parent.endswith("/") else parent + "/" + name


@dataclass(slots=True)
class Node:
    """One inode the kernel knows about."""

    ino: int
    key: Key
    path: str  # Rule 3
    server: bool  # a file of a 9P server (type 'M'): cacheable; else a servant's file
    stream: bool = False  # reads ignore offsets (set by the caller from the stat entry)
    empty: bool = False  # a server file of length 0 at lookup: maybe synthetic, never cached
    made: bool = False  # created through the view (create, mknod): a real file, cacheable
    nlookup: int = 0  # Rule 2
    vers: int = -1  # qid.vers of the latest stat entry seen (lookup, getattr, readdirplus)
    openvers: int = -2  # vers at the last open: equal means the page cache is still valid


class InodeTable:
    """key <-> inode number, inode -> Node (Rules 1-3)."""

    def __init__(self) -> None:
        self._ino_of: dict[Key, int] = {}
        self._nodes: dict[int, Node] = {}
        self._next = ROOT_INODE + 1
        self._mdev: dict[str, int] = {}  # Rule 4: mount-point path -> dev of its server
        self.ctime: dict[Key, int] = {}  # key -> ns of the last change made through the view

    def changed(self, *keys: Key) -> None:
        """The bridge changed these files now: their ctime (attr.py Rule 1) moves."""
        now = time.time_ns()
        for key in keys:
            self.ctime[key] = max(now, self.ctime.get(key, 0) + 1)

    def __len__(self) -> int:
        return len(self._nodes)

    def stamp(self, d: Dir, parent: Node | None, path: str) -> Dir:
        """``d`` with the type and dev of Rule 4 (unchanged if a servant or #M stamped it)."""
        if d.type != 0:
            return d
        if parent is not None and parent.server:
            dev = parent.key[1]
        else:
            dev = self._mdev.setdefault(path, len(self._mdev) + 1)
        return replace(d, type=SERVER_TYPE, dev=dev)

    def set_root(self, d: Dir, path: str = "/") -> Node:
        """Make ``d`` (the stat of the shown root) inode 1."""
        key = key_of(d)
        old = self._ino_of.get(key)
        if old is not None and old != ROOT_INODE:
            self._nodes.pop(old, None)
        self._ino_of[key] = ROOT_INODE
        node = Node(ROOT_INODE, key, path, is_server(d), nlookup=1)
        self._nodes[ROOT_INODE] = node
        return node

    def ino(self, d: Dir) -> int:
        """The inode number of ``d``'s file (Rule 1); does not count a lookup."""
        key = key_of(d)
        ino = self._ino_of.get(key)
        if ino is None:
            ino = self._ino_of[key] = self._next
            self._next += 1
        return ino

    def enter(self, d: Dir, path: str, ino: int = 0) -> Node:
        """Count one kernel lookup of ``d`` reached as ``path`` (``ino`` if already known)."""
        ino = ino or self.ino(d)
        node = self._nodes.get(ino)
        if node is None:
            node = self._nodes[ino] = Node(ino, key_of(d), path, is_server(d))
        else:
            node.path = path
        node.nlookup += 1
        node.vers = d.qid.vers
        return node

    def get(self, ino: int) -> Node:
        """The Node of ``ino``; KeyError if the kernel should not know it."""
        return self._nodes[ino]

    def forget(self, ino: int, n: int) -> bool:
        """The kernel dropped ``n`` lookups of ``ino`` (Rule 2); True if the Node went."""
        node = self._nodes.get(ino)
        if node is None:
            return False
        node.nlookup -= n
        if node.nlookup <= 0 and ino != ROOT_INODE:
            del self._nodes[ino]
            return True
        return False

    def renamed(self, old: str, new: str) -> None:
        """``old`` is now ``new``: rewrite it and every path below it (Rule 3)."""
        prefix = old.rstrip("/") + "/"
        for node in self._nodes.values():
            if node.path == old:
                node.path = new
            elif node.path.startswith(prefix):
                node.path = new.rstrip("/") + "/" + node.path[len(prefix) :]


def is_server(d: Dir) -> bool:
    """True for a file of a mounted 9P server, False for a servant's (synthetic) file."""
    return d.type == SERVER_TYPE
