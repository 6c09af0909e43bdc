"""u9fs run as root serves each attach as the Linux user of its name (u9fs.ident): the host's
own permission checks decide for that user, files it creates are its own, root and unknown
names are refused, and the server's own identity comes back between requests."""

from __future__ import annotations

import os
import pathlib
import pwd
import tempfile
from collections.abc import Iterator

import pytest
import trio
from conformance import ninep_tree

from lp49fs.errors import Error, Eunknownuser
from lp49fs.servers.u9fs import U9fs
from lp49fs.servers.u9fs.ident import Idents

NOBODY = pwd.getpwnam("nobody").pw_uid
DAEMON = pwd.getpwnam("daemon").pw_uid


@pytest.fixture
def top() -> Iterator[pathlib.Path]:
    """A 0777 directory every user can reach (pytest's own are 0700)."""
    if os.geteuid() != 0:
        pytest.fail("u9fs identities need root (setfsuid)")
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        top = pathlib.Path(d)
        os.chmod(top, 0o777)
        yield from _fill(top)


def _fill(top: pathlib.Path) -> Iterator[pathlib.Path]:
    (top / "secret").write_text("root only\n")
    os.chmod(top / "secret", 0o600)
    (top / "open").write_text("anyone\n")
    os.chmod(top / "open", 0o644)
    yield top


async def test_each_attach_acts_as_its_linux_user(top: pathlib.Path) -> None:
    fs = U9fs(str(top), owner="glenda")
    async with ninep_tree(fs, uname="nobody") as nobody, ninep_tree(fs, uname="glenda") as own:
        assert await nobody.read("open") == b"anyone\n"
        with pytest.raises(Error) as e:
            await nobody.read("secret")
        assert "permission denied" in e.value.ename.lower()
        await nobody.create("mine", 0o600)
        await nobody.write("mine", b"nobody's")
        st = os.stat(top / "mine")
        assert (st.st_uid, st.st_gid) == (NOBODY, pwd.getpwnam("nobody").pw_gid)
        # the owner name acts as the server itself (root), and root's powers came back
        assert await own.read("secret") == b"root only\n"
        assert await own.read("mine") == b"nobody's"
        async with ninep_tree(fs, uname="daemon") as daemon:
            with pytest.raises(Error):
                await daemon.read("mine")  # nobody's 0600 file
        os.chmod(top, 0o1777)  # with the sticky bit only a file's owner may remove it
        async with ninep_tree(fs, uname="daemon") as daemon:
            with pytest.raises(Error):
                await daemon.remove("mine")
        await nobody.remove("mine")
        assert not (top / "mine").exists()


async def test_interleaved_requests_keep_their_identities(top: pathlib.Path) -> None:
    fs = U9fs(str(top), owner="glenda")
    async with ninep_tree(fs, uname="nobody") as nobody, ninep_tree(fs, uname="glenda") as own:
        refused = 0

        async def as_nobody() -> None:
            nonlocal refused
            for _ in range(50):
                try:
                    await nobody.read("secret")
                except Error:
                    refused += 1

        async def as_own() -> None:
            for _ in range(50):
                assert await own.read("secret") == b"root only\n"

        async with trio.open_nursery() as n:
            n.start_soon(as_nobody)
            n.start_soon(as_own)
        assert refused == 50
    assert os.getresuid() == (0, 0, 0)


@pytest.mark.parametrize("name", ["root", "no-such-user-here"])
async def test_root_and_unknown_names_are_refused(top: pathlib.Path, name: str) -> None:
    with pytest.raises(Error) as e:
        await U9fs(str(top)).attach(name, "")
    assert e.value.ename == Eunknownuser


async def test_none_is_nobody_and_u_serves_everyone_as_one_user(top: pathlib.Path) -> None:
    assert Idents().of("none") == Idents().of("nobody")
    async with ninep_tree(U9fs(str(top), user="daemon"), uname="anybody") as t:
        await t.create("d", 0o644)
    assert os.stat(top / "d").st_uid == DAEMON


async def test_a_fifo_opens_as_the_caller(top: pathlib.Path) -> None:
    os.mkfifo(top / "fifo", 0o600)
    async with ninep_tree(U9fs(str(top), devices=True), uname="nobody") as t:
        with pytest.raises(Error) as e:
            await t.read("fifo")  # opened in a worker thread, as nobody: refused
        assert "permission denied" in e.value.ename.lower()
