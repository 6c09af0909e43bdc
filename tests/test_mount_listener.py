"""``lp49 mount``'s node (``host.node.start``, shared with ``lp49 node``) supervises its export
listener: killed, it is restarted and the address answers again.

A real node, booted in this process; the listener is a real ``exportfs -l`` on a real TCP
port of 127.0.0.1, killed with the ``kill`` note.
"""

from __future__ import annotations

from functools import partial

import trio

from lp49fs.host.demo.netns import free_port
from lp49fs.host.node import LISTENER, start
from lp49fs.node.boot import boot
from lp49fs.node.config import NodeConfig
from lp49fs.node.servers import Supervised
from tests.waiting import DEADLINE, await_until


async def answers(port: int) -> bool:
    try:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
    except OSError:
        return False
    await stream.aclose()
    return True


async def test_the_export_listener_of_lp49_mount_is_restarted() -> None:
    port = free_port()
    cfg = NodeConfig(listen=f"tcp!127.0.0.1!{port}")
    with trio.fail_after(DEADLINE):
        async with boot() as node, trio.open_nursery() as n:
            await start(node, cfg, n)
            (sv,) = [s for s in node.supervised
                     if isinstance(s, Supervised) and s.spec.srvname == LISTENER]  # fmt: skip
            await await_until(partial(answers, port), "the listener answers")
            old = sv.pid
            node.procmgr.note(node.procmgr.bypid[old].proc, "kill")
            await node.wait(old)
            await await_until(lambda: sv.pid not in (0, old) and sv.up.is_set(), "a restart")
            await await_until(partial(answers, port), "the new listener answers")
            assert sv.starts == 2
            n.cancel_scope.cancel()
