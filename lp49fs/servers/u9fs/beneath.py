"""Opening a file below u9fs's root so that nothing swapped in after a walk escapes it.

u9fs names files by lexical paths (u9fs Rule 1), and a Linux-side user may replace a walked
directory by a symlink to ``/etc`` between a client's walk and its open.  So every open goes
through ``open_beneath(rootfd, names, flags)``, which resolves ``names`` relative to the root
directory's fd and refuses any step that leaves it:

1. ``openat2(2)`` with ``RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`` (Linux 5.6+, called through
   ctypes: Python has no binding).  Symlinks that stay below the root still work; ``..`` or
   a symlink that would climb out fails with EXDEV, which is reported as "file does not
   exist" (the name is not in the served tree).
2. Where the kernel lacks openat2 (ENOSYS): walk component by component, opening each
   directory ``O_PATH | O_DIRECTORY | O_NOFOLLOW`` (so passing through needs only search
   permission, as in the kernel's own resolution) and the last name with ``O_NOFOLLOW``, so
   a symlink anywhere is refused (stricter than 1: in-root symlinks are not followed; an
   ``O_PATH`` open of a symlink, which would hold the link itself, fails ELOOP).

The returned fd is the caller's to close.  Errors are ``OSError`` as from ``os.open``.

Changes go the same way.  ``parent_beneath(rootfd, names)`` opens the parent directory
(``O_PATH``, resolved beneath the root as above) and returns it with the last name: create,
remove and rename are ``mkdirat``/``openat(O_CREAT|O_EXCL|O_NOFOLLOW)``/``unlinkat``/
``renameat`` on that fd, so a directory swapped for a symlink after the walk changes
nothing outside the root (the fd still names the real directory, wherever it moved).  The
attribute changes of wstat (chmod, chown, utime, truncate) go through ``fdpath(fd)`` of an
``O_PATH`` fd of the file opened beneath the root: ``/proc/self/fd/N`` names that inode
and no other; so do permission questions and stats of a file without an open fd
(``access_beneath``, ``stat_beneath``).
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct

SYS_OPENAT2 = 437  # the same number on x86_64 and the generic table (aarch64 ...)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_BENEATH = 0x08

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_have_openat2 = True


def _openat2(dirfd: int, path: str, flags: int, mode: int) -> int:
    if not flags & os.O_CREAT:
        mode = 0  # openat2 refuses a mode without O_CREAT (EINVAL)
    how = struct.pack("QQQ", flags, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
    buf = ctypes.create_string_buffer(how, len(how))
    fd = _syscall(ctypes.c_long(SYS_OPENAT2), ctypes.c_int(dirfd), ctypes.c_char_p(
        os.fsencode(path)), buf, ctypes.c_size_t(len(how)))  # fmt: skip
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)
    return int(fd)


STEP = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC  # a directory passed through


def _walk(dirfd: int, names: tuple[str, ...], flags: int, mode: int) -> int:
    fd = os.dup(dirfd)
    try:
        for name in names[:-1]:
            nfd = os.open(name, STEP, dir_fd=fd)  # search (x) is all resolution needs
            os.close(fd)
            fd = nfd
        last = os.open(names[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
    finally:
        os.close(fd)
    if flags & os.O_PATH and stat.S_ISLNK(os.fstat(last).st_mode):
        os.close(last)  # O_PATH | O_NOFOLLOW holds the symlink itself: refuse it as the
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), names[-1])  # others are
    return last


def fdpath(fd: int) -> str:
    """The name of whatever ``fd`` holds (the calls that take no fd follow it to the inode)."""
    return f"/proc/self/fd/{fd}"


def parent_beneath(rootfd: int, names: tuple[str, ...]) -> tuple[int, str]:
    """An ``O_PATH`` fd of root/names[:-1] (beneath the root; the caller closes it) and
    names[-1], for the ``*at`` calls that make, remove or rename that name."""
    if not names or names[-1] in ("", ".", "..") or "/" in names[-1]:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), "/".join(names))
    return open_beneath(rootfd, names[:-1], os.O_PATH | os.O_DIRECTORY), names[-1]


def open_beneath(rootfd: int, names: tuple[str, ...], flags: int, mode: int = 0o600) -> int:
    """An fd for root/names opened with ``flags`` that never resolves outside the root."""
    global _have_openat2
    if not names:
        return os.open(".", flags | os.O_CLOEXEC, dir_fd=rootfd)
    if any(n in ("", ".", "..") or "/" in n for n in names):
        raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), "/".join(names))
    if _have_openat2:
        try:
            return _openat2(rootfd, "/".join(names), flags | os.O_CLOEXEC, mode)
        except OSError as e:
            if e.errno == errno.EXDEV:  # would leave the root: not in the served tree
                raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), e.filename) from None
            if e.errno != errno.ENOSYS:
                raise
            _have_openat2 = False
    return _walk(rootfd, names, flags, mode)


def stat_beneath(rootfd: int, names: tuple[str, ...]) -> os.stat_result:
    """The stat of root/names, resolved beneath the root (never a path lookup)."""
    fd = open_beneath(rootfd, names, os.O_PATH)
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def access_beneath(rootfd: int, names: tuple[str, ...], mode: int) -> bool:
    """Whether the caller (its effective ids, so its fsuid: ``ident`` Rule 3) may ``mode``
    the inode that root/names resolves to beneath the root, not whatever a path names now."""
    try:
        fd = open_beneath(rootfd, names, os.O_PATH)
    except OSError:
        return False
    try:
        return os.access(fdpath(fd), mode, effective_ids=True)
    finally:
        os.close(fd)


def writable_parent(rootfd: int, names: tuple[str, ...]) -> bool:
    """Whether the caller may make or remove names in names[:-1] (write and search on it)."""
    try:
        pfd, _ = parent_beneath(rootfd, names)
    except OSError:
        return False
    try:
        return os.access(".", os.W_OK | os.X_OK, dir_fd=pfd, effective_ids=True)
    finally:
        os.close(pfd)


def create_beneath(
    rootfd: int, names: tuple[str, ...], perm: int, isdir: bool, flags: int
) -> tuple[os.stat_result, int]:
    """Make root/names (a directory if ``isdir``, else a file opened with ``flags``) by
    ``mkdirat``/``openat`` in its parent's fd.  Its permissions follow open(5): ``perm &
    (~0666 | dir.perm & 0666)`` for a file, ``perm & dir.perm & 0777`` for a directory, set
    exactly; its group is the directory's when the host allows.  Returns its stat and, for
    a file, the open fd (-1 for a directory)."""
    pfd, name = parent_beneath(rootfd, names)
    try:
        dst = os.fstat(pfd)
        if isdir:
            os.mkdir(name, 0o700, dir_fd=pfd)
            fd = -1
            hold = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                           dir_fd=pfd)  # fmt: skip
            bits = perm & dst.st_mode & 0o777
        else:
            flags |= os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            hold = fd = os.open(name, flags, 0o600, dir_fd=pfd)
            bits = perm & (0o111 | dst.st_mode & 0o666) & 0o777
    finally:
        os.close(pfd)
    try:
        os.fchmod(hold, bits)
        if os.fstat(hold).st_gid != dst.st_gid:
            try:
                os.fchown(hold, -1, dst.st_gid)
            except PermissionError:
                pass  # not a member of the directory's group: keep ours
        return os.fstat(hold), fd
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise
    finally:
        if hold != fd:
            os.close(hold)
