"""IPv4 reassembly in the own stack: the queue's rules on their own, then a UDP datagram of
4000 bytes sent by a node as three raw fragments (out of order, one twice) through its
``#l``, read whole by a UDP conversation of the other node on the hub."""

from __future__ import annotations

import os
from collections import Counter

import trio
import trio.testing
from lib_helpers import run_as

from lp49fs import lib
from lp49fs.ninep import ORDWR
from lp49fs.node.netboot import macaddr
from lp49fs.servants.inet import pkt
from lp49fs.servants.inet.reasm import MAXDGRAMS, TIMEOUT, Reasm
from tests.test_inet import A, B, pair

SRC, DST = pkt.ipbytes(A), pkt.ipbytes(B)


def fragments(payload: bytes, ident: int, size: int = 1480) -> list[pkt.Ip]:
    """``payload`` cut into fragments of ``size`` bytes (a multiple of 8)."""
    out = []
    for off in range(0, len(payload), size):
        more = pkt.MF if off + size < len(payload) else 0
        out.append(pkt.Ip(SRC, DST, pkt.PROTO_UDP, 64, ident, payload[off : off + size],
                          more | off // 8))  # fmt: skip
    return out


def test_reassembly_rules() -> None:
    stats: Counter[str] = Counter()
    r = Reasm(stats)
    data = os.urandom(4000)
    f = fragments(data, 1)
    assert r.add(f[2], 0) is None and r.add(f[0], 0) is None and r.add(f[0], 0) is None
    whole = r.add(f[1], 0)
    assert whole is not None and whole.payload == data and whole.frag == 0
    assert stats["ReasmOKs"] == 1 and not r.q
    # a hole never completes, and the datagram is dropped after TIMEOUT
    assert r.add(fragments(data, 2)[0], 0) is None and r.add(fragments(data, 2)[2], 0) is None
    assert r.add(fragments(data, 3)[0], TIMEOUT + 1) is None
    assert [k[3] for k in r.q] == [3] and stats["ReasmFails"] == 1  # 2 expired, 3 waits
    # past 65535 bytes of IP, or more than MAXDGRAMS at once: dropped
    huge = pkt.Ip(SRC, DST, pkt.PROTO_UDP, 64, 4, bytes(8), pkt.MF | 8190)
    assert r.add(huge, TIMEOUT + 1) is None and stats["ReasmFails"] == 2
    for ident in range(100, 100 + MAXDGRAMS):
        r.add(fragments(data, ident)[0], TIMEOUT + 1)
    assert len(r.q) == MAXDGRAMS and stats["ReasmFails"] > 2


async def test_fragmented_udp_datagram_arrives_whole(tmp_path: os.PathLike[str]) -> None:
    async with pair(f"{tmp_path}/hub") as (a, b, _):
        got: list[bytes] = []
        data = os.urandom(4000)

        async def server() -> None:
            ctl = await lib.open("/net/udp/clone", ORDWR)
            n = (await lib.read(ctl, 16)).decode()
            await lib.write(ctl, b"announce 5354")
            got.append(await lib.read(await lib.open(f"/net/udp/{n}/data", ORDWR), 8192))

        async def sender() -> None:
            ctl = await lib.open("/net/ether0/clone", ORDWR)
            n = (await lib.read(ctl, 16)).decode()
            await lib.write(ctl, b"connect 2048")
            d = await lib.open(f"/net/ether0/{n}/data", ORDWR)
            udp = pkt.udp_build(SRC, DST, 5000, 5354, data)
            frags = fragments(udp, 77)
            for f in (frags[2], frags[0], frags[2], frags[1]):
                ip = pkt.ip_build(SRC, DST, pkt.PROTO_UDP, f.payload, 77, frag=f.frag)
                await lib.write(d, macaddr("b", 0) + bytes(6) + b"\x08\x00" + ip)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_as, b, server)
            await trio.testing.wait_all_tasks_blocked()
            await run_as(a, sender)
        stats = b.core.devtab["I"].stack.stats  # type: ignore[attr-defined]
        assert got == [data]
        assert (stats["ReasmReqds"], stats["ReasmOKs"]) == (4, 1)
