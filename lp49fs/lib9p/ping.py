"""The Session's watchdog for a frozen peer (client.py Rule 6), kept in its own module.

When requests wait and nothing at all has arrived for ``period`` seconds, ``watchdog`` sends
a ping: ``Tflush`` of a tag that is held unused (``ClientConn.hold_tag``), which flush(5)
says the server answers at once whatever it is busy with.  If nothing arrives within
``period`` more, the session hangs up.  It works on the Session's own state (its calls,
its ClientConn, the time of the last bytes received) and is started by ``Session.run``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from lp49fs.errors import Error
from lp49fs.ninep import Tflush

if TYPE_CHECKING:
    from lp49fs.lib9p.client import Session

log = logging.getLogger(__name__)

SILENT = "peer silent"  # how a hangup for want of an answer begins (mntrecover Rule 8)


async def watchdog(s: Session, period: float) -> None:
    """Hang ``s`` up when its peer leaves waiting requests unanswered and says nothing."""
    while s._hungup is None:
        await trio.sleep(period)
        if not s._calls or trio.current_time() - s._last_rx < period:
            continue  # nothing waits, or the peer spoke lately
        heard = s._last_rx
        if s._nursery is not None:
            s._nursery.start_soon(ping, s)
        with trio.move_on_after(period):
            while s._last_rx == heard and s._hungup is None:
                await trio.sleep(min(period / 10, 0.1))
        if s._last_rx == heard and s._hungup is None:
            log.warning("9P peer silent for %.1f s with %d requests waiting: hanging up",
                        trio.current_time() - heard, len(s._calls))
            s._hangup(f"{SILENT} for {trio.current_time() - heard:.1f} s")
            if s._nursery is not None:
                s._nursery.cancel_scope.cancel()  # run() ends and closes the link
            return


async def ping(s: Session) -> None:
    """Send ``Tflush`` of a held unused tag; release the tag when its Rflush (or the hangup)
    comes.  Any bytes from the peer prove it alive."""
    from lp49fs.lib9p.client import _Call

    oldtag = s.conn.hold_tag()  # reserved: no request takes it meanwhile
    msg = Tflush(oldtag=oldtag)
    tag, parts = s.conn.send_parts(msg)
    s._calls[tag] = call = _Call(msg)
    try:
        await s._send(parts)
        await s._wait(call)  # Rflush, or the hangup: this task reads if nobody else does
    except Error:
        pass  # hung up while sending
    finally:
        s.conn.release_tag(oldtag)
