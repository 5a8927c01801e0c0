"""Flower node keys: one long-term key per provider, and from it one key per job that anyone can compute the public
half of.

Flower authenticates a SuperNode by an EC key (NIST curve) registered with the SuperLink, and a key once
registered and removed can never be registered again with that SuperLink. So a provider publishes one long-term
public key ``Q`` (P-256, OpenSSH form), and each job uses its own key derived additively, as BIP-32's
non-hardened keys are: with ``t = SHA-256("opendpg-flower-node-key/1" || Q || label) mod n``, the job key is
``d + t`` (only the provider can compute it) and its public key ``Q + t·G`` (the coordinator computes it from
``Q`` and the job's label alone). A coordinator can thus register and remove each job's key without the
provider publishing anything per job. As with BIP-32, a leaked job private key together with ``Q`` reveals the
long-term key: both live on the provider's host, in files only its user can read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from opendpg.errors import OpenDPGError

__all__ = ["NodeKeyError", "derive_node_key", "derive_public_key", "load_or_create_node_key", "public_key_pem",
           "public_key_text", "write_node_key"]

# NIST P-256 (SEC 2, secp256r1)
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_A = _P - 3
_DOMAIN = b"opendpg-flower-node-key/1"
Point = tuple[int, int] | None  # None: the point at infinity


class NodeKeyError(OpenDPGError):
    """A node key is not a P-256 key, or cannot be read."""


def _add(p: Point, q: Point) -> Point:
    if p is None:
        return q
    if q is None:
        return p
    (x1, y1), (x2, y2) = p, q
    if x1 == x2 and (y1 + y2) % _P == 0:
        return None
    slope = ((3 * x1 * x1 + _A) * pow(2 * y1, -1, _P) if p == q  # doubling: the tangent
             else (y2 - y1) * pow(x2 - x1, -1, _P)) % _P  # two points: the chord
    x3 = (slope * slope - x1 - x2) % _P
    return x3, (slope * (x1 - x3) - y1) % _P


def _tweak(public: ec.EllipticCurvePublicKey, label: bytes) -> int:
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    tweak = int.from_bytes(hashlib.sha256(_DOMAIN + point + label).digest(), "big") % _N
    if tweak == 0:  # probability 2^-256
        raise NodeKeyError("degenerate key derivation; use another label")
    return tweak


def _p256_public(text: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_ssh_public_key(text.strip().encode())
    except (ValueError, TypeError) as exc:
        raise NodeKeyError(f"not an OpenSSH public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise NodeKeyError("a Flower node key must be an ecdsa-sha2-nistp256 (P-256) key")
    return key


def public_key_text(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The OpenSSH form (``ecdsa-sha2-nistp256 AAAA...``) of a key's public half."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def public_key_pem(text: str) -> bytes:
    """An OpenSSH public key as PEM SubjectPublicKeyInfo."""
    return _p256_public(text).public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)


def derive_node_key(key: ec.EllipticCurvePrivateKey, label: bytes) -> ec.EllipticCurvePrivateKey:
    """The private key for ``label`` (e.g. one job) derived from a long-term P-256 key."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise NodeKeyError("a Flower node key must be a P-256 key")
    scalar = (key.private_numbers().private_value + _tweak(key.public_key(), label)) % _N
    if scalar == 0:
        raise NodeKeyError("degenerate key derivation; use another label")
    return ec.derive_private_key(scalar, ec.SECP256R1())


def derive_public_key(public_text: str, label: bytes) -> str:
    """The public key (OpenSSH form) of :func:`derive_node_key` ``(key, label)``, from the long-term public key
    alone."""
    public = _p256_public(public_text)
    numbers = public.public_numbers()
    shift = ec.derive_private_key(_tweak(public, label), ec.SECP256R1()).public_key().public_numbers()
    point = _add((numbers.x, numbers.y), (shift.x, shift.y))
    if point is None:
        raise NodeKeyError("degenerate key derivation; use another label")
    return public_key_text(ec.EllipticCurvePublicNumbers(point[0], point[1], ec.SECP256R1()).public_key())


def write_node_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    """Write ``key`` as an OpenSSH private key (what ``flower-supernode --auth-supernode-private-key`` reads),
    readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption())
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
    return path


def load_or_create_node_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The long-term node key at ``path``, generated (P-256) on first use."""
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        write_node_key(path, key)
        return key
    try:
        loaded = serialization.load_ssh_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise NodeKeyError(f"cannot read the node key {path}: {exc}") from None
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(loaded.curve, ec.SECP256R1):
        raise NodeKeyError(f"{path} is not a P-256 key")
    return loaded
