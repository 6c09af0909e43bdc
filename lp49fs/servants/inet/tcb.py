"""One TCP connection, the receiving half: RFC 9293 §3.10.7 "SEGMENT ARRIVES" (ip/tcp.c).

``Tcb`` is ``tcbbase.TcbBase`` (the TCB, output and timers) plus ``arrive(seg)``, the
segment-arrival rules for every state but CLOSED and LISTEN (``tcp.Tcp`` handles those:
reset, or a new Tcb in Syn_received).  ``ooo`` keeps segments that arrived ahead of
RCV.NXT (reordering, or a loss before them), keyed by sequence number; once RCV.NXT
reaches one it moves to ``rcvq`` and every entry RCV.NXT has passed is forgotten.

Rules
  1. States carry Plan 9's names: Closed Listen Syn_sent Syn_received Established
     Finwait1 Finwait2 Close_wait Closing Last_ack Time_wait.
  2. A reset in Syn_sent is ``connection refused``; in a synchronized state ``connection
     reset by peer``; both end in Closed and wake every waiter, who see ``err``.
  3. The receive window is what ``rcvq`` has room for (``RCVBUF``, scaled by RFC 7323 when
     both SYNs offered it); a read that reopens at least one MSS of a closed-down window
     sends a window update.
  4. ACKs (RFC 5681 §4.2, RFC 1122 4.2.3.2): every second in-order segment is acknowledged
     at once, a lone one after at most ``DELACK``; a segment out of order, one that fills
     a hole, a FIN or anything unacceptable is acknowledged at once (a duplicate ACK is how
     the sender learns of a loss).
  5. An ACK of SND.UNA with no data, no SYN/FIN, the same window and data in flight is a
     duplicate ACK; the congestion controller (``tcpcc.Reno``) counts them and says when to
     fast-retransmit.  An ACK above SND.NXT but not above SND.MAX (after a go-back-N reset
     of SND.NXT) is valid and moves SND.NXT up to it.
"""

from __future__ import annotations

import trio

from lp49fs.errors import Econrefused, Econreset
from lp49fs.servants.inet.tcbbase import (
    DELACK,
    MSL,
    MSS,
    RCVBUF,
    SNDBUF,
    SYNCED,
    TcbBase,
)
from lp49fs.servants.inet.tcpseg import ACK, FIN, MASK, RST, SYN, Seg, seqle, seqlt

OOOMAX = 256  # segments kept ahead of RCV.NXT

__all__ = ["DELACK", "MSL", "MSS", "RCVBUF", "SNDBUF", "SYNCED", "Tcb"]


class Tcb(TcbBase):
    """One connection (see the module docstring)."""

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
        if s.flags & ACK and (seqle(s.ack, self.iss) or seqlt(self.snd_max, s.ack)):
            if not s.flags & RST:
                self.seg(RST, s.ack)
            return
        if s.flags & RST:
            if s.flags & ACK:
                self.fail(Econrefused)
            return
        if not s.flags & SYN:
            return
        self.synopts(s)
        if s.flags & ACK:
            self.snd_una = s.ack
            self.settimer(None)
            self.nretrans = 0
            self.setstate("Established")
            self.ack()
            self.output()
        else:
            self.setstate("Syn_received")
            self.sendsyn(SYN | ACK)

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
            if not (seqlt(self.snd_una, s.ack) and seqle(s.ack, self.snd_max)):
                self.seg(RST, s.ack)
                return False
            self.setstate("Established")
            self.snd_wnd, self.snd_wl1, self.snd_wl2 = s.wnd << self.snd_scale, s.seq, s.ack
            listener, self.listener = self.listener, None
            if listener is not None:
                listener.accepted(self)  # type: ignore[attr-defined]
        if seqlt(self.snd_max, s.ack):
            self.ack()  # acknowledges something never sent
            return False
        wnd = s.wnd << self.snd_scale
        if seqlt(self.snd_una, s.ack):
            self._newack(s.ack)
        elif self._isdup(s, wnd) and self.cc.dupack(self.flight(), self.snd_max):
            self.resend_first()  # Rule 5: the third duplicate
        if seqlt(self.snd_wl1, s.seq) or (self.snd_wl1 == s.seq and seqle(self.snd_wl2, s.ack)):
            grew = wnd > self.snd_wnd
            self.snd_wnd, self.snd_wl1, self.snd_wl2 = wnd, s.seq, s.ack
            if grew:
                self.wake()
        finacked = self.finseq is not None and s.ack == (self.finseq + 1) & MASK
        if self.state == "Finwait1" and finacked:
            self.setstate("Finwait2")
        elif self.state == "Closing" and finacked:
            self.setstate("Time_wait")
        elif self.state == "Last_ack" and finacked:
            self.setstate("Closed")
            return False
        self.output()
        return True

    def _isdup(self, s: Seg, wnd: int) -> bool:
        """Rule 5 (RFC 5681 §2, "DUPLICATE ACKNOWLEDGMENT")."""
        return (s.ack == self.snd_una and not s.data and not s.flags & (SYN | FIN)
                and wnd == self.snd_wnd and self.snd_max != self.snd_una)  # fmt: skip

    def _newack(self, ack: int) -> None:
        """SND.UNA moves to ``ack``: free the bytes, sample the RTT, tell the controller."""
        acked = (ack - self.snd_una) & MASK
        nbytes = acked - 1 if self.snd_una == self.iss else acked  # our SYN
        del self.sndq[: min(nbytes, len(self.sndq))]
        if self.timing is not None and seqlt(self.timing[0], ack):
            self.rttsample(trio.current_time() - self.timing[1])
            self.timing = None
        self.snd_una, self.nretrans = ack, 0
        if seqlt(self.snd_nxt, ack):
            self.snd_nxt = ack  # Rule 5: already received once, after a go-back-N
        if self.cc.acked(acked, ack):
            self.resend_first()  # a partial ACK during fast recovery: the next hole
        idle = self.snd_una == self.snd_max and not self.sndq
        self.settimer(None if idle else self.rto)
        self.wake()

    def _data(self, s: Seg) -> None:
        """Step seven: queue in-order data, keep what came early, acknowledge (Rule 4)."""
        seq, data = s.seq, s.data
        if seqlt(seq, self.rcv_nxt):
            cut = (self.rcv_nxt - seq) & MASK
            seq, data = self.rcv_nxt, data[cut:]
        room = self.rcvwnd()
        if seq != self.rcv_nxt:
            if data and len(self.ooo) < OOOMAX and len(data) > len(self.ooo.get(seq, b"")):
                self.ooo[seq] = data
                self.counts["ooo"] += 1
            self.ack()
            return
        take = data[:room]
        self.rcvq += take
        self.rcv_nxt = (self.rcv_nxt + len(take)) & MASK
        hole = bool(self.ooo)
        if hole:
            self._drain()
        self.wake()
        if hole or len(take) < len(data):
            self.ack()
        else:
            self.delayack()

    def _drain(self) -> None:
        """Move what ``ooo`` holds from RCV.NXT on into ``rcvq``; forget what is old."""
        half = 1 << 31
        for q in sorted(self.ooo, key=lambda q: (q - self.rcv_nxt + half) & MASK):
            if seqlt(self.rcv_nxt, q):
                break  # a hole is left before q
            data = self.ooo.pop(q)
            old = (self.rcv_nxt - q) & MASK
            more = data[old:][: self.rcvwnd()]
            self.rcvq += more
            self.rcv_nxt = (self.rcv_nxt + len(more)) & MASK

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

