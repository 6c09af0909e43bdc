"""One TCP connection, the sending half: the TCB, output, timers (Plan 9 ip/tcp.c).

``TcbBase`` is the transmission control block of RFC 9293 §3.3.1 (SND.UNA/NXT/WND/WL1/WL2,
ISS, RCV.NXT, IRS, and SND.MAX, the highest sequence number ever sent) with everything but
"SEGMENT ARRIVES", which ``tcb.Tcb`` adds.  ``sndq`` holds the bytes from SND.UNA on (sent
but unacknowledged, then unsent); ``rcvq`` the bytes received in order and not yet read.

Output
------
``output`` sends what min(peer's window, congestion window) allows (``tcpcc.Reno``) in
segments of at most ``mss`` bytes, then the FIN once all data is out.  Segments go to
``emit`` (the protocol's one sender, so their order is kept).  Every segment carries
RCV.NXT, so any segment sent is also the ACK a delayed ACK was waiting for.

Timers
------
One task per connection (``timer``) sleeps until the earlier of two deadlines:

- ``deadline``: retransmission (RFC 6298), zero-window probe, or the end of TIME_WAIT.  On a
  retransmission timeout everything from SND.UNA is sent again as the congestion window
  allows (go-back-N from a one-segment window), the RTO doubles (Karn: no RTT sample from a
  retransmitted segment), and after ``MAXRETRANS`` expiries the connection fails with
  ``connection timed out``.  A zero window with data waiting arms it too and its expiry
  sends a one-byte probe.  TIME_WAIT lasts ``2 * MSL``.
- ``ackat``: a delayed ACK (RFC 9293 §3.8.6.3, RFC 1122 4.2.3.2) is sent ``DELACK``
  seconds after an in-order segment that found no other unacknowledged one.

Moving a deadline later does not wake the task (it wakes at the old time, sees the new
one and sleeps again), so restarting the retransmission timer on every ACK costs nothing.

Window scaling (RFC 7323 §2): both SYNs carry the option or neither side scales.  Our
shift is ``RCVSCALE``, enough for ``RCVBUF`` to fit the 16-bit window field.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import trio

from lp49fs.errors import Etimedout
from lp49fs.servants.inet import tcpseg as ts
from lp49fs.servants.inet.tcpcc import Reno
from lp49fs.servants.inet.tcpseg import ACK, FIN, MASK, RST, SYN, Seg

MSS = 1460  # ours: 1500 - 20 (IP) - 20 (TCP)
RCVBUF = 256 << 10  # receive buffer: the most we advertise
RCVSCALE = 3  # RCVBUF >> RCVSCALE fits 16 bits
SNDBUF = 256 << 10
RTO_INIT, RTO_MIN, RTO_MAX = 1.0, 0.2, 30.0  # seconds
MAXRETRANS = 12
DELACK = 0.04  # seconds a lone in-order segment waits for company before its ACK
MSL = 1.0  # seconds; TIME_WAIT = 2 * MSL (Plan 9 uses MSL2 = 10 s, RFC 9293 2 min)
SYNCED = ("Established", "Finwait1", "Finwait2", "Close_wait", "Closing", "Last_ack",
          "Time_wait")  # fmt: skip
SENDING = ("Established", "Close_wait", "Finwait1", "Closing", "Last_ack")

Emit = Callable[["TcbBase", Seg], None]


class TcbBase:
    """One connection's state and sending side (see the module docstring)."""

    def __init__(self, laddr: tuple[bytes, int], raddr: tuple[bytes, int], emit: Emit) -> None:
        self.laddr, self.raddr = laddr, raddr  # (ip, port) each
        self.emit = emit  # send a segment (kept in order by the caller)
        self.state = "Closed"
        self.iss = random.getrandbits(32)
        self.snd_una = self.snd_nxt = self.snd_max = self.iss
        self.snd_wnd = self.snd_wl1 = self.snd_wl2 = 0
        self.snd_scale = self.rcv_scale = 0  # window shifts, once both SYNs had the option
        self.irs = self.rcv_nxt = 0
        self.mss = 536  # RFC 9293 default until the peer's option says more
        self.cc = Reno(self.mss)
        self.sndq = bytearray()
        self.fin_queued = self.fin_sent = self.rcvfin = False
        self.finseq: int | None = None  # the FIN's sequence number once it has been sent
        self.rcvq = bytearray()
        self.ooo: dict[int, bytes] = {}
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.rto = RTO_INIT
        self.timing: tuple[int, float] | None = None  # (seq, sent at) of the timed segment
        self.nretrans = 0
        self.deadline: float | None = None  # retransmission / persist / TIME_WAIT timer
        self.ackat: float | None = None  # delayed ACK due
        self.unacked = 0  # in-order segments received since our last ACK
        self.waketime: float | None = None  # when the timer task wakes (None: not before a kick)
        self.kick = trio.Event()  # the timer task re-reads its deadlines
        self.changed = trio.Event()  # state, data or window changed: waiters look again
        self.err = ""
        self.listener: object = None  # the Tcp listener that made us (Syn_received)
        self.onclosed: Callable[[TcbBase], None] | None = None
        self.counts = {"retrans": 0, "dupsegs": 0, "ooo": 0, "delacks": 0}

    # ---- small helpers ----------------------------------------------------------------------

    def wake(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    def setstate(self, s: str) -> None:
        self.state = s
        if s == "Time_wait":
            self.settimer(2 * MSL)
        elif s == "Closed":
            self.deadline = self.ackat = None
            if self.onclosed is not None:
                self.onclosed(self)
        self.wake()

    def _rearm(self) -> None:
        at = min((d for d in (self.deadline, self.ackat) if d is not None), default=None)
        if at is not None and (self.waketime is None or at < self.waketime):
            self.kick.set()

    def settimer(self, delay: float | None) -> None:
        self.deadline = None if delay is None else trio.current_time() + delay
        self._rearm()

    def delayack(self) -> None:
        """An in-order segment arrived: ACK every second one at once, a lone one later."""
        self.unacked += 1
        if self.unacked >= 2:
            self.ack()
        elif self.ackat is None:
            self.ackat = trio.current_time() + DELACK
            self._rearm()

    def rcvwnd(self) -> int:
        return max(0, RCVBUF - len(self.rcvq))

    def seg(self, flags: int, seq: int | None = None, data: bytes = b"", mss: int = 0) -> None:
        wnd = min(self.rcvwnd() >> self.rcv_scale, 0xFFFF)
        ws = -1
        if flags & SYN:
            wnd = min(self.rcvwnd(), 0xFFFF)  # a SYN's window is never scaled
            if not flags & ACK or self.rcv_scale:
                ws = RCVSCALE  # offered in our SYN; in a SYN,ACK only if the peer offered it
        s = Seg(self.laddr[1], self.raddr[1], self.snd_nxt if seq is None else seq,
                self.rcv_nxt, flags, wnd, mss, data, ws)  # fmt: skip
        if flags & ACK:
            self.unacked, self.ackat = 0, None  # this segment is the ACK
        self.emit(self, s)

    def ack(self) -> None:
        self.seg(ACK)

    def fail(self, why: str) -> None:
        self.err = why
        self.setstate("Closed")

    def synopts(self, s: Seg) -> None:
        """The peer's SYN: its MSS, its window, and window scaling if both offered it."""
        self.irs, self.rcv_nxt = s.seq, (s.seq + 1) & MASK
        self.mss = min(s.mss or 536, MSS)
        self.cc.setmss(self.mss)
        if s.ws >= 0:
            self.snd_scale, self.rcv_scale = min(s.ws, 14), RCVSCALE
        self.snd_wnd, self.snd_wl1, self.snd_wl2 = s.wnd, s.seq, s.ack

    # ---- opening ----------------------------------------------------------------------------

    def sendsyn(self, flags: int) -> None:
        self.seg(flags, self.iss, mss=MSS)
        self.snd_nxt = self.snd_max = (self.iss + 1) & MASK

    def open_active(self) -> None:
        self.setstate("Syn_sent")
        self.sendsyn(SYN)
        self.settimer(self.rto)

    def open_passive(self, s: Seg) -> None:
        """A SYN reached a listener: answer SYN,ACK (RFC 9293 §3.10.7.2)."""
        self.synopts(s)
        self.setstate("Syn_received")
        self.sendsyn(SYN | ACK)
        self.settimer(self.rto)

    # ---- output -----------------------------------------------------------------------------

    def flight(self) -> int:
        return (self.snd_max - self.snd_una) & MASK

    def output(self, probe: bool = False) -> None:
        """Send new data the windows allow, then the FIN (see "Output" above)."""
        if self.state not in SENDING:
            return
        wnd = min(self.snd_wnd, self.cc.window())
        while True:
            off = (self.snd_nxt - self.snd_una) & MASK
            usable = wnd - off
            if probe and usable <= 0 and self.snd_wnd == 0:
                usable, probe = 1, False
            n = min(self.mss, len(self.sndq) - off, usable)
            if n <= 0:
                break
            self.seg(ACK | ts.PSH, data=bytes(self.sndq[off : off + n]))
            if self.timing is None and self.snd_nxt == self.snd_max:
                self.timing = (self.snd_nxt, trio.current_time())
            self.snd_nxt = (self.snd_nxt + n) & MASK
            if ts.seqlt(self.snd_max, self.snd_nxt):
                self.snd_max = self.snd_nxt
        off = (self.snd_nxt - self.snd_una) & MASK
        if self.fin_queued and not self.fin_sent and off == len(self.sndq):
            self.seg(FIN | ACK)
            self.finseq = self.snd_nxt
            self.snd_nxt = (self.snd_nxt + 1) & MASK
            if ts.seqlt(self.snd_max, self.snd_nxt):
                self.snd_max = self.snd_nxt
            self.fin_sent = True
        if self.deadline is None and (self.snd_max != self.snd_una or self.sndq):
            self.settimer(self.rto)

    def resend_first(self) -> None:
        """Fast retransmit: the first unacknowledged segment again, nothing else."""
        self.counts["retrans"] += 1
        self.timing = None  # Karn
        n = min(self.mss, len(self.sndq))
        if n:
            self.seg(ACK | ts.PSH, self.snd_una, bytes(self.sndq[:n]))
        elif self.finseq == self.snd_una:
            self.seg(FIN | ACK, self.snd_una)

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
            self.sendsyn(SYN)
        elif self.state == "Syn_received":
            self.sendsyn(SYN | ACK)
        else:
            if self.snd_wnd:  # a loss, not a zero-window probe
                self.cc.timeout(self.flight())
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

    # ---- the user's side --------------------------------------------------------------------

    def take(self, count: int) -> bytes:
        """Up to ``count`` received bytes; a read that reopens a closed-down window says so."""
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
            at = min((d for d in (self.deadline, self.ackat) if d is not None), default=None)
            self.waketime = at
            if at is None:
                await kick.wait()
            else:
                with trio.move_on_at(at):
                    await kick.wait()
            self.waketime = None
            if kick.is_set():
                self.kick = trio.Event()
            now = trio.current_time()
            if self.ackat is not None and now >= self.ackat:
                self.counts["delacks"] += 1
                self.ack()
            if self.deadline is not None and now >= self.deadline:
                self.timeout()
