"""The public codec: ``encode``/``decode`` of whole frames, ``encode_dir``/``decode_dirs``,
and ``encode_parts`` (the same frame as header and data buffers, for ``sendmsg``).

``encode`` looks the message class up in the fast path (``_fast.ENCODERS``) and otherwise
builds it with the construct table (``_codec``); ``decode`` checks the header once, then
does the same by type byte.  Stat entries always take the struct path (``_faststat``).
Both paths produce identical bytes (tested), so callers never know which one ran.

Errors: ``decode`` raises only ``ProtocolError``; ``encode`` raises ``ValueError`` for a value
that does not fit its field (an integer too wide, NUL in a string) and ``TypeError`` for an
object that is not a 9P message.
"""

from __future__ import annotations

import struct

from ._codec import build_message, check_header, parse_message
from ._dir import Dir
from ._fast import DECODERS, ENCODERS, PART_ENCODERS, VIEW_DECODERS
from ._faststat import pack_dir, unpack_dirs
from ._messages import MESSAGE_CLASSES, Message

_fast_enc = ENCODERS.get
_fast_dec = DECODERS.get
_part_enc = PART_ENCODERS.get
_view_dec = VIEW_DECODERS.get


def encode(tag: int, msg: Message) -> bytes:
    """The whole frame of ``msg`` with tag ``tag``, size prefix included."""
    enc = _fast_enc(type(msg))
    if enc is None:
        if type(msg) not in MESSAGE_CLASSES.values():
            raise TypeError(f"not a 9P message: {msg!r}")
        return build_message(tag, msg)
    try:
        return enc(tag, msg)
    except (struct.error, OverflowError) as e:
        raise ValueError(f"cannot encode {type(msg).__name__}: {e}") from None


def encode_parts(tag: int, msg: Message) -> tuple[bytes, ...]:
    """``encode``'s frame as buffers to send back to back: (header, data) for Rread and
    Twrite (the data is not copied), else the one whole frame."""
    enc = _part_enc(type(msg))
    if enc is None:
        return (encode(tag, msg),)
    try:
        return enc(tag, msg)
    except (struct.error, OverflowError) as e:
        raise ValueError(f"cannot encode {type(msg).__name__}: {e}") from None


def decode(frame: bytes | memoryview) -> tuple[int, Message]:
    """Decode exactly one whole frame into ``(tag, message)``; ProtocolError if malformed.

    ``frame`` may be a memoryview (``Framer.next_view``): Rread and Twrite then copy their
    data out of it once; any other type is small and is copied to bytes first.
    """
    if isinstance(frame, memoryview):
        n = len(frame)
        vdec = _view_dec(frame[4]) if n >= 7 else None
        if vdec is not None and (frame[0] | frame[1] << 8 | frame[2] << 16
                                 | frame[3] << 24) == n:
            return vdec(frame)
        frame = frame.tobytes()
    n = len(frame)
    if n < 7 or (frame[0] | frame[1] << 8 | frame[2] << 16 | frame[3] << 24) != n:
        check_header(frame)  # raises, with the reason
    dec = _fast_dec(frame[4])
    if dec is None:
        return parse_message(frame)  # checks the header again, type included
    return dec(frame)


def encode_dir(d: Dir) -> bytes:
    """One stat entry with its own size[2] (as in a directory read); ValueError if too big."""
    try:
        return pack_dir(d)
    except (struct.error, OverflowError) as e:
        raise ValueError(f"cannot encode Dir: {e}") from None


def decode_dirs(data: bytes) -> list[Dir]:
    """The stat entries of a directory read's payload; ProtocolError on a partial entry."""
    return unpack_dirs(data)
