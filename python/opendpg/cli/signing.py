"""The chain for commands that sign with the user's own key: ``--key-file`` (hex), ``--keystore`` (an encrypted
Ethereum keystore JSON; password from ``OPENDPG_KEYSTORE_PASSWORD`` or asked for), or ``OPENDPG_PRIVATE_KEY``."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eth_account import Account

from opendpg.chain import Chain, Deployment, TxSender, connect
from opendpg.config import load_settings
from opendpg.errors import ConfigError

__all__ = ["E18", "add_chain_arguments", "chain_from_args", "parse_tokens"]

E18 = Decimal(10**18)


def parse_tokens(text: str, field: str, *, positive: bool = True) -> int:
    """Whole tokens as typed (``12.5``) to wei; a message naming ``field`` when it is not a valid amount."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ConfigError(f"{field}: {text!r} is not a number of tokens (e.g. 200 or 12.5)") from None
    if amount < 0 or (positive and amount == 0):
        raise ConfigError(f"{field}: must be more than 0")
    return int(amount * E18)


def add_chain_arguments(parser: Any) -> None:
    parser.add_argument("--rpc-url", help="default: $OPENDPG_RPC_URL")
    parser.add_argument("--deployment", type=Path, help="default: $OPENDPG_DEPLOYMENT_FILE")
    parser.add_argument("--key-file", type=Path, help="file with a hex key (default: $OPENDPG_PRIVATE_KEY)")
    parser.add_argument("--keystore", type=Path, help="an encrypted keystore JSON file (password from "
                                                      "$OPENDPG_KEYSTORE_PASSWORD, or asked for)")


def _key(args: argparse.Namespace) -> str | None:
    key_file: Path | None = getattr(args, "key_file", None)
    keystore: Path | None = getattr(args, "keystore", None)
    if key_file is not None:
        if not key_file.is_file():
            raise ConfigError(f"--key-file: {key_file} does not exist")
        key = key_file.read_text().strip()
        if not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", key):
            raise ConfigError(f"--key-file: {key_file} must hold 64 hex digits")
        return key
    if keystore is not None:
        try:
            encrypted = json.loads(keystore.read_text())
        except FileNotFoundError:
            raise ConfigError(f"--keystore: {keystore} does not exist") from None
        except json.JSONDecodeError:
            raise ConfigError(f"--keystore: {keystore} is not a keystore JSON file") from None
        password = os.environ.get("OPENDPG_KEYSTORE_PASSWORD")
        if password is None:
            password = getpass.getpass(f"password for {keystore}: ")
        try:
            return bytes(Account.decrypt(encrypted, password)).hex()
        except ValueError:
            raise ConfigError(f"--keystore: wrong password for {keystore} (or not a keystore file)") from None
    settings = load_settings()
    return settings.private_key.get_secret_value() if settings.private_key is not None else None


def chain_from_args(args: argparse.Namespace, signing: bool = True) -> Chain:
    settings = load_settings()
    rpc_url = getattr(args, "rpc_url", None) or settings.rpc_url
    if not rpc_url:
        raise ConfigError("no chain: pass --rpc-url or set OPENDPG_RPC_URL")
    deployment_file = getattr(args, "deployment", None) or settings.deployment_file
    if not Path(deployment_file).exists():
        raise ConfigError(f"no deployment file at {deployment_file}: pass --deployment or set OPENDPG_DEPLOYMENT_FILE")
    w3 = connect(rpc_url)
    deployment = Deployment.load(Path(deployment_file))
    key = _key(args)
    if key is None:
        if signing:
            raise ConfigError("no key: pass --key-file FILE or --keystore FILE, or set OPENDPG_PRIVATE_KEY")
        return Chain.reader(w3, deployment)
    return Chain(w3, deployment, TxSender(w3, key))
