"""An authority directory: a CA, the certificates it issued, and its revocation list.

Theory of operation
-------------------
Plan 9 names users with keys held by an authentication server; here the authority is a
directory of X.509 files made with ``cryptography`` (no home-made cryptography), and TLS 1.3
(``lp49fs.auth.tls``) proves the names on the wire.  The layout of DIR::

    ca.key  ca.crt          the authority (Ed25519; ca.key is 0600)
    users/NAME.key .crt     a user: the certificate's common name is the user name
    nodes/NAME.key .crt     a node: common name and DNS name NAME, plus --ip addresses
    crl.pem                 the revocation list, re-signed on every revoke

Rules
  1. Private keys are written 0600 (created with that mode, never widened); DIR, users/ and
     nodes/ are 0700.  Certificates and the CRL are 0644.
  2. A user certificate may only authenticate a client (extended key usage clientAuth); a
     node certificate may serve and dial (serverAuth and clientAuth).  So a user cannot pose
     as a node to a client that verifies the server.
  3. Names are Plan 9 user names: 1-28 bytes of letters, digits, ``-``, ``_`` and ``.``,
     not starting with ``.`` or ``-``.  Issuing a name that exists is refused (revoke it
     first; a revoked name may be issued again); ``none`` (the unauthenticated user) is
     never issued.
  4. Revoking puts every certificate issued under that name (user and node) on the CRL and
     keeps its files (``list`` shows them as revoked).  A listener reloads the CRL when the
     file changes (``tls.ServerAuth``).
  5. Every failure is an ``Error`` with one clear line (``auth: ...``).
"""

from __future__ import annotations

import datetime
import os
import pathlib
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lp49fs.errors import Error

VALID_DAYS = 3650
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,27}")
USERS, NODES = "users", "nodes"
NOBODY = "none"  # Plan 9's unauthenticated user


@dataclass(frozen=True)
class Issued:
    """One certificate of the authority, as ``list`` shows it."""

    kind: str  # "user" or "node"
    name: str
    serial: int
    revoked: bool
    not_after: datetime.datetime


def check_name(name: str) -> str:
    """``name`` if it is a valid user or node name (Rule 3); else Error."""
    if not NAME_RE.fullmatch(name) or name == NOBODY:
        raise Error(f"auth: bad name {name!r} (1-28 of A-Z a-z 0-9 _ . -; not 'none')")
    return name


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write(path: pathlib.Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file made with ``mode`` (Rule 1: no window with wider bits)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _pem_key(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Authority:
    """The authority in directory ``root`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = pathlib.Path(root)

    @property
    def ca_crt(self) -> pathlib.Path:
        return self.root / "ca.crt"

    @property
    def crl(self) -> pathlib.Path:
        return self.root / "crl.pem"

    def paths(self, kind: str, name: str) -> tuple[pathlib.Path, pathlib.Path]:
        """(key, certificate) paths of ``name`` in ``kind`` (USERS or NODES)."""
        d = self.root / kind
        return d / f"{name}.key", d / f"{name}.crt"

    def init(self, name: str = "") -> None:
        """Make a new authority; refuses a directory that already holds one.  Its name is
        unique (a random suffix), so certificates of two authorities never look related."""
        name = name or f"lp49 authority {os.urandom(6).hex()}"
        if self.ca_crt.exists():
            raise Error(f"auth: {self.root} already holds an authority")
        for d in (self.root, self.root / USERS, self.root / NODES):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(d, 0o700)
        key = ed25519.Ed25519PrivateKey.generate()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(key, None)
        )
        _write(self.root / "ca.key", _pem_key(key), 0o600)
        _write(self.ca_crt, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        self._sign_crl(set())

    def _ca(self) -> tuple[ed25519.Ed25519PrivateKey, x509.Certificate]:
        try:
            key = serialization.load_pem_private_key((self.root / "ca.key").read_bytes(), None)
            cert = x509.load_pem_x509_certificate(self.ca_crt.read_bytes())
        except FileNotFoundError:
            raise Error(
                f"auth: no authority in {self.root} (run: lp49 auth init {self.root})"
            ) from None
        except PermissionError:
            raise Error(f"auth: {self.root}/ca.key: permission denied") from None
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise Error(f"auth: {self.root}/ca.key: not an Ed25519 key")
        return key, cert

    def issue(self, kind: str, name: str, ips: tuple[str, ...] = ()) -> pathlib.Path:
        """Issue a key and certificate for user or node ``name``; returns the cert path."""
        import ipaddress

        check_name(name)
        ca_key, ca_cert = self._ca()
        keyp, crtp = self.paths(kind, name)
        if crtp.exists() and self._serial(crtp) not in self.revoked():
            raise Error(f"auth: {kind[:-1]} {name} already exists (revoke it first)")
        key = ed25519.Ed25519PrivateKey.generate()
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        now = _now()
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if kind == NODES:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
            try:
                alt: list[x509.GeneralName] = [x509.DNSName(name)]
                alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
            except ValueError as e:
                raise Error(f"auth: {e}") from None
            b = b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        cert = b.sign(ca_key, None)
        keyp.parent.mkdir(mode=0o700, exist_ok=True)
        _write(keyp, _pem_key(key), 0o600)
        _write(crtp, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return crtp

    @staticmethod
    def _serial(crtp: pathlib.Path) -> int:
        return x509.load_pem_x509_certificate(crtp.read_bytes()).serial_number

    def revoked(self) -> set[int]:
        """Serial numbers on the CRL."""
        try:
            crl = x509.load_pem_x509_crl(self.crl.read_bytes())
        except FileNotFoundError:
            return set()
        return {r.serial_number for r in crl}

    def _sign_crl(self, serials: set[int]) -> None:
        key, cert = self._ca()
        now = _now()
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(cert.subject)
            .last_update(now - datetime.timedelta(minutes=5))
            .next_update(now + datetime.timedelta(days=VALID_DAYS))
        )
        for s in sorted(serials):
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(s).revocation_date(now).build()
            )
        crl = b.sign(key, None)
        _write(self.crl, crl.public_bytes(serialization.Encoding.PEM), 0o644)

    def listing(self) -> list[Issued]:
        """Every certificate issued, users first, each sorted by name."""
        self._ca()
        gone = self.revoked()
        out = []
        for kind in (USERS, NODES):
            for crtp in sorted((self.root / kind).glob("*.crt")):
                c = x509.load_pem_x509_certificate(crtp.read_bytes())
                out.append(Issued(kind[:-1], crtp.stem, c.serial_number,
                                  c.serial_number in gone, c.not_valid_after_utc))  # fmt: skip
        return out

    def revoke(self, name: str) -> list[Issued]:
        """Revoke every certificate named ``name`` (Rule 4); returns those revoked."""
        hit = [i for i in self.listing() if i.name == name and not i.revoked]
        if not hit:
            raise Error(f"auth: no unrevoked certificate named {name!r}")
        self._sign_crl(self.revoked() | {i.serial for i in hit})
        return hit
