"""ClientConn: the client side of one 9P connection, sans-IO.

An async client (tag multiplexing, one waiter per tag) drives it like this::

    conn = ClientConn(msize=8216)
    tag, data = conn.send(Tversion(conn.msize, VERSION9P))   # then write data
    conn.receive_data(chunk)                                 # bytes read from the server
    reply = conn.next_reply()          # NEED_DATA | (tag, R-message): wake tag's waiter

Rule 1. Nothing but Tversion is sent before an Rversion; Tversion uses NOTAG and starts a
        new session (pending tags and fids are forgotten).  The answer must be the version
        asked for or plain "9P2000" (version(5): a server may answer an earlier version);
        any other answer ("unknown") leaves the connection unversioned.  The server's
        msize must not exceed ours; it becomes the frame limit.
Rule 2. Tags are allocated here, never NOTAG, and held until the reply arrives; a flushed
        tag is held until the Rflush of its last Tflush, even when its reply came first.
        ``hold_tag`` reserves a tag that no request may take until ``release_tag``.
Rule 3. Fids: ``alloc_fid()`` reserves a number for Tattach/Tauth/Twalk newfid; a failed
        or partial attach/walk, or one flushed away unanswered, releases it; Tclunk and
        Tremove release the fid whatever the answer, except one flushed away unanswered,
        which flush(5) says never happened: the fid stays live.  ``fids`` holds the live
        ones, ``inuse`` those and the reserved ones.
Rule 4. A reply must answer a pending tag (R-type = T-type + 1, or Rerror, and never
        Rerror for Tflush); anything else is a ProtocolError.  A reply that arrives for a
        flushed tag before its Rflush is honoured (a walk it answers did create the fid).
Rule 5. A Twrite frame larger than msize is refused (ValueError): data is never truncated.
"""

from __future__ import annotations

from . import _constants as C
from ._errors import ProtocolError
from ._framing import NEED_DATA, Framer, NeedData
from ._messages import (
    Message,
    Rerror,
    Rflush,
    RMessage,
    Rversion,
    Rwalk,
    Tattach,
    Tauth,
    Tclunk,
    Tflush,
    TMessage,
    Tremove,
    Tversion,
    Twalk,
    is_reply_to,
    is_rmessage,
)
from ._wire import decode, encode_parts


