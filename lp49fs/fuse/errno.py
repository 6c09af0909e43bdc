"""Plan 9 error strings to Linux errno: the one ``ENAME_TO_ERRNO`` table.

LP49 reports failures as strings (``Error.ename``); Linux wants a number.  The FUSE bridge
raises ``pyfuse3.FUSEError(errno_of(err))`` and nothing else in the project turns an error
into an errno.

Rule 1. Every error string our servants, servers, core and library raise has an entry: the
        constants of ``lp49fs.errors`` and the few strings written out where they are
        raised (``LITERALS``).  A test walks the module and parses every ``Error(...)``
        of the tree, so a new string without a row fails the suite.
Rule 2. An error's *class* decides, not its full text.  ``namec`` and servers put the
        failing path before the class (``'/x' file does not exist``); other errors put
        the class first (``can't translate address: tcp!x``).  ``errors.truncate_ename``
        keeps both ends of an over-long string, so the class survives ERRMAX.  A string
        not in the table exactly is matched by its longest known class at the end (after
        a space), then at the start (before ": " or " ("), and any ``... does not exist``
        is ENOENT.
Rule 3. A host error's text (u9fs and ``#I`` pass ``strerror`` on) is matched against
        Linux's own ``strerror`` texts, case-insensitively.
Rule 4. Whatever is left is unknown: it is logged with its text and answered with the
        errno of the closest keyword (``KEYWORDS``), EIO only when nothing matches.  EIO
        otherwise means a real I/O error ("i/o error", a hung-up link) or a 9P bug.

The choice per entry: "prohibited" refusals of lib9p servers are EPERM, permission checks
are EACCES; 9P bookkeeping failures (unknown fid, botch) are EIO because they are bugs, not
conditions a program can act on.
"""

from __future__ import annotations

import errno as _errno
import logging
import os

from lp49fs import errors as E
from lp49fs.errors import Error

log = logging.getLogger(__name__)

