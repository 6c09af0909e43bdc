"""#e env: variables of the caller's Egrp as files; create, read, write, remove, listing."""

from __future__ import annotations

import pytest

from lp49fs.core.chan import Chan, cclose
from lp49fs.core.core import Core
from lp49fs.core.proc import RFENVG, RFPROC, Proc, newproc, rfork
from lp49fs.errors import Ebadarg, Eexist, Enonexist, Eperm, Error
from lp49fs.ninep import ORCLOSE, ORDWR, OREAD, OTRUNC, OWRITE, decode_dirs
from lp49fs.servants import boot_core
from lp49fs.servants.env import Env


@pytest.fixture
async def env() -> tuple[Env, Proc]:
    core = boot_core(Core(), ("root", "env"))
    sv = core.devtab["e"]
    assert isinstance(sv, Env)
    slash = await core.attach("R")
    p = newproc(core, slash)
    await cclose(slash)
    return sv, p


async def walkopen(sv: Env, name: str, omode: int = OREAD, spec: str = "") -> Chan:
    root = await sv.attach(spec)
    wq = await sv.walk(root, [name])
    assert wq.clone is not None
    return await sv.open(wq.clone, omode)


async def create(sv: Env, name: str, value: bytes, spec: str = "") -> Chan:
    c = await sv.create(await sv.attach(spec), name, OWRITE, 0o666)
    await sv.write(c, value, 0)
    return c


async def test_create_read_list_remove(env: tuple[Env, Proc]) -> None:
    sv, p = env
    with p.running():
        await create(sv, "user", b"glenda")
        await create(sv, "path", b"/bin\0.\0")
        assert p.egrp.env == {"user": b"glenda", "path": b"/bin\0.\0"}
        c = await walkopen(sv, "user")
        assert await sv.read(c, 100, 0) == b"glenda"
        assert await sv.read(c, 3, 2) == b"end"
        assert await sv.read(c, 100, 6) == b""
        d = await sv.open(await sv.attach(""), OREAD)
        dirs = decode_dirs(await sv.read(d, 8192, 0))
        assert [(x.name, x.length) for x in dirs] == [("user", 6), ("path", 7)]
        assert len({x.qid.path for x in dirs}) == 2
        r = (await sv.walk(await sv.attach(""), ["user"])).clone
        assert r is not None
        await sv.remove(r)
        assert "user" not in p.egrp.env
        with pytest.raises(Error) as e:
            await sv.read(c, 100, 0)  # an open Chan on the removed variable
        assert e.value.ename == Enonexist
        with pytest.raises(Error) as e:
            await sv.walk(await sv.attach(""), ["user"])
        assert e.value.ename == Enonexist


async def test_create_existing(env: tuple[Env, Proc]) -> None:
    sv, p = env
    with p.running():
        await create(sv, "x", b"1")
        with pytest.raises(Error) as e:
            await create(sv, "x", b"2")
        assert e.value.ename == Eexist


async def test_write_semantics(env: tuple[Env, Proc]) -> None:
    sv, p = env
    with p.running():
        c = await create(sv, "v", b"hello")
        await sv.write(c, b"J", 0)
        await sv.write(c, b"!!", 5)  # appending at exactly the end is fine
        assert p.egrp.env["v"] == b"Jello!!"
        with pytest.raises(Error) as e:
            await sv.write(c, b"gap", 9)  # beyond the end
        assert e.value.ename == Ebadarg
        t = await walkopen(sv, "v", OWRITE | OTRUNC)
        assert p.egrp.env["v"] == b""
        await sv.write(t, b"new", 0)
        assert p.egrp.env["v"] == b"new"


async def test_qid_version_changes_on_write(env: tuple[Env, Proc]) -> None:
    sv, p = env
    with p.running():
        c = await create(sv, "v", b"a")
        w = (await sv.walk(await sv.attach(""), ["v"])).clone
        assert w is not None
        v1 = (await sv.stat(w)).qid
        await sv.write(c, b"b", 0)
        v2 = (await sv.stat(w)).qid
        assert v1.path == v2.path and v2.vers > v1.vers


async def test_orclose_removes(env: tuple[Env, Proc]) -> None:
    sv, p = env
    with p.running():
        await create(sv, "tmp", b"x")
        c = await walkopen(sv, "tmp", ORDWR | ORCLOSE)
        await cclose(c)
        assert "tmp" not in p.egrp.env


async def test_per_process_groups(env: tuple[Env, Proc]) -> None:
    sv, p = env
    with p.running():
        await create(sv, "shared", b"1")
    child = await rfork(p, RFPROC | RFENVG)  # a copy
    with child.running():
        c = await walkopen(sv, "shared", ORDWR)
        await sv.write(c, b"2", 0)
        await create(sv, "mine", b"c")
    assert p.egrp.env == {"shared": b"1"}
    assert child.egrp.env == {"shared": b"2", "mine": b"c"}


async def test_config_env(env: tuple[Env, Proc]) -> None:
    sv, p = env
    await create(sv, "cputype", b"386", spec="c")  # outside a syscall: the host owner
    p.user = "bob"
    with p.running():
        c = await walkopen(sv, "cputype", spec="c")
        assert await sv.read(c, 100, 0) == b"386"
        with pytest.raises(Error) as e:
            await walkopen(sv, "cputype", OWRITE, spec="c")
        assert e.value.ename == Eperm
        assert p.egrp.env == {}
    with pytest.raises(Error):
        await sv.attach("x")
