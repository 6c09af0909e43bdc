"""Name spaces: bind/unmount semantics, unions, creates, lexical .., # paths, rfork groups."""

from __future__ import annotations

import pytest
from servant_tree import boot, err, ram

from lp49fs.core import sysfile as sys
from lp49fs.core.mount import MAFTER, MBEFORE, MCREATE, MREPL
from lp49fs.core.proc import (
    RFCENVG,
    RFCFDG,
    RFCNAMEG,
    RFENVG,
    RFFDG,
    RFNAMEG,
    RFNOMNT,
    RFPROC,
    Proc,
    pexit,
    rfork,
)
from lp49fs.errors import Error
from lp49fs.ninep import DMDIR, ORDWR, OREAD, OWRITE

RamA, RamB, RamC = ram("a"), ram("b"), ram("c")


async def put(p: Proc, name: str, data: bytes, perm: int = 0o666) -> None:
    fd = await sys.create(p, name, OWRITE, perm)
    await sys.write(p, fd, data)
    await sys.close(p, fd)


async def cat(p: Proc, name: str) -> bytes:
    fd = await sys.open(p, name, OREAD)
    try:
        return await sys.readall(p, fd)
    finally:
        await sys.close(p, fd)


async def ls(p: Proc, name: str) -> list[str]:
    fd = await sys.open(p, name, OREAD)
    try:
        names: list[str] = []
        while ds := await sys.dirread(p, fd):
            names += [d.name for d in ds]
        return names
    finally:
        await sys.close(p, fd)


@pytest.fixture
async def p() -> Proc:
    """A process with three ram trees: #a has f="a" and dir d/orig, #b f="b" and g, #c f="c"."""
    p = await boot(RamA, RamB, RamC)
    await put(p, "#a/f", b"a")
    await sys.close(p, await sys.create(p, "#a/d", OREAD, DMDIR | 0o777))
    await put(p, "#a/d/orig", b"orig")
    await put(p, "#b/f", b"b")
    await put(p, "#b/g", b"g")
    await put(p, "#c/f", b"c")
    return p


async def test_union_order_after_and_before(p: Proc) -> None:
    await sys.bind(p, "#a", "/mnt", MREPL)
    await sys.bind(p, "#b", "/mnt", MAFTER)
    assert await cat(p, "/mnt/f") == b"a"  # earlier members shadow later ones
    assert await cat(p, "/mnt/g") == b"g"
    assert await ls(p, "/mnt") == ["f", "d", "f", "g"]  # in order, duplicates kept
    await sys.bind(p, "#c", "/mnt", MBEFORE)
    assert await cat(p, "/mnt/f") == b"c"
    assert await ls(p, "/mnt") == ["f", "f", "d", "f", "g"]


async def test_first_after_keeps_the_original_directory(p: Proc) -> None:
    await sys.bind(p, "#a", "/mnt", MREPL)
    await sys.bind(p, "#b", "/mnt/d", MAFTER)
    assert await ls(p, "/mnt/d") == ["orig", "f", "g"]
    assert await cat(p, "/mnt/d/orig") == b"orig"


async def test_repl_drops_all_members(p: Proc) -> None:
    await sys.bind(p, "#a", "/mnt", MREPL)
    await sys.bind(p, "#b", "/mnt", MAFTER)
    await sys.bind(p, "#c", "/mnt", MREPL)
    assert await ls(p, "/mnt") == ["f"]
    assert await err(sys.stat(p, "/mnt/g")) == "'/mnt/g' does not exist"


CREATE_CASES = [
    # (binds, expected outcome of create /mnt/new: servant letter or error)
    ([("#a", MREPL)], "mounted directory forbids creation"),
    ([("#a", MREPL | MCREATE)], "a"),
    ([("#a", MREPL), ("#b", MAFTER)], "mounted directory forbids creation"),
    ([("#a", MREPL), ("#b", MAFTER | MCREATE)], "b"),
    ([("#a", MREPL | MCREATE), ("#b", MBEFORE | MCREATE)], "b"),
    ([("#a", MREPL | MCREATE), ("#b", MAFTER | MCREATE)], "a"),
]


@pytest.mark.parametrize(("binds", "want"), CREATE_CASES)
async def test_create_goes_to_first_mcreate_member(
    p: Proc, binds: list[tuple[str, int]], want: str
) -> None:
    for new, flag in binds:
        await sys.bind(p, new, "/mnt", flag)
    if len(want) > 1:
        assert await err(sys.create(p, "/mnt/new", OWRITE, 0o666)) == want
        return
    await sys.close(p, await sys.create(p, "/mnt/new", OWRITE, 0o666))
    assert [letter for letter in "abc" if "new" in await ls(p, f"#{letter}")] == [want]


async def test_create_over_existing_truncates(p: Proc) -> None:
    await sys.bind(p, "#a", "/mnt", MREPL)
    await sys.bind(p, "#b", "/mnt", MAFTER)
    fd = await sys.create(p, "/mnt/g", ORDWR, 0o666)  # exists in #b: open with OTRUNC
    assert await sys.read(p, fd, 100) == b""
    assert await sys.write(p, fd, b"new") == 3
    await sys.close(p, fd)
    assert await cat(p, "#b/g") == b"new"


