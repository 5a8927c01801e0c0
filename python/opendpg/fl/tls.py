"""TLS for the SuperLink: a coordinator's own certificate authority, the server certificate it signs, and the check
a provider makes before it connects.

A coordinator without certificates of its own gets a private CA (EC P-256, ten years) and a server certificate
for the names providers dial (one year, renewed when a name changes or 30 days before it expires). Providers do
not trust any public CA for this: they trust exactly the CA certificate the coordinator published (its SHA-256
fingerprint is what :func:`fingerprint` returns).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from opendpg.errors import OpenDPGError

__all__ = ["TlsError", "TlsFiles", "check_endpoint", "ensure_tls", "fingerprint", "load_tls"]

CA_DAYS, CERT_DAYS, RENEW_DAYS = 3650, 365, 30


class TlsError(OpenDPGError):
    """A certificate is missing, unreadable, or not the one a party trusts."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA certificate providers trust, and the server certificate and key the SuperLink serves."""

    ca_cert: Path
    cert: Path
    key: Path

    def ca_pem(self) -> str:
        return self.ca_cert.read_text()


def fingerprint(pem: str | bytes) -> str:
    """SHA-256 of a PEM certificate's DER bytes, hex (what ``openssl x509 -fingerprint -sha256`` shows)."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    except ValueError as exc:
        raise TlsError(f"not a PEM certificate: {exc}") from None
    return cert.fingerprint(hashes.SHA256()).hex()


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _name(text: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        return x509.DNSName(text)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _new_ca(folder: Path, subject: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_private(folder / "ca.key", _key_pem(key))
    (folder / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _current_names(path: Path) -> tuple[set[str], datetime.datetime] | None:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return None
    names = {str(n) for n in sans.get_values_for_type(x509.IPAddress)} | set(sans.get_values_for_type(x509.DNSName))
    return names, cert.not_valid_after_utc


def ensure_tls(folder: Path, names: list[str], subject: str = "OpenDPG coordinator") -> TlsFiles:
    """The CA and server certificate in ``folder`` (``ca.pem``, ``ca.key``, ``server.pem``, ``server.key``),
    created when missing; the server certificate is reissued when ``names`` (IP addresses or DNS names the
    SuperLink is dialled by) changed or it expires within 30 days. Keys are written 0600."""
    if not names:
        raise TlsError("a server certificate needs at least one name (IP address or DNS name)")
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    if files.ca_cert.exists() and (folder / "ca.key").exists():
        ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise TlsError(f"{folder / 'ca.key'} is not an EC key")
    else:
        ca, ca_key = _new_ca(folder, subject)
    current = _current_names(files.cert)
    renew_by = _now() + datetime.timedelta(days=RENEW_DAYS)
    if current is not None and current[0] == set(names) and current[1] > renew_by and files.key.exists():
        return files
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
            .add_extension(x509.SubjectAlternativeName([_name(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_private(files.key, _key_pem(key))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def load_tls(ca_cert: Path, cert: Path, key: Path) -> TlsFiles:
    """Certificates an operator brings (e.g. from the institution's own CA): checked to be readable PEM and to
    chain to ``ca_cert``."""
    try:
        ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        server = x509.load_pem_x509_certificate(cert.read_bytes())
        serialization.load_pem_private_key(key.read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise TlsError(f"cannot use the TLS files ({ca_cert}, {cert}, {key}): {exc}") from None
    try:
        server.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise TlsError(f"{cert} is not issued by {ca_cert}: {type(exc).__name__} {exc}") from None
    return TlsFiles(ca_cert, cert, key)


def check_endpoint(address: str, ca_pem: str, timeout: float = 10.0) -> None:
    """Connect to ``address`` (``host:port``) and complete a TLS handshake trusting only ``ca_pem``; raise
    :class:`TlsError` saying what is wrong (not TLS, a certificate that CA did not sign, or one for another
    name), or ``ConnectionError`` when it cannot be reached (which may pass). Nothing is sent after the
    handshake."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        context = ssl.create_default_context(cadata=ca_pem)
    except ssl.SSLError as exc:
        raise TlsError(f"the published CA certificate is not usable: {exc}") from None
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host):
            return
    except ssl.SSLCertVerificationError as exc:
        raise TlsError(f"the SuperLink at {address} presented a certificate the published CA does not vouch for "
                       f"({exc.verify_message}): refusing to connect") from None
    except ssl.SSLError as exc:
        raise TlsError(f"no TLS handshake with the SuperLink at {address} ({exc.reason or exc}): "
                       "refusing to connect") from None
    except OSError as exc:
        raise ConnectionError(f"cannot reach the SuperLink at {address}: {exc}") from None
