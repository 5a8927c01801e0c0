"""The coordinator's round gate, loaded by the ServerApp process (run config ``gate =
"opendpg.coordinator.gate:ChainGate"``): an update is aggregated only if its SHA-256 is the hash its provider
recorded on-chain for that round; each aggregated model is pinned and committed on-chain.

It reads the chain settings from the run config (``rpc-url``, ``deployment-file``, ``job-id``, ``state-dir``,
``ipfs-api``) and the coordinator's key from ``OPENDPG_PRIVATE_KEY`` in its environment (the Federation
passes it to the SuperLink, whose ServerApp process inherits it), never from the run config.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from web3 import Web3

from opendpg.chain import Chain, Deployment, TxSender, connect
from opendpg.config import load_settings
from opendpg.content import open_store
from opendpg.errors import ConfigError

__all__ = ["ChainGate"]

ZERO_HASH = b"\x00" * 32


class ChainGate:
    def __init__(self, run_config: dict[str, Any]) -> None:
        settings = load_settings()
        if settings.private_key is None:
            raise ConfigError("the coordinator's ServerApp needs OPENDPG_PRIVATE_KEY in its environment")
        w3 = connect(str(run_config["rpc-url"]))
        deployment = Deployment.load(Path(str(run_config["deployment-file"])))
        self.chain = Chain(w3, deployment, TxSender(w3, settings.private_key.get_secret_value()))
        self.store = open_store(str(run_config.get("ipfs-api", "")) or None, Path(str(run_config["state-dir"])))
        self.job_id = int(run_config["job-id"])
        self.hash_wait = float(run_config.get("hash-wait", 120.0))
        self.state_dir = Path(str(run_config["state-dir"])) / f"job-{self.job_id}"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.providers = [Web3.to_checksum_address(p) for p in self.chain.market.providers_of(self.job_id)]

    def accept(self, provider: str, round_: int, update: bytes) -> bool:
        """Wait (up to ``hash-wait`` s) for the provider's on-chain hash; accept only an exact match."""
        provider = Web3.to_checksum_address(provider)
        if provider not in self.providers:
            return False
        expected = hashlib.sha256(update).digest()
        deadline = time.monotonic() + self.hash_wait
        while True:
            on_chain = self.chain.market.update_hash_of(self.job_id, round_, provider)
            if on_chain != ZERO_HASH:
                return on_chain == expected
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def commit(self, round_: int, global_model: bytes, used: list[str], metrics: dict[str, float]) -> None:
        cid = self.store.put(global_model)
        indices = [self.providers.index(Web3.to_checksum_address(p)) for p in used]
        receipt = self.chain.market.commit_round(self.job_id, round_, hashlib.sha256(global_model).digest(), cid,
                                                 indices)
        record = {"round": round_, "cid": cid, "used": used, "metrics": metrics,
                  "tx": receipt["transactionHash"].to_0x_hex()}
        (self.state_dir / f"round-{round_}.json").write_text(json.dumps(record))
