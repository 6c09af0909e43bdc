"""Directory reading for the FUSE view: snapshots, ``.`` and ``..``, mount points.

``DirOps`` is the directory half of ``ops.Operations`` (a mixin: it uses the inode table,
the owners and ``_attr`` of the class it is mixed into).

Rule 1. ``opendir`` reads the whole directory once into a snapshot, in reads of ``MAXIO``
        (``#M`` answers each with one Tread of its iounit, 128 KiB of entries), so
        ``readdir`` offsets stay stable; a union's duplicate names keep the first (the one
        namec resolves to).
Rule 2. The snapshot starts with ``.`` and ``..`` (stats of the directory and of its
        lexical parent), which count no lookups (pyfuse3's readdirplus rule).
Rule 3. Attributes agree with getattr: a directory entry read from a servant's directory
        (``#R``'s ``tmp``, a union) may be a mount point, whose stat is that of the mounted
        root, not of the entry the servant lists; each such directory entry is stat'ed by
        path (Plan 9's ``mountfix`` does this in the kernel).  Entries of a server's
        directory are taken as listed: a mount on a server's subdirectory shows the
        listed attributes until its first lookup (documented in docs/fuse.md).
Rule 4. ``readdir`` answers readdirplus from the snapshot: every accepted entry but the
        dots is a lookup.
"""

from __future__ import annotations

import itertools
import os
import posixpath
from dataclasses import replace

import pyfuse3

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.fuse.attr import Owners, attributes
from lp49fs.fuse.calls import syscall
from lp49fs.fuse.fids import Fids
from lp49fs.fuse.inodes import InodeTable, Node, join, key_of
from lp49fs.lib import uctx
from lp49fs.ninep import DMDIR, OREAD, Dir, decode_dirs
from lp49fs.syscall import MAXIO

DOTS = (".", "..")


class DirOps(pyfuse3.Operations):
    """opendir, readdir, releasedir (Rules 1-4)."""

    inodes: InodeTable
    fids: Fids
    owners: Owners
    ut: uctx.UThread | None

    def _init_dirs(self) -> None:
        self._dirs: dict[int, tuple[Node, list[Dir]]] = {}  # Rule 1 snapshots
        self._dirfh = itertools.count(1 << 32)  # directory fhs never collide with file fhs

    def _node(self, d: Dir, path: str, ino: int = 0, made: bool = False) -> Node:
        raise NotImplementedError  # ops.Operations

    async def actor(self, op: str, args: tuple[object, ...]) -> uctx.UThread:
        raise NotImplementedError  # ops.Operations (calls.py Rule 1)

    async def _listed(self, node: Node, d: Dir) -> Dir:
        """Rule 3: the entry ``d`` of ``node``'s directory as getattr would show it."""
        if node.server or not d.mode & DMDIR:
            return d
        try:
            fixed = await lib.stat(join(node.path, d.name))
        except Error:
            return d  # gone since the read: list what was read
        return fixed if fixed.type else d

    @syscall
    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        node = self.inodes.get(inode)
        fd = await self.fids.openat(node, OREAD)
        entries: list[Dir] = []
        try:
            while data := await lib.read(fd, MAXIO):
                entries += decode_dirs(data)
        finally:
            await lib.close(fd)
        dot = await self.fids.call(node, lib.fstat)
        dotdot = await lib.stat(posixpath.dirname(node.path) or "/") if inode != 1 else dot
        snapshot = [replace(dot, name="."), replace(dotdot, name="..")]  # Rule 2
        seen: set[str] = set(DOTS)
        for d in entries:  # Rule 1
            if d.name not in seen:
                seen.add(d.name)
                snapshot.append(await self._listed(node, d))
        fh = next(self._dirfh)
        self._dirs[fh] = (node, snapshot)
        return fh

    @syscall
    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        parent, entries = self._dirs[fh]
        for i in range(start_id, len(entries)):
            d = entries[i]
            dots = d.name in DOTS
            path = parent.path if d.name == "." else join(parent.path, d.name)
            if dots and not d.type:  # a server's own stat: stamp it like the directory
                d = replace(d, type=parent.key[0], dev=parent.key[1])
            d = self.inodes.stamp(d, parent, path)
            ino = parent.ino if d.name == "." else self.inodes.ino(d)
            a = attributes(d, ino, self.owners, self.inodes.ctime.get(key_of(d), 0))
            if not pyfuse3.readdir_reply(token, os.fsencode(d.name), a, i + 1):
                return
            if not dots:
                self._node(d, path, ino)  # Rule 4: each accepted entry is a lookup

    async def releasedir(self, fh: int) -> None:
        self._dirs.pop(fh, None)
