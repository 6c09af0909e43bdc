"""The TLS record layer on a link: an ``ssl.SSLObject`` between two memory BIOs (tls(3)).

Theory of operation
-------------------
Plan 9's devtls sits between a conversation's data file and its reader: what is written is
sealed into records and sent, what arrives is opened and handed up.  ``TlsLink`` is that
layer for any link (``receive_some``/``send_all``/``aclose``: a host socket, an LP49 fd):
OpenSSL works only on memory (``ssl.MemoryBIO`` for each direction, ``SSLObject`` for the
state), and this class moves bytes between the BIOs and the link.  The keys and the policy
(contexts, certificates, refusals) are ``tls.py``'s; nothing here is cryptography.

* ``handshake()`` drives ``do_handshake`` until it completes: each time OpenSSL wants input,
  what it has to say is sent first, then one read of the link is fed to it.
* ``receive_some(n)`` opens **every whole record already received**, up to ``n`` bytes, and
  returns them as one buffer; it reads the link (up to ``RECV``, many records at once) only
  when no whole record is left.  A 64 KiB Rread, four 16 KiB records, usually arrives in one
  link read and leaves in one ``receive_some``: the consumer (lib9p's framer, ``#a``'s
  data reader) sees one buffer, not one per record.
* ``send_all(data)`` seals all of ``data`` (as many records as it takes) and sends them in
  one write of the link.

Rules
  1. One reader at a time (callers already are: a 9P session has one); writers may run
     beside it.  Sealed bytes leave under ``_sendlock`` in the order OpenSSL made them, so
     records the reader makes (a TLS 1.3 key update answer) never overtake a writer's.
  2. A TLS failure after the handshake (an alert: the server refusing our certificate
     after TLS 1.3 let the client finish, a bad record) raises the same one-line ``Error``
     as a refused handshake (``explain``) and is kept in ``failure``.
  3. End of input: after the peer's close_notify, ``receive_some`` returns b""; a link that
     ends without one raises ``trio.BrokenResourceError`` (a truncation is not an EOF).
  4. ``aclose`` sends close_notify and closes the link, shielded and bounded by
     ``CLOSE_TIMEOUT``: a dead peer cannot hold it.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

import trio

from lp49fs.errors import Eperm, Error

RECV = 1 << 18  # bytes asked of the link per read: many 16 KiB records at once
WANT = 1 << 20  # plaintext returned by receive_some() without a size
CLOSE_TIMEOUT = 10.0  # seconds for close_notify on aclose (Rule 4)
Eplain = "tls: not TLS (plain 9P to an authenticated listener?)"

_REASONS = (  # OpenSSL reason / verify text -> our line (Rule 2)
    ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "tls: no certificate"),
    ("CERTIFICATE_REQUIRED", "tls: no certificate (the server wants one)"),
    ("certificate revoked", "tls: certificate revoked"),
    ("CERTIFICATE_REVOKED", "tls: certificate revoked"),
    ("unable to get local issuer", "tls: certificate of another authority"),
    ("UNKNOWN_CA", "tls: certificate of another authority"),
    ("self-signed certificate", "tls: certificate of another authority"),
    ("certificate signature failure", "tls: certificate of another authority"),
    ("ALERT_DECRYPT_ERROR", "tls: certificate of another authority"),
    ("ALERT_BAD_CERTIFICATE", "tls: certificate refused by the peer"),
    ("Hostname mismatch", "tls: server certificate names another node"),
    ("IP address mismatch", "tls: server certificate names another node"),
    ("unsuitable certificate purpose", "tls: certificate not valid for this use"),
    ("ALERT_UNSUPPORTED_CERTIFICATE", "tls: certificate not valid for this use"),
    ("WRONG_VERSION_NUMBER", Eplain),
    ("HTTP_REQUEST", "tls: not TLS"),
    ("UNSUPPORTED_PROTOCOL", "tls: peer does not speak TLS 1.3"),
    ("VERSION_TOO_LOW", "tls: peer does not speak TLS 1.3"),
)


def check_attach(user: str, uname: str) -> None:
    """``tls`` Rule 6: ``uname`` must be ``user``, the authenticated peer ("" or ``none``:
    no authentication, so the server's own rules for unauthenticated clients apply)."""
    if user and user != "none" and uname != user:
        raise Error(f"{Eperm}: attach as {uname[:28]!r}, authenticated as {user}")


def explain(e: BaseException) -> Error:
    """One clear line for a failed handshake or record (Rule 2)."""
    text = str(e.__cause__ or e)
    for key, line in _REASONS:
        if key in text:
            return Error(line)
    if isinstance(e, trio.BrokenResourceError | EOFError | ConnectionError | ssl.SSLEOFError):
        return Error("tls: peer hung up during the handshake (refused our certificate?)")
    return Error(f"tls: {text[:96]}")


class TlsLink:
    """TLS over ``under`` with ``ctx`` (see the module docstring); ``user`` is the
    authenticated peer (server side) or ourselves (client side), set by ``tls.py``."""

    def __init__(self, under: Any, ctx: ssl.SSLContext, *, server_side: bool,
                 server_hostname: str | None = None) -> None:  # fmt: skip
        self.under = under
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._obj = ctx.wrap_bio(self._in, self._out, server_side, server_hostname)
        self._sendlock = trio.Lock()  # Rule 1
        self.user = ""
        self.speaksfor = False  # the peer may attach as any user (tls Rule 6)
        self.serial = 0  # the peer certificate's serial number, after the handshake
        self.failure: Error | None = None  # the refusal that ended the link (Rule 2), for
        # callers whose 9P layer reports only "hungup" (lp49 9p)

    def peer(self) -> str:
        peer = getattr(self.under, "peer", None)
        return str(peer()) if callable(peer) else "tls"

    def check_attach(self, uname: str) -> None:
        """lib9p's attach: ``uname`` must be the peer's name unless it speaks for others."""
        if not self.speaksfor:
            check_attach(self.user, uname)

    def params(self) -> tuple[str, str]:
        """(protocol version, cipher suite) after the handshake."""
        cipher = self._obj.cipher()
        return self._obj.version() or "", cipher[0] if cipher else ""

    def getpeercert(self) -> dict[str, Any]:
        return dict(self._obj.getpeercert() or {})

    async def _flush(self) -> None:
        """Send what OpenSSL has sealed (Rule 1)."""
        async with self._sendlock:
            while self._out.pending:
                await self.under.send_all(self._out.read())

    async def _feed(self) -> None:
        """One read of the link into the incoming BIO; its end is marked as such."""
        data = await self.under.receive_some(RECV)
        if data:
            self._in.write(data)
        else:
            self._in.write_eof()

    async def handshake(self) -> None:
        """Raises ``ssl.SSLError`` (a refusal; its alert is still in ``pending_alert``),
        ``trio.BrokenResourceError`` (the link ended) or what the link raises."""
        while True:
            try:
                self._obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush()
                await self._feed()
            except ssl.SSLEOFError as e:
                raise trio.BrokenResourceError("peer hung up during the handshake") from e
        await self._flush()
        cert = self.getpeercert()
        self.serial = int(str(cert.get("serialNumber", "0")), 16)

    async def send_alert(self) -> None:
        """After a refused handshake: send the alert OpenSSL made, so the peer learns why
        instead of seeing a bare hang-up (bounded: the peer may be gone)."""
        with trio.move_on_after(1.0), contextlib.suppress(Exception):
            await self._flush()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        want = max_bytes or WANT
        got = bytearray()
        while len(got) < want:
            try:
                chunk = self._obj.read(want - len(got))
                if not chunk:
                    break  # close_notify: EOF (Rule 3)
                got += chunk
                continue
            except ssl.SSLWantReadError:
                if got:
                    break  # every whole record received is returned; no more waiting
            except ssl.SSLZeroReturnError:
                break  # close_notify (Rule 3)
            except ssl.SSLEOFError as e:
                if got:
                    break
                raise trio.BrokenResourceError("TLS link truncated") from e
            except ssl.SSLError as e:
                self.failure = explain(e)
                raise self.failure from None
            if self._out.pending:  # a key update answer, session tickets read
                await self._flush()
            await self._feed()
        return bytes(got)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        try:
            self._obj.write(data)
        except ssl.SSLError as e:
            self.failure = explain(e)
            raise self.failure from None
        await self._flush()

    async def aclose(self) -> None:
        with trio.move_on_after(CLOSE_TIMEOUT) as scope:
            scope.shield = True
            try:
                with contextlib.suppress(ssl.SSLError):
                    self._obj.unwrap()
                with contextlib.suppress(Exception):
                    await self._flush()
            finally:
                await self.under.aclose()
