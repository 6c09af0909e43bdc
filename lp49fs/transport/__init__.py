"""Transports for 9P: TCP, unix-domain sockets and in-process pipes, named by dial strings.

This is the trio side of 9P's I/O (``lp49fs.ninep`` never touches sockets).  A *link* is a
reliable byte stream with three methods, the same shape as ``trio.abc.Stream``'s core::

    link = await dial("tcp!127.0.0.1!5640")      # or "tcp!host" (port 564), "unix!/path"
    await link.send_all(frame)
    data = await link.receive_some(8192)          # b"" at EOF; never assume one frame
    await link.aclose()

    listener = await announce("tcp!*!5640")       # or "tcp!127.0.0.1!0"; listener.addr
    link = await listener.accept()                 # has the port actually bound

    a, b = pipe_pair()                             # two connected in-process links

A ``SocketLink`` also has two optional fast paths that the 9P client uses when present:
``await link.receive_into(buffer)`` (``recv_into``; 0 at EOF) with ``Framer.recv_buffer``, and
``await link.send_parts([header, data])`` (one gathering ``sendmsg``, no join).  ``dial`` and
``announce`` call ``tune_malloc`` once (``_malloc``: big frames reuse heap memory).

Bad dial strings raise ``DialError`` (a ``lp49fs.errors.Error`` whose text says what is
wrong); connection failures raise ``Error`` (e.g. "connection refused: tcp!...").
"""

from __future__ import annotations

from lp49fs.ninep import Link as Link

from ._dialstr import NINEP_PORT as NINEP_PORT
from ._dialstr import Addr as Addr
from ._dialstr import DialError as DialError
from ._dialstr import parse as parse
from ._socket import RUNOUT as RUNOUT
from ._socket import AcceptBackoff as AcceptBackoff
from ._socket import Listener as Listener
from ._socket import SocketLink as SocketLink
from ._socket import announce as announce
from ._socket import dial as dial
from ._socket import pipe_pair as pipe_pair

__all__ = [
    "NINEP_PORT",
    "Addr",
    "DialError",
    "Link",
    "Listener",
    "SocketLink",
    "announce",
    "dial",
    "parse",
    "pipe_pair",
]
