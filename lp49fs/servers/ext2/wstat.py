"""wstat on an ext2 file: every requested change checked first, then all made (ramfs Rule 4).

Rules:

1. Don't-touch fields (all ones, empty strings) are left alone.  type, dev, uid, muid and
   the qid (but for a stale vers) cannot change: ``Error(Eperm)`` if asked to.
2. name: a rename within the directory the fid was reached from; the new name must be
   valid (``ops.check_name``) and free (``Error(Eexist)``), and the caller needs write
   permission on the directory; the root cannot be renamed.
3. length: a regular file's (truncation or growth, ``Error(Efbig)`` past the largest
   file); a directory's can only be "changed" to 0; a symbolic link's not at all.
4. mode (the 0777 bits; the DMDIR bit cannot change), mtime, atime and gid (a name or
   number, ``srv.Ext2srv.number``): the file's owner or the server's owner only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lp49fs.errors import Eexist, Efbig, Enonexist, Eperm, Error
from lp49fs.ninep import DMDIR, Dir

from . import dirent, ops, rw
from .fs import S_IFLNK, S_IFMT, S_IFREG
from .layout import ROOTINO

if TYPE_CHECKING:
    from .srv import E2File

AWRITE = 2


async def apply(f: E2File, d: Dir, touched: set[str]) -> None:
    """Check ``touched`` fields of ``d`` against fid ``f``'s file, then change them; inside
    the caller's ``Ext2.op``."""
    fs = f.fs
    i = await fs.iget(f.ino)
    name = await f.name()
    if name is None:
        raise Error(Enonexist)
    cur = f.dir(i, name)
    owner = f.uname == f.srv.owner or f.srv.number(f.uname) == i.owner()
    for field in ("type", "dev", "uid", "muid"):
        if field in touched and getattr(d, field) != getattr(cur, field):
            raise Error(Eperm)
    if "qid" in touched and (d.qid.type, d.qid.path) != (cur.qid.type, cur.qid.path):
        raise Error(Eperm)
    p = await fs.iget(f.parent)
    rename = "name" in touched and d.name != cur.name
    if rename:
        ops.check_name(d.name)
        if f.ino == ROOTINO or not f.hasperm(p, AWRITE):
            raise Error(Eperm)
        if d.name in await dirent.names(fs, p):
            raise Error(Eexist)
    if "length" in touched:
        if (cur.mode & DMDIR and d.length != 0) or not f.hasperm(i, AWRITE):
            raise Error(Eperm)
        if i.mode & S_IFMT == S_IFLNK:
            raise Error(Eperm)
        if d.length > fs.maxsize:
            raise Error(Efbig)
    if "mode" in touched and (not owner or (d.mode ^ cur.mode) & DMDIR):
        raise Error(Eperm)
    if {"mtime", "atime", "gid"} & touched and not owner:
        raise Error(Eperm)
    if rename:
        await ops.rename(fs, p, cur.name, d.name)
        i = await fs.iget(f.ino)
    if "length" in touched and i.mode & S_IFMT == S_IFREG and d.length != fs.size(i):
        await rw.resize(fs, i, d.length)
    if "mode" in touched:
        i.mode = (i.mode & ~0o777) | (d.mode & 0o777)
    if "mtime" in touched:
        i.mtime = d.mtime
    if "atime" in touched:
        i.atime = d.atime
    if "gid" in touched:
        g = f.srv.number(d.gid)
        i.gid, i.gid_high = g & 0xFFFF, g >> 16
    fs.changed(i, data=False)
    await fs.iput(i)
