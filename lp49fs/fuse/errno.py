"""Plan 9 error strings to Linux errno: the one ``ENAME_TO_ERRNO`` table (STYLE.md pattern 5).

LP49 reports failures as strings (``Error.ename``); Linux wants a number.  The FUSE bridge
raises ``pyfuse3.FUSEError(errno_of(err))`` and nothing else in the project turns an error
into an errno.

Rule 1. Every error constant of ``lp49fs.errors`` has an entry (a test walks the module).
Rule 2. ``namec`` prefixes the failing path, as Plan 9 does (``'/x' file does not exist``),
        and some servers answer ``'/x' does not exist``: a string that is not in the table
        exactly is matched by its longest known suffix, and any ``... does not exist`` is
        ENOENT.
Rule 3. Whatever is left is EIO: an unknown error must never look like success.

The choice per entry: "prohibited" refusals of lib9p servers are EPERM, permission checks
are EACCES; 9P bookkeeping failures (unknown fid, botch) are EIO because they are bugs, not
conditions a program can act on.
"""

from __future__ import annotations

import errno as _errno

from lp49fs import errors as E
from lp49fs.errors import Error

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
}

NONEXIST_SUFFIX = E.Edoesnotexist  # Rule 2: namec's "'/x' does not exist" and kin

# Rule 2: longest first, so "process does not exist" wins over "does not exist".
_BY_SUFFIX = sorted(ENAME_TO_ERRNO, key=len, reverse=True)


def ename_to_errno(ename: str) -> int:
    """The errno for Plan 9 error string ``ename`` (Rules 1-3; never raises)."""
    exact = ENAME_TO_ERRNO.get(ename)
    if exact is not None:
        return exact
    for known in _BY_SUFFIX:
        if ename.endswith(" " + known):
            return ENAME_TO_ERRNO[known]
    if ename.endswith(NONEXIST_SUFFIX):
        return _errno.ENOENT
    return _errno.EIO


def errno_of(err: Error) -> int:
    """The errno the FUSE bridge answers for ``err``."""
    return ename_to_errno(err.ename)
