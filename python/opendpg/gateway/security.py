"""Passwords (argon2id), API keys (random, stored as SHA-256 with a lookup prefix), and account keys encrypted
at rest (Fernet with the gateway secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from eth_account import Account

from opendpg.config import Settings
from opendpg.errors import ConfigError, OpenDPGError

__all__ = ["KeyVault", "hash_password", "load_vault", "new_api_key", "split_api_key", "verify_password"]

_hasher = PasswordHasher()  # argon2id with the library's current parameters
API_KEY_PREFIX = "odpg_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_api_key() -> tuple[str, str, str]:
    """(the key shown once, its lookup prefix, its SHA-256)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:12], hashlib.sha256(key.encode()).hexdigest()


def split_api_key(key: str) -> tuple[str, str]:
    return key[:12], hashlib.sha256(key.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


class KeyVault:
    """Creates account keys and keeps them encrypted; only the gateway's signer ever decrypts one."""

    def __init__(self, secret: str) -> None:
        digest = hashlib.sha256(b"opendpg-gateway-keys/1" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def new_account(self) -> tuple[str, bytes]:
        account = Account.create()
        return account.address, self._fernet.encrypt(account.key.hex().encode())

    def decrypt(self, blob: bytes) -> str:
        try:
            return self._fernet.decrypt(blob).decode()
        except InvalidToken:
            raise OpenDPGError("an account key could not be decrypted: was the gateway secret changed?") from None


def load_vault(settings: Settings) -> KeyVault:
    """The vault keyed by ``OPENDPG_GATEWAY_SECRET``. In development only, a random secret is made once and kept
    in ``state_dir/gateway.secret`` (owner-only); production refuses to start without the setting."""
    if settings.gateway_secret is not None:
        return KeyVault(settings.gateway_secret.get_secret_value())
    if settings.environment != "development":
        raise ConfigError("OPENDPG_GATEWAY_SECRET: required outside development (it encrypts account keys)")
    path: Path = settings.state_dir / "gateway.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return KeyVault(path.read_text().strip())
