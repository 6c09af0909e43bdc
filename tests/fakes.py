"""In-memory fakes for tests (no trio): NinepPair joins a ClientConn and a ServerConn.

``NinepPair`` is h11's ConnectionPair for 9P: ``pair.t(msg)`` sends a T-message through the
client's encoder into the server and returns the server's event; ``pair.answer(req, reply)``
runs the server's ``respond`` and feeds the bytes to the client, returning the replies the
client accepted.  ``pair.rpc(msg, backend)`` does both, with ``backend(req)`` playing the
file server.  Bytes always cross as bytes, so both codecs and both state machines run.
"""

from __future__ import annotations

from collections.abc import Callable

from lp49fs.errors import Error
from lp49fs.ninep import (
    NEED_DATA,
    NOFID,
    QTDIR,
    VERSION9P,
    Answer,
    ClientConn,
    Qid,
    Rattach,
    Req,
    RMessage,
    ServerConn,
    ServerEvent,
    Tattach,
    TMessage,
    Tversion,
)

ROOTQID = Qid(QTDIR, 0, 1)
Backend = Callable[[Req], RMessage | Error]


class NinepPair:
    """A ClientConn and a ServerConn joined in memory."""

    def __init__(self, msize: int = 8192 + 24, max_msize: int = 8192 + 24) -> None:
        self.client = ClientConn(msize)
        self.server = ServerConn(max_msize)

    def t(self, msg: TMessage) -> tuple[int, ServerEvent]:
        """Send ``msg`` from the client; return its tag and the server's event."""
        tag, data = self.client.send(msg)
        self.server.receive_data(data)
        ev = self.server.next_event()
        assert ev is not NEED_DATA
        return tag, ev

    def deliver(self, data: bytes) -> list[tuple[int, RMessage]]:
        """Feed server bytes to the client; every reply it accepts."""
        self.client.receive_data(data)
        out = []
        while (r := self.client.next_reply()) is not NEED_DATA:
            out.append(r)
        return out

    def answer(self, req: Req, reply: RMessage | Error) -> list[tuple[int, RMessage]]:
        """The server answers ``req``; the replies the client receives."""
        return self.deliver(self.server.respond(req, reply))

    def rpc(self, msg: TMessage, backend: Backend | None = None) -> RMessage:
        """A whole round trip; ``backend`` answers if the server passes the request on."""
        tag, ev = self.t(msg)
        if isinstance(ev, Answer):
            replies = self.deliver(ev.data)
        else:
            assert isinstance(ev, Req), ev
            assert backend is not None, f"{msg} reached the backend"
            replies = self.answer(ev, backend(ev))
        assert len(replies) == 1 and replies[0][0] == tag, replies
        return replies[0][1]

    def connect(self, root: Qid = ROOTQID, uname: str = "glenda", version: str = VERSION9P
                ) -> int:
        """Tversion (of ``version``) + Tattach; the root fid."""
        self.rpc(Tversion(self.client.msize, version))
        fid = self.client.alloc_fid()
        r = self.rpc(Tattach(fid, NOFID, uname, ""), lambda req: Rattach(root))
        assert r == Rattach(root)
        return fid
