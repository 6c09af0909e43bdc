"""What a 9P client does after the fact: check a reply, undo a flushed request's effects.

``check`` turns a reply into its value or its error (None means the link hung up).
``late_reply`` is Session Rule 2/3 (see client.py): a request whose caller gave up may still
have been carried out by the server; a fid that it created is clunked in the background, and
a fid that a flushed clunk did not free is clunked again, so the server never keeps a fid that
the client forgot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lp49fs.errors import Ehungup, Error
from lp49fs.ninep import Rattach, Rerror, Rwalk, Tattach, Tclunk, Tremove, Twalk

if TYPE_CHECKING:
    from lp49fs.lib9p.client import Session


def check(reply: object) -> object:
    """``reply`` itself, or raise the ``Error`` it carries (None means the link hung up)."""
    if reply is None:
        raise Error(Ehungup)
    if isinstance(reply, Rerror):
        raise Error.from_rerror(reply)
    return reply


def late_reply(session: Session, msg: object, reply: object) -> None:
    """Undo what a flushed request did after all, as far as the client must (Rule 2/3)."""
    created: int | None = None
    if isinstance(msg, Twalk) and msg.newfid != msg.fid:
        if isinstance(reply, Rwalk) and len(reply.wqid) == len(msg.wname):
            created = msg.newfid
        else:
            session.freefid(msg.newfid)
    elif isinstance(msg, Tattach):
        if isinstance(reply, Rattach):
            created = msg.fid
        else:
            session.freefid(msg.fid)
    elif isinstance(msg, (Tclunk, Tremove)):
        if reply is None:  # flushed before the server saw it: the fid still lives there
            created = msg.fid
        else:
            session.freefid(msg.fid)
    if created is not None:
        session.clunk_soon(created)


async def clunk_quietly(session: Session, fid: int) -> None:
    try:
        await session.rpc(Tclunk(fid=fid))
    except Error:
        pass
    finally:
        session.freefid(fid)