ENAME_TO_ERRNO: dict[str, int] = {
    # Plan 9 kernel (port/error.h)
    E.Enonexist: _errno.ENOENT,
    E.Edoesnotexist: _errno.ENOENT,
    E.Eemptyname: _errno.ENOENT,
    E.Eperm: _errno.EACCES,
    E.Eexist: _errno.EEXIST,
    E.Enotempty: _errno.ENOTEMPTY,
    E.Enotdir: _errno.ENOTDIR,
    E.Eisdir: _errno.EISDIR,
    E.Einuse: _errno.EBUSY,
    E.Eio: _errno.EIO,
    E.Ehungup: _errno.EPIPE,
    E.Eintr: _errno.EINTR,
    E.Ebadsharp: _errno.ENODEV,
    E.Efilename: _errno.EINVAL,
    E.Ebadchar: _errno.EINVAL,
    E.Ebadarg: _errno.EINVAL,
    E.Ebadfd: _errno.EBADF,
    E.Ebadusefd: _errno.EBADF,
    E.Eisopen: _errno.EBUSY,
    E.Enotopen: _errno.EBADF,
    E.Emode: _errno.EINVAL,
    E.Einconsistent: _errno.EINVAL,
    E.Enotmounted: _errno.EINVAL,
    E.Enotunion: _errno.EINVAL,
    E.Enocreate: _errno.EACCES,
    E.Enoattach: _errno.EPERM,
    E.Enobus: _errno.EACCES,  # never reaches FUSE: the library falls back to the classic path
    E.Eshutdown: _errno.ENODEV,
    E.Eshortstat: _errno.EINVAL,
    E.Ebadstat: _errno.EINVAL,
    E.Enoproc: _errno.ESRCH,
    E.Enochild: _errno.ECHILD,
    E.Etoobig: _errno.EFBIG,
    E.Eprocdied: _errno.ESRCH,
    E.Enoenv: _errno.ENOENT,
    E.Eunmount: _errno.EINVAL,
    E.Enoversion: _errno.EPROTO,
    E.Egreg: _errno.EIO,
    E.Etimedout: _errno.ETIMEDOUT,
    E.Econrefused: _errno.ECONNREFUSED,
    E.Enetaddr: _errno.EINVAL,
    # the #I servant and cs (ip/devip.c, ndb/cs.c)
    E.Ebadctl: _errno.EINVAL,
    E.Enotconn: _errno.ENOTCONN,
    E.Enotannounced: _errno.EINVAL,
    E.Econinuse: _errno.EISCONN,
    E.Econreset: _errno.ECONNRESET,
    E.Etranslate: _errno.EHOSTUNREACH,
    # lib9p (lib9p/srv.c)
    E.Enotfound: _errno.ENOENT,
    E.Eunknownfid: _errno.EIO,
    E.Edupfid: _errno.EIO,
    E.Ecloneopen: _errno.EIO,
    E.Eduptag: _errno.EIO,
    E.Enotdir9p: _errno.ENOTDIR,
    E.Eisdir9p: _errno.EISDIR,
    E.Ecreatenondir: _errno.ENOTDIR,
    E.Ecreate: _errno.EPERM,
    E.Eremove: _errno.EPERM,
    E.Ewrite: _errno.EPERM,
    E.Ewstat: _errno.EPERM,
    E.Ebadoffset: _errno.EINVAL,
    E.Ebadcount: _errno.EINVAL,
    E.Ebotch: _errno.EIO,
    E.Ebadattach: _errno.EINVAL,
    E.Eunknownmsg: _errno.EIO,
    E.Enoauth: _errno.EINVAL,
    E.Einvalcap: _errno.EPERM,
    E.Efbig: _errno.EFBIG,
    E.Ewprotect: _errno.EROFS,
    E.Enotstopped: _errno.EINVAL,
    E.Enoroute: _errno.ENETUNREACH,
    E.Efull: _errno.ENOSPC,
    E.Edevice: _errno.EPERM,
    E.Elongname: _errno.ENAMETOOLONG,
    E.Ebadfs: _errno.EINVAL,
    E.Ecorrupt: _errno.EIO,
    E.Etoomany: _errno.EMFILE,
    E.Eext2bad: _errno.EUCLEAN,
    E.Eext2feature: _errno.EOPNOTSUPP,
    E.Eext2special: _errno.EPERM,
    E.Eunknownuser: _errno.EACCES,
    E.Enomem: _errno.ENOMEM,
    E.Esegsize: _errno.EINVAL,
    E.Esegbusy: _errno.EBUSY,
    E.Erestarted: _errno.EIO,
    E.Erecovery: _errno.EIO,
    E.Ereplaced: _errno.ESTALE,
    E.Enosnap: _errno.EIO,
    E.Etlsnolink: _errno.ENOTCONN,
    E.Etlsdone: _errno.EISCONN,
    E.Etlsnotup: _errno.ENOTCONN,
}

# Rule 1: strings raised as written where they arise (in the core, servants, servers and
# the 9P client), each a class of its own.
LITERALS: dict[str, int] = {
    "no free file descriptors": _errno.EMFILE,  # core/proc.py
    "too many threads": _errno.EAGAIN,  # lib: a process's worker threads
    "bad time control": _errno.EINVAL,  # #c
    "no free conversations": _errno.ENFILE,  # #I
    "address in use": _errno.EADDRINUSE,
    "network unreachable": _errno.ENETUNREACH,
    "host unreachable": _errno.EHOSTUNREACH,
    "short udp header": _errno.EINVAL,
    "short icmp message": _errno.EINVAL,  # #I on the own stack
    "bad address": _errno.EINVAL,
    "unknown interface type": _errno.EINVAL,
    "interface already bound": _errno.EBUSY,
    "interface not bound": _errno.ENETDOWN,
    "no clone file": _errno.ENODEV,
    "bad arp request": _errno.EINVAL,
    "bad route request": _errno.EINVAL,
    "no such ether controller": _errno.ENODEV,  # #l
    "no free ether connections": _errno.ENFILE,
    "listen not supported on": _errno.EOPNOTSUPP,
    "empty control message": _errno.EINVAL,  # #p
    "unknown control message": _errno.EINVAL,
    "wrong #args in control message": _errno.EINVAL,
    "posted fd has remove-on-close or close-on-exec": _errno.EINVAL,  # #s
    "cannot post auth file in srv": _errno.EINVAL,
    "too many outstanding 9P requests": _errno.EAGAIN,  # lib9p client
    "server does not speak": _errno.EPROTO,
    "server speaks 9P version": _errno.EPROTO,
    "server chose bad msize": _errno.EPROTO,
    "short write on": _errno.EIO,  # a server wrote less than asked: an I/O failure
    "exportfs": _errno.EINVAL,  # exportfs's handshake and root refusals
    "import": _errno.EHOSTUNREACH,  # the mount helper's import of a remote node
    "usage": _errno.EINVAL,  # a program's usage message
}
ENAME_TO_ERRNO.update(LITERALS)