async def test_dotdot_is_lexical_at_a_mount_point(p: Proc) -> None:
    await sys.bind(p, "#a", "/n", MREPL)
    root = await sys.stat(p, "/")
    assert (await sys.stat(p, "/n/..")).qid == root.qid
    assert (await sys.stat(p, "/n/d/../..")).qid == root.qid
    assert (await sys.stat(p, "/n/d/../f")).length == 1
    assert (await sys.stat(p, "#a/..")).qid == (await sys.stat(p, "#a")).qid
    await sys.chdir(p, "/n/d")
    assert await cat(p, "orig") == b"orig"
    assert await ls(p, "../..") == list(await ls(p, "#R"))
    assert await sys.fd2path(p, await sys.open(p, "../f", OREAD)) == "/n/f"


async def test_sharp_paths_never_cross_mounts(p: Proc) -> None:
    await sys.bind(p, "#a", "/dev", MREPL)
    assert await ls(p, "/dev") == ["f", "d"]
    assert await ls(p, "#R/dev") == []
    assert await err(sys.stat(p, "#R/dev/f")) == "'#R/dev/f' does not exist"


async def test_binding_a_union_copies_its_members(p: Proc) -> None:
    await sys.bind(p, "#a", "/mnt", MREPL)
    await sys.bind(p, "#b", "/mnt", MAFTER)
    await sys.bind(p, "/mnt", "/tmp", MREPL)
    assert await ls(p, "/tmp") == ["f", "d", "f", "g"]
    assert await cat(p, "/tmp/g") == b"g"


UNMOUNT_CASES = [
    # (new, old, error or None, names left in /mnt)
    (None, "/mnt", None, []),
    ("#b", "/mnt", None, ["f", "d"]),
    ("#a", "/mnt", None, ["f", "g"]),
    ("#c", "/mnt", "not in union", ["f", "d", "f", "g"]),
    (None, "/tmp", "not mounted", ["f", "d", "f", "g"]),
]


@pytest.mark.parametrize(("new", "old", "want", "left"), UNMOUNT_CASES)
async def test_unmount_forms(
    p: Proc, new: str | None, old: str, want: str | None, left: list[str]
) -> None:
    await sys.bind(p, "#a", "/mnt", MREPL)
    await sys.bind(p, "#b", "/mnt", MAFTER)
    if want is None:
        await sys.unmount(p, new, old)
    else:
        assert await err(sys.unmount(p, new, old)) == want
    assert await ls(p, "/mnt") == left


INCONSISTENT = [
    ("#a/f", "/mnt", MREPL),  # file onto directory
    ("#a", "#b/f", MREPL),  # directory onto file
    ("#a/f", "#b/f", MAFTER),  # -a on a file
]


@pytest.mark.parametrize(("new", "old", "flag"), INCONSISTENT)
async def test_inconsistent_mounts(p: Proc, new: str, old: str, flag: int) -> None:
    assert await err(sys.bind(p, new, old, flag)) == "inconsistent mount"


async def test_file_onto_file_and_create_flag_with_a_union(p: Proc) -> None:
    await sys.bind(p, "#a/f", "#b/g", MREPL)
    assert await cat(p, "#b/g") == b"g"  # '#' paths do not cross: the bind is on the file
    await sys.bind(p, "#a", "/mnt", MREPL | MCREATE)
    await sys.bind(p, "#b", "/mnt", MAFTER)
    assert await err(sys.bind(p, "/mnt", "/tmp", MREPL | MCREATE)) == "inconsistent mount"


RFORK_CASES = [
    # (flags, parent sees the child's bind, child sees the parent's earlier bind)
    (RFPROC, True, True),
    (RFPROC | RFNAMEG, False, True),
    (RFPROC | RFCNAMEG, False, False),
]


@pytest.mark.parametrize(("flags", "shared", "inherited"), RFORK_CASES)
async def test_rfork_name_space(p: Proc, flags: int, shared: bool, inherited: bool) -> None:
    await sys.bind(p, "#a", "/mnt", MREPL)
    child = await rfork(p, flags)
    assert ("f" in await ls(child, "/mnt")) is inherited
    await sys.bind(child, "#b", "/tmp", MREPL)
    assert ("g" in await ls(p, "/tmp")) is shared
    await pexit(child)
    assert "f" in await ls(p, "/mnt")


async def test_rfork_fd_and_env_groups(p: Proc) -> None:
    fd = await sys.open(p, "#a/f", OREAD)
    p.egrp.env["x"] = b"1"
    shared = await rfork(p, RFPROC)
    copied = await rfork(p, RFPROC | RFFDG | RFENVG)
    clean = await rfork(p, RFPROC | RFCFDG | RFCENVG)
    await sys.close(copied, fd)
    assert await sys.read(p, fd, 10) == b"a"
    copied.egrp.env["x"] = b"2"
    assert p.egrp.env["x"] == b"1"
    assert shared.egrp is p.egrp and shared.fgrp is p.fgrp
    assert clean.egrp.env == {} and await err(sys.read(clean, fd, 1)) == (
        "fd out of range or not open"
    )
    await sys.close(shared, fd)
    assert await err(sys.read(p, fd, 1)) == "fd out of range or not open"
    assert await err(rfork(p, RFPROC | RFFDG | RFCFDG)) == "bad arg in system call"


