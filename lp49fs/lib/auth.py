"""Changing user, the Plan 9 way: ``become(user)`` through cap(3) (``#¤``) or ``#c/user``.

A process of the host owner that has proved who its client is (exportfs after a TLS
handshake) becomes that user before serving it:

1. ``none``: write ``none`` to ``#c/user`` (any process may drop to none; Plan 9 userwrite).
2. another user: make a one-time random KEY, write HMAC-SHA256(KEY, ``ME@USER``) to
   ``#¤/caphash`` (only the host owner may), then ``ME@USER@KEY`` to ``#¤/capuse``: the core
   changes the caller's user.  There is no way back.

Errors are the servants' own (``permission denied`` for a caller that is not the host
owner, ``invalid capability``).
"""

from __future__ import annotations

import secrets

from lp49fs.auth.cap import CAPHASH, CAPUSE, caphash
from lp49fs.lib import sys
from lp49fs.ninep import OREAD, OWRITE


async def _put(path: str, data: bytes) -> None:
    fd = await sys.open(path, OWRITE)
    try:
        await sys.write(fd, data)
    finally:
        await sys.close(fd)


async def _get(path: str) -> str:
    fd = await sys.open(path, OREAD)
    try:
        return (await sys.read(fd, 256)).decode()
    finally:
        await sys.close(fd)


async def whoami() -> str:
    """The calling process's user (``#c/user``)."""
    return await _get("#c/user")


async def sysname() -> str:
    """This node's name (``#c/sysname``)."""
    return await _get("#c/sysname")


async def become(user: str) -> None:
    """Make the calling process run as ``user`` from now on (module docstring)."""
    me = await whoami()
    if user == me:
        return
    if user == "none":
        await _put("#c/user", b"none")
        return
    key = secrets.token_hex(16)
    await _put(CAPHASH, caphash(f"{me}@{user}", key.encode()).hex().encode())
    await _put(CAPUSE, f"{me}@{user}@{key}".encode())
