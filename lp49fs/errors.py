"""The one error type of lp49fs, carrying a Plan 9 error string.

An ``Error`` is what a servant raises, what a 9P server answers as ``Rerror``, what a system
call leaves in errstr, and (through the single ``ENAME_TO_ERRNO`` table in the FUSE bridge) an
errno on Linux.  Its ``ename`` is the exact Plan 9 text, so a learner can grep Plan 9 sources
for it.

Malformed bytes on a 9P connection are not an ``Error``: they are a ``ProtocolError``
(defined in ``lp49fs.ninep``), which closes that connection instead of being answered.

This module is a leaf: every layer may import it, and it imports nothing from the project
at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lp49fs.ninep import Rerror

ERRMAX = 128  # longest error string kept, as in Plan 9 (bytes, including the NUL)
ELIDE = "..."  # marks the cut middle of an over-long error string (truncate_ename)
ELIDE_HEAD = 32  # bytes kept before it; the rest of ERRMAX-1 is the string's tail

# Plan 9 kernel (port/error.h)
Enonexist = "file does not exist"
Edoesnotexist = "does not exist"  # namec: "'/x/y' does not exist"
Eemptyname = "empty file name"
Eperm = "permission denied"
Eexist = "file already exists"
Enotdir = "not a directory"
Eisdir = "file is a directory"
Einuse = "device or object already in use"
Eio = "i/o error"
Ehungup = "i/o on hungup channel"
Eintr = "interrupted"
Ebadsharp = "unknown device in # filename"
Efilename = "file name syntax"
Ebadchar = "bad character in file name"
Ebadarg = "bad arg in system call"
Ebadfd = "fd out of range or not open"
Ebadusefd = "inappropriate use of fd"
Eisopen = "file already open for I/O"
Enotopen = "file not open"
Emode = "wrong open mode"
Einconsistent = "inconsistent mount"
Enotmounted = "not mounted"
Enotunion = "not in union"
Enocreate = "mounted directory forbids creation"
Enoattach = "mount/attach disallowed"
Eshutdown = "device shut down"
Eshortstat = "stat buffer too small"
Ebadstat = "malformed stat buffer"
Enoproc = "process does not exist"
Enochild = "no living children"
Etoobig = "read or write too large"
Eprocdied = "process exited"
Enoenv = "no such environment variable"
Eunmount = "unmount of a device not mounted"
Enoversion = "version not established for mount channel"
Egreg = "the front fell off"  # Plan 9's "should not happen" error
Etimedout = "connection timed out"
Econrefused = "connection refused"
Enetaddr = "bad network address"

# Plan 9 ip/devip.c, ip/tcp.c, ip/udp.c, ndb/cs.c (the #I servant and its cs)
Ebadctl = "unknown control request"
Enotconn = "not connected"
Enotannounced = "not announced"
Econinuse = "connection in use"  # connect/announce on a busy conversation
Econreset = "connection reset by peer"
Etranslate = "can't translate address"  # cs, and dial with no usable address

# lib9p (lib9p/srv.c)
Enotfound = "file not found"
Eunknownfid = "unknown fid"
Edupfid = "duplicate fid"
Eduptag = "duplicate tag"
Enotdir9p = "walk in non-directory"
Ecloneopen = "cannot clone open fid"
Eisdir9p = "is a directory"
Ecreatenondir = "create in non-directory"
Ecreate = "create prohibited"
Eremove = "remove prohibited"
Ewrite = "write prohibited"
Ewstat = "wstat prohibited"
Ebadoffset = "bad offset"
Ebadcount = "bad count"
Ebotch = "9P protocol botch"
Ebadattach = "unknown specifier in attach"
Enotempty = "directory not empty"  # remove of a directory with entries (ramfs)
Eunknownmsg = "unknown message"
Enoauth = "authentication not required"
Eaddrinuse = "address in use"  # announce of a port taken (own stack)
Enoroute = "no route"  # no interface or route for the destination (own stack)
Enotstopped = "process not stopped"  # #p ctl start/waitstop (port/devproc.c)
Ewprotect = "write protected"  # #S: a write to a read-only unit (sdaoe/sdata)
Efbig = "file too large"  # ramfs --maxfile
Efull = "file system full"  # ramfs --maxsize
Edevice = "device files are not served (u9fs --devices)"
Eunknownuser = "unknown user"  # u9fs: an attach name with no Linux account, or root's
Einvalcap = "invalid capability"  # #¤ capuse of a capability not in caphash (devcap.c)
Elongname = "file name too long"  # lib: a path past MAXSTR; dossrv: a name past 255 chars

# dossrv (the FAT server)
Ebadfs = "not a FAT file system"  # a boot sector dossrv refuses (servers/dos/bpb.py)
Ecorrupt = "corrupt FAT chain"  # a cluster chain that loops or leaves the volume
Etoomany = "too many files in use"  # dossrv: its bound on volumes, or on one attach's fids

# ext2srv (lp49fs/servers/ext2)
Eext2bad = "corrupt ext2 file system"  # a structure that makes no sense: nothing is written
Eext2feature = "unsupported ext2 feature"  # an incompat bit it cannot read (extent, 64bit ...)
Eext2special = "special file not served"  # an ext2 device, fifo or socket node
Enomem = "no free memory"  # a retained region the RAM cannot hold (hvm/retain.py)
Esegsize = "segment size mismatch"  # segattach of a retained region by another size
Esegbusy = "segment in use"  # freeing a retained region a live process has attached
Erestarted = "server restarted: request may not have completed"  # #M recovery, a write in flight
Erecovery = "server did not come back"  # #M recovery gave up waiting for the restart
Enosnap = "retained region holds no valid snapshot"  # ramfs -r: the log's first record is bad
Ereplaced = "file replaced during server restart"  # #M recovery: another qid at the path

# #a tls (servants/tls.py)
Etlsnolink = "tls: no link: write 'fd N' to ctl first"
Etlsdone = "tls: handshake already done"
Etlsnotup = "tls: handshake not done"


class Error(Exception):
    """A Plan 9 error: ``ename`` is the exact error string (at most ERRMAX-1 bytes)."""

    def __init__(self, ename: str) -> None:
        ename = truncate_ename(ename)
        super().__init__(ename)
        self.ename = ename

    def __repr__(self) -> str:
        return f"Error({self.ename!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Error) and other.ename == self.ename

    def __hash__(self) -> int:
        return hash(self.ename)

    def to_rerror(self) -> Rerror:
        """The 9P reply that carries this error."""
        from lp49fs.ninep import Rerror

        return Rerror(ename=self.ename)

    @classmethod
    def from_rerror(cls, r: Rerror) -> Error:
        """The error a client raises for a received Rerror."""
        return cls(r.ename)


def truncate_ename(ename: str) -> str:
    """Cut ``ename`` to ERRMAX-1 bytes of UTF-8 by eliding its middle, never splitting a
    character.  An error's class ends the string when namec or a server put a path before
    it ("'/a/long/path' file does not exist") and starts it in the "class: detail" form
    ("can't translate address: ..."); keeping both ends keeps the class either way, so the
    FUSE bridge still finds the errno (Plan 9's ``nameerror`` shortens the name likewise)."""
    raw = ename.encode("utf-8")
    if len(raw) < ERRMAX:
        return ename
    tail = ERRMAX - 1 - len(ELIDE) - ELIDE_HEAD
    head = raw[:ELIDE_HEAD].decode("utf-8", errors="ignore")
    return head + ELIDE + raw[len(raw) - tail :].decode("utf-8", errors="ignore")
Enobus = "no such bus channel"  # a service-bus request without a live grant (docs/servicebus.md)
