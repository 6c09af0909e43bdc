"""The health check of a host server behind the node's TLS: u9fs answers it.

A node's host servers run with ``--auth`` (``lp49fs.node.hostservers``), so the monitor
probes them as ``srv`` dials them, with TLS and the node's private authority: the server
is healthy, is not killed, has nothing to complain of in its log (a plain probe would be
refused, and logged, every period), and the node goes on; several checks in a row must
pass while a client reads through the mount.
"""

from __future__ import annotations

import logging
import pathlib

import pytest
import trio
from lib_helpers import run_as

from lp49fs import lib
from lp49fs.ninep import OREAD
from lp49fs.node import hostservers
from lp49fs.node.boot import boot
from lp49fs.node.config import HostServerConf
from lp49fs.node.hostservers import start_hostservers

GUARD = 30  # seconds: a hang guard, never a timing assertion
PERIOD = 0.1  # a health check every 0.1 s
CHECKS = 8  # health periods the test lives through


async def test_a_host_server_behind_tls_answers_its_health_checks(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    share = tmp_path / "share"
    share.mkdir()
    (share / "hello").write_bytes(b"hello from linux\n")
    conf = HostServerConf("unix", "u9fs", (str(share),), "/n")
    seen: list[bytes] = []

    async def body() -> None:
        seen.append(await lib.readall(await lib.open("/n/hello", OREAD)))

    caplog.set_level(logging.INFO, logger=hostservers.__name__)
    with trio.fail_after(GUARD):
        async with boot() as node, trio.open_nursery() as n:
            (hs,) = await start_hostservers(node, n, (conf,), health=PERIOD)
            first = hs.pid
            end = trio.current_time() + CHECKS * PERIOD
            while trio.current_time() < end or len(seen) < CHECKS:  # reads while checks run
                await run_as(node, body)
            assert seen == [b"hello from linux\n"] * len(seen)
            assert (hs.pid, hs.starts, hs.last_exit) == (first, 1, "")
            n.cancel_scope.cancel()
    said = [r.getMessage() for r in caplog.records if r.name == hostservers.__name__]
    assert [m for m in said if "serving" not in m and "exited" not in m] == [], said
