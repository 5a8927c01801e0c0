"""The attacker of the dispute tests: a coordinator colluding with the poster. Its gate is the real ChainGate, except
that it leaves out the update of the provider named by the run config's ``exclude``, although that update passes
every check (it first waits, as the real gate does, for the provider's hash on-chain, so the provider is rejected
rather than dropped)."""

from __future__ import annotations

from typing import Any

from web3 import Web3

from opendpg.coordinator.gate import ChainGate


class ExcludingGate(ChainGate):
    def __init__(self, run_config: dict[str, Any]) -> None:
        super().__init__(run_config)
        self.excluded = Web3.to_checksum_address(str(run_config["exclude"])) if run_config.get("exclude") else None

    def accept(self, provider: str, round_: int, update: bytes) -> bool:
        honest = super().accept(provider, round_, update)
        return honest and Web3.to_checksum_address(provider) != self.excluded
