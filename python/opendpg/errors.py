"""The OpenDPG exception hierarchy: every error a component raises on purpose derives from OpenDPGError."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ChainError",
    "ChainUnavailableError",
    "CompilerError",
    "ConfigError",
    "ContentError",
    "ContentIntegrityError",
    "ContentNotFoundError",
    "ContentUnavailableError",
    "ContractRevert",
    "DeploymentError",
    "LocalChainError",
    "OpenDPGError",
    "OpenDPGValueError",
    "TransactionError",
]


class OpenDPGError(Exception):
    """Base class of every OpenDPG error."""


class OpenDPGValueError(OpenDPGError, ValueError):
    """Bad input from a user or a file; the message names the field and the fix."""


class ConfigError(OpenDPGValueError):
    """Settings are missing or invalid."""


class CompilerError(OpenDPGError):
    """The Solidity sources did not compile."""


class DeploymentError(OpenDPGError):
    """A deployment file is missing, unreadable, or does not match the chain."""


class ContentError(OpenDPGError):
    """Storing or fetching content by CID failed."""


class ContentNotFoundError(ContentError, LookupError):
    """No store could provide the content for a CID (after retries)."""


class ContentIntegrityError(ContentError):
    """Bytes received for a CID do not hash to it: tampered or truncated; never used."""


class ContentUnavailableError(ContentError, ConnectionError):
    """The content store (kubo daemon) cannot be reached."""


class ChainError(OpenDPGError):
    """Talking to the chain failed."""


class ChainUnavailableError(ChainError, ConnectionError):
    """The RPC endpoint cannot be reached."""


class LocalChainError(ChainError):
    """A local chain (anvil, ganache) could not be started or stopped."""


class TransactionError(ChainError):
    """A transaction could not be sent or was not mined."""


class ContractRevert(TransactionError):
    """A contract call or transaction reverted.

    ``name`` is the custom error's name (``"Error"`` for ``require`` strings, ``"Panic"`` for compiler
    panics, ``"UnknownError"`` if no known ABI declares the selector); ``args`` maps the error's
    parameter names to their decoded values. Each custom error also has its own subclass, so callers
    can ``except revert_type("JobMarketWrongState")``.
    """

    def __init__(
        self,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        data: bytes = b"",
        tx_hash: str | None = None,
    ) -> None:
        self.name = name
        self.args_dict: dict[str, Any] = dict(args or {})
        self.data = data
        self.tx_hash = tx_hash
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.args_dict.items())
        where = f" (tx {tx_hash})" if tx_hash else ""
        super().__init__(f"reverted: {name}({shown}){where}")


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value) if isinstance(value, str) else str(value)
