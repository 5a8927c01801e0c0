"""The gateway's view of the chain: reads, the operator's account (funding), and each user's own account
(its key decrypted only to sign that user's transactions)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from opendpg.chain import Chain, Deployment, TxSender, connect
from opendpg.config import Settings
from opendpg.content import ContentStore, open_store
from opendpg.errors import ConfigError
from opendpg.gateway.models import User
from opendpg.gateway.security import KeyVault

__all__ = ["GatewayChain", "connect_chain"]

REGISTERED_TTL = 30.0


class GatewayChain:
    def __init__(self, chain: Chain, store: ContentStore, vault: KeyVault, operator: TxSender | None) -> None:
        self.reader = chain
        self.store = store
        self.vault = vault
        self.operator = chain.as_account(operator) if operator is not None else None
        self._users: dict[int, Chain] = {}
        self._lock = threading.Lock()
        self._registered: dict[str, float] = {}

    async def is_registered(self, node: str) -> bool:
        """Whether ``node`` is in the node registry (a yes is remembered for ``REGISTERED_TTL`` seconds)."""
        seen = self._registered.get(node)
        if seen is not None and time.monotonic() - seen < REGISTERED_TTL:
            return True
        registered = await asyncio.to_thread(self.reader.registry.is_registered, node)
        if registered:
            self._registered[node] = time.monotonic()
        return registered

    def as_user(self, user: User) -> Chain:
        """The user's own account (one sender per user, so its nonces stay in order)."""
        with self._lock:
            if user.id not in self._users:
                key = self.vault.decrypt(user.encrypted_key)
                self._users[user.id] = self.reader.as_account(TxSender(self.reader.w3, key))
            return self._users[user.id]


def connect_chain(settings: Settings, vault: KeyVault) -> GatewayChain | None:
    """None when no chain is configured (``OPENDPG_RPC_URL`` unset): the chain routes then answer 503."""
    if settings.rpc_url is None:
        return None
    deployment_file = Path(settings.deployment_file)
    if not deployment_file.exists():
        raise ConfigError(f"OPENDPG_DEPLOYMENT_FILE: {deployment_file} does not exist (run `opendpg deploy`)")
    w3 = connect(settings.rpc_url)
    chain = Chain.reader(w3, Deployment.load(deployment_file))
    operator = TxSender(w3, settings.private_key.get_secret_value()) if settings.private_key else None
    return GatewayChain(chain, open_store(settings.ipfs_api, settings.state_dir), vault, operator)
