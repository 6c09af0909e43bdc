"""L4 X.2 value types: ThreadId, MsgTag, Msg, Fpage, typed items, Acceptor, error codes.

Theory of operation: these are plain values, shared by every other kernel module and by user
code.  Their layouts follow the L4 X.2 reference manual (32-bit, as implemented by L4Ka::Pistachio);
each type can give its raw word (``raw``) and be rebuilt from it (``from_raw``), but the model
passes the Python values themselves, not words.

Rules:
1. ``ThreadId`` is an ``int`` (the raw global id: thread number << 14 | version), so comparing
   and hashing ids costs what comparing ints costs.  ``NILTHREAD`` = 0, ``ANYTHREAD`` = ~0.
2. A ``Msg`` is immutable by convention: the kernel hands the very object to the receiver when
   it carries no typed items (no copy), so a sender must not mutate ``words`` afterwards
   (they are a tuple for that reason).
3. IPC failures are ``IpcError`` (the X.2 ErrorCode: code << 1 | phase); other system calls
   fail with ``SyscallError`` (the X.2 ThreadControl/SpaceControl error numbers).  Nothing
   else escapes the kernel for bad input.
"""

from __future__ import annotations

from dataclasses import dataclass

ADDRESS_BITS = 32  # the model's virtual address space: 4 GiB
PAGE_BITS = 12
PAGE_SIZE = 1 << PAGE_BITS

# -- thread ids (REFERENCE §5.1) --
VERSION_BITS = 14
THREADNO_BITS = 18


class ThreadId(int):
    """A global thread id: ``number`` (18 bits) and ``version`` (14 bits, low 6 bits non-zero)."""

    __slots__ = ()

    @classmethod
    def make(cls, number: int, version: int = 1) -> ThreadId:
        """The id of thread ``number`` at ``version``; ValueError if out of range."""
        if not 0 <= number < 1 << THREADNO_BITS or not 0 < version < 1 << VERSION_BITS:
            raise ValueError(f"bad thread id {number}.{version}")
        if version & 0x3F == 0:
            raise ValueError("a global id's version must have non-zero low 6 bits")
        return cls(number << VERSION_BITS | version)

    @property
    def number(self) -> int:
        return int(self) >> VERSION_BITS

    @property
    def version(self) -> int:
        return int(self) & ((1 << VERSION_BITS) - 1)

    def __repr__(self) -> str:
        if self == 0:
            return "NILTHREAD"
        if self == 0xFFFFFFFF:
            return "ANYTHREAD"
        return f"ThreadId({self.number}.{self.version})"

    __str__ = __repr__


NILTHREAD = ThreadId(0)
ANYTHREAD = ThreadId(0xFFFFFFFF)

# -- rights and fpages (REFERENCE §5.3) --
R, W, X = 4, 2, 1
RWX = R | W | X


@dataclass(frozen=True, slots=True)
class Fpage:
    """A flexpage: 2**log2size bytes at ``base`` (aligned to its size) with ``rights`` rwx."""

    base: int  # first address, aligned to the size
    log2size: int  # 0 for the nil page; PAGE_BITS..ADDRESS_BITS otherwise
    rights: int = RWX  # R=4 W=2 X=1

    @classmethod
    def create(cls, base: int, size: int, rights: int = RWX) -> Fpage:
        """The fpage of ``size`` bytes (a power of two) at ``base`` (no validation)."""
        return cls(base, max(size.bit_length() - 1, 0), rights)

    @property
    def size(self) -> int:
        return 0 if self.log2size == 0 else 1 << self.log2size

    @property
    def valid(self) -> bool:
        """A real (non-nil) fpage: page-sized or more, aligned, inside the address space."""
        s = self.log2size
        return (
            PAGE_BITS <= s <= ADDRESS_BITS
            and self.base >= 0
            and self.base & ((1 << s) - 1) == 0
            and self.base + (1 << s) <= 1 << ADDRESS_BITS
            and 0 <= self.rights <= RWX
        )

    @property
    def is_nil(self) -> bool:
        return self.log2size == 0

    @property
    def raw(self) -> int:
        """The X.2 word ``b[22] | s[6] | 0 | rwx`` (CompleteAddressSpace is s=1, b=0)."""
        if self.log2size == ADDRESS_BITS:
            return 1 << 4 | self.rights
        return (self.base >> 10) << 10 | self.log2size << 4 | self.rights

    @classmethod
    def from_raw(cls, word: int) -> Fpage:
        s = (word >> 4) & 0x3F
        if s == 1 and word >> 10 == 0:
            return cls(0, ADDRESS_BITS, word & 7)
        return cls((word >> 10) << 10, s, word & 7)

    def with_rights(self, rights: int) -> Fpage:
        return Fpage(self.base, self.log2size, rights)


NILPAGE = Fpage(0, 0, 0)
COMPLETE = Fpage(0, ADDRESS_BITS, RWX)  # CompleteAddressSpace


# -- typed items and the receive window (REFERENCE §5.2) --
@dataclass(frozen=True, slots=True)
class MapItem:
    """Map ``fpage`` of the sender's space; the receiver gets a derived mapping.

    ``snd_base`` chooses the placement inside the receiver's window (X.2 rules); in the
    message the receiver gets, ``rcv_base`` is where the pages landed (None: nothing mapped).
    """

    fpage: Fpage
    snd_base: int = 0
    rcv_base: int | None = None  # filled in by the kernel for the receiver

    grant = False

    def local(self, addr: int, n: int, window: Fpage) -> int | None:
        """Where sender address ``addr`` landed, if ``[addr, addr+n)`` lies inside both the
        item's fpage and the receiver's ``window``; else None (nothing landed, or outside)."""
        if self.rcv_base is None:
            return None
        off = addr - self.fpage.base
        local = self.rcv_base + off
        if (
            off < 0
            or n < 0
            or off + n > 1 << self.fpage.log2size
            or local < window.base
            or local + n > window.base + (1 << window.log2size)
        ):
            return None
        return local


