"""lp49 auth and mutual TLS 1.3 on real TCP on 127.0.0.1 (lp49fs.auth).

Each refusal is checked for its one line on both sides, and for not hanging: the handshake
runs under the test's own fail_after guard, far above HANDSHAKE_TIMEOUT's role.
"""

from __future__ import annotations

import functools
import pathlib
import shutil
import ssl
import stat
import subprocess
import sys

import pytest
import trio

from lp49fs.auth.authority import NODES, USERS, Authority
from lp49fs.auth.tls import Eplain9p, ServerAuth, client
from lp49fs.errors import Error
from lp49fs.lib9p import clientfid as cf
from lp49fs.lib9p.client import Session
from lp49fs.lib9p.srv import serve_forever
from lp49fs.ninep import OWRITE, Rerror, encode
from lp49fs.servers.ramfs import Ramfs
from lp49fs.transport import announce, dial
from tests.waiting import DEADLINE as GUARD


def lp49(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lp49fs.host.cli", *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def authdir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    d = tmp_path_factory.mktemp("auth") / "ca"
    a = Authority(d)
    a.init()
    for user in ("alice", "bob", "mallory"):
        a.issue(USERS, user)
    a.issue(NODES, "n1", ("127.0.0.1",))
    a.issue(NODES, "n2", ("127.0.0.2",))
    a.revoke("mallory")
    return d


@pytest.fixture(scope="module")
def otherdir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    d = tmp_path_factory.mktemp("auth") / "other"
    a = Authority(d)
    a.init()
    a.issue(USERS, "alice")
    a.issue(NODES, "n1", ("127.0.0.1",))
    return d


def test_cli_makes_private_files(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "a"
    assert lp49("auth", "init", str(d)).returncode == 0
    r = lp49("auth", "add", str(d), "alice")
    assert r.returncode == 0, r.stderr
    assert lp49("auth", "node", str(d), "n1", "--ip", "10.0.0.1").returncode == 0
    for p in (d / "ca.key", d / "users/alice.key", d / "nodes/n1.key"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    for p in (d, d / "users", d / "nodes"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o700, p
    out = lp49("auth", "list", str(d)).stdout.split("\n")
    assert [line.split()[:2] + line.split()[3:4] for line in out if line] == [
        ["user", "alice", "valid"], ["node", "n1", "valid"]]  # fmt: skip
    again = lp49("auth", "add", str(d), "alice")
    assert again.returncode == 1
    assert again.stderr == "lp49 auth: auth: user alice already exists (revoke it first)\n"
    assert lp49("auth", "revoke", str(d), "alice").returncode == 0
    assert "user alice" in lp49("auth", "list", str(d)).stdout.split("revoked")[0]
    assert lp49("auth", "add", str(d), "alice").returncode == 0  # reissued after revoke
    assert lp49("auth", "init", str(d)).returncode == 1


@pytest.mark.parametrize("name", ["none", "", ".x", "-x", "a/b", "x" * 29, "é"])
def test_bad_names_refused(tmp_path: pathlib.Path, name: str) -> None:
    a = Authority(tmp_path)
    a.init()
    with pytest.raises(Error, match="bad name"):
        a.issue(USERS, name)


def test_no_authority_says_how(tmp_path: pathlib.Path) -> None:
    r = lp49("auth", "add", str(tmp_path / "nope"), "alice")
    assert r.returncode == 1
    assert "run: lp49 auth init" in r.stderr


async def handshake(
    server_dir: pathlib.Path, node: str, client_dir: pathlib.Path, user: str, host: str
) -> tuple[str, str]:
    """One connection; (what the server saw, what the client saw): a user or an error."""
    sa = ServerAuth(server_dir, node)
    listener = await announce("tcp!127.0.0.1!0")
    seen = {"server": "", "client": ""}

    async def serve() -> None:
        link = await listener.accept()
        try:
            tls = await sa.accept(link)
        except Error as e:
            seen["server"] = e.ename
            await link.aclose()
            return
        seen["server"] = tls.user
        await tls.send_all(b"hello " + tls.user.encode())
        await tls.receive_some()
        await tls.aclose()

    with trio.fail_after(GUARD):
        async with trio.open_nursery() as n:
            n.start_soon(serve)
            link = await dial(f"tcp!127.0.0.1!{listener.addr.port}")
            try:
                tls = await client(link, client_dir, user, host)
                seen["client"] = (await tls.receive_some()).decode()
                await tls.aclose()
            except Error as e:
                seen["client"] = e.ename
                await link.aclose()
        await listener.aclose()
    return seen["server"], seen["client"]


async def test_mutual_tls_names_the_user(authdir: pathlib.Path) -> None:
    assert await handshake(authdir, "n1", authdir, "alice", "127.0.0.1") == ("alice", "hello alice")
    assert await handshake(authdir, "n1", authdir, "n2", "127.0.0.1") == ("n2", "hello n2")


async def test_revoked_user_refused(authdir: pathlib.Path) -> None:
    assert await handshake(authdir, "n1", authdir, "mallory", "127.0.0.1") == (
        "tls: certificate revoked",
        "tls: certificate revoked",
    )


async def test_other_authority_client_refused(
    authdir: pathlib.Path, otherdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    # trusts our CA (so it accepts the server) but holds a certificate of another authority
    mixed = tmp_path / "mixed"
    shutil.copytree(authdir, mixed)
    for ext in ("key", "crt"):
        shutil.copy(otherdir / f"users/alice.{ext}", mixed / f"users/alice.{ext}")
    server, cli = await handshake(authdir, "n1", mixed, "alice", "127.0.0.1")
    assert server == "tls: certificate of another authority"
    assert cli == "tls: certificate of another authority"


async def test_server_of_other_authority_refused(
    authdir: pathlib.Path, otherdir: pathlib.Path
) -> None:
    server, cli = await handshake(otherdir, "n1", authdir, "alice", "127.0.0.1")
    assert cli == "tls: certificate of another authority"
    assert server.startswith("tls: ")


async def test_server_must_be_the_node_dialled(authdir: pathlib.Path) -> None:
    _, cli = await handshake(authdir, "n2", authdir, "alice", "127.0.0.1")
    assert cli == "tls: server certificate names another node"
    _, cli = await handshake(authdir, "n1", authdir, "alice", "n2")
    assert cli == "tls: server certificate names another node"


async def test_user_cannot_pose_as_a_node(authdir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    # bob's (client-only) certificate installed as node n1's
    fake = tmp_path / "fake"
    shutil.copytree(authdir, fake)
    for ext in ("key", "crt"):
        shutil.copy(authdir / f"users/bob.{ext}", fake / f"nodes/n1.{ext}")
    _, cli = await handshake(fake, "n1", authdir, "alice", "n1")
    assert cli == "tls: certificate not valid for this use"


async def test_no_certificate_and_plain_9p_refused(authdir: pathlib.Path) -> None:
    sa = ServerAuth(authdir, "n1")
    listener = await announce("tcp!127.0.0.1!0")
    errors: list[str] = []

    async def serve() -> None:
        for _ in range(2):
            link = await listener.accept()
            try:
                await sa.accept(link)
            except Error as e:
                errors.append(e.ename)
            await link.aclose()

    with trio.fail_after(GUARD):
        async with trio.open_nursery() as n:
            n.start_soon(serve)
            ctx = ssl.create_default_context(cafile=str(authdir / "ca.crt"))
            link = await dial(f"tcp!127.0.0.1!{listener.addr.port}")
            stream = trio.SSLStream(link, ctx, server_hostname="127.0.0.1")  # type: ignore[arg-type]
            await stream.do_handshake()  # TLS 1.3: the client finishes first
            with pytest.raises(trio.BrokenResourceError):
                await stream.receive_some()
            await link.aclose()
            link = await dial(f"tcp!127.0.0.1!{listener.addr.port}")
            tversion = bytes.fromhex("1300000064ffff002000000600") + b"9P2000"
            await link.send_all(tversion)
            got = b""
            while data := await link.receive_some():  # an Rerror, then the server hangs up
                got += data
            assert got == encode(0xFFFF, Rerror(Eplain9p))
            await link.aclose()
    await listener.aclose()
    assert errors == ["tls: no certificate",
                      "tls: not TLS (plain 9P to an authenticated listener?)"]  # fmt: skip


async def test_revoke_reaches_a_running_listener(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "ca"
    a = Authority(d)
    a.init()
    a.issue(USERS, "carol")
    a.issue(NODES, "n1", ("127.0.0.1",))
    assert (await handshake(d, "n1", d, "carol", "127.0.0.1"))[0] == "carol"
    sa = ServerAuth(d, "n1")
    before = sa.context()
    a.revoke("carol")
    assert sa.context() is not before
    assert (await handshake(d, "n1", d, "carol", "127.0.0.1"))[0] == "tls: certificate revoked"


async def test_host_server_attach_names_the_certificate(authdir: pathlib.Path) -> None:
    """A host server behind a TLS listener (``lp49 ramfs --auth``'s ``serve_forever`` with
    ``ServerAuth.accept``) refuses an attach by any name but the certificate's; the
    certificate's own name attaches and reads; a ``--speaker`` (bob here, as the node's
    host owner for its host servers) may attach as another user."""
    fs = Ramfs("alice")
    listener = await announce("tcp!127.0.0.1!0")
    with trio.fail_after(GUARD):
        async with trio.open_nursery() as n:
            wrap = ServerAuth(authdir, "n1", speakers=frozenset({"bob"})).accept
            n.start_soon(functools.partial(serve_forever, listener, fs, wrap=wrap))
            for cert, uname, want in (("alice", "bob", "authenticated as alice"),
                                      ("alice", "glenda", "as alice"), ("alice", "alice", None),
                                      ("bob", "alice", None)):  # fmt: skip
                link = await dial(f"tcp!127.0.0.1!{listener.addr.port}")
                tls = await client(link, authdir, cert, "127.0.0.1")
                session = Session(tls)
                async with trio.open_nursery() as inner:
                    await inner.start(session.run)
                    await session.version()
                    if want is None:
                        root = await cf.attach(session, uname)
                        if cert == uname:
                            await (await cf.create_path(root, "f", 0o600, OWRITE)).clunk()
                            await cf.write_file(root, "f", b"mine")
                        assert await cf.read_file(root, "f") == b"mine"  # bob reads as alice
                    else:
                        with pytest.raises(Error, match=f"permission denied.*{want}"):
                            await cf.attach(session, uname)
                    inner.cancel_scope.cancel()
            n.cancel_scope.cancel()
    await listener.aclose()
