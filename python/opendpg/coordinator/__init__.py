"""The per-job coordinator: runs the ServerApp, checks updates against on-chain hashes, commits rounds."""

from opendpg.coordinator.gate import ChainGate

__all__ = ["ChainGate"]