class ClientConn:
    """Tag and fid bookkeeping and reply checking for a 9P client."""

    def __init__(self, msize: int = C.DEFAULT_MSIZE) -> None:
        self.msize = min(msize, C.MAXMSIZE)  # ours until Rversion, then the server's
        self.version: str | None = None  # the negotiated version string (Rule 1)
        self.pending: dict[int, TMessage] = {}  # tag -> request awaiting its reply
        self.flushes: dict[int, int] = {}  # Tflush tag -> the oldtag it flushes
        self.fids: set[int] = set()  # fids that exist on the server
        self._reserved: set[int] = set()  # fid numbers handed out, not yet created
        self._held: set[int] = set()  # tags kept from allocation (Rule 2)
        self._asked = C.VERSION9P  # the version of the last Tversion
        self._nexttag = 0
        self._nextfid = 0
        self._framer = Framer(self.msize)

    def alloc_fid(self) -> int:
        """Reserve an unused fid number for a Tattach, Tauth or Twalk newfid."""
        while self._nextfid in self.fids or self._nextfid in self._reserved \
                or self._nextfid == C.NOFID:
            self._nextfid = (self._nextfid + 1) & 0xFFFFFFFF
        fid = self._nextfid
        self._reserved.add(fid)
        self._nextfid = (fid + 1) & 0xFFFFFFFF
        return fid

    def free_fid(self, fid: int) -> None:
        """Forget ``fid`` (reserved or live) without telling the server."""
        self._reserved.discard(fid)
        self.fids.discard(fid)

    @property
    def inuse(self) -> frozenset[int]:
        """Fid numbers live on the server or reserved for a request that may create them."""
        return frozenset(self.fids | self._reserved)

    def hold_tag(self) -> int:
        """Reserve a free tag that no request takes until ``release_tag`` (Rule 2)."""
        tag = self._alloc_tag()
        self._held.add(tag)
        return tag

    def release_tag(self, tag: int) -> None:
        self._held.discard(tag)

    def send(self, msg: TMessage) -> tuple[int, bytes]:
        """Allocate a tag for ``msg`` and return it with the frame to write."""
        tag, parts = self.send_parts(msg)
        return tag, parts[0] if len(parts) == 1 else b"".join(parts)

    def send_parts(self, msg: TMessage) -> tuple[int, tuple[bytes, ...]]:
        """As ``send``, the frame as buffers to write back to back (Twrite data not joined)."""
        if isinstance(msg, Tversion):
            self.pending.clear()
            self.flushes.clear()
            self.fids.clear()
            self._reserved.clear()
            self._held.clear()
            self.version = None
            self._asked = msg.version
            tag = C.NOTAG
        elif self.version is None:
            raise ValueError(f"{type(msg).__name__} before version negotiation")
        else:
            tag = self._alloc_tag()
        if isinstance(msg, Twalk) and len(msg.wname) > C.MAXWELEM:
            raise ValueError(f"Twalk of {len(msg.wname)} names (max {C.MAXWELEM})")
        parts = encode_parts(tag, msg)
        size = sum(map(len, parts))
        if size > self.msize:
            raise ValueError(f"{type(msg).__name__} of {size} bytes exceeds msize")
        self.pending[tag] = msg
        if isinstance(msg, Tflush):
            self.flushes[tag] = msg.oldtag
        return tag, parts

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes from the server; take the replies out with next_reply()."""
        self._framer.feed(data)

    def recv_buffer(self) -> memoryview:
        """Free space in the Framer to receive into; then call ``received(n)``."""
        return self._framer.recv_buffer()

    def received(self, n: int) -> None:
        self._framer.received(n)

    def next_reply(self) -> tuple[int, RMessage] | NeedData:
        """The next reply, or NEED_DATA; ProtocolError if the server broke a rule."""
        frame = self._framer.next_view()
        if frame is NEED_DATA:
            return NEED_DATA
        return self.receive_frame(frame)

    def receive_frame(self, frame: bytes | memoryview) -> tuple[int, RMessage]:
        """Check one whole reply frame against the pending requests and apply it."""
        tag, msg = decode(frame)
        return tag, self.receive_message(tag, msg)

    def receive_message(self, tag: int, msg: Message) -> RMessage:
        """As receive_frame, for a reply already decoded."""
        if not is_rmessage(msg):
            raise ProtocolError(f"client received a request: {type(msg).__name__}")
        req = self.pending.get(tag)
        if req is None:
            raise ProtocolError(f"{type(msg).__name__} for tag {tag}, which is not pending")
        if not is_reply_to(msg, req):
            raise ProtocolError(f"{type(msg).__name__} does not answer {type(req).__name__}")
        del self.pending[tag]
        if isinstance(msg, Rflush):
            oldtag = self.flushes.pop(tag)
            if oldtag in self.pending and oldtag not in self.flushes.values():
                self._unanswered(self.pending.pop(oldtag))
        elif isinstance(msg, Rversion):
            self._version(msg)
        else:
            self._settle(req, msg)
        return msg

    def _alloc_tag(self) -> int:
        for _ in range(C.NOTAG):
            tag = self._nexttag
            self._nexttag = (tag + 1) % C.NOTAG
            if tag not in self.pending and tag not in self._held and (
                    not self.flushes or tag not in self.flushes.values()):
                return tag
        raise ValueError("all 65535 tags are in use")

    def _version(self, r: Rversion) -> None:
        if r.version not in (self._asked, C.VERSION9P):
            return  # "unknown", or a version not asked for: no session (Rule 1)
        if r.msize > self.msize or r.msize < C.MINMSIZE:
            raise ProtocolError(f"Rversion msize {r.msize} outside [256, {self.msize}]")
        self.version = r.version
        self.msize = r.msize
        self._framer.max_size = r.msize

    def _settle(self, req: TMessage, r: RMessage) -> None:
        """Apply a reply's effect on the fid set."""
        if isinstance(req, Tclunk | Tremove):
            self.free_fid(req.fid)
            return
        new = None
        if isinstance(req, Tattach):
            new = req.fid
        elif isinstance(req, Tauth):
            new = req.afid
        elif isinstance(req, Twalk) and req.newfid != req.fid:
            new = req.newfid
        if new is None:
            return
        self._reserved.discard(new)
        full = not isinstance(r, Rerror) and not (
            isinstance(req, Twalk) and isinstance(r, Rwalk) and len(r.wqid) < len(req.wname))
        if full:
            self.fids.add(new)

    def _unanswered(self, req: TMessage) -> None:
        """A flushed request that got no reply never happened (flush(5)): nothing it would
        have created exists, and a fid it would have clunked still does (Rule 3)."""
        if not isinstance(req, Tclunk | Tremove):
            self._settle(req, Rerror("flushed"))
