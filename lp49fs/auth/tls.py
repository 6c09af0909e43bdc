"""Mutual TLS 1.3 on any link, with the certificates of one authority (``authority``).

Theory of operation
-------------------
A link (``receive_some``/``send_all``/``aclose``: a host socket, an LP49 fd) becomes a
``TlsLink`` over it (``tlslink``: the record layer on memory BIOs), which is again a link,
so the import handshake and 9P run inside TLS unchanged.  This is where Plan 9 would call
``tlsServer``/``tlsClient`` (libsec) on the fd before exportfs or mount use it.

* ``ServerAuth(dir, node)``: the listener's side.  ``accept(link)`` runs the handshake
  within ``HANDSHAKE_TIMEOUT`` and returns a ``TlsLink`` whose ``user`` is the common name
  of the client's certificate.  The context is remade when ``crl.pem`` changes, so a
  revoke takes effect at the next connection without restarting the listener;
  ``until_revoked(tls)`` looks at ``crl.pem`` every ``REVOKE_POLL`` seconds and returns once
  an open connection's certificate is on it, so its server can end it (Rule 5).
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
  4. The server looks at the first bytes: anything but a TLS handshake record is refused;
     a plain 9P message gets an ``Rerror`` saying that TLS is required, so a 9P client
     (plan9port's 9p) prints why instead of a bare hang-up.
  5. A revoke reaches connections already open: their server ends them within about
     ``REVOKE_POLL`` seconds of the new ``crl.pem`` (exportfs does, for every TLS link).
  6. On an authenticated link an attach names the certificate's user or is refused
     (``check_attach``): lib9p's ``sattach`` applies it (``TlsLink.check_attach``) to
     every server behind a TLS listener (ramfs, u9fs), exportfs to the user its process
     became.  A listener's ``speakers`` are certificates that speak for other users (the
     node dialling its own host servers): their links may attach by any name.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from typing import Any

import trio

from lp49fs.errors import Error
from lp49fs.ninep import PrefixLink, Rerror, encode

from .authority import NODES, USERS, Authority
from .tlslink import Eplain, TlsLink, check_attach, explain

__all__ = ["Eplain", "Eplain9p", "ServerAuth", "TlsLink", "check_attach", "client", "explain"]

HANDSHAKE_TIMEOUT = 10.0  # seconds for a TLS handshake (Rule 3)
REVOKE_POLL = 1.0  # seconds between looks at crl.pem for the open connections (Rule 5)
TLS_HANDSHAKE = 0x16  # the first byte of a TLS handshake record (ClientHello)
MAXFIRST = 4096
Eplain9p = "authentication required: this listener speaks 9P only inside TLS (--auth DIR)"


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


def peer_user(tls: TlsLink) -> str:
    """The common name of the peer's (verified) certificate."""
    for rdn in tls.getpeercert().get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    raise Error("tls: certificate without a name")


async def _handshake(tls: TlsLink) -> None:
    try:
        with trio.fail_after(HANDSHAKE_TIMEOUT):
            await tls.handshake()
    except trio.TooSlowError:
        raise Error("tls: handshake timed out") from None
    except (trio.BrokenResourceError, ssl.SSLError, OSError, EOFError) as e:
        await tls.send_alert()
        raise explain(e) from None


async def _refuse_plain(link: Any, first: bytes) -> None:
    """Rule 4: answer a plain 9P message with an Rerror naming the fix."""
    if len(first) >= 7 and first[3] == 0:  # size[4] (< 16 MiB) type[1] tag[2]
        tag = int.from_bytes(first[5:7], "little")
        with contextlib.suppress(Exception), trio.move_on_after(1.0):
            await link.send_all(encode(tag, Rerror(Eplain9p)))


class ServerAuth:
    """A listener's TLS side (see the module docstring); reloads the CRL when it changes."""

    def __init__(self, root: str | os.PathLike[str], node: str,
                 speakers: frozenset[str] = frozenset()) -> None:  # fmt: skip
        self.auth = Authority(root)
        self.node = node
        self.speakers = speakers  # Rule 6
        self._stamp: tuple[int, ...] = ()
        self._ctx = self.context()

    def crlstamp(self) -> tuple[int, ...]:
        try:
            st = os.stat(self.auth.crl)
            return (st.st_ino, st.st_mtime_ns, st.st_size)  # a revoke replaces the file
        except FileNotFoundError:
            return (0, 0, 0)

    def context(self) -> ssl.SSLContext:
        stamp = self.crlstamp()
        if stamp != self._stamp:
            self._ctx = server_context(self.auth, self.node)
            self._stamp = stamp
        return self._ctx

    async def until_revoked(self, tls: TlsLink, period: float = REVOKE_POLL) -> None:
        """Return once ``tls``'s peer certificate is on ``crl.pem`` (Rule 5)."""
        seen = self.crlstamp()
        while True:
            await trio.sleep(period)
            stamp = self.crlstamp()
            if stamp != seen:
                seen = stamp
                if tls.serial in self.auth.revoked():
                    return

    async def accept(self, link: Any) -> TlsLink:
        """TLS over ``link`` as the server; its ``user`` is the authenticated client."""
        first: bytes | None = None
        with trio.move_on_after(HANDSHAKE_TIMEOUT):
            first = bytes(await link.receive_some(MAXFIRST))
        if first is None or not first:
            raise Error("tls: handshake timed out" if first is None else "tls: peer hung up")
        if first[0] != TLS_HANDSHAKE:
            await _refuse_plain(link, first)
            raise Error(Eplain)
        tls = TlsLink(PrefixLink(link, first), self.context(), server_side=True)
        await _handshake(tls)
        tls.user = peer_user(tls)
        tls.speaksfor = tls.user in self.speakers  # Rule 6
        return tls


async def client(link: object, root: str | os.PathLike[str], user: str, host: str) -> TlsLink:
    """TLS over ``link`` as ``user``, verifying that the server is node ``host``."""
    tls = TlsLink(link, client_context(Authority(root), user), server_side=False,
                  server_hostname=host)  # fmt: skip
    await _handshake(tls)
    tls.user = user
    return tls
