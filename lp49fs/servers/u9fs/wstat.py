"""u9fs wstat: check every requested change, then apply them with undo (u9fs Rule 5).

``apply(file, d, cur)`` takes the File, the Twstat entry and the file's current Dir.  It
first refuses, before touching anything, what 9P or the host cannot do: uid, muid, type,
dev, qid or DMDIR changed, mode bits Linux cannot keep, a bad or existing new name, a
directory length other than 0, an unknown group, missing write permission.  It then makes
the changes in the order rename, gid, mode, times, length; a failure undoes the changes
already made (all of those are reversible) and raises the Plan 9 error.  Truncation comes
last, so nothing but repeating the utime(2) that just worked (truncate sets mtime)
follows.  It returns the new name, or None.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from lp49fs.errors import Eexist, Efilename, Eperm, Error
from lp49fs.ninep import DMDIR, Dir

from .beneath import fdpath, open_beneath, parent_beneath, writable_parent
from .host import goodname, groupid, oserror

if TYPE_CHECKING:
    from . import U9File

IMMUTABLE = ("type", "dev", "uid", "muid")


def exists(rootfd: int, names: tuple[str, ...]) -> bool:
    """Whether names[-1] exists in names[:-1] (a symlink counts), looked up beneath the root."""
    try:
        pfd, name = parent_beneath(rootfd, names)
    except OSError:
        return False
    try:
        os.stat(name, dir_fd=pfd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(pfd)


def check(f: U9File, d: Dir, cur: Dir) -> set[str]:
    """The fields to change, or Error if any change is not allowed (nothing touched yet)."""
    touched = set(d.touched())
    for field in IMMUTABLE:
        if field in touched and getattr(d, field) != getattr(cur, field):
            raise Error(Eperm)
    if "qid" in touched and (d.qid.type, d.qid.path) != (cur.qid.type, cur.qid.path):
        raise Error(Eperm)
    if "mode" in touched and ((d.mode ^ cur.mode) & DMDIR or d.mode & ~(DMDIR | 0o777)):
        raise Error(Eperm)
    if "name" in touched and d.name != cur.name:
        if not f.names:
            raise Error(Eperm)  # the root keeps its name
        if not goodname(d.name):
            raise Error(Efilename)
        if not writable_parent(f.fs.rootfd, f.names):
            raise Error(Eperm)
        if exists(f.fs.rootfd, (*f.names[:-1], d.name)):
            raise Error(Eexist)
    if "length" in touched:
        if f.isdir and d.length != 0:
            raise Error(Eperm)
        if not f.isdir and not f.may(os.W_OK):
            raise Error(Eperm)
    if "gid" in touched and d.gid != cur.gid and groupid(d.gid) is None:
        raise Error(Eperm)
    return touched


def apply(f: U9File, d: Dir, cur: Dir) -> str | None:
    """Check, then make the changes of ``d`` to ``f`` all or (as far as Linux allows) none."""
    touched = check(f, d, cur)
    undo: list[Callable[[], object]] = []
    newname = None
    try:
        fd = open_beneath(f.fs.rootfd, f.names, os.O_PATH)  # the file, beneath the root
    except OSError as e:
        raise oserror(e) from None
    path, pfd = fdpath(fd), -1  # chmod, chown, utime, truncate reach this inode, no other
    try:
        if "name" in touched and d.name != cur.name:
            pfd, old = parent_beneath(f.fs.rootfd, f.names)  # renameat in the parent's fd
            os.rename(old, d.name, src_dir_fd=pfd, dst_dir_fd=pfd)
            undo.append(functools.partial(os.rename, d.name, old, src_dir_fd=pfd,
                                          dst_dir_fd=pfd))  # fmt: skip
            newname = d.name
        st = os.fstat(fd)
        if "gid" in touched and d.gid != cur.gid:
            gid = groupid(d.gid)
            assert gid is not None
            os.chown(path, -1, gid)
            undo.append(functools.partial(os.chown, path, -1, st.st_gid))
        if "mode" in touched:
            os.chmod(path, d.mode & 0o777)
            undo.append(functools.partial(os.chmod, path, st.st_mode & 0o7777))
        times = None
        if {"mtime", "atime"} & touched:
            atime = d.atime if "atime" in touched else st.st_atime
            mtime = d.mtime if "mtime" in touched else st.st_mtime
            times = (atime, mtime)
            os.utime(path, times)
            undo.append(functools.partial(os.utime, path, ns=(st.st_atime_ns, st.st_mtime_ns)))
        if "length" in touched and not f.isdir and d.length != st.st_size:
            os.truncate(path, d.length)
            if times is not None:
                os.utime(path, times)  # truncate(2) set mtime to now; it worked just above
    except OSError as e:
        for step in reversed(undo):
            try:
                step()
            except OSError:
                pass  # best effort: the host changed under us
        raise oserror(e) from None
    finally:
        os.close(fd)
        if pfd >= 0:
            os.close(pfd)
    return newname