# Rule 3: Linux's own texts ("No space left on device" -> ENOSPC), lower-cased.
STRERROR: dict[str, int] = {os.strerror(n).lower(): n for n in sorted(_errno.errorcode)}

# Rule 4: (keyword, errno) in the order tried, for strings that match nothing above.
KEYWORDS: tuple[tuple[str, int], ...] = (
    ("does not exist", _errno.ENOENT),
    ("not found", _errno.ENOENT),
    ("no such", _errno.ENOENT),
    ("permission", _errno.EACCES),
    ("denied", _errno.EACCES),
    ("prohibited", _errno.EPERM),
    ("not allowed", _errno.EPERM),
    ("exists", _errno.EEXIST),
    ("not a directory", _errno.ENOTDIR),
    ("is a directory", _errno.EISDIR),
    ("not empty", _errno.ENOTEMPTY),
    ("too long", _errno.ENAMETOOLONG),
    ("too large", _errno.EFBIG),
    ("too big", _errno.EFBIG),
    ("in use", _errno.EBUSY),
    ("busy", _errno.EBUSY),
    ("timed out", _errno.ETIMEDOUT),
    ("refused", _errno.ECONNREFUSED),
    ("hungup", _errno.EPIPE),
    ("hung up", _errno.EPIPE),
    ("interrupted", _errno.EINTR),
    ("not supported", _errno.EOPNOTSUPP),
    ("unsupported", _errno.EOPNOTSUPP),
    ("read-only", _errno.EROFS),
    ("no space", _errno.ENOSPC),
    ("full", _errno.ENOSPC),
    ("bad", _errno.EINVAL),
    ("invalid", _errno.EINVAL),
    ("syntax", _errno.EINVAL),
    ("unknown", _errno.EINVAL),
)

NONEXIST_SUFFIX = E.Edoesnotexist  # Rule 2: namec's "'/x' does not exist" and kin

# Rule 2: longest first, so "process does not exist" wins over "does not exist".
_BY_LENGTH = sorted(ENAME_TO_ERRNO, key=len, reverse=True)


def classify(ename: str) -> tuple[int, str]:
    """(errno, how) for ``ename``: how is "exact", "class", "strerror", "keyword" or
    "unknown" (Rules 1-4); pure, never logs or raises."""
    exact = ENAME_TO_ERRNO.get(ename)
    if exact is not None:
        return exact, "exact"
    for known in _BY_LENGTH:
        if ename.endswith(" " + known):
            return ENAME_TO_ERRNO[known], "class"
    for known in _BY_LENGTH:
        if ename.startswith((known + ": ", known + " (", known + " ")):
            return ENAME_TO_ERRNO[known], "class"
    if ename.endswith(NONEXIST_SUFFIX):
        return _errno.ENOENT, "class"
    low = ename.lower()
    for text in (low, low.rsplit(": ", 1)[-1]):
        if text in STRERROR:
            return STRERROR[text], "strerror"
    for word, code in KEYWORDS:
        if word in low:
            return code, "keyword"
    return _errno.EIO, "unknown"


def ename_to_errno(ename: str) -> int:
    """The errno for Plan 9 error string ``ename`` (Rules 1-4); logs a string it does not
    know (Rule 4), never raises."""
    code, how = classify(ename)
    if how in ("keyword", "unknown"):
        log.warning("unknown error string %r: answering %s", ename, _errno.errorcode[code])
    return code


def errno_of(err: Error) -> int:
    """The errno the FUSE bridge answers for ``err``."""
    return ename_to_errno(err.ename)
