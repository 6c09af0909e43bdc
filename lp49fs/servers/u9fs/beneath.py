"""Opening a file below u9fs's root so that nothing swapped in after a walk escapes it.

u9fs names files by lexical paths (u9fs Rule 1), and a Linux-side user may replace a walked
directory by a symlink to ``/etc`` between a client's walk and its open.  So every open goes
through ``open_beneath(rootfd, names, flags)``, which resolves ``names`` relative to the root
directory's fd and refuses any step that leaves it:

1. ``openat2(2)`` with ``RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`` (Linux 5.6+, called through
   ctypes: Python has no binding).  Symlinks that stay below the root still work; ``..`` or
   a symlink that would climb out fails with EXDEV, which is reported as "file does not
   exist" (the name is not in the served tree).
2. Where the kernel lacks openat2 (ENOSYS): walk component by component with
   ``O_NOFOLLOW | O_DIRECTORY`` on each directory's fd and ``O_NOFOLLOW`` on the last, so a
   symlink anywhere is refused (stricter than 1: in-root symlinks are not followed).

The returned fd is the caller's to close.  Errors are ``OSError`` as from ``os.open``.
"""

from __future__ import annotations

import ctypes
import errno
import os
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


def _walk(dirfd: int, names: tuple[str, ...], flags: int, mode: int) -> int:
    fd = os.dup(dirfd)
    try:
        for name in names[:-1]:
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=fd)  # fmt: skip
            os.close(fd)
            fd = nfd
        return os.open(names[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
    finally:
        os.close(fd)


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
