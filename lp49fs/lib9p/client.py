"""A 9P2000 client session: many requests in flight on one link, flush on cancellation.

Layers (top to bottom):

* ``clientfid.py`` -- ``Fid``, the one fid-level API (walk, open, create, read, write, clunk,
  remove, stat, wstat, readdir), and path helpers (``walk_path``, ``read_file`` ...).
* this module -- ``Session``: waiting callers (each reads its own reply), the one writer
  path, Tflush, the ping watchdog and the trace hooks.
* ``lp49fs.ninep.ClientConn`` -- the sans-IO state machine under the Session: it allocates
  tags and fids, encodes requests, and checks that every reply answers a pending request
  of the right type (anything else is a ProtocolError, which hangs the session up).
* a *link* (``lp49fs.ninep.Link``): ``await receive_some(max_bytes) -> bytes`` (b"" at
  EOF), ``await send_all(data)`` and ``await aclose()`` -- a TCP or unix socket, a pipe, or
  the mount servant's server link.  Nothing here knows about sockets.

Theory of operation
-------------------
``rpc(msg)`` takes a free tag, queues the encoded request and waits for the reply.  The
callers read the link themselves, as Plan 9's mountmux does: a caller that finds nobody
reading becomes the *reader* and receives and hands out replies (to itself or to others)
until its own is in; then it passes the reader's turn to one of the callers still waiting,
which wakes and reads on.  So a lone caller's reply costs no task switch at all, and there
is no reader task.  ``Session.run`` (started with ``nursery.start``) only holds the nursery
of the background work (flushes, the watchdog) and closes the link when the session ends.
There is one writer path: whichever caller finds the writer idle sends everything queued so
far (its own request and any that others queued meanwhile) in one ``send_all``; the others
return at once and just wait for their replies.  Sends are shielded from cancellation,
because half a message on the link would wreck the whole session.  A reader that is
cancelled hands its turn on; the Framer keeps any partial frame.

Rules
-----
1. A tag is busy from the moment its request is queued until its reply arrives, or, when the
   caller was cancelled, until the Rflush arrives (the old tag may be reused only then, as
   flush(5) says).  NOTAG is used only by Tversion.
2. A cancelled caller returns (raises ``Cancelled``) at once; a background task in the
   session's nursery sends ``Tflush(oldtag)`` and waits for Rflush.  If the server answered
   the old request anyway, that late reply is honoured by ``late_reply``: a fid that a walk
   or attach created is clunked, so the server never keeps a fid the client forgot.
3. A fid is in use from the request that creates it (attach, walk to a new fid) until the
   reply to its Tclunk or Tremove, whatever that reply says (clunk frees the fid even on
   error).  A clunk whose caller was cancelled is re-sent in the background.
4. When the link dies (EOF, error, malformed bytes, a reply that answers no pending request
   or the wrong one) every pending call fails at once with ``Error(Ehungup)``, and so does
   every later call.  With no call waiting nobody reads, so an EOF is seen by the next call.
5. ``version`` must be the first exchange; it sets ``msize`` (and so ``iounit`` defaults) and
   the dialect: asked for "9P2000.lp49", a server that answers "9P2000" or "unknown" gets
   plain 9P2000 (``pipelined`` is then False; docs/ninep.md).
6. A frozen peer (a stopped process, a host gone silent behind a live TCP connection) would
   leave calls waiting for ever.  With ``ping=T``, when requests wait and nothing has arrived
   for ``T`` seconds, the session pings (``ping.py``: ``Tflush`` of an unused tag, answered at
   once by any live server) and hangs up (Rule 4) if nothing arrives within ``T`` more: a
   frozen peer costs a waiting caller at most ``2T``; a read that legitimately waits (a
   console nobody types at) is untouched, since a live peer answers the pings.

The fid-level helpers use only ``rpc``, ``pipeline``, ``clunk_nowait``, ``newfid``, ``msize``.
"""

from __future__ import annotations

import logging

import trio

