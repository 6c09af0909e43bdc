"""u9fs: a Linux directory served over 9P2000 (Plan 9's u9fs(4), as a host process).

Layers: ``host.py`` turns ``os.stat_result`` into Dirs and errno into Plan 9 text;
``U9File`` is one fid's view of one host file (its root-relative path, an open fd);
``U9Special`` is the same for FIFOs and devices, whose I/O may wait; ``U9fs`` is the
FileServer.  Each attach acts as a Linux user (``u9fs.ident``: run as root, the passwd
user of the attach name, never root; otherwise only the server's own user), every host
call of a request is made as that user (setfsuid), so the host's permission checks decide,
and ``--readonly`` refuses every change.

Rules:

1. Confinement.  A File names its file by the tuple of names walked from the attach root
   (a lexical path), never by anything a client sends whole.  ``..`` pops one name and
   stays put at the root.  A symlink is followed only if it resolves beneath the served
   root (Rule 7); a symlink that escapes (or dangles) is treated as absent: walking to
   it fails "file does not exist" and directory reads leave it out.  A Linux-side user who
   swaps a walked directory for an escaping symlink *after* the walk is stopped by Rule 7.
2. Blocking.  Regular files and directories on a local disk answer in microseconds, so
   their Files say ``mayblock = False`` and call the host directly from lib9p's reader
   task: a pread in a worker thread (``trio.to_thread``) costs far more than the read
   itself, and a task per request more than an inline answer.  FIFOs and character/block
   devices may wait forever: ``U9Special`` has ``mayblock = True`` (a task per request, so
   Tflush works) and runs open/read/write in a worker thread that is abandoned on cancel:
   a flushed read's thread stays blocked until the FIFO or device delivers, and those
   bytes are lost.
3. Open.  OREAD/OWRITE/ORDWR map to O_RDONLY/O_WRONLY/O_RDWR; OEXEC is a read that needs
   execute permission (``os.access`` of the walked inode, Rule 7); OTRUNC is O_TRUNC;
   ORCLOSE checks at open that the parent is writable and removes the file when the fid
   is clunked (an approximation, as in the original: a crash of the server leaves the
   file).  Directories open OREAD only.
4. Create follows open(5): the file's permissions are ``perm & (~0666 |
   dir.perm & 0666)`` (directories: 0777), set exactly (the umask does not apply), and the
   group is the directory's group when the host allows.  DMAPPEND, DMEXCL and DMTMP have
   no Linux equivalent and are dropped.
5. wstat checks every requested change before making any, then applies them in the order
   rename, gid, mode, times, length, undoing the reversible ones (rename, gid, mode,
   times) if a later one fails; truncation comes last because it cannot be undone.
   Rename stays within the directory and refuses an existing name (a check, then
   rename(2): a Linux-side create in between would be overwritten).  uid, muid, type, dev,
   qid and DMDIR cannot change.  An all-don't-touch wstat fsyncs an open file.
6. Versions: see ``host`` Rule 2; every write, create, truncation and wstat here
   bumps the file's count so qid.vers changes even within one kernel clock tick.
7. Opens (files, and directories for reading) resolve beneath the root's fd
   (``beneath``: openat2 RESOLVE_BENEATH, or an O_NOFOLLOW walk), which closes the
   walk/open race of Rule 1 for reads and writes; stats and permission questions ask
   about the inode so resolved, never about a path; a name swapped for an escaping symlink
   is "file does not exist".  Create, remove and wstat's changes work on the parent's
   ``O_PATH`` fd opened the same way (``mkdirat``, ``openat``, ``unlinkat``, ``renameat``)
   and on an ``O_PATH`` fd of the file, so they cannot reach outside the root either.
8. FIFOs, sockets and device files are refused at open unless ``--devices``.
9. Identity (``u9fs.ident``).  Every host call that names a file runs inside
   ``acting(self.who)``: the methods marked ``@as_caller`` are synchronous throughout (no
   await suspends them, so no other request runs while the thread's fsuid is the caller's);
   ``open`` checks as the caller and a ``U9Special`` opens in its worker thread as the
   caller.  Reads and writes of an open fd need no identity.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import ClassVar

import trio

from lp49fs.errors import (
    Ebadattach,
    Edevice,
    Efilename,
    Eisdir9p,
    Enonexist,
    Enotdir9p,
    Eperm,
    Error,
)
from lp49fs.lib9p import File, NotImplementedFile
from lp49fs.ninep import DMDIR, OEXEC, ORCLOSE, ORDWR, OREAD, OTRUNC, OWRITE, Dir, Qid

from . import wstat as u9fs_wstat
from .beneath import (
    access_beneath,
    create_beneath,
    open_beneath,
    parent_beneath,
    stat_beneath,
    writable_parent,
)
from .host import Versions, dirof, goodname, oserror, qidof
from .ident import Ident, Idents, acting, as_caller

OFLAGS = {OREAD: os.O_RDONLY, OWRITE: os.O_WRONLY, ORDWR: os.O_RDWR, OEXEC: os.O_RDONLY}


class U9fs:
    """The FileServer: the host directory ``root`` (resolved once, at start)."""

    mayblock: ClassVar[bool] = False

    def __init__(self, root: str, readonly: bool = False, devices: bool = False,
                 user: str | None = None, owner: str | None = None) -> None:  # fmt: skip
        self.idents = Idents(user, owner)  # Rule 9
        self.root = os.path.realpath(root)
        st = os.stat(self.root)
        if not stat.S_ISDIR(st.st_mode):
            raise Error(Enotdir9p)
        self.rootfd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)  # Rule 7
        self.devices = devices  # Rule 8
        self.rootdev = st.st_dev
        self.readonly = readonly
        self.versions = Versions()

    async def attach(self, uname: str, aname: str) -> File:
        """Attach to the root; ``aname`` "" or "/" only (a subtree is reached by walking)."""
        if aname not in ("", "/"):
            raise Error(Ebadattach)
        who = self.idents.of(uname)
        with acting(who):
            return makefile(self, (), self.vet(()), uname, who)

    def vet(self, names: tuple[str, ...]) -> os.stat_result:
        """The stat of ``names`` resolved beneath the root (Rules 1, 7): a symlink that
        escapes, dangles or (without openat2) is a symlink at all is absent."""
        try:
            return stat_beneath(self.rootfd, names)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise Error(Enonexist) from None
            raise oserror(e) from None


def makefile(fs: U9fs, names: tuple[str, ...], st: os.stat_result, uid: str,
             who: Ident | None) -> U9File:  # fmt: skip
    """A new, unopened File of the right class for ``st`` (Rule 2)."""
    if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
        return U9File(fs, names, st, uid, who)
    return U9Special(fs, names, st, uid, who)


class U9File(NotImplementedFile):
    """One fid's view of a host file or directory (Rules 1, 3-6)."""

    mayblock: ClassVar[bool] = False

    def __init__(self, fs: U9fs, names: tuple[str, ...], st: os.stat_result, uid: str,
                 who: Ident | None) -> None:  # fmt: skip
        self.fs = fs
        self.names = names  # root-relative lexical path (Rule 1)
        self.uid = uid  # the attach name
        self.who = who  # the Linux user it acts as, None for the server's own (Rule 9)
        self.isdir = stat.S_ISDIR(st.st_mode)
        self._qid = qidof(st, fs.rootdev, fs.versions)
        self.fd = -1  # open host fd (plain and special files), -1 if none
        self.omode = -1  # 9P open mode, -1 until opened

    @property
    def qid(self) -> Qid:
        return self._qid

    def changed(self) -> None:
        """Rule 6: count a change made here and refresh the qid."""
        self.fs.versions.bump(self._qid.path)
        self._qid = qidof(self.hoststat(), self.fs.rootdev, self.fs.versions)

    def hoststat(self) -> os.stat_result:
        try:
            if self.fd >= 0:
                return os.fstat(self.fd)
            return stat_beneath(self.fs.rootfd, self.names)  # Rule 7
        except OSError as e:
            raise oserror(e) from None

    def refuse_if_readonly(self) -> None:
        if self.fs.readonly:
            raise Error(Eperm)

    @as_caller
    async def clone(self) -> File:
        return makefile(self.fs, self.names, self.hoststat(), self.uid, self.who)

    @as_caller
    async def walk1(self, name: str) -> File:
        if not self.isdir:
            raise Error(Enotdir9p)
        if name == "..":
            names = self.names[:-1]
        elif goodname(name):
            names = (*self.names, name)
        else:
            raise Error(Enonexist)
        return makefile(self.fs, names, self.fs.vet(names), self.uid, self.who)

    async def open(self, mode: int) -> None:
        """Rule 3 (Rule 9: checked as the caller, and opened as the caller by hostopen)."""
        with acting(self.who):
            flags = self.check_open(mode)
        if flags is not None:
            self.fd = await self.hostopen(flags)
            if mode & OTRUNC:
                self.changed()
        self.omode = mode

    def check_open(self, mode: int) -> int | None:
        """The checks of ``open``; the host open flags, None for a directory."""
        rw = mode & 3
        writes = rw in (OWRITE, ORDWR) or mode & (OTRUNC | ORCLOSE)
        if writes:
            self.refuse_if_readonly()
        if mode & ORCLOSE:
            self.check_removable()
        if rw == OEXEC and not self.may(os.X_OK):
            raise Error(Eperm)
        if self.isdir:
            if rw != OREAD or writes:
                raise Error(Eisdir9p)
            if not self.may(os.R_OK | os.X_OK):
                raise Error(Eperm)
            return None
        return OFLAGS[rw] | (os.O_TRUNC if mode & OTRUNC else 0) | os.O_CLOEXEC

    def may(self, mode: int) -> bool:
        """Whether the caller may ``mode`` (os.R_OK ...) this file's inode (Rules 7, 9)."""
        return access_beneath(self.fs.rootfd, self.names, mode)

    async def hostopen(self, flags: int) -> int:
        try:
            with acting(self.who):
                return open_beneath(self.fs.rootfd, self.names, flags)  # Rules 7, 9
        except OSError as e:
            raise oserror(e) from None

    @as_caller
    async def create(self, name: str, perm: int, mode: int) -> File:
        """Rule 4."""
        self.refuse_if_readonly()
        if not self.isdir:
            raise Error(Enotdir9p)
        if not goodname(name):
            raise Error(Efilename)
        if perm & DMDIR and (mode & 3 != OREAD or mode & (OTRUNC | ORCLOSE)):
            raise Error(Eisdir9p)
        names = (*self.names, name)
        try:  # Rule 7
            st, fd = create_beneath(self.fs.rootfd, names, perm, bool(perm & DMDIR),
                                    OFLAGS[mode & 3])  # fmt: skip
        except OSError as e:
            raise oserror(e) from None
        self.changed()
        f = makefile(self.fs, names, st, self.uid, self.who)
        f.fd, f.omode = fd, mode
        if mode & ORCLOSE:
            f.check_removable()
        return f

    async def read(self, offset: int, count: int) -> bytes:
        try:
            return os.pread(self.fd, count, offset)
        except OSError as e:
            raise oserror(e) from None

    @as_caller
    async def readdir(self) -> list[Dir]:
        fs, out = self.fs, []
        try:
            dfd = open_beneath(fs.rootfd, self.names, os.O_RDONLY | os.O_DIRECTORY)  # Rule 7
        except OSError as e:
            raise oserror(e) from None
        try:
            with os.scandir(dfd) as it:
                for ent in it:
                    if not goodname(ent.name):
                        continue  # names 9P cannot carry are not served
                    try:  # Rule 1: a symlink is its target beneath the root, or absent
                        st = (stat_beneath(fs.rootfd, (*self.names, ent.name))
                              if ent.is_symlink() else ent.stat(follow_symlinks=False))  # fmt: skip
                    except OSError:
                        continue  # vanished, or a dangling symlink
                    out.append(dirof(st, ent.name, fs.rootdev, fs.versions))
        except OSError as e:
            raise oserror(e) from None
        finally:
            os.close(dfd)
        return out

    async def write(self, offset: int, data: bytes) -> int:
        try:
            n = 0
            while n < len(data):
                n += os.pwrite(self.fd, data[n:], offset + n)
        except OSError as e:
            raise oserror(e) from None
        self.changed()
        return n

    @as_caller
    async def stat(self) -> Dir:
        name = self.names[-1] if self.names else "/"
        return dirof(self.hoststat(), name, self.fs.rootdev, self.fs.versions)

    @as_caller
    async def wstat(self, d: Dir) -> None:
        """Rule 5 (the work is in ``wstat``)."""
        if d.is_null():
            if self.fd >= 0:
                os.fsync(self.fd)
            return
        self.refuse_if_readonly()
        newname = u9fs_wstat.apply(self, d, await self.stat())
        if newname is not None:
            self.names = (*self.names[:-1], newname)
        self.changed()

    def check_removable(self) -> None:
        if not self.names:
            raise Error(Eperm)  # the root
        self.refuse_if_readonly()
        if not writable_parent(self.fs.rootfd, self.names):
            raise Error(Eperm)

    @as_caller
    async def remove(self) -> None:
        self.check_removable()
        try:
            pfd, name = parent_beneath(self.fs.rootfd, self.names)  # Rule 7
            try:
                (os.rmdir if self.isdir else os.unlink)(name, dir_fd=pfd)
            finally:
                os.close(pfd)
        except OSError as e:
            raise oserror(e) from None

    async def clunk(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.omode >= 0 and self.omode & ORCLOSE:
            self.omode = -1
            try:
                await self.remove()
            except Error:
                pass  # clunk succeeds even when the ORCLOSE removal cannot be done


class U9Special(U9File):
    """A FIFO or device: open, read and write run in a worker thread (Rule 2)."""

    mayblock: ClassVar[bool] = True

    async def hostopen(self, flags: int) -> int:
        try:
            if not self.fs.devices:
                raise Error(Edevice)  # Rule 8
            return await trio.to_thread.run_sync(self.open_as_caller, flags,
                                                 abandon_on_cancel=True)  # fmt: skip
        except OSError as e:
            raise oserror(e) from None

    def open_as_caller(self, flags: int) -> int:
        """In the worker thread: open as the caller (Rule 9), beneath the root (Rule 7)."""
        with acting(self.who):
            return open_beneath(self.fs.rootfd, self.names, flags)

    async def read(self, offset: int, count: int) -> bytes:
        try:
            return await trio.to_thread.run_sync(os.read, self.fd, count, abandon_on_cancel=True)
        except OSError as e:
            raise oserror(e) from None

    async def write(self, offset: int, data: bytes) -> int:
        try:
            return await trio.to_thread.run_sync(os.write, self.fd, data, abandon_on_cancel=True)
        except OSError as e:
            raise oserror(e) from None
