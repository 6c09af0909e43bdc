"""The one ENAME_TO_ERRNO table (lp49fs.fuse.errno): complete, exact, and prefix-tolerant."""

from __future__ import annotations

import errno

import pytest

from lp49fs import errors
from lp49fs.errors import Error
from lp49fs.fuse.errno import ENAME_TO_ERRNO, ename_to_errno, errno_of

CONSTANTS = {
    name: value
    for name, value in vars(errors).items()
    if name.startswith("E") and name[1:2].islower() and isinstance(value, str)
}


def test_the_module_has_constants() -> None:
    assert len(CONSTANTS) > 40 and "Enonexist" in CONSTANTS and "Eunknownfid" in CONSTANTS


@pytest.mark.parametrize("name", sorted(CONSTANTS))
def test_every_error_constant_has_an_errno(name: str) -> None:
    """Rule 1: a new constant in lp49fs/errors.py needs a row in the table."""
    ename = CONSTANTS[name]
    assert ename in ENAME_TO_ERRNO, f"{name} ({ename!r}) is missing from ENAME_TO_ERRNO"
    assert errno_of(Error(ename)) == ENAME_TO_ERRNO[ename]


EXPECT = {
    "Enonexist": errno.ENOENT,
    "Enotfound": errno.ENOENT,
    "Enoenv": errno.ENOENT,
    "Eperm": errno.EACCES,
    "Enocreate": errno.EACCES,
    "Ecreate": errno.EPERM,
    "Eremove": errno.EPERM,
    "Ewrite": errno.EPERM,
    "Ewstat": errno.EPERM,
    "Enoattach": errno.EPERM,
    "Eexist": errno.EEXIST,
    "Enotdir": errno.ENOTDIR,
    "Enotdir9p": errno.ENOTDIR,
    "Ecreatenondir": errno.ENOTDIR,
    "Eisdir": errno.EISDIR,
    "Eisdir9p": errno.EISDIR,
    "Einuse": errno.EBUSY,
    "Eisopen": errno.EBUSY,
    "Ebadarg": errno.EINVAL,
    "Efilename": errno.EINVAL,
    "Ebadoffset": errno.EINVAL,
    "Ebadcount": errno.EINVAL,
    "Ebadfd": errno.EBADF,
    "Eio": errno.EIO,
    "Egreg": errno.EIO,
    "Ebotch": errno.EIO,
    "Eunknownfid": errno.EIO,
    "Eintr": errno.EINTR,
    "Enoproc": errno.ESRCH,
    "Etimedout": errno.ETIMEDOUT,
    "Econrefused": errno.ECONNREFUSED,
}


@pytest.mark.parametrize(("name", "code"), sorted(EXPECT.items()))
def test_chosen_errnos(name: str, code: int) -> None:
    assert ename_to_errno(getattr(errors, name)) == code


@pytest.mark.parametrize(
    ("ename", "code"),
    [
        # Rule 2: namec's path prefix, quoted or not, and "'...' does not exist"
        ("'/usr/glenda/x' file does not exist", errno.ENOENT),
        ("/x file does not exist", errno.ENOENT),
        ("'/x' does not exist", errno.ENOENT),
        ("'/n/remote/a b' does not exist", errno.ENOENT),
        ("'/tmp/d' file already exists", errno.EEXIST),
        ("'/dev/cons' permission denied", errno.EACCES),
        ("'/lib/namespace' not a directory", errno.ENOTDIR),
        ("'/proc/99' process does not exist", errno.ESRCH),  # longest suffix wins
        ("'/a' walk in non-directory", errno.ENOTDIR),
        ("'.../deep/path' file is a directory", errno.EISDIR),
        # Rule 3: unknown strings are EIO, and near misses are not matched
        ("", errno.EIO),
        ("the disk caught fire", errno.EIO),
        ("file does not exist!", errno.EIO),
        ("xfile does not exist", errno.ENOENT),  # any "... does not exist" is ENOENT
        ("permission deniedx", errno.EIO),
        ("xpermission denied", errno.EIO),  # a prefix needs its separating space
    ],
)
def test_prefix_forms(ename: str, code: int) -> None:
    assert ename_to_errno(ename) == code
    assert errno_of(Error(ename)) == code


def test_errno_of_a_truncated_ename() -> None:
    """A long path prefix is cut at ERRMAX by Error(); the suffix still decides."""
    long = "'/" + "a" * 200 + "' file does not exist"
    assert errno_of(Error(long)) in (errno.ENOENT, errno.EIO)
    assert ename_to_errno(long) == errno.ENOENT
