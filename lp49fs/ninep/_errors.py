"""ProtocolError: malformed 9P bytes or a broken protocol rule that cannot be answered.

A ``ProtocolError`` is never sent as an Rerror: the peer is not speaking 9P2000 correctly
(short or oversized frame, unknown type, bad string, a reply to a tag never sent ...), so
the adapter logs ``reason`` and closes the connection.  Backend failures are
``lp49fs.errors.Error`` instead, and travel as Rerror.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """The bytes on a 9P connection are not 9P2000; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
