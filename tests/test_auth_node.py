"""A node's authenticated export listener, attacked and used from the host over real TCP.

``lp49 node --listen tcp!127.0.0.1!PORT --auth DIR`` (mutual TLS 1.3; each connection's
exportfs becomes the certificate's user through cap(3)) and the host client ``lp49 9p
--auth``: what alice may and may not do, the refusals with their one line, and the rules for
listeners without an authority (loopback: user none; elsewhere: refused).
"""

from __future__ import annotations

import os
import random
import socket
import ssl
import struct
import subprocess
from collections.abc import Iterator

import pytest
from test_import import accepting, free_port, start

from bench.churn9p import reply
from lp49fs.auth.authority import NODES, USERS, Authority
from lp49fs.auth.tls import client_context
from lp49fs.host.demo.console import LP49, NodeProc
from lp49fs.ninep import NOFID, NOTAG, Rattach, Rstat, Tattach, Tstat, Tversion, encode
from lp49fs.ninep._codec import parse_message
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def beta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(address, authority dir) of node beta listening with TLS."""
    workdir = str(tmp_path_factory.mktemp("authnode"))
    a = Authority(os.path.join(workdir, "auth"))
    a.init()
    for user in ("alice", "mallory"):
        a.issue(USERS, user)
    a.issue(NODES, "beta", ("127.0.0.1",))
    a.revoke("mallory")
    port = free_port()
    node = start("beta", workdir, f"tcp!127.0.0.1!{port}")
    try:
        wait_until(lambda: accepting(port), "beta's exportfs")
        yield f"tcp!127.0.0.1!{port}", str(a.root)
    finally:
        node.stop()


def p9(addr: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LP49, "9p", "-a", addr, *args], input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


def test_the_certificate_names_the_user(beta: tuple[str, str]) -> None:
    addr, auth = beta
    done = p9(addr, "--auth", auth, "-u", "alice", "read", "/dev/user")
    assert (done.stdout, done.returncode) == ("alice", 0), done.stderr
    done = p9(addr, "--auth", auth, "-u", "alice", "read", "/dev/hostowner")
    assert done.stdout == "glenda"


def test_alice_cannot_take_over_the_node(beta: tuple[str, str]) -> None:
    addr, auth = beta
    me = ["--auth", auth, "-u", "alice"]
    done = p9(addr, *me, "write", "/dev/hostowner", stdin="alice")
    assert done.returncode == 1 and done.stderr.endswith(": permission denied\n"), done.stderr
    done = p9(addr, *me, "read", "/dev/cons")  # the operator's typed lines
    assert done.returncode == 1 and "permission denied" in done.stderr
    done = p9(addr, *me, "write", "/dev/sysname", stdin="pwned")
    assert done.returncode == 1 and "permission denied" in done.stderr
    # the export listener (a process of glenda) cannot be killed by alice
    procs = p9(addr, *me, "ls", "-l", "/proc").stdout.split("\n")
    glenda = [line.split()[-1] for line in procs if line and line.split()[3] == "glenda"]
    assert glenda
    for pid in glenda:
        done = p9(addr, *me, "write", f"/proc/{pid}/ctl", stdin="kill")
        assert done.returncode == 1 and "permission denied" in done.stderr, pid
        done = p9(addr, *me, "write", f"/proc/{pid}/note", stdin="kill")
        assert done.returncode == 1 and "permission denied" in done.stderr, pid
    assert p9(addr, *me, "read", "/dev/sysname").stdout == "beta"  # the node lives on
    # /net is not exported by default: no dialling or announcing from beta
    done = p9(addr, *me, "read", "/net/tcp/clone")
    assert done.returncode == 1 and "does not exist" in done.stderr, done.stderr


def test_refusals_have_one_clear_line(beta: tuple[str, str], tmp_path: os.PathLike[str]) -> None:
    addr, auth = beta
    done = p9(addr, "--auth", auth, "-u", "mallory", "read", "/dev/user")
    assert (done.returncode, done.stderr) == (1, "9p: read /dev/user: tls: certificate revoked\n")
    done = p9(addr, "-u", "alice", "read", "/dev/user")  # plain 9P to the TLS listener
    assert done.returncode == 1
    assert "authentication required: this listener speaks 9P only inside TLS" in done.stderr
    other = Authority(os.path.join(str(tmp_path), "other"))
    other.init()
    other.issue(USERS, "alice")
    done = p9(addr, "--auth", str(other.root), "-u", "alice", "read", "/dev/user")
    assert (done.returncode, done.stderr) == (
        1, "9p: read /dev/user: tls: certificate of another authority\n")  # fmt: skip
    assert p9(addr, "--auth", auth, "-u", "alice", "read", "/dev/user").stdout == "alice"


def test_listening_without_authority(tmp_path: os.PathLike[str]) -> None:
    workdir = str(tmp_path)
    done = subprocess.run([*LP49, "node", "--name", "x", "--console", "none", "--listen",
                           f"tcp!*!{free_port()}"], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("lp49 node: refusing to listen on tcp!*!")
    assert "--auth DIR" in done.stderr and "--insecure" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    port = free_port()
    node: NodeProc = start("gamma", workdir, f"tcp!127.0.0.1!{port}", auth=False)
    try:
        wait_until(lambda: accepting(port), "gamma's exportfs")
        addr = f"tcp!127.0.0.1!{port}"
        done = p9(addr, "-u", "glenda", "read", "/dev/user")
        assert (done.stdout, done.returncode) == ("none", 0), done.stderr
        done = p9(addr, "-u", "glenda", "write", "/dev/hostowner", stdin="mallory")
        assert done.returncode == 1 and "permission denied" in done.stderr
        assert p9(addr, "read", "/dev/hostowner").stdout == "glenda"
    finally:
        node.stop()


def test_garbage_at_the_listener_hurts_nobody(beta: tuple[str, str]) -> None:
    """A short bounded fuzz: connections that send random bytes, a TLS ClientHello cut
    short, or nothing and a reset; then an honest client is served and the node lives."""
    addr, auth = beta
    port = int(addr.rsplit("!", 1)[1])
    rnd = random.Random(49)
    hello = bytes.fromhex("16030100c8010000c40303") + bytes(32)  # a truncated ClientHello
    for i in range(60):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            kind = i % 3
            if kind == 0:
                s.sendall(rnd.randbytes(rnd.randrange(1, 2048)))
            elif kind == 1:
                s.sendall(hello[: rnd.randrange(1, len(hello))])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    done = p9(addr, "--auth", auth, "-u", "alice", "read", "/dev/sysname")
    assert (done.stdout, done.returncode) == ("beta", 0), done.stderr


def tls_attached(port: int, auth: str, user: str) -> ssl.SSLSocket:
    """A TLS connection as ``user`` (its certificate), versioned and attached."""
    ctx = client_context(Authority(auth), user)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                        server_hostname="127.0.0.1")  # fmt: skip
    s.sendall(encode(NOTAG, Tversion(8192, "9P2000")))
    reply(s)
    s.sendall(encode(1, Tattach(0, NOFID, user, "/")))
    assert isinstance(parse_message(reply(s))[1], Rattach)
    return s


def ended(s: ssl.SSLSocket) -> bool:
    """Whether the server has ended ``s`` (EOF, reset or a TLS alert), without waiting."""
    s.settimeout(0.05)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:  # ssl.SSLError is one
        return True


def test_revoke_ends_open_connections(beta: tuple[str, str]) -> None:
    """``lp49 auth revoke`` reaches a connection already open: carol's is ended with a log
    line within a few seconds, dave's (not revoked) keeps being served."""
    addr, auth = beta
    port = int(addr.rsplit("!", 1)[1])
    a = Authority(auth)
    for user in ("carol", "dave"):
        a.issue(USERS, user)
    carol, dave = tls_attached(port, auth, "carol"), tls_attached(port, auth, "dave")
    try:
        done = subprocess.run([*LP49, "auth", "revoke", auth, "carol"], capture_output=True,
                              text=True, timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        wait_until(lambda: ended(carol), "carol's connection ended")
        dave.settimeout(30)
        dave.sendall(encode(2, Tstat(0)))
        assert isinstance(parse_message(reply(dave))[1], Rstat)
        assert not ended(dave)
    finally:
        carol.close()
        dave.close()
