"""Mutual TLS 1.3 on any link, with the certificates of one authority (``authority``).

Theory of operation
-------------------
A link (``receive_some``/``send_all``/``aclose``: a host socket, an LP49 fd) becomes a
``trio.SSLStream`` over it, which is again a link, so the import handshake and 9P run inside
TLS unchanged.  This is where Plan 9 would call ``tlsServer``/``tlsClient`` (libsec) on the
fd before exportfs or mount use it.

* ``ServerAuth(dir, node)``: the listener's side.  ``accept(link)`` runs the handshake
  within ``HANDSHAKE_TIMEOUT`` and returns a ``TlsLink`` whose ``user`` is the common name
  of the client's certificate.  The context is remade when ``crl.pem`` changes, so a
  revoke takes effect at the next connection without restarting the listener.
* ``client(link, dir, user, host)``: the dialler's side: presents ``user``'s certificate
  (a user's, or a node's when ``user`` names a node) and verifies that the server holds a
  node certificate of the same authority whose DNS or IP name is ``host``.

Rules
  1. TLS 1.3 only; both sides require a certificate chained to ``ca.crt`` that is not on
     ``crl.pem`` (OpenSSL checks the leaf against the CRL).  Nothing is accepted on trust.
  2. Every refusal is an ``Error`` with one line naming why: ``tls: no certificate``,
     ``tls: certificate of another authority``, ``tls: certificate revoked``, ``tls: not
     TLS (plain 9P to an authenticated listener?)``, ``tls: handshake timed out``.
  3. The handshake never hangs: it is bounded by ``HANDSHAKE_TIMEOUT`` on both sides.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from typing import Any, cast

import trio

from lp49fs.errors import Error

from .authority import NODES, USERS, Authority

HANDSHAKE_TIMEOUT = 10.0  # seconds for a TLS handshake (Rule 3)

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
    ("WRONG_VERSION_NUMBER", "tls: not TLS (plain 9P to an authenticated listener?)"),
    ("HTTP_REQUEST", "tls: not TLS"),
    ("UNSUPPORTED_PROTOCOL", "tls: peer does not speak TLS 1.3"),
    ("VERSION_TOO_LOW", "tls: peer does not speak TLS 1.3"),
)


def explain(e: BaseException) -> Error:
    """One clear line for a failed handshake (Rule 2)."""
    text = str(e.__cause__ or e)
    for key, line in _REASONS:
        if key in text:
            return Error(line)
    if isinstance(e, trio.BrokenResourceError | EOFError | ConnectionError):
        return Error("tls: peer hung up during the handshake (refused our certificate?)")
    return Error(f"tls: {text[:96]}")


class TlsLink:
    """A link over a handshaken ``trio.SSLStream``: a TLS alert that arrives later (the
    server refusing our certificate after TLS 1.3 let the client finish) becomes the same
    one-line ``Error`` as a refused handshake (Rule 2)."""

    def __init__(self, stream: trio.SSLStream[Any], user: str, under: object) -> None:
        self.stream = stream
        self.user = user  # the authenticated peer (server side) or ourselves (client side)
        self.under = under

    def peer(self) -> str:
        peer = getattr(self.under, "peer", None)
        return str(peer()) if callable(peer) else "tls"

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            return bytes(await self.stream.receive_some(max_bytes))
        except trio.BrokenResourceError as e:
            if isinstance(e.__cause__, ssl.SSLError) and not isinstance(
                e.__cause__, ssl.SSLEOFError
            ):
                raise explain(e) from None
            raise

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        try:
            await self.stream.send_all(data)
        except trio.BrokenResourceError as e:
            if isinstance(e.__cause__, ssl.SSLError):
                raise explain(e) from None
            raise

    async def aclose(self) -> None:
        with trio.move_on_after(HANDSHAKE_TIMEOUT) as scope:
            scope.shield = True
            await self.stream.aclose()


def _base(auth: Authority, purpose: ssl.Purpose) -> ssl.SSLContext:
    server = purpose == ssl.Purpose.CLIENT_AUTH
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        ctx.load_verify_locations(cafile=str(auth.ca_crt))
        ctx.load_verify_locations(cafile=str(auth.crl))
    except FileNotFoundError:
        raise Error(
            f"auth: no authority in {auth.root} (run: lp49 auth init {auth.root})"
        ) from None
    ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return ctx


def _load(ctx: ssl.SSLContext, auth: Authority, kind: str, name: str) -> None:
    key, crt = auth.paths(kind, name)
    try:
        ctx.load_cert_chain(str(crt), str(key))
    except FileNotFoundError:
        how = "add" if kind == USERS else "node"
        run = f"lp49 auth {how} {auth.root} {name}"
        raise Error(f"auth: no key for {kind[:-1]} {name} (run: {run})") from None
    except PermissionError:
        raise Error(f"auth: {key}: permission denied") from None


def server_context(auth: Authority, node: str) -> ssl.SSLContext:
    """The listener's context: node ``node``'s certificate, client certificates required."""
    ctx = _base(auth, ssl.Purpose.CLIENT_AUTH)
    _load(ctx, auth, NODES, node)
    return ctx


def client_context(auth: Authority, user: str) -> ssl.SSLContext:
    """The dialler's context: ``user``'s certificate (a node's if no such user)."""
    ctx = _base(auth, ssl.Purpose.SERVER_AUTH)
    is_node = not auth.paths(USERS, user)[1].exists() and auth.paths(NODES, user)[1].exists()
    kind = NODES if is_node else USERS
    _load(ctx, auth, kind, user)
    return ctx


def peer_user(stream: trio.SSLStream[Any]) -> str:
    """The common name of the peer's (verified) certificate."""
    cert = stream.getpeercert()
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    raise Error("tls: certificate without a name")


async def _handshake(stream: trio.SSLStream[Any]) -> None:
    try:
        with trio.fail_after(HANDSHAKE_TIMEOUT):
            await stream.do_handshake()
    except trio.TooSlowError:
        raise Error("tls: handshake timed out") from None
    except (trio.BrokenResourceError, ssl.SSLError, OSError, EOFError) as e:
        await _send_alert(stream)
        raise explain(e) from None


async def _send_alert(stream: trio.SSLStream[Any]) -> None:
    """Send the alert OpenSSL left in the stream's outgoing buffer after a refused
    handshake (trio drops it), so the peer learns why instead of seeing a bare hang-up."""
    alert = getattr(stream, "_outgoing", None)
    if isinstance(alert, ssl.MemoryBIO) and alert.pending:
        with trio.move_on_after(1.0), contextlib.suppress(Exception):
            await stream.transport_stream.send_all(alert.read())


class ServerAuth:
    """A listener's TLS side (see the module docstring); reloads the CRL when it changes."""

    def __init__(self, root: str | os.PathLike[str], node: str) -> None:
        self.auth = Authority(root)
        self.node = node
        self._stamp: tuple[int, ...] = ()
        self._ctx = self.context()

    def context(self) -> ssl.SSLContext:
        try:
            st = os.stat(self.auth.crl)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)  # a revoke replaces the file
        except FileNotFoundError:
            stamp = (0, 0, 0)
        if stamp != self._stamp:
            self._ctx = server_context(self.auth, self.node)
            self._stamp = stamp
        return self._ctx

    async def accept(self, link: object) -> TlsLink:
        """TLS over ``link`` as the server; its ``user`` is the authenticated client."""
        stream = trio.SSLStream(cast(Any, link), self.context(), server_side=True)
        await _handshake(stream)
        return TlsLink(stream, peer_user(stream), link)


async def client(link: object, root: str | os.PathLike[str], user: str, host: str) -> TlsLink:
    """TLS over ``link`` as ``user``, verifying that the server is node ``host``."""
    ctx = client_context(Authority(root), user)
    stream = trio.SSLStream(cast(Any, link), ctx, server_hostname=host)
    await _handshake(stream)
    return TlsLink(stream, user, link)
