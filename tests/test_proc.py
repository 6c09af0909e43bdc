"""#p proc: /proc/N files through real system calls (sysfile): status, ns, fd, ctl, note, wait."""

from __future__ import annotations

import pytest

from lp49fs.core import sysfile
from lp49fs.core.chan import cclose
from lp49fs.core.core import Core
from lp49fs.core.mount import MAFTER, MCREATE, MREPL
from lp49fs.core.proc import RFPROC, Proc, newproc, pexit, rfork
from lp49fs.errors import Enochild, Error
from lp49fs.ninep import ORDWR, OREAD, OWRITE, decode_dirs
from lp49fs.servants import boot_core


@pytest.fixture
async def proc() -> Proc:
    core = boot_core(Core(), ("root", "cons", "env", "pipe", "proc", "srv"))
    slash = await core.attach("R")
    p = newproc(core, slash, name="rc", args=["rc", "-c", "echo hi"])
    await cclose(slash)
    await sysfile.bind(p, "#c", "/dev", MREPL)
    await sysfile.bind(p, "#p", "/proc", MREPL)
    await sysfile.bind(p, "#e", "/env", MREPL | MCREATE)
    await sysfile.bind(p, "#|", "/dev", MAFTER)
    await sysfile.chdir(p, "/dev")
    return p


async def cat(p: Proc, name: str, count: int = 8192) -> bytes:
    fd = await sysfile.open(p, name, OREAD)
    try:
        return await sysfile.read(p, fd, count)
    finally:
        await sysfile.close(p, fd)


async def test_listing(proc: Proc) -> None:
    fd = await sysfile.open(proc, f"/proc/{proc.pid}", OREAD)
    names = [d.name for d in decode_dirs(await sysfile.read(proc, fd, 8192))]
    assert names == ["args", "ctl", "fd", "note", "ns", "status", "wait", "trace", "segment"]
    fd = await sysfile.open(proc, "/proc", OREAD)
    assert [d.name for d in decode_dirs(await sysfile.read(proc, fd, 8192))] == [str(proc.pid)]


async def test_status(proc: Proc) -> None:
    s = await cat(proc, f"/proc/{proc.pid}/status")
    assert len(s) == 176
    assert s[:28] == b"rc".ljust(28)
    assert s[28:56] == b"glenda".ljust(28)
    assert s[56:68] == b"Ready".ljust(12)
    assert len(s[68:].split()) == 9
    assert await cat(proc, f"/proc/{proc.pid}/status", 10) == s[:10]


async def test_args(proc: Proc) -> None:
    assert await cat(proc, f"/proc/{proc.pid}/args") == b"rc -c 'echo hi'"


async def test_ns_one_line_per_read(proc: Proc) -> None:
    fd = await sysfile.open(proc, f"/proc/{proc.pid}/ns", OREAD)
    lines = []
    while line := await sysfile.read(proc, fd, 8192):
        lines.append(line.decode())
    assert lines == [
        "bind  #c /dev\n",
        "bind  #p /proc\n",
        "bind -c #e /env\n",
        "bind -a #| /dev\n",
        "cd /dev\n",
    ]


async def test_fd(proc: Proc) -> None:
    fd = await sysfile.open(proc, "/dev/null", ORDWR)
    text = (await cat(proc, f"/proc/{proc.pid}/fd")).decode()
    first, *rest = text.splitlines()
    assert first == "/dev"
    assert any(line.split()[0] == str(fd) and line.endswith("/dev/null") for line in rest)
    assert any(line.endswith(f"/proc/{proc.pid}/fd") for line in rest)  # itself, open


async def test_ctl_kill_and_unknown(proc: Proc) -> None:
    posted: list[tuple[int, str]] = []
    proc.core.notify = lambda p, note: posted.append((p.pid, note))
    fd = await sysfile.open(proc, f"/proc/{proc.pid}/ctl", OWRITE)
    await sysfile.write(proc, fd, b"kill")
    assert posted == [(proc.pid, "kill")]
    with pytest.raises(Error) as e:
        await sysfile.write(proc, fd, b"frobnicate now")
    assert e.value.ename == 'unknown control message "frobnicate now"'
    with pytest.raises(Error) as e:
        await sysfile.write(proc, fd, b"close")
    assert e.value.ename == 'wrong #args in control message "close"'


async def test_ctl_close_fd(proc: Proc) -> None:
    fd = await sysfile.open(proc, "/dev/zero", OREAD)
    ctl = await sysfile.open(proc, f"/proc/{proc.pid}/ctl", OWRITE)
    await sysfile.write(proc, ctl, b"close %d" % fd)
    assert proc.fgrp.fd[fd] is None


async def test_note_write_and_read(proc: Proc) -> None:
    fd = await sysfile.open(proc, f"/proc/{proc.pid}/note", ORDWR)
    await sysfile.write(proc, fd, b"interrupt")
    assert proc.notes == ["interrupt"]
    assert await sysfile.pread(proc, fd, 128, 0) == b"interrupt\0"
    assert await sysfile.pread(proc, fd, 128, 0) == b""


async def test_wait_without_a_process_manager(proc: Proc) -> None:
    """A bare core keeps no wait records (tests/test_lifecycle.py reads them in a node)."""
    await rfork(proc, RFPROC, name="child")
    with pytest.raises(Error) as e:
        await cat(proc, f"/proc/{proc.pid}/wait")
    assert e.value.ename == Enochild


async def test_exited_process(proc: Proc) -> None:
    child = await rfork(proc, RFPROC, name="child")
    fd = await sysfile.open(proc, f"/proc/{child.pid}/status", OREAD)
    await pexit(child)
    with pytest.raises(Error) as e:
        await sysfile.read(proc, fd, 176)
    assert e.value.ename == "process exited"