async def test_rfnomnt_forbids_mounts_and_most_sharp_paths(p: Proc) -> None:
    child = await rfork(p, RFPROC | RFNAMEG | RFNOMNT)
    assert await err(sys.bind(child, "#a", "/mnt", MREPL)) == "mount/attach disallowed"
    assert await err(sys.stat(child, "#a")) == "mount/attach disallowed"
    assert (await sys.stat(child, "#d")).name == "#d"
    await sys.bind(p, "#a", "/mnt", MREPL)  # the parent's name space is its own
    assert await ls(child, "/mnt") == []


async def test_chdir_stays_on_the_near_side_of_a_mount(p: Proc) -> None:
    await sys.bind(p, "#a", "/mnt", MREPL)
    await sys.chdir(p, "/mnt")
    assert p.dot.type == "R"  # cwd is the mount point itself ...
    assert await ls(p, ".") == ["f", "d"]  # ... and is crossed when used
    await sys.bind(p, "#b", "/mnt", MREPL)
    assert await ls(p, ".") == ["f", "g"]


async def test_rfnomnt_on_a_shared_name_space_binds_everyone(p: Proc) -> None:
    await rfork(p, RFPROC | RFNOMNT)  # as Plan 9: the shared Pgrp itself becomes noattach
    assert await err(sys.bind(p, "#a", "/mnt", MREPL)) == "mount/attach disallowed"


DEEP = [f"d{i}" for i in range(1, 21)]  # more than MAXWELEM (16) names in one path


async def test_long_walk_crosses_a_mount_in_the_middle_of_a_batch(p: Proc) -> None:
    path = "#a"
    for d in DEEP:
        path += "/" + d
        await sys.close(p, await sys.create(p, path, OREAD, DMDIR | 0o777))
    await put(p, path + "/leaf", b"deep")
    await sys.bind(p, "#a", "/mnt", MREPL)
    mid = "/mnt/" + "/".join(DEEP[:5])
    await sys.bind(p, "#b", mid, MREPL)  # d5 is now #b's root
    assert await cat(p, mid + "/g") == b"g"
    assert await err(sys.stat(p, mid + "/d6")) == f"'{mid}/d6' does not exist"
    back = await sys.stat(p, mid + "/..")
    assert back.qid == (await sys.stat(p, "/mnt/" + "/".join(DEEP[:4]))).qid
    assert await cat(p, mid + "/../d5/../d5/g") == b"g"
    await sys.unmount(p, None, mid)
    assert await cat(p, "/mnt/" + "/".join(DEEP) + "/leaf") == b"deep"
    assert await sys.fd2path(p, await sys.open(p, "/mnt/" + "/".join(DEEP), OREAD)) == (
        "/mnt/" + "/".join(DEEP)
    )


class Broken(RamA):  # type: ignore[misc, valid-type]
    """A member that cannot be opened."""

    dc = "z"

    async def open(self, c: object, omode: int) -> object:
        raise Error("i/o error")


async def test_union_read_skips_members_that_fail() -> None:
    p = await boot(RamA, RamB, Broken)
    await put(p, "#a/f", b"a")
    await put(p, "#b/g", b"g")
    await sys.bind(p, "#a", "/mnt", MREPL)
    await sys.bind(p, "#z", "/mnt", MAFTER)
    await sys.bind(p, "#b", "/mnt", MAFTER)
    assert await ls(p, "/mnt") == ["f", "g"]


async def test_dotdot_matches_lexical_normalization(p: Proc) -> None:
    """Any path with . and .. stats as its lexically cleaned form (or both fail)."""
    import posixpath
    import random

    await sys.bind(p, "#a", "/n", MREPL)
    await sys.bind(p, "#b", "/n/d", MAFTER)
    await sys.bind(p, "#c", "/mnt", MREPL)
    pool = ["n", "n", "d", "d", "orig", "g", "f", "mnt", "dev", "..", "..", "..", ".", "nope"]
    rng = random.Random(49)
    matched = 0
    for _ in range(400):
        path = "/" + "/".join(rng.choice(pool) for _ in range(rng.randint(2, 5)))
        clean = posixpath.normpath(path)
        try:
            want = (await sys.stat(p, clean)).qid
        except Error:
            want = None
        try:
            got = (await sys.stat(p, path)).qid
        except Error:
            got = None
        if want is None or got is None:
            # '..' after a missing element fails in the walk even if the clean path exists
            assert got is None or want is not None, (path, clean)
            continue
        assert got == want, (path, clean)
        matched += ".." in path
    assert matched > 40, matched  # enough paths with .. that resolve, so the check has teeth
