"""exportfs pieces: the handshake on both sides, name checks, dial strings, #I keepalive, and
third-party 9P clients (python-9p, p9fs) attached to a node's export listener."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import trio
from conftest import peer_python
from test_import import accepting, free_port, start

from hwsim.netif import TCP, HostSock
from lp49fs.errors import Ebadchar, Error
from lp49fs.host.demo.console import NodeProc
from lp49fs.ninep import Dir, Qid
from lp49fs.servers.exportfs import QidMap, checkname, cleanroot, hs, treenames
from lp49fs.servers.exportfs.net import keepalive_msg, netaddr
from lp49fs.transport import pipe_pair
from tests.waiting import wait_until


@pytest.mark.parametrize("name", ["", ".", "a/b", "#c", "x\x00", "tab\there", "\x7f"])
def test_odd_names_are_refused(name: str) -> None:
    with pytest.raises(Error, match=Ebadchar):
        checkname(name)


def test_trees_and_roots_stay_inside() -> None:
    assert treenames("/../../dev/./..//tmp") == ["tmp"]
    assert treenames("/") == [] and treenames("") == []
    assert cleanroot("/usr/../tmp/.") == "/tmp" and cleanroot("/..") == "/"
    with pytest.raises(Error):
        treenames("/dev/#c")


def test_qids_are_unique_per_servant_and_stable() -> None:
    m = QidMap()
    a = m.qid(Dir(type=ord("c"), dev=0, qid=Qid(0, 0, 1)))
    b = m.qid(Dir(type=ord("M"), dev=3, qid=Qid(0x80, 2, 1)))
    assert a.path != b.path and b.type == 0x80 and b.vers == 2
    assert m.qid(Dir(type=ord("c"), dev=0, qid=Qid(0, 5, 1))).path == a.path


def test_dial_strings() -> None:
    assert netaddr("beta") == "tcp!beta!17007"
    assert netaddr("net!beta") == "tcp!beta!17007"
    assert netaddr("tcp!beta!99") == "tcp!beta!99"
    assert netaddr("net!beta!99") == "tcp!beta!99"
    assert netaddr("unix!/x/y") == "unix!/x/y"
    assert netaddr("beta", 564) == "tcp!beta!564"


def test_first_bytes_tell_tree_from_9p() -> None:
    assert hs.is_tree(b"/") and hs.is_tree(b"/usr/glenda")
    assert not hs.is_tree(b"\x13\x00\x00\x00d\xff\xff")  # Tversion
    assert not hs.is_tree(b"/\x00\x00\x00d")  # a 47-byte 9P message starts with '/'


async def test_keepalive_is_asked_of_ip_and_sets_the_host_timers() -> None:
    assert keepalive_msg(2) == b"keepalive 2000" and keepalive_msg(0.0001) == b"keepalive 1"
    s = HostSock(TCP)
    try:
        s.keepalive(None)
        assert s.keepalive_state()[0]
        s.keepalive(2000)  # idle 2 s, probes 1 s apart, dead after 2 unanswered: 4 s
        assert s.keepalive_timers() == (2, 1, 2, 4000)
        s.keepalive(1500)  # whole seconds, rounded up
        assert s.keepalive_timers() == (2, 1, 2, 4000)
        s.keepalive(30000)
        idle, intvl, cnt, timeout = s.keepalive_timers()
        assert (idle, cnt) == (30, 2) and timeout == (idle + cnt * intvl) * 1000 <= 45000
    finally:
        s.close()


async def _ok(tree: str) -> None:
    if tree.startswith("/bad"):
        raise Error("'/bad' does not exist")


async def test_handshake_both_sides_then_9p_bytes_pass_untouched() -> None:
    imp, exp = pipe_pair()
    got: list[object] = []

    async def exporter() -> None:
        link, tree = await hs.accept(exp, _ok)
        got.append(tree)
        got.append(await link.receive_some(100))
        await link.aclose()

    async with trio.open_nursery() as n:
        n.start_soon(exporter)
        await hs.request(imp, "/usr/glenda")
        await imp.send_all(b"\x13\x00\x00\x00d-9P-bytes")
    assert got == ["/usr/glenda", b"\x13\x00\x00\x00d-9P-bytes"]
    await imp.aclose()


async def test_plain_9p_needs_no_handshake() -> None:
    imp, exp = pipe_pair()
    await imp.send_all(b"\x13\x00\x00\x00d\xff\xff rest")
    link, tree = await hs.accept(exp, _ok)
    assert tree is None and await link.receive_some(3) == b"\x13\x00\x00"
    await imp.aclose()
    await link.aclose()


async def test_a_bad_tree_is_refused_with_its_reason() -> None:
    imp, exp = pipe_pair()
    async with trio.open_nursery() as n:
        n.start_soon(_expect_error, exp)
        with pytest.raises(Error, match=r"^bad remote tree: '/bad' does not exist$"):
            await hs.request(imp, "/bad")
    await imp.aclose()


async def test_only_nofilter_clear_is_spoken_for_now() -> None:
    imp, exp = pipe_pair()
    async with trio.open_nursery() as n:
        n.start_soon(_expect_error, exp)
        await imp.send_all(b"/")
        assert await imp.receive_some(10) == b"OK"
        await imp.send_all(b"impo aan ssl\n")
        assert await imp.receive_some(100) == b"exportfs: filter aan not supported"
        assert await imp.receive_some(100) == b""  # and hung up
    await imp.aclose()


async def _expect_error(exp: object) -> None:
    with pytest.raises(Error):
        await hs.accept(exp, _ok)  # type: ignore[arg-type]


# --- third-party clients against a node's exportfs ------------------------------------------

LIST_PY9P = r"""
import json, sys
from py9p import OREAD, Client
from py9p.native import decode_dir
c = Client.connect_tcp(sys.argv[1], int(sys.argv[2]), msize=8192 + 24)
c.negotiate()
c.attach(0, uname="glenda", aname="/dev")
c.walk(0, 1, "")
c.open(1, OREAD)
data, off = b"", 0
while chunk := c.read(1, 8192, off):
    data, off = data + chunk, off + len(chunk)
