"""One-line Plan 9 ``%F`` renderings of 9P messages, as chatty9p prints them.

``fmt(tag, msg)`` gives e.g. ``Twalk tag 3 fid 1 newfid 2 nwname 1 0:usr`` or
``Rread tag 7 count 5 'hello'``: the message's own tagless ``__str__`` with ``tag N``
inserted after the name, following Plan 9's fcallfmt.c.  ``fmt_frame`` does the same for
raw bytes (and says what is wrong with a malformed frame instead of raising), which is what
a trace logger sitting on a transport wants.
"""

from __future__ import annotations

from ._errors import ProtocolError
from ._messages import Message
from ._wire import decode


def fmt(tag: int, msg: Message) -> str:
    """``msg`` as a chatty9p line carrying ``tag``."""
    name, _, rest = str(msg).partition(" ")
    return f"{name} tag {tag} {rest}" if rest else f"{name} tag {tag}"


def fmt_frame(frame: bytes) -> str:
    """A whole frame as a chatty9p line, or a note saying why it is not 9P2000."""
    try:
        tag, msg = decode(frame)
    except ProtocolError as e:
        return f"<bad frame: {e.reason}>"
    return fmt(tag, msg)
