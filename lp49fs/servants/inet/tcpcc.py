"""TCP congestion control: slow start, congestion avoidance, fast retransmit and recovery.

RFC 5681 with the NewReno change of RFC 6582 to fast recovery.  Pure arithmetic: the
connection (``tcb.Tcb``) asks ``window()`` how much may be in flight, reports each ACK that
moves SND.UNA (``acked``), each duplicate ACK (``dupack``) and each retransmission timeout
(``timeout``), and retransmits the first unacknowledged segment when told to.

Theory of operation
-------------------
``cwnd`` starts at the initial window (RFC 5681 §3.1: 3 segments of 1460 bytes) and
``ssthresh`` at "arbitrarily high".  While cwnd < ssthresh (slow start) every ACK adds the
bytes it acknowledges, at most two MSS (appropriate byte counting with L = 2, RFC 3465,
which keeps the growth right when the receiver delays or stretches ACKs); above it
(congestion avoidance) an ACK adds MSS*MSS/cwnd, about one MSS per round trip.

The third duplicate ACK (§3.2) halves: ssthresh = max(FlightSize/2, 2*MSS), cwnd = ssthresh
+ 3*MSS, ``recover`` = SND.MAX, and the caller retransmits SND.UNA; each further duplicate
inflates cwnd by one MSS (a segment left the network).  An ACK below ``recover`` is partial
(RFC 6582 §3.2): the next hole is retransmitted at once and cwnd deflates by what was
acknowledged; an ACK at or beyond ``recover`` ends recovery with cwnd = ssthresh.  A timeout
sets ssthresh the same way and cwnd to one MSS (the loss window, §3.1).

Rules
  1. A hub or a TAP has no router queue, but the peer's receive queue and the card's rings
     are one: the sender never puts more than min(cwnd, peer's window) bytes in flight.
  2. Duplicate ACKs during recovery never start a second recovery (``recover`` guards it).
"""

from __future__ import annotations

from lp49fs.servants.inet.tcpseg import seqle

DUPTHRESH = 3  # duplicate ACKs that signal a loss (RFC 5681 §3.2)


def initial_window(mss: int) -> int:
    """RFC 5681 §3.1 (and RFC 3390): IW = min(4*MSS, max(2*MSS, 4380))."""
    return min(4 * mss, max(2 * mss, 4380))


class Reno:
    """The congestion state of one connection (see the module docstring)."""

    def __init__(self, mss: int) -> None:
        self.mss = mss
        self.cwnd = initial_window(mss)
        self.ssthresh = 1 << 30  # "arbitrarily high" (RFC 5681 §3.1)
        self.dupacks = 0
        self.recover: int | None = None  # SND.MAX when fast recovery began; None: not in it
        self.counts = {"fastrexmit": 0, "partial": 0}

    def setmss(self, mss: int) -> None:
        """The MSS is known (from the SYN exchange): restart with its initial window."""
        self.mss = mss
        self.cwnd = initial_window(mss)

    def window(self) -> int:
        return self.cwnd

    def _halve(self, flight: int) -> None:
        self.ssthresh = max(flight // 2, 2 * self.mss)

    def acked(self, nbytes: int, ack: int) -> bool:
        """An ACK moved SND.UNA by ``nbytes`` to ``ack``; True: retransmit SND.UNA now."""
        self.dupacks = 0
        if self.recover is not None:
            if seqle(self.recover, ack):
                self.recover, self.cwnd = None, self.ssthresh  # full ACK: recovery ends
                return False
            self.counts["partial"] += 1  # partial ACK: the next hole (RFC 6582 §3.2 step 3)
            self.cwnd = max(self.cwnd - nbytes + self.mss, self.mss)
            return True
        if self.cwnd < self.ssthresh:
            self.cwnd += min(nbytes, 2 * self.mss)
        else:
            self.cwnd += max(1, self.mss * self.mss // self.cwnd)
        return False

    def dupack(self, flight: int, sndmax: int) -> bool:
        """A duplicate ACK arrived; True: fast retransmit SND.UNA now (Rule 2)."""
        if self.recover is not None:
            self.cwnd += self.mss  # inflate: one more segment has left the network
            return False
        self.dupacks += 1
        if self.dupacks != DUPTHRESH:
            return False
        self._halve(flight)
        self.cwnd = self.ssthresh + DUPTHRESH * self.mss
        self.recover = sndmax
        self.counts["fastrexmit"] += 1
        return True

    def timeout(self, flight: int) -> None:
        """The retransmission timer expired (RFC 5681 §3.1, equation 4)."""
        self._halve(flight)
        self.cwnd = self.mss
        self.dupacks, self.recover = 0, None
