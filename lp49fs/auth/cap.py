"""The capability hash of cap(3), shared by the ``#¤`` servant and ``lib.auth.become``.

A capability to change user FROM into TO is the string ``FROM@TO@KEY``; the host owner
registers HMAC-SHA256(KEY, ``FROM@TO``) on ``#¤/caphash`` (Plan 9 uses HMAC-SHA1).
"""

from __future__ import annotations

import hashlib
import hmac

CAPHASH = "#¤/caphash"
CAPUSE = "#¤/capuse"
HASHLEN = 32  # bytes of a SHA-256 HMAC


def caphash(fromto: str, key: bytes) -> bytes:
    """The hash the host owner writes for capability ``FROM@TO`` with ``key``."""
    return hmac.new(key, fromto.encode(), hashlib.sha256).digest()