names = []
while data:
    n = int.from_bytes(data[:2], "little") + 2
    names.append(decode_dir(data[:n]).name)
    data = data[n:]
c.walk(0, 2, "sysname")
c.open(2, OREAD)
print(json.dumps({"ls": sorted(names), "sysname": c.read(2, 100, 0).decode()}))
"""

LIST_P9FS = r"""
import json, socket, sys
from py9p import py9p
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c = py9p.Client(s, py9p.Credentials(user="glenda"), msize=8192 + 24, aname="/dev")
names = sorted(n.decode() for n in c.ls())
c.open("/sysname")
data = c.read(100)
c.close()
print(json.dumps({"ls": names, "sysname": data.decode()}))
"""


@pytest.fixture
def beta(tmp_path: os.PathLike[str]) -> Iterator[tuple[NodeProc, int]]:
    port = free_port()
    node = start("beta", str(tmp_path), f"tcp!127.0.0.1!{port}", auth=False)  # served as none
    try:
        wait_until(lambda: accepting(port), "beta's exportfs")
        yield node, port
    finally:
        node.stop()


@pytest.mark.peers
@pytest.mark.parametrize("peer,script", [("python-9p", LIST_PY9P), ("p9fs", LIST_P9FS)])
async def test_third_party_clients_list_a_nodes_dev(
    beta: tuple[NodeProc, int], peer: str, script: str
) -> None:
    _, port = beta
    py = peer_python(peer)
    with trio.fail_after(60):
        done = await trio.run_process([str(py), "-c", script, "127.0.0.1", str(port)],
                                      capture_stdout=True, capture_stderr=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout)
    assert out["sysname"] == "beta"
    assert {"cons", "sysname", "time", "null"} <= set(out["ls"])
