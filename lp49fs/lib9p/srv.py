"""serve(): one 9P connection driven by ServerConn, dispatching to a FileServer's Files.

Theory of operation (one connection = one nursery):

* The **reader** (the task that called ``serve``) receives bytes, feeds ``ServerConn`` and
  handles its events in order: an ``Answer`` is queued as is; a ``Flush`` cancels the old
  request's cancel scope; a ``Req`` goes through ``DISPATCH[type(msg)]`` to a handler that
  calls the backend and returns the R-message (or raises ``Error``).
* A request on a File with ``mayblock = False`` (e.g. ramfs) runs **inline** in the reader:
  no task is spawned, so it costs a function call, not a task.  Any other request runs in
  **its own task** inside its own ``CancelScope``, registered in ``scopes`` before the task
  starts, so a Tflush (or a Tversion) that arrives at any time can cancel it; a cancelled
  request answers "interrupted", which ServerConn drops in favour of the Rflush (flush(5)).
* Replies are appended to ``out`` as parts (``ServerConn.respond_parts``: an Rread's header
  and data stay separate buffers) and sent by one sender at a time (``sending``): the
  reader sends the answers of a whole batch of inline requests in one send before it waits
  for more input (no task switch); a request task wakes the **writer** task, which sends
  whatever is queued.  A link with ``send_parts`` (``SocketLink``) gathers the parts in
  one ``sendmsg`` when they add up to GATHER_MIN bytes or more, so a 1 MiB Rread is never
  joined to its header; smaller batches, and any other link, get them joined (for a small
  Rread, join + send is cheaper than sendmsg of the two parts).  No lock per send, and
  replies to pipelined requests leave in batches.  ``bench/lib9p_dispatch.py`` measures the
  inline choice against a task per request.
* A link with ``receive_into`` is read straight into ServerConn's Framer buffer
  (``recv_buffer``/``received``), and frames are decoded from views of it: a request's
  bytes are copied once (Twrite data), not received into a fresh bytes object first.

Rules:

1. The fid's ``aux`` holds a ``Slot`` with the backend File (and a directory snapshot);
   every Slot alive is in ``live`` until its File is clunked, exactly once.
2. A new Tversion cancels all pending requests and clunks every live File; so does the end
   of the connection (in a shielded scope, bounded by CLUNK_GRACE seconds).
3. Malformed input (a ProtocolError: bad size, over msize, unknown type, truncated body)
   closes only this connection, with one log line saying why.  A backend exception other
   than ``Error`` is logged with its traceback and answered "i/o error".
4. A link whose read fails with ``Error`` (an ``FdLink`` whose read system call was
   interrupted by a note or failed) ends the connection like EOF, as Plan 9's lib9p stops
   when read9pmsg fails: one log line, no exception out of ``serve``.
5. ``serve_forever(wrap=...)`` runs ``wrap(link)`` on each accepted link first (a TLS
   handshake: ``lp49fs.auth.tls.ServerAuth.accept``) and serves what it returns; a refusal
   (``Error``) or a hang-up there is one log line and the connection is closed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from lp49fs import trace as _t
from lp49fs.errors import Eintr, Eio, Error
from lp49fs.ninep import (
    DEFAULT_MSIZE,
    IOHDRSZ,
    MAXMSIZE,
    NEED_DATA,
    Answer,
    Fid,
    Flush,
    ProtocolError,
    Req,
    RMessage,
    Rversion,
    ServerConn,
)
from lp49fs.transport import Link, Listener

from .dispatch import DISPATCH, Handler, Slot, slotof
from .file import File, FileServer
from .limits import IDLE, MAXCONNS, IdleLink

log = logging.getLogger(__name__)

# The msize of links between LP49 processes and nodes (#M asks for it; ramfs and exportfs
# agree to it): every Tread/Rread is a round trip through Python on both sides, so the
# largest message 9P allows here (MAXMSIZE, 1 MiB) makes one read system call of up to
# syscall.MAXIO one Tread.  Framers grow to the largest frame seen, not to msize.
LINK_MSIZE = MAXMSIZE
RECEIVE_SIZE = 65536  # bytes asked of the link per receive_some
CLUNK_GRACE = 5.0  # seconds allowed for clunking a closed connection's files
GATHER_MIN = 16384  # replies this big go out gathered (send_parts); smaller ones are joined


class Srv:
    """The state of one served connection (see the module docstring)."""

    def __init__(self, link: Link, fs: FileServer, msize: int, peer: str) -> None:
        self.link = link
        self.fs = fs
        self.peer = peer  # for log lines
        self.conn = ServerConn(max_msize=msize)
        self.scopes: dict[Req, trio.CancelScope] = {}  # requests running in their own task
        self.live: set[Slot] = set()  # Rule 1
        self.out: list[bytes] = []  # encoded reply parts the writer has not sent yet
        self.send_parts = getattr(link, "send_parts", None)  # the gathering send, if any
        self.wake = trio.Event()  # set when ``out`` gains data
        self.sending = False  # the reader or the writer is inside send_all
        self.nursery: trio.Nursery  # the connection's, set when the reader starts

    # --- output -------------------------------------------------------------------------
    def queue(self, data: bytes) -> None:
        if data:
            self.out.append(data)

    def answer(self, req: Req, reply: RMessage | Error) -> None:
        if _t.on:
            _t.answered(req.tag, reply, type(self.fs).__name__)
        if self.scopes:
            self.scopes.pop(req, None)
        try:
            parts = self.conn.respond_parts(req, reply)
        except ValueError:  # the backend's reply breaks a 9P rule (ServerConn Rule 10)
            log.exception("%s: bad reply %s to %s", self.peer, reply, req.msg)
            parts = self.conn.respond_parts(req, Error(Eio))
        self.out += parts

    async def writer(self) -> None:
        while True:
            await self.wake.wait()
            self.wake = trio.Event()
            await self.flush()

    async def flush(self) -> None:
        """Send everything queued, unless another task is already sending (it will)."""
        if self.sending:
            return
        self.sending = True
        try:
            while self.out:
                parts, self.out = self.out, []
                if len(parts) == 1:
                    await self.link.send_all(parts[0])
                elif self.send_parts is not None and sum(map(len, parts)) >= GATHER_MIN:
                    await self.send_parts(parts)  # gathered: big Rread data is never joined
                else:
                    await self.link.send_all(b"".join(parts))
        finally:
            self.sending = False

    # --- input --------------------------------------------------------------------------
    async def reader(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        conn = self.conn
        receive_into = getattr(self.link, "receive_into", None)
        while True:
            if self.out:  # answers to the last batch: send them before waiting for more
                await self.flush()
            if receive_into is not None:  # straight into the Framer's reused buffer
                n = await receive_into(conn.recv_buffer())
                if not n:
                    return
                conn.received(n)
            else:
                data = await self.link.receive_some(RECEIVE_SIZE)
                if not data:
                    return
                conn.receive_data(data)
            while (ev := conn.next_event()) is not NEED_DATA:
                await self.handle(ev, nursery)

    async def handle(self, ev: Req | Flush | Answer, nursery: trio.Nursery) -> None:
        if isinstance(ev, Req):
            await self.dispatch(ev, nursery)
        elif isinstance(ev, Flush):
            scope = self.scopes.get(ev.oldreq)
            if scope is not None:
                scope.cancel()
        elif isinstance(ev, Answer):
            self.queue(ev.data)
            if isinstance(ev.msg, Rversion):
                self.new_session(ev, nursery)

    async def dispatch(self, req: Req, nursery: trio.Nursery) -> None:
        """Run ``req`` inline if its File cannot block, else in its own task and scope."""
        if _t.on:
            _t.served(req.tag, req.msg, type(self.fs).__name__)
        handler = DISPATCH[type(req.msg)]
        fid = req.fid
        target = self.fs if fid is None or fid.aux is None else fid.aux.file
        if target.mayblock:
            scope = self.scopes[req] = trio.CancelScope()
            nursery.start_soon(self.run, handler, req, scope)
            if _t.on:
                _t.unmark()  # the request's task took the trace; the reader goes on without
            return
        try:  # call() inline: one coroutine fewer per request
            reply: RMessage | Error = await handler(self, req)
        except Error as e:
            reply = e
        except Exception:
            log.exception("%s: backend failed on %s", self.peer, req.msg)
            reply = Error(Eio)
        self.answer(req, reply)

    async def call(self, handler: Handler, req: Req) -> RMessage | Error:
        try:
            return await handler(self, req)
        except Error as e:
            return e
        except Exception:
            log.exception("%s: backend failed on %s", self.peer, req.msg)
            return Error(Eio)

    async def run(self, handler: Handler, req: Req, scope: trio.CancelScope) -> None:
        reply: RMessage | Error = Error(Eintr)
        with scope:
            reply = await self.call(handler, req)
        self.answer(req, reply)
        # 9P2000.lp49: requests held back behind this one (ServerConn Rule 2) go now; the
        # reader may be blocked in receive_some and would not see them
        while (ev := self.conn.next_ready()) is not NEED_DATA:
            await self.handle(ev, self.nursery)
        self.wake.set()  # the reader may be blocked in receive_some: the writer sends

    def new_session(self, ev: Answer, nursery: trio.Nursery) -> None:
        """Rule 2: a Tversion ended the old session."""
        for req in ev.aborted:
            pending = self.scopes.pop(req, None)
            if pending is not None:
                pending.cancel()
        slots, self.live = self.live, set()
        if slots:
            nursery.start_soon(clunk_all, slots, self.peer)

    # --- bookkeeping for handlers ------------------------------------------------------
    def bind(self, fid: Fid | None, file: File) -> None:
        assert fid is not None
        slot = Slot(file)
        fid.aux = slot
        self.live.add(slot)

    def unbind(self, fid: Fid | None) -> File:
        slot = slotof(fid)
        self.live.discard(slot)
        return slot.file

    @property
    def iounit(self) -> int:
        return self.conn.msize - IOHDRSZ


async def clunk_all(slots: set[Slot], peer: str) -> None:
    with trio.move_on_after(CLUNK_GRACE) as scope:
        scope.shield = True
        for slot in slots:
            try:
                await slot.file.clunk()
            except Exception as e:  # a failing clunk must not stop the others
                log.warning("%s: clunk on close failed: %s", peer, e)


# --- entry points ----------------------------------------------------------------------
async def serve(link: Link, fs: FileServer, *, msize: int = DEFAULT_MSIZE) -> None:
    """Serve 9P on ``link`` until EOF or malformed input; always closes ``link``.

    Returns normally when the connection ends for any reason but cancellation; a
    ProtocolError or a broken link is logged (one line) and not raised.
    """
    peer = _peer(link)
    srv = Srv(link, fs, msize, peer)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_writer_then_cancel, srv, nursery)
            serving = getattr(link, "serving", None)  # a link's own service (FdLink: the bus)
            if serving is not None:
                nursery.start_soon(serving, srv)
            try:
                await srv.reader(nursery)
                log.debug("%s: connection closed by the client", peer)
            except ProtocolError as e:
                log.warning("%s: closing connection: %s", peer, e.reason)
            except (trio.BrokenResourceError, trio.ClosedResourceError, Error) as e:
                log.info("%s: connection lost: %s", peer, e)  # Rule 4 for Error
            finally:
                nursery.cancel_scope.cancel()
    finally:
        slots, srv.live = srv.live, set()
        await clunk_all(slots, peer)
        with trio.CancelScope(shield=True):
            await link.aclose()


async def _writer_then_cancel(srv: Srv, nursery: trio.Nursery) -> None:
    try:
        await srv.writer()
    except (trio.BrokenResourceError, trio.ClosedResourceError) as e:
        log.info("%s: connection lost: %s", srv.peer, e)
    finally:
        nursery.cancel_scope.cancel()


async def serve_forever(
    listener: Listener,
    fs: FileServer,
    *,
    msize: int = DEFAULT_MSIZE,
    maxconns: int = MAXCONNS,
    idle: float = IDLE,
    wrap: Callable[[Any], Awaitable[Any]] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept connections on ``listener`` and serve each; one bad client hurts no other.
    At most ``maxconns`` at once; a connection silent for ``idle`` seconds is ended
    (``limits``); ``wrap`` comes first on each (Rule 5)."""
    slots = trio.Semaphore(maxconns)
    async with trio.open_nursery() as nursery:
        task_status.started()
        while True:
            await slots.acquire()  # the next client waits in the backlog until one frees
            try:
                link = await listener.accept()
            except BaseException:
                slots.release()
                raise
            nursery.start_soon(_guarded, IdleLink(link, idle), fs, msize, slots, wrap)


async def _guarded(
    link: Link, fs: FileServer, msize: int, slots: trio.Semaphore | None = None,
    wrap: Callable[[Any], Awaitable[Any]] | None = None,
) -> None:
    try:
        if wrap is not None:
            try:
                link = await wrap(link)
            except (Error, trio.BrokenResourceError) as e:  # Rule 5
                log.warning("%s: refused: %s", _peer(link), getattr(e, "ename", e))
                with trio.CancelScope(shield=True):
                    await link.aclose()
                return
        await serve(link, fs, msize=msize)
    except Exception:
        log.exception("%s: server connection failed", _peer(link))
    finally:
        if slots is not None:
            slots.release()


def _peer(link: Any) -> str:
    peer = getattr(link, "peer", None)
    return str(peer()) if callable(peer) else f"conn {id(link):#x}"