from lp49fs import trace as _t
from lp49fs.errors import Ehungup, Error, Etoobig
from lp49fs.lib9p.late import check, clunk_quietly, late_reply
from lp49fs.lib9p.ping import watchdog
from lp49fs.ninep import (
    DEFAULT_MSIZE,
    MAXMSIZE,
    NEED_DATA,
    VERSION9P,
    VERSIONLP49,
    ClientConn,
    Link,
    ProtocolError,
    Rversion,
    Tclunk,
    Tflush,
    TMessage,
    Tremove,
    Tversion,
)

log = logging.getLogger(__name__)

READ_SIZE = 1 << 20  # how much the reader asks the link for at once


class _Call:
    """One request in flight: the caller waits in ``Session._wait``; the reader sets ``reply``."""

    __slots__ = ("done", "flushed", "msg", "reply", "waiting", "wake")

    def __init__(self, msg: object) -> None:
        self.msg = msg  # the T-message sent with this tag
        self.done = trio.Event()  # set when reply is in (or the session hung up)
        self.reply: object = None  # the R-message, or None after a hangup
        self.flushed = False  # the caller gave up: a late reply goes to late_reply
        self.waiting = False  # a task is parked on ``wake``
        self.wake = trio.Event()  # set when done, or when it is this caller's turn to read


