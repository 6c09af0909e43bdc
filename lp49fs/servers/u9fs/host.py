"""The host half of u9fs: Linux stat results as 9P Dirs, errno as Plan 9 error text.

Nothing here keeps state about clients; ``__init__.py`` builds its Files on these helpers.

Rules:

1. ``qid.path`` is the inode number when the file lives on the served root's device (the
   usual case, so paths are small and stable across server restarts); a file on another
   device (a mount inside the tree) gets a 64-bit mix of (device, inode) with the top bit
   set, which cannot collide with an inode number below 2**63.
2. ``qid.vers`` is a 32-bit digest of (mtime, ctime, size, the server's own change count);
   it changes when Linux reports a change and, because the server counts its own writes
   and wstats (``Versions``), also when two changes fall in one coarse kernel clock tick.
   It is never 0 (Linux v9fs reads vers 0 as "do not cache").
3. uid and gid are the host's passwd and group names, or the decimal number when the id
   has no name; lookups are cached for the life of the process.
4. ``oserror(e)`` is the only errno → Plan 9 table: ENOENT "file does not exist", EACCES
   and EPERM "permission denied", EEXIST "file already exists", ENOTEMPTY "directory not
   empty", ENOTDIR "not a directory", EISDIR "file is a directory", EROFS "permission
   denied"; any other errno becomes its lower-case strerror text (as Plan 9's u9fs does).
"""

from __future__ import annotations

import errno
import functools
import grp
import os
import pwd
import stat
from collections import defaultdict

from lp49fs.errors import (
    Eexist,
    Eisdir,
    Enonexist,
    Enotdir,
    Enotempty,
    Eperm,
    Error,
)
from lp49fs.ninep import DMDIR, QTDIR, Dir, Qid

ERRNO_ENAME = {
    errno.ENOENT: Enonexist,
    errno.EACCES: Eperm,
    errno.EPERM: Eperm,
    errno.EROFS: Eperm,
    errno.EEXIST: Eexist,
    errno.ENOTEMPTY: Enotempty,
    errno.ENOTDIR: Enotdir,
    errno.EISDIR: Eisdir,
    errno.ELOOP: Enonexist,  # a symlink refused by O_NOFOLLOW: not part of the tree
}


def oserror(e: OSError) -> Error:
    """Rule 4: the Plan 9 error for a failed host call."""
    ename = ERRNO_ENAME.get(e.errno or 0)
    if ename is None:
        ename = (e.strerror or "i/o error").lower()
    return Error(ename)


@functools.lru_cache(maxsize=256)
def username(uid: int) -> str:
    """Rule 3: the passwd name of ``uid``, or its number."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@functools.lru_cache(maxsize=256)
def groupname(gid: int) -> str:
    """Rule 3: the group name of ``gid``, or its number."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def groupid(name: str) -> int | None:
    """The host gid for a Plan 9 group name (a name or a decimal number), or None."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return int(name) if name.isdigit() else None


class Versions:
    """The server's own change counts per qid.path (Rule 2); never shrinks below 0."""

    def __init__(self) -> None:
        self.counts: defaultdict[int, int] = defaultdict(int)

    def bump(self, path: int) -> None:
        self.counts[path] += 1

    def get(self, path: int) -> int:
        return self.counts.get(path, 0)


def qidpath(st: os.stat_result, rootdev: int) -> int:
    """Rule 1."""
    if st.st_dev == rootdev:
        return st.st_ino
    return (1 << 63) | (hash((st.st_dev, st.st_ino)) & ((1 << 63) - 1))


def qidof(st: os.stat_result, rootdev: int, versions: Versions) -> Qid:
    """The qid of the file ``st`` describes (Rules 1 and 2)."""
    path = qidpath(st, rootdev)
    isdir = stat.S_ISDIR(st.st_mode)
    vers = hash((st.st_mtime_ns, st.st_ctime_ns, st.st_size, versions.get(path))) & 0xFFFFFFFF
    return Qid(QTDIR if isdir else 0, vers or 1, path)


def dirof(st: os.stat_result, name: str, rootdev: int, versions: Versions) -> Dir:
    """The 9P stat entry for ``st`` under ``name`` (Rules 1-3); length 0 for directories."""
    isdir = stat.S_ISDIR(st.st_mode)
    mode = (st.st_mode & 0o777) | (DMDIR if isdir else 0)
    uid = username(st.st_uid)
    return Dir(
        type=0,
        dev=0,
        qid=qidof(st, rootdev, versions),
        mode=mode,
        atime=int(st.st_atime) & 0xFFFFFFFF,
        mtime=int(st.st_mtime) & 0xFFFFFFFF,
        length=0 if isdir else st.st_size,
        name=name,
        uid=uid,
        gid=groupname(st.st_gid),
        muid=uid,
    )


def goodname(name: str) -> bool:
    """True if ``name`` can be a 9P name: not . or .., no /, no NUL, valid UTF-8."""
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable host bytes (surrogate escapes)
        return False
    return True
