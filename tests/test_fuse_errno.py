"""The one ENAME_TO_ERRNO table (lp49fs.fuse.errno): complete, exact, and prefix-tolerant."""

from __future__ import annotations

import ast
import errno
import logging
import os
import pathlib

import pytest

from lp49fs import errors
from lp49fs import errors as E
from lp49fs.errors import Error
from lp49fs.fuse.errno import ENAME_TO_ERRNO, classify, ename_to_errno, errno_of

ROOT = pathlib.Path(__file__).resolve().parent.parent

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
        ("xfile does not exist", errno.ENOENT),  # any "... does not exist" is ENOENT
        # Rule 2: the class first
        ("can't translate address: no such service: tcp!x!y", errno.EHOSTUNREACH),
        ('unknown control message "frob 1"', errno.EINVAL),
        ("i/o on hungup channel (exporter closed the connection)", errno.EPIPE),
        # Rule 3: host texts, as u9fs (lower case) and #I (as is) pass them on
        ("file name too long", errno.ENAMETOOLONG),
        ("No space left on device", errno.ENOSPC),
        ("read-only file system", errno.EROFS),
        # Rule 4: the closest keyword, then EIO
        ("permission deniedx", errno.EACCES),
        ("the cache is full", errno.ENOSPC),
        ("", errno.EIO),
        ("the disk caught fire", errno.EIO),
    ],
)
def test_class_forms(ename: str, code: int) -> None:
    assert ename_to_errno(ename) == code
    assert errno_of(Error(ename)) == code


def test_unknown_strings_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lp49fs.fuse.errno")
    assert ename_to_errno("the disk caught fire") == errno.EIO
    assert "the disk caught fire" in caplog.text and "EIO" in caplog.text
    caplog.clear()
    assert ename_to_errno("'/x' file does not exist") == errno.ENOENT
    assert caplog.text == ""  # a known class is not news


@pytest.mark.parametrize("n", [110, 200, 255, 1000, 4000])
def test_a_long_path_keeps_its_class(n: int) -> None:
    """Error() cuts at ERRMAX by eliding the middle: the class at either end survives."""
    path = "/tmp/" + "é" * n
    for ename, code in [
        (f"'{path}' file does not exist", errno.ENOENT),
        (f"'{path}' does not exist", errno.ENOENT),
        (f"'{path}' file already exists", errno.EEXIST),
        (f"{E.Etranslate}: {path}", errno.EHOSTUNREACH),
    ]:
        e = Error(ename)
        assert len(e.ename.encode()) < E.ERRMAX
        assert e.ename.startswith(ename[:10]) and e.ename.endswith(ename[-40:])
        assert classify(e.ename) == (code, "class")


# Rule 1: every Error(...) raised by the layers below programs, found by parsing them.
LAYERS = ("core", "servants", "servers", "lib", "lib9p", "hvm", "node", "fuse")
DYNAMIC = {  # sites whose string is computed, and why each still maps
    "text": "ipconv Conv.fail: a host socket error's text (test_host_error_texts)",
    "oserror_text(e)": "ipconv: a host socket error's text (test_host_error_texts)",
    "ename": "u9fs oserror / ipconv: strerror text (Rule 3); or a string received",
    "err": "dev.devwalk: always Enonexist",
    "answer.decode('utf-8', 'replace').strip()": "exportfs handshake: the remote's text",
}


def raised_strings() -> list[tuple[str, str]]:
    """(where, ename with '{}' placeholders filled) for every Error(...) call in LAYERS."""
    found = []
    for layer in LAYERS:
        for f in sorted((ROOT / "lp49fs" / layer).rglob("*.py")):
            tree = ast.parse(f.read_text())
            for call in ast.walk(tree):
                if not (isinstance(call, ast.Call) and call.args):
                    continue
                name = getattr(call.func, "id", getattr(call.func, "attr", ""))
                if name == "Error":
                    arg = call.args[0]
                elif name == "cmderror" and len(call.args) == 2:
                    arg = call.args[1]
                else:
                    continue
                where = f"{f.relative_to(ROOT)}:{call.lineno}"
                found.append((where, render(arg, where)))
    return found


FORMATTED = {  # {values} in f-strings that carry the class
    "e.ename": E.Enonexist,  # namec: a WalkError's class
    "s": "unknown control message",  # cmderror's class (each call is checked)
    "Enodial": E.Etranslate,
}


def render(arg: ast.expr, where: str) -> str:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.Name) and isinstance(getattr(E, arg.id, None), str):
        return str(getattr(E, arg.id))
    if isinstance(arg, ast.JoinedStr):
        return "".join(fvalue(v, where) for v in arg.values)
    if isinstance(arg, ast.BinOp):  # "listen not supported on " + proto
        return render(arg.left, where) + "tcp"
    if isinstance(arg, ast.Subscript):  # f"..."[:127]
        return render(arg.value, where)
    if isinstance(arg, ast.IfExp):
        return render(arg.body, where) + "\0" + render(arg.orelse, where)
    text = ast.unparse(arg)
    assert text in DYNAMIC, f"{where}: Error({text}): add it to DYNAMIC with a reason"
    return ""


def fvalue(v: ast.expr, where: str) -> str:
    if isinstance(v, ast.Constant):
        return str(v.value)
    assert isinstance(v, ast.FormattedValue)
    text = ast.unparse(v.value)
    if text in FORMATTED:
        return FORMATTED[text]
    if isinstance(v.value, ast.Name) and isinstance(getattr(E, v.value.id, None), str):
        return str(getattr(E, v.value.id))
    return "/x/y"  # a path, address or detail


RAISED = raised_strings()


def test_the_walk_finds_the_raisers() -> None:
    assert len(RAISED) > 150
    assert any(s == E.Enotempty for _, s in RAISED)
    assert any("translate" in s for _, s in RAISED)


@pytest.mark.parametrize(("where", "ename"), RAISED, ids=[w for w, _ in RAISED])
def test_every_raised_string_has_a_row(where: str, ename: str) -> None:
    for one in ename.split("\0"):
        if one:
            code, how = classify(one)
            assert how in ("exact", "class"), f"{where}: {one!r} maps by {how} to {code}"


def test_host_error_texts() -> None:
    """The texts u9fs and #I make of a host errno map back to an errno (Rules 1, 3)."""
    from lp49fs.servants.ip import conv as ipconv
    from lp49fs.servers.u9fs import host as u9fs_host

    texts = [*ipconv._ERRNO.values(), *u9fs_host.ERRNO_ENAME.values()]
    for code in sorted(errno.errorcode):
        texts.append(ipconv.oserror_text(OSError(code, os.strerror(code))))
        texts.append(u9fs_host.oserror(OSError(code, os.strerror(code))).ename)
    for text in texts:
        assert classify(text)[1] in ("exact", "class", "strerror"), text
    assert ename_to_errno(u9fs_host.oserror(OSError(errno.ENAMETOOLONG, "x")).ename) in (
        errno.ENAMETOOLONG, errno.EIO)  # fmt: skip