@dataclass(frozen=True, slots=True)
class GrantItem:
    """Like MapItem, but the mapping moves: the sender loses the pages."""

    fpage: Fpage
    snd_base: int = 0
    rcv_base: int | None = None

    grant = True


@dataclass(frozen=True, slots=True)
class StringItem:
    """A string of bytes copied from sender to receiver (needs an accepting string buffer)."""

    data: bytes


Item = MapItem | GrantItem | StringItem


@dataclass(frozen=True, slots=True)
class Acceptor:
    """BR0 and the string buffers: where mappings may land and how long a string may be."""

    window: Fpage = NILPAGE  # receive window for map/grant items; NILPAGE refuses mappings
    strings: int = 0  # bytes accepted per string item; 0 refuses strings


# -- message tag and message (REFERENCE §5.2) --
FLAG_PROPAGATE = 1 << 0
FLAG_ERROR = 1 << 3  # the E bit (bit 15 of the tag word)


@dataclass(frozen=True, slots=True)
class MsgTag:
    """MR0: label (16 bits), flags (4), typed words t (6), untyped words u (6)."""

    label: int = 0
    u: int = 0
    t: int = 0
    flags: int = 0

    @property
    def raw(self) -> int:
        return (self.label & 0xFFFF) << 16 | (self.flags & 0xF) << 12 | self.t << 6 | self.u

    @classmethod
    def from_raw(cls, word: int) -> MsgTag:
        return cls(word >> 16 & 0xFFFF, word & 0x3F, word >> 6 & 0x3F, word >> 12 & 0xF)


class Msg:
    """One IPC message: a label, untyped words (MR1..MRu) and typed items."""

    __slots__ = ("items", "label", "words")

    def __init__(self, label: int = 0, words: tuple[int, ...] = (), items: tuple[Item, ...] = ()):
        self.label = label  # 16-bit label (protocol or system-call number)
        self.words = words  # untyped words, by value
        self.items = items  # MapItem / GrantItem / StringItem, in order

    @property
    def tag(self) -> MsgTag:
        return MsgTag(self.label, len(self.words), 2 * len(self.items))

    def __repr__(self) -> str:
        return f"Msg(label={self.label:#x}, words={self.words!r}, items={self.items!r})"


MR_COUNT = 64  # MR0..MR63: u + t <= 63

# -- kernel protocols (REFERENCE §5.5): label = (-n) << 4 in 16 bits --
LABEL_INTERRUPT = 0xFFF0
LABEL_PAGEFAULT = 0xFFE0  # | rwx attempted
LABEL_PREEMPTION = 0xFFD0
LABEL_EXCEPTION = 0xFFB0
LABEL_SIGMA0 = 0xFFA0

# -- errors (REFERENCE §5.4, §5.7) --
SEND_PHASE, RECEIVE_PHASE = 0, 1
TIMEOUT = 1
NO_PARTNER = 2
CANCELED = 3
MSG_OVERFLOW = 4
XFER_TIMEOUT_OWN = 5
XFER_TIMEOUT_PARTNER = 6
ABORTED = 7
IPC_ERRORS = {
    TIMEOUT: "timeout",
    NO_PARTNER: "no partner",
    CANCELED: "canceled",
    MSG_OVERFLOW: "message overflow",
    XFER_TIMEOUT_OWN: "xfer timeout (own)",
    XFER_TIMEOUT_PARTNER: "xfer timeout (partner)",
    ABORTED: "aborted",
}

NO_PRIVILEGE = 1
INVALID_THREAD = 2
INVALID_SPACE = 3
INVALID_SCHEDULER = 4
INVALID_PARAM = 5
UTCB_AREA = 6
KIP_AREA = 7
NO_MEMORY = 8
SYSCALL_ERRORS = {
    NO_PRIVILEGE: "no privilege",
    INVALID_THREAD: "invalid thread",
    INVALID_SPACE: "invalid space",
    INVALID_SCHEDULER: "invalid scheduler",
    INVALID_PARAM: "invalid parameter",
    UTCB_AREA: "invalid UTCB area",
    KIP_AREA: "invalid KIP area",
    NO_MEMORY: "out of memory",
}


class L4Error(Exception):
    """A system call failed; ``code`` is the X.2 error number."""

    code: int


class IpcError(L4Error):
    """An IPC failed: ``code`` (TIMEOUT ... ABORTED) in ``phase`` (SEND_PHASE/RECEIVE_PHASE)."""

    def __init__(self, code: int, phase: int) -> None:
        self.code = code
        self.phase = phase
        where = "receive" if phase else "send"
        super().__init__(f"{IPC_ERRORS.get(code, '?')} in {where} phase")

    @property
    def error_code(self) -> int:
        """The ErrorCode TCR word: code in bits 3..1, phase in bit 0."""
        return self.code << 1 | self.phase


class SyscallError(L4Error):
    """ThreadControl, SpaceControl, Schedule, ExchangeRegisters or Unmap refused."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(SYSCALL_ERRORS.get(code, "?"))
