"""The deployment file: chain id, start block, and each contract's address and ABI.

Written by ``opendpg deploy`` and by ``brownie run deploy``; loaded by every other component.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from opendpg.errors import DeploymentError
from opendpg.files import write_atomic

__all__ = ["FORMAT", "ContractRecord", "Deployment"]

FORMAT = "opendpg-deployment/1"


@dataclass(frozen=True)
class ContractRecord:
    address: str
    abi: list[dict[str, Any]]


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    start_block: int
    contracts: dict[str, ContractRecord]
    params: dict[str, Any] = field(default_factory=dict)

    def address(self, name: str) -> str:
        return self._record(name).address

    def contract(self, w3: Web3, name: str) -> Contract:
        record = self._record(name)
        return w3.eth.contract(address=Web3.to_checksum_address(record.address), abi=record.abi)

    def abis(self) -> list[list[dict[str, Any]]]:
        return [r.abi for r in self.contracts.values()]

    def check_chain(self, w3: Web3) -> None:
        """Refuse to use a deployment on another chain than the one it was made on."""
        actual = w3.eth.chain_id
        if actual != self.chain_id:
            raise DeploymentError(
                f"deployment is for chain {self.chain_id} but the RPC endpoint is chain {actual}: "
                "point OPENDPG_RPC_URL at the right chain or run `opendpg deploy` again"
            )

    def _record(self, name: str) -> ContractRecord:
        try:
            return self.contracts[name]
        except KeyError:
            raise DeploymentError(
                f"contract {name!r} is not in the deployment (has: {', '.join(sorted(self.contracts))})"
            ) from None

    # ------------------------------------------------------------------ file format

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "chain_id": self.chain_id,
            "start_block": self.start_block,
            "contracts": {n: asdict(r) for n, r in self.contracts.items()},
            "params": self.params,
        }

    def save(self, path: Path) -> None:
        """Write atomically, so a reader never sees half a file."""
        write_atomic(path, json.dumps(self.to_json(), indent=2))

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise DeploymentError(f"no deployment file at {path}: run `opendpg deploy` first") from None
        except json.JSONDecodeError as exc:
            raise DeploymentError(f"deployment file {path} is not valid JSON: {exc}") from None
        if raw.get("format") != FORMAT:
            raise DeploymentError(f"deployment file {path} has format {raw.get('format')!r}, expected {FORMAT!r}")
        try:
            contracts = {n: ContractRecord(address=c["address"], abi=c["abi"]) for n, c in raw["contracts"].items()}
            return cls(
                chain_id=int(raw["chain_id"]),
                start_block=int(raw["start_block"]),
                contracts=contracts,
                params=raw.get("params", {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DeploymentError(f"deployment file {path} is malformed: missing or bad {exc}") from None