class Session:
    """A 9P2000 client connection over ``link`` (see the module docstring for the rules)."""

    def __init__(self, link: Link, ping: float | None = None) -> None:
        self.link = link
        self.ping = ping  # Rule 6: seconds of silence before a ping; None: never
        self._last_rx = 0.0  # trio time of the last bytes from the peer
        self.msize = DEFAULT_MSIZE  # negotiated by version()
        self.version_string = ""  # the server's answer to Tversion
        self.conn = ClientConn(MAXMSIZE)  # tags, fids, reply checks; msize set by version()
        self._calls: dict[int, _Call] = {}  # tag -> caller waiting (Rule 1)
        self._outq: list[bytes] = []  # encoded request buffers waiting for the writer
        self._sending = False  # a caller is inside send_all
        self._hungup: str | None = None  # why the session is dead (Rule 4)
        self._nursery: trio.Nursery | None = None
        self._reading = False  # a caller is the reader (mountmux)
        self._dead = trio.Event()  # set by the hangup: run() then closes the link

    @property
    def pipelined(self) -> bool:
        """The server speaks 9P2000.lp49: requests on one fid may be sent without waiting."""
        return self.conn.version == VERSIONLP49

    # -- life cycle -----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the session's background work until it hangs up (the link ended, or
        ``aclose``), then close the link; start with ``nursery.start``.

        Cancelling this task hangs the session up and closes the link.
        """
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._last_rx = trio.current_time()
            if self.ping is not None:
                nursery.start_soon(watchdog, self, self.ping)
            task_status.started()
            try:
                await self._dead.wait()
            finally:
                self._hangup("link closed")
                nursery.cancel_scope.cancel()
                with trio.CancelScope(shield=True):
                    await self.link.aclose()  # the session owns its link

    async def _wait(self, call: _Call) -> None:
        """Until ``call`` is done: read the link whenever nobody else does (mountmux)."""
        while not call.done.is_set():
            if not self._reading:
                await self._read_for(call)
                continue
            call.waiting = True
            try:
                await call.wake.wait()
            finally:
                call.waiting = False
            call.wake = trio.Event()  # woken for the reader's turn, or done

    async def _read_for(self, call: _Call) -> None:
        """Be the reader until ``call`` is done; then hand the turn to another waiter."""
        self._reading = True
        try:
            while not call.done.is_set():
                if not await self._receive():
                    self._hangup("link closed")
        except (ProtocolError, trio.BrokenResourceError, trio.ClosedResourceError,
                OSError, Error) as e:  # Error: an LP49 fd link (read of a closed fd)
            self._hangup(f"link failed: {e!r}")
        finally:
            self._reading = False
            for other in self._calls.values():
                if other.waiting and not other.done.is_set():
                    other.wake.set()
                    break

    async def _receive(self) -> bool:
        """One receive from the link, every whole reply in it dispatched; False at EOF."""
        conn = self.conn
        receive_into = getattr(self.link, "receive_into", None)
        if receive_into is not None:  # straight into the framer's reused buffer
            n = await receive_into(conn.recv_buffer())
            if not n:
                return False
            conn.received(n)
        else:
            data = await self.link.receive_some(READ_SIZE)
            if not data:
                return False
            conn.receive_data(data)
        self._last_rx = trio.current_time()
        while (got := conn.next_reply()) is not NEED_DATA:
            assert isinstance(got, tuple)
            self._dispatch(*got)
        return True

    def _dispatch(self, tag: int, reply: object) -> None:
        call = self._calls.get(tag)
        if call is None or call.done.is_set():
            return  # the ping's Rflush: ClientConn checked it answers a Tflush we sent
        call.reply = reply
        call.done.set()
        call.wake.set()
        if not call.flushed:
            del self._calls[tag]  # the caller owns the reply now; the tag is free

    def _hangup(self, why: str) -> None:
        if self._hungup is None:
            log.debug("session hung up: %s", why)
            self._hungup = why
        for call in self._calls.values():
            call.done.set()  # reply stays None: the waiter raises Ehungup
            call.wake.set()
        self._calls.clear()
        self._dead.set()

    async def aclose(self) -> None:
        """Close the link; pending and later calls fail with Ehungup."""
        self._hangup("closed by client")
        await self.link.aclose()

    @property
    def hungup(self) -> bool:
        return self._hungup is not None

    # -- tags, fids and the writer path -----------------------------------------------------

    def newfid(self) -> int:
        """A fid number not in use on this session; it is in use until clunked (Rule 3)."""
        return self.conn.alloc_fid()

    def freefid(self, fid: int) -> None:
        """Forget ``fid`` (after Rclunk/Rremove, or when a request to create it failed)."""
        self.conn.free_fid(fid)

    async def _send(self, parts: tuple[bytes, ...]) -> None:
        self._outq.extend(parts)
        if self._sending:
            return  # the task already sending will pick ours up
        self._sending = True
        send_parts = getattr(self.link, "send_parts", None)
        try:
            with trio.CancelScope(shield=True):
                while self._outq:
                    batch = self._outq
                    self._outq = []
                    if len(batch) == 1:
                        await self.link.send_all(batch[0])
                    elif send_parts is not None:
                        await send_parts(batch)  # gathered: Twrite data is never joined
                    else:
                        await self.link.send_all(b"".join(batch))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as e:
            self._hangup(f"send failed: {e!r}")
            raise Error(Ehungup) from e
        finally:
            self._sending = False

    # -- requests -------------------------------------------------------------------------

    async def rpc(self, msg: object) -> object:
        """Send T-message ``msg`` and return its R-message.

        Raises ``Error(ename)`` for an Rerror, ``Error(Ehungup)`` when the link is gone.  On
        cancellation the request is flushed in the background (Rule 2).
        """
        assert isinstance(msg, TMessage)
        (reply,) = await self._exchange((msg,))
        return check(reply)

    async def pipeline(self, *msgs: TMessage) -> list[object]:
        """Send ``msgs`` back to back in one write and wait for all their replies.

        Returns the R-messages (an Rerror stays an Rerror: the caller decides).  Only for a
        server that speaks 9P2000.lp49 when the messages name one another's fids
        (``pipelined``).  Raises and flushes as ``rpc``.
        """
        replies = await self._exchange(msgs)
        if any(r is None for r in replies):
            raise Error(Ehungup)
        return replies

    async def _exchange(self, msgs: tuple[TMessage, ...]) -> list[object]:
        """Send ``msgs`` in one write; their replies (None for a hangup), in order."""
        if self._hungup is not None:
            raise Error(Ehungup)
        calls: list[tuple[int, _Call]] = []
        parts: list[bytes] = []
        for msg in msgs:
            try:
                tag, p = self.conn.send_parts(msg)
            except ValueError as e:  # not sent: all tags busy, or a frame over msize
                for t, _ in calls:
                    self._calls.pop(t, None)
                    self.conn.pending.pop(t, None)
                if "tags" in str(e):
                    raise Error("too many outstanding 9P requests") from None
                raise Error(Etoobig) from None
            calls.append((tag, _Call(msg)))
            self._calls[tag] = calls[-1][1]
            parts.extend(p)
            if _t.on:
                _t.tsent(tag, msg)
        await self._send(tuple(parts))
        try:
            for _, call in calls:
                await self._wait(call)
        except trio.Cancelled:
            for tag, call in calls:
                if not call.done.is_set() and self._nursery is not None and self._hungup is None:
                    call.flushed = True
                    self._nursery.start_soon(self._flush, tag, call)
                elif call.reply is not None:
                    late_reply(self, call.msg, call.reply)
            raise
        if _t.on:
            for tag, call in calls:
                _t.rgot(tag, call.reply)
        return [call.reply for _, call in calls]

    async def clunk_nowait(self, fid: int) -> None:
        """Send Tclunk ``fid`` without waiting for Rclunk (9P2000.lp49: the server carries
        it out before any later request on the fid).  The fid number stays in use until the
        reply comes (ClientConn Rule 3)."""
        if self._hungup is not None:
            self.freefid(fid)
            return
        msg = Tclunk(fid=fid)
        tag, parts = self.conn.send_parts(msg)
        self._calls[tag] = _Call(msg)  # nobody waits: _dispatch just frees the tag
        await self._send(parts)

    async def _flush(self, oldtag: int, call: _Call) -> None:
        """Send Tflush(oldtag), wait for Rflush, then honour a reply that beat it (Rule 2)."""
        try:
            await self.rpc(Tflush(oldtag=oldtag))
        except Error:
            pass  # hung up: nothing more will arrive
        self._calls.pop(oldtag, None)
        late_reply(self, call.msg, call.reply)

    async def version(self, msize: int = DEFAULT_MSIZE, version: str = VERSION9P) -> str:
        """Negotiate msize and version (tag NOTAG); must come first.  Returns the version.

        ``version`` is VERSION9P or VERSIONLP49; asked for VERSIONLP49, a server answering
        "9P2000" or "unknown" gets plain 9P2000 (Rule 5).  Raises ``Error`` if the server
        does not speak 9P2000 (answers "unknown" to it, or is a 9P2000.L-only server).
        """
        reply = await self._tversion(msize, version)
        if reply.version == "unknown" and version != VERSION9P:
            reply = await self._tversion(msize, VERSION9P)  # a strict peer: ask plainly
        self.version_string = reply.version
        if reply.version not in (version, VERSION9P):
            raise Error(f"server speaks 9P version {reply.version!r}, not {version!r}")
        if not 256 <= reply.msize <= msize:
            raise Error(f"server chose bad msize {reply.msize} (asked for {msize})")
        self.msize = reply.msize
        return reply.version

    async def _tversion(self, msize: int, version: str) -> Rversion:
        self.conn.msize = min(msize, MAXMSIZE)
        (reply,) = await self._exchange((Tversion(msize=msize, version=version),))
        if reply is None and self._hungup is not None and "ProtocolError" in self._hungup:
            # e.g. diod answers a 9P2000 Tversion with a 9P2000.L Rlerror
            raise Error(f"server does not speak {version}: {self._hungup}")
        reply = check(reply)
        assert isinstance(reply, Rversion)
        return reply

    async def clunk(self, fid: int, *, remove: bool = False) -> None:
        """Tclunk (or Tremove) ``fid``; the fid is free afterwards whatever the reply says.

        If the caller is cancelled, the fid stays reserved until the flush settles (Rule 3).
        """
        try:
            await self.rpc(Tremove(fid=fid) if remove else Tclunk(fid=fid))
        except trio.Cancelled:
            raise  # late_reply owns the fid now
        except BaseException:
            self.freefid(fid)
            raise
        self.freefid(fid)

    def clunk_soon(self, fid: int) -> None:
        """Clunk ``fid`` in the background (for a fid whose owner was cancelled)."""
        if self._nursery is not None and self._hungup is None:
            self._nursery.start_soon(clunk_quietly, self, fid)
        else:
            self.freefid(fid)

    def fids(self) -> frozenset[int]:
        """The fids now in use (for tests and debugging)."""
        return self.conn.inuse

    def pending(self) -> list[int]:
        """The tags now in flight (for tests and debugging)."""
        return list(self._calls)
