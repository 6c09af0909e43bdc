"""Plan 9 metadata in Linux terms: stat entries to attributes, open flags to 9P modes.

Pure functions and one small cache; no system calls.

Rule 1. Mode: DMDIR becomes S_IFDIR, everything else S_IFREG; the low nine bits are the
        permission bits.  Directories have nlink 2, files 1.  9P2000 has no ctime: it is
        the later of mtime and the last change the bridge itself made to the file
        (``InodeTable.changed``: write, truncate, chmod, chown, rename, and creations and
        removals in a directory); changes made inside the node move only mtime.
Rule 2. Owners: a 9P user name given in the ``users=`` table shows as its uid; else a 9P
        user or group name is the host user or group of that name where one
        exists, else the mounting user's uid or gid (``Owners``, cached per name); but
        ``none`` (what unknown callers act as, users.py) without a passwd entry shows as
        the overflow uid/gid 65534, never as the mounter.
Rule 3. Caching: a server file (type 'M') may use the page cache, with short attribute and
        entry timeouts (``TIMEOUT``); a servant's file (console, ctl/status files, pipes,
        network data, env) is direct_io and never cached, because its length says nothing
        of what a read returns.  So is a server file of length 0 and qid.vers 0 when it was looked
        up, unless the view created it (an imported node's device files come through
        ``#M`` as server files of length 0).
        ``is_stream`` files also ignore offsets (nonseekable).  A server file keeps its
        cached pages across opens (``keep_cache``) while its qid.vers is what it was at the
        previous open; a changed version (the server saw a write or truncation) drops them.
Rule 4. ``O_RDONLY``/``O_WRONLY``/``O_RDWR`` are ``OREAD``/``OWRITE``/``ORDWR``; ``O_TRUNC``
        adds ``OTRUNC``.  ``O_APPEND`` has no 9P bit: the bridge writes at the end itself.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Sequence

import pyfuse3

from lp49fs.fuse.inodes import is_server
from lp49fs.ninep import DMDIR, ORDWR, OREAD, OTRUNC, OWRITE, Dir

TIMEOUT = 1.0  # Rule 3: seconds the kernel may trust an entry or attributes
BLKSIZE = 8192
NS = 1_000_000_000

# Rule 3: (servant letter, file name) pairs whose reads are a stream, not a file image.
STREAM_NAMES = frozenset(
    {("c", "cons"), ("c", "kbd"), ("c", "consctl"), ("I", "data"), ("I", "listen"),
     ("l", "data")}
)  # fmt: skip
STREAM_SERVANTS = frozenset({"|"})  # every file of #| is a stream


def is_stream(d: Dir) -> bool:
    """True if reads and writes of ``d`` ignore offsets (consoles, pipes, network data)."""
    if d.mode & DMDIR or is_server(d):
        return False
    dc = chr(d.type) if 0 < d.type < 0x110000 else ""
    return dc in STREAM_SERVANTS or (dc, d.name) in STREAM_NAMES


def open_mode(flags: int) -> int:
    """The 9P open mode for Linux open ``flags`` (Rule 4)."""
    acc = flags & os.O_ACCMODE
    mode = OWRITE if acc == os.O_WRONLY else ORDWR if acc == os.O_RDWR else OREAD
    if flags & os.O_TRUNC:
        mode |= OTRUNC
    return mode


def file_info(fh: int, server: bool, stream: bool, keep: bool = False) -> pyfuse3.FileInfo:
    """How the kernel should treat an open file of a server or a servant (Rule 3); ``keep``:
    the server file is unchanged since its last open, so its cached pages stay valid."""
    if server:
        return pyfuse3.FileInfo(fh=fh, direct_io=False, keep_cache=keep)
    return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False, nonseekable=stream)


OVERFLOW = 65534  # Linux's overflowuid/overflowgid: the owner shown for ``none`` (Rule 2)


class Owners:
    """9P user/group names to host ids (Rule 2)."""

    def __init__(self, uid: int | None = None, gid: int | None = None,
                 table: Sequence[tuple[int, str]] = ()) -> None:  # fmt: skip
        self.uid = os.getuid() if uid is None else uid  # the mounting user
        self.gid = os.getgid() if gid is None else gid
        self.names = dict(table)  # the users= table: uid -> LP49 user (users.py Rule 1)
        self._uids: dict[str, int] = {name: uid for uid, name in table}
        self._gids: dict[str, int] = {}

    def user(self, name: str) -> int:
        uid = self._uids.get(name)
        if uid is None:
            try:
                uid = pwd.getpwnam(name).pw_uid
            except KeyError:
                uid = OVERFLOW if name == "none" else self.uid
            self._uids[name] = uid
        return uid

    def username(self, uid: int) -> str:
        """The 9P user name for host ``uid``: from the table, its passwd name, or the number."""
        if uid in self.names:
            return self.names[uid]
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)

    def groupname(self, gid: int) -> str:
        """The 9P group name for host ``gid``: its group name, else the number."""
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return str(gid)

    def group(self, name: str) -> int:
        gid = self._gids.get(name)
        if gid is None:
            try:
                gid = grp.getgrnam(name).gr_gid
            except KeyError:
                gid = OVERFLOW if name == "none" else self.gid
            self._gids[name] = gid
        return gid


def attributes(d: Dir, ino: int, owners: Owners, ctime_ns: int = 0) -> pyfuse3.EntryAttributes:
    """The Linux attributes of stat entry ``d`` shown as inode ``ino`` (Rules 1-3);
    ``ctime_ns``: the last change the bridge made to the file (Rule 1), if later."""
    a = pyfuse3.EntryAttributes()
    a.st_ino = ino
    isdir = bool(d.mode & DMDIR)
    a.st_mode = (stat.S_IFDIR if isdir else stat.S_IFREG) | (d.mode & 0o777)
    a.st_nlink = 2 if isdir else 1
    a.st_size = d.length
    a.st_uid = owners.user(d.uid)
    a.st_gid = owners.group(d.gid)
    a.st_atime_ns = d.atime * NS
    a.st_mtime_ns = d.mtime * NS
    a.st_ctime_ns = max(a.st_mtime_ns, ctime_ns)
    a.st_blksize = BLKSIZE
    a.st_blocks = (d.length + 511) // 512
    a.attr_timeout = a.entry_timeout = TIMEOUT
    return a
