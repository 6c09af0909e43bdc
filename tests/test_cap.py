"""cap(3) (``#¤``): the one way a process becomes another user, and who may use it.

Driven through the core's system calls (``sysfile``) with processes of different users, as
exportfs uses it after a TLS handshake (``lib.become``).
"""

from __future__ import annotations

import pytest
from servant_tree import boot

from lp49fs.auth.cap import caphash
from lp49fs.core import sysfile
from lp49fs.core.proc import Proc, newproc
from lp49fs.errors import Eperm, Error
from lp49fs.ninep import OWRITE
from lp49fs.servants import CONFIG
from lp49fs.servants.cap import Einvalcap


async def put(p: Proc, path: str, data: bytes) -> None:
    fd = await sysfile.open(p, path, OWRITE)
    try:
        await sysfile.write(p, fd, data)
    finally:
        await sysfile.close(p, fd)


async def err(p: Proc, path: str, data: bytes) -> str:
    with pytest.raises(Error) as e:
        await put(p, path, data)
    return e.value.ename


async def test_hostowner_grants_and_the_capability_is_used_once() -> None:
    eve = await boot(config=CONFIG)
    assert eve.user == eve.core.eve == "glenda"
    await put(eve, "#¤/caphash", caphash("glenda@alice", b"k1").hex().encode())
    server = newproc(eve.core, eve.slash, name="exportfs", ppid=eve.pid)
    await put(server, "#¤/capuse", b"glenda@alice@k1")
    assert server.user == "alice"
    # used up: the same capability again, even by another eve process, is refused
    other = newproc(eve.core, eve.slash, name="other", ppid=eve.pid)
    assert await err(other, "#¤/capuse", b"glenda@alice@k1") == Einvalcap
    assert other.user == "glenda"
    # alice cannot go back, nor register capabilities
    assert await err(server, "#¤/caphash", caphash("alice@glenda", b"k").hex().encode()) == Eperm
    assert await err(server, "#c/hostowner", b"alice") == Eperm


async def test_wrong_key_wrong_source_and_none_are_refused() -> None:
    eve = await boot(config=CONFIG)
    await put(eve, "#¤/caphash", caphash("glenda@bob", b"key").hex().encode())
    p = newproc(eve.core, eve.slash, name="p", ppid=eve.pid)
    assert await err(p, "#¤/capuse", b"glenda@bob@wrong") == Einvalcap
    assert await err(p, "#¤/capuse", b"glenda@mallory@key") == Einvalcap
    assert await err(p, "#¤/capuse", b"nonsense") == Einvalcap
    nobody = newproc(eve.core, eve.slash, user="none", name="n", ppid=eve.pid)
    assert await err(nobody, "#¤/caphash", b"00" * 32) == Eperm  # 0200, owner eve
    assert await err(nobody, "#¤/capuse", b"glenda@bob@key") == Eperm  # not glenda
    assert nobody.user == "none"
    await put(eve, "#¤/caphash", caphash("none@glenda", b"k").hex().encode())
    assert await err(nobody, "#¤/capuse", b"none@glenda@k") == Einvalcap  # never from none
    assert await err(eve, "#¤/caphash", b"not hex") == Einvalcap
