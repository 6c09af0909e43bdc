"""The public codec: ``encode``/``decode`` of whole frames, ``encode_dir``/``decode_dirs``.

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
from ._fast import DECODERS, ENCODERS
from ._faststat import pack_dir, unpack_dirs
from ._messages import MESSAGE_CLASSES, Message

_fast_enc = ENCODERS.get
_fast_dec = DECODERS.get


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


def decode(frame: bytes) -> tuple[int, Message]:
    """Decode exactly one whole frame into ``(tag, message)``; ProtocolError if malformed."""
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
