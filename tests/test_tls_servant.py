"""``#a`` (servants/tls.py): TLS pushed on a real TCP conversation, in the core.

A host TLS server (``ServerAuth`` on 127.0.0.1) echoes what it receives; an LP49 process of a
booted node dials it through ``/net``, pushes ``#a`` on the conversation with ``fd N`` and
``client DIR USER HOST`` and then talks plaintext on ``#a/tls/N/data``.  The refusals come
back as the write of ``client`` (the server of another authority) or as the first read (a
revoked certificate, which TLS 1.3 lets the client learn only after its side is done).
The ctl rules are checked on a bare core's process.
"""

from __future__ import annotations

import pathlib

import pytest
import trio
from lib_helpers import run_as
from servant_tree import boot, err

from lp49fs import lib
from lp49fs.auth.authority import NODES, USERS, Authority
from lp49fs.auth.tls import ServerAuth
from lp49fs.core import sysfile
from lp49fs.errors import Ebadctl, Ebadfd, Eperm, Error, Etlsnolink, Etlsnotup
from lp49fs.ninep import ORDWR, OREAD
from lp49fs.node.boot import boot as bootnode
from lp49fs.servants import CONFIG
from lp49fs.transport import announce
from tests.waiting import DEADLINE as GUARD


def make(d: pathlib.Path, node: str, users: tuple[str, ...] = ("glenda",)) -> pathlib.Path:
    a = Authority(d)
    a.init()
    for u in users:
        a.issue(USERS, u)
    a.issue(NODES, node, ("127.0.0.1",))
    return d


@pytest.fixture(scope="module")
def authdir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    d = make(tmp_path_factory.mktemp("tls") / "ca", "n1", ("glenda", "mallory"))
    Authority(d).revoke("mallory")
    return d


class Echo:
    """A host TLS server on 127.0.0.1: echoes each receive, records what it saw."""

    def __init__(self, d: pathlib.Path, node: str) -> None:
        self.sa = ServerAuth(d, node)
        self.seen: list[str] = []
        self.port = 0

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listener = await announce("tcp!127.0.0.1!0")
        self.port = listener.addr.port
        task_status.started()
        try:
            async with trio.open_nursery() as n:
                while True:
                    n.start_soon(self.one, await listener.accept())
        finally:
            with trio.CancelScope(shield=True):
                await listener.aclose()

    async def one(self, link: object) -> None:
        try:
            tls = await self.sa.accept(link)
        except Error as e:
            self.seen.append(e.ename)
            await link.aclose()  # type: ignore[attr-defined]
            return
        self.seen.append(tls.user)
        while data := await tls.receive_some():
            await tls.send_all(data)
        self.seen.append("close_notify")
        await tls.aclose()


async def push(port: int, d: pathlib.Path, user: str, host: str = "127.0.0.1") -> tuple[int, int]:
    """(ctl fd, data fd) of ``#a`` pushed on a new connection to ``port``."""
    net = await lib.dial(f"tcp!127.0.0.1!{port}")
    ctl = await lib.open("#a/tls/clone", ORDWR)
    n = (await lib.read(ctl, 16)).decode()
    await lib.write(ctl, f"fd {net}".encode())
    await lib.close(net)  # #a holds the conversation now
    await lib.write(ctl, f"client {d} {user} {host}".encode())
    return ctl, await lib.open(f"#a/tls/{n}/data", ORDWR)


async def text(path: str) -> str:
    fd = await lib.open(path, OREAD)
    try:
        return (await lib.read(fd, 1024)).decode()
    finally:
        await lib.close(fd)


async def in_node(srv: Echo, body: object) -> None:
    with trio.fail_after(GUARD):
        async with bootnode() as node, trio.open_nursery() as n:
            await n.start(srv.run)
            assert await run_as(node, body) == ""  # type: ignore[arg-type]
            n.cancel_scope.cancel()


async def test_plaintext_through_data_and_status(authdir: pathlib.Path) -> None:
    srv = Echo(authdir, "n1")

    async def body() -> None:
        ctl, data = await push(srv.port, authdir, "glenda")
        n = (await lib.pread(ctl, 16, 0)).decode()
        for size in (5, 70_000):  # one record, and several
            msg = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
            await lib.write(data, msg)
            got = b""
            while len(got) < len(msg):
                got += await lib.read(data, 1 << 16)
            assert got == msg
        status = await text(f"#a/tls/{n}/status")
        assert status.splitlines()[:2] == ["State: Established", "Version: TLSv1.3"]
        assert "User: glenda\n" in status and "Peer: n1\n" in status
        assert f"DataIn: {5 + 70_000}\nDataOut: {5 + 70_000}\n" == await text(f"#a/tls/{n}/stats")
        assert "TLS_AES_256_GCM_SHA384" in (await text("#a/tls/encalgs")).split()
        await lib.close(data)
        await lib.close(ctl)  # the last close: close_notify to the server
        assert (await text(f"#a/tls/{n}/status")).startswith("State: Closed")

    await in_node(srv, body)
    assert srv.seen == ["glenda", "close_notify"]


async def test_server_of_another_authority_fails_the_client_write(
    authdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    srv = Echo(make(tmp_path / "other", "n1"), "n1")

    async def body() -> None:
        with pytest.raises(Error) as e:
            await push(srv.port, authdir, "glenda")
        assert e.value.ename == "tls: certificate of another authority"
        assert "State: Error (tls: certificate of another authority)" in await text(
            "#a/tls/0/status"
        )

    await in_node(srv, body)


async def test_revoked_certificate_fails_the_first_read(authdir: pathlib.Path) -> None:
    srv = Echo(authdir, "n1")

    async def body() -> None:
        ctl, data = await push(srv.port, authdir, "mallory")
        with pytest.raises(Error) as e:
            await lib.read(data, 100)
        assert e.value.ename == "tls: certificate revoked"
        await lib.close(data)
        await lib.close(ctl)

    await in_node(srv, body)
    assert srv.seen == ["tls: certificate revoked"]


async def test_ctl_rules(authdir: pathlib.Path) -> None:
    p = await boot(config=CONFIG)
    ctl = await sysfile.open(p, "#a/tls/clone", ORDWR)
    n = (await sysfile.read(p, ctl, 16)).decode()
    data = await sysfile.open(p, f"#a/tls/{n}/data", ORDWR)
    assert await err(sysfile.read(p, data, 10)) == Etlsnotup
    assert await err(sysfile.write(p, data, b"x")) == Etlsnotup
    assert await err(sysfile.write(p, ctl, f"client {authdir} glenda n1".encode())) == Etlsnolink
    assert await err(sysfile.write(p, ctl, b"fd 99")) == Ebadfd
    assert await err(sysfile.write(p, ctl, b"secret x")) == Ebadctl
    null = await sysfile.open(p, "#c/null", ORDWR)
    await sysfile.write(p, ctl, f"fd {null}".encode())
    p.user = "alice"  # not the host owner: only alice's own certificate
    assert (await err(sysfile.write(p, ctl, f"client {authdir} glenda n1".encode()))).startswith(
        Eperm
    )
    p.user = p.core.eve
    assert "absolute" in await err(sysfile.write(p, ctl, b"client rel glenda n1"))
    for fd in (data, ctl, null):
        await sysfile.close(p, fd)
