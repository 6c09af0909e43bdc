"""One TCP connection: the RFC 9293 state machine, retransmission, windows (Plan 9 ip/tcp.c).

Theory of operation
-------------------
A ``Tcb`` is the transmission control block of RFC 9293 §3.3.1: SND.UNA/NXT/WND/WL1/WL2,
ISS, RCV.NXT, IRS.  ``sndq`` holds the bytes from SND.UNA on (sent but unacknowledged, then
unsent); ``rcvq`` the bytes received in order and not yet read; ``ooo`` segments that
arrived ahead of RCV.NXT (reordering), keyed by sequence number.

``arrive(seg)`` is RFC 9293 §3.10.7 "SEGMENT ARRIVES" for every state but CLOSED and
LISTEN (``tcp.Tcp`` handles those: reset, or a new Tcb in Syn_received).  ``output`` sends
what the peer's window allows in segments of at most ``mss`` bytes, then the FIN once all
data is out.  Segments go to ``emit`` (the protocol's one sender task, so order is kept).

Retransmission (RFC 6298): one timer per connection.  While anything is unacknowledged
the timer runs; on expiry everything from SND.UNA is sent again (go-back-N), the RTO
doubles (Karn: retransmitted segments give no RTT sample) and after ``MAXRETRANS``
expiries the connection fails with ``connection timed out``.  A zero window with data
waiting arms the same timer, and its expiry sends a one-byte probe.  TIME_WAIT lasts
``2 * MSL`` and then frees the connection.

Rules
  1. States carry Plan 9's names: Closed Listen Syn_sent Syn_received Established
     Finwait1 Finwait2 Close_wait Closing Last_ack Time_wait.
  2. A reset in Syn_sent is ``connection refused``; in a synchronized state ``connection
     reset by peer``; both end in Closed and wake every waiter, who see ``err``.
  3. The receive window is what ``rcvq`` has room for (``RCVBUF``, no window scaling); a
     read that reopens at least one MSS of a closed-down window sends a window update.
  4. Every data or FIN segment is acknowledged at once (no delayed ACK); no congestion
     control beyond the peer's window (a hub or a TAP has no router queues to protect).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import trio

from lp49fs.errors import Econrefused, Econreset, Etimedout
from lp49fs.servants.inet import tcpseg as ts
from lp49fs.servants.inet.tcpseg import ACK, FIN, MASK, RST, SYN, Seg, seqle, seqlt

MSS = 1460  # ours: 1500 - 20 (IP) - 20 (TCP)
RCVBUF = 65535
SNDBUF = 256 << 10
RTO_INIT, RTO_MIN, RTO_MAX = 1.0, 0.2, 30.0  # seconds
MAXRETRANS = 12
MSL = 1.0  # seconds; TIME_WAIT = 2 * MSL (Plan 9 uses MSL2 = 10 s, RFC 9293 2 min)
SYNCED = ("Established", "Finwait1", "Finwait2", "Close_wait", "Closing", "Last_ack",
          "Time_wait")  # fmt: skip

Emit = Callable[["Tcb", Seg], None]


class Tcb:
    """One connection (see the module docstring)."""

    def __init__(self, laddr: tuple[bytes, int], raddr: tuple[bytes, int], emit: Emit) -> None:
        self.laddr, self.raddr = laddr, raddr  # (ip, port) each
        self.emit = emit  # send a segment (kept in order by the caller)
        self.state = "Closed"
        self.iss = random.getrandbits(32)
        self.snd_una = self.snd_nxt = self.iss
        self.snd_wnd = self.snd_wl1 = self.snd_wl2 = 0
        self.irs = self.rcv_nxt = 0
        self.mss = 536  # RFC 9293 default until the peer's option says more
        self.sndq = bytearray()
        self.fin_queued = self.fin_sent = self.rcvfin = False
        self.rcvq = bytearray()
        self.ooo: dict[int, bytes] = {}
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.rto = RTO_INIT
        self.timing: tuple[int, float] | None = None  # (seq, sent at) of the timed segment
        self.nretrans = 0
        self.deadline: float | None = None  # retransmission / persist / TIME_WAIT timer
        self.kick = trio.Event()  # the timer task re-reads the deadline
        self.changed = trio.Event()  # state, data or window changed: waiters look again
        self.err = ""
        self.listener: object = None  # the Tcp listener that made us (Syn_received)
        self.onclosed: Callable[[Tcb], None] | None = None
        self.counts = {"retrans": 0, "dupsegs": 0, "ooo": 0}

    # ---- small helpers ----------------------------------------------------------------------

    def wake(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    def setstate(self, s: str) -> None:
        self.state = s
        if s == "Time_wait":
            self.settimer(2 * MSL)
        elif s == "Closed":
            self.deadline = None
            if self.onclosed is not None:
                self.onclosed(self)
        self.wake()

    def settimer(self, delay: float | None) -> None:
        self.deadline = None if delay is None else trio.current_time() + delay
        self.kick.set()

    def rcvwnd(self) -> int:
        return max(0, RCVBUF - len(self.rcvq))

    def seg(self, flags: int, seq: int | None = None, data: bytes = b"", mss: int = 0) -> None:
        s = Seg(self.laddr[1], self.raddr[1], self.snd_nxt if seq is None else seq,
                self.rcv_nxt, flags, self.rcvwnd(), mss, data)  # fmt: skip
        self.emit(self, s)

    def ack(self) -> None:
        self.seg(ACK)

    def fail(self, why: str) -> None:
        self.err = why
        self.setstate("Closed")

    # ---- opening ----------------------------------------------------------------------------

    def open_active(self) -> None:
        self.setstate("Syn_sent")
        self.seg(SYN, self.iss, mss=MSS)
        self.snd_nxt = self.iss + 1
        self.settimer(self.rto)

    def open_passive(self, s: Seg) -> None:
        """A SYN reached a listener: answer SYN,ACK (RFC 9293 §3.10.7.2)."""
        self.irs, self.rcv_nxt = s.seq, (s.seq + 1) & MASK
        self.mss = min(s.mss or 536, MSS)
        self.snd_wnd, self.snd_wl1, self.snd_wl2 = s.wnd, s.seq, s.ack
        self.setstate("Syn_received")
        self.seg(SYN | ACK, self.iss, mss=MSS)
        self.snd_nxt = self.iss + 1
        self.settimer(self.rto)

    # ---- output -----------------------------------------------------------------------------

    def output(self, probe: bool = False) -> None:
        """Send new data the window allows, then the FIN (see the module docstring)."""
        if self.state not in ("Established", "Close_wait", "Finwait1", "Closing", "Last_ack"):
            return
        while True:
            off = (self.snd_nxt - self.snd_una) & MASK
            usable = (self.snd_una + self.snd_wnd - self.snd_nxt) & MASK
            if usable > 1 << 31:
                usable = 0
            if probe and usable == 0:
                usable, probe = 1, False
            n = min(self.mss, len(self.sndq) - off, usable)
            if n <= 0:
                break
            self.seg(ACK | ts.PSH, data=bytes(self.sndq[off : off + n]))
            if self.timing is None:
                self.timing = (self.snd_nxt, trio.current_time())
            self.snd_nxt = (self.snd_nxt + n) & MASK
        off = (self.snd_nxt - self.snd_una) & MASK
        if self.fin_queued and not self.fin_sent and off == len(self.sndq):
            self.seg(FIN | ACK)
            self.snd_nxt = (self.snd_nxt + 1) & MASK
            self.fin_sent = True
        if self.deadline is None and (self.snd_nxt != self.snd_una or self.sndq):
            self.settimer(self.rto)

    def close(self) -> None:
        """The user closed: queue our FIN (RFC 9293 §3.10.4)."""
        if self.state in ("Syn_sent", "Closed", "Listen"):
            self.setstate("Closed")
        elif self.state in ("Syn_received", "Established", "Close_wait"):
            self.fin_queued = True
            self.setstate("Last_ack" if self.state == "Close_wait" else "Finwait1")
            self.output()

    def abort(self) -> None:
        """``hangup``: reset the peer and forget the connection."""
        if self.state in SYNCED or self.state == "Syn_received":
            self.seg(RST | ACK)
        self.fail(self.err or "hungup")

    def timeout(self) -> None:
        """The timer expired: TIME_WAIT over, or retransmit (RFC 6298 5.4-5.7)."""
        self.deadline = None
        if self.state == "Time_wait":
            self.setstate("Closed")
            return
        if self.state == "Closed":
            return
        self.nretrans += 1
        if self.nretrans > MAXRETRANS:
            self.fail(Etimedout)
            return
        self.rto = min(self.rto * 2, RTO_MAX)
        self.timing = None  # Karn
        self.counts["retrans"] += 1
        if self.state == "Syn_sent":
            self.seg(SYN, self.iss, mss=MSS)
        elif self.state == "Syn_received":
            self.seg(SYN | ACK, self.iss, mss=MSS)
        else:
            self.snd_nxt, self.fin_sent = self.snd_una, False
            self.output(probe=True)
        self.settimer(self.rto)

    def rttsample(self, r: float) -> None:
        if self.srtt is None:
            self.srtt, self.rttvar = r, r / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r
        self.rto = min(max(RTO_MIN, self.srtt + max(0.01, 4 * self.rttvar)), RTO_MAX)

    # ---- SEGMENT ARRIVES (RFC 9293 §3.10.7.3, .4) --------------------------------------------

    def arrive(self, s: Seg) -> None:
        if self.state == "Syn_sent":
            self._synsent(s)
            return
        if not self._acceptable(s):
            if not s.flags & RST:
                self.ack()
            self.counts["dupsegs"] += 1
            return
        if s.flags & RST:
            self.fail(Econreset if self.state != "Syn_received" or self.listener is None else "")
            return
        if s.flags & SYN:
            self.ack()  # a challenge ACK (RFC 5961 §4)
            return
        if not s.flags & ACK:
            return
        if not self._ackin(s):
            return
        if self.state in ("Established", "Finwait1", "Finwait2") and s.data:
            self._data(s)
        if s.flags & FIN and (s.seq + len(s.data)) & MASK == self.rcv_nxt and not self.rcvfin:
            self._fin()
        elif s.flags & FIN and self.state == "Time_wait":
            self.ack()
            self.settimer(2 * MSL)

    def _synsent(self, s: Seg) -> None:
        if s.flags & ACK and (seqle(s.ack, self.iss) or seqlt(self.snd_nxt, s.ack)):
            if not s.flags & RST:
                self.seg(RST, s.ack)
            return
        if s.flags & RST:
            if s.flags & ACK:
                self.fail(Econrefused)
            return
        if not s.flags & SYN:
            return
        self.irs, self.rcv_nxt = s.seq, (s.seq + 1) & MASK
        self.mss = min(s.mss or 536, MSS)
        self.snd_wnd, self.snd_wl1, self.snd_wl2 = s.wnd, s.seq, s.ack
        if s.flags & ACK:
            self.snd_una = s.ack
            self.settimer(None)
            self.nretrans = 0
            self.setstate("Established")
            self.ack()
            self.output()
        else:
            self.setstate("Syn_received")
            self.seg(SYN | ACK, self.iss, mss=MSS)

    def _acceptable(self, s: Seg) -> bool:
        n, w, nxt = s.seglen(), self.rcvwnd(), self.rcv_nxt

        def inwin(x: int) -> bool:
            return seqle(nxt, x) and seqlt(x, (nxt + w) & MASK)

        if n == 0:
            return s.seq == nxt if w == 0 else inwin(s.seq)
        if w == 0:
            return False
        return inwin(s.seq) or inwin((s.seq + n - 1) & MASK)

    def _ackin(self, s: Seg) -> bool:
        """The ACK field (step five); False: stop processing this segment."""
        if self.state == "Syn_received":
            if not (seqlt(self.snd_una, s.ack) and seqle(s.ack, self.snd_nxt)):
                self.seg(RST, s.ack)
                return False
            self.setstate("Established")
            self.snd_wnd, self.snd_wl1, self.snd_wl2 = s.wnd, s.seq, s.ack
            listener, self.listener = self.listener, None
            if listener is not None:
                listener.accepted(self)  # type: ignore[attr-defined]
        if seqlt(self.snd_nxt, s.ack):
            self.ack()  # acknowledges something not yet sent
            return False
        if seqlt(self.snd_una, s.ack):
            acked = (s.ack - self.snd_una) & MASK
            if self.snd_una == self.iss:
                acked -= 1  # our SYN
            del self.sndq[: min(acked, len(self.sndq))]
            if self.timing is not None and seqlt(self.timing[0], s.ack):
                self.rttsample(trio.current_time() - self.timing[1])
                self.timing = None
            self.snd_una, self.nretrans = s.ack, 0
            self.settimer(None if self.snd_una == self.snd_nxt and not self.sndq else self.rto)
            self.wake()
        if seqlt(self.snd_wl1, s.seq) or (self.snd_wl1 == s.seq and seqle(self.snd_wl2, s.ack)):
            grew = s.wnd > self.snd_wnd
            self.snd_wnd, self.snd_wl1, self.snd_wl2 = s.wnd, s.seq, s.ack
            if grew:
                self.wake()
        finacked = self.fin_sent and s.ack == self.snd_nxt
        if self.state == "Finwait1" and finacked:
            self.setstate("Finwait2")
        elif self.state == "Closing" and finacked:
            self.setstate("Time_wait")
        elif self.state == "Last_ack" and finacked:
            self.setstate("Closed")
            return False
        self.output()
        return True

    def _data(self, s: Seg) -> None:
        """Step seven: queue in-order data, keep what came early, acknowledge."""
        seq, data = s.seq, s.data
        if seqlt(seq, self.rcv_nxt):
            cut = (self.rcv_nxt - seq) & MASK
            seq, data = self.rcv_nxt, data[cut:]
        room = self.rcvwnd()
        if seq == self.rcv_nxt:
            take = data[:room]
            self.rcvq += take
            self.rcv_nxt = (self.rcv_nxt + len(take)) & MASK
            while self.rcv_nxt in self.ooo:
                more = self.ooo.pop(self.rcv_nxt)[: self.rcvwnd()]
                self.rcvq += more
                self.rcv_nxt = (self.rcv_nxt + len(more)) & MASK
                if not more:
                    break
            self.wake()
        elif data and len(self.ooo) < 256:
            self.ooo[seq] = data
            self.counts["ooo"] += 1
        self.ack()

    def _fin(self) -> None:
        """Step eight: the peer closed its side."""
        self.rcv_nxt = (self.rcv_nxt + 1) & MASK
        self.rcvfin = True
        self.ack()
        if self.state in ("Syn_received", "Established"):
            self.setstate("Close_wait")
        elif self.state == "Finwait1":
            self.setstate("Closing")
        elif self.state == "Finwait2":
            self.setstate("Time_wait")
        self.wake()

    # ---- the user's side --------------------------------------------------------------------

    def take(self, count: int) -> bytes:
        """Up to ``count`` received bytes (Rule 3: may send a window update)."""
        before = self.rcvwnd()
        data = bytes(self.rcvq[:count])
        del self.rcvq[:count]
        if before < self.mss <= self.rcvwnd() and self.state in SYNCED:
            self.ack()
        return data

    async def timer(self) -> None:
        """The connection's timer task: runs until the Tcb is Closed."""
        while self.state != "Closed":
            kick = self.kick
            if self.deadline is None:
                await kick.wait()
            else:
                with trio.move_on_at(self.deadline):
                    await kick.wait()
            if kick.is_set():
                self.kick = trio.Event()
            elif self.deadline is not None and trio.current_time() >= self.deadline:
                self.timeout()
