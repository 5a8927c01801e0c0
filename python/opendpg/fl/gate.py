"""How the ServerApp lets its host (the coordinator) vet updates and record rounds, without fl/ importing it.

The run config names a ``module:attribute`` factory (key ``gate``) that returns a ``RoundGate``; without
one, every well-formed update is accepted and rounds are only written to the output directory.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

__all__ = ["AcceptAll", "RoundGate", "load_gate"]


class RoundGate(Protocol):
    def accept(self, provider: str, round_: int, update: bytes) -> bool:
        """True if ``update`` from ``provider`` may be aggregated in ``round_`` (e.g. its hash is on-chain)."""

    def commit(self, round_: int, global_model: bytes, used: list[str], metrics: dict[str, float]) -> None:
        """Record the aggregated model of ``round_`` (pin it, commit it on-chain, ...)."""

    def fetch(self, provider: str, round_: int) -> bytes | None:
        """``provider``'s update for ``round_`` by another path than Flower (e.g. from IPFS by the CID it put
        on-chain), for when its reply is lost; None if there is none (yet)."""

    def expected(self) -> set[str] | None:
        """The providers whose update the round waits for (it ends early once all answered); None: unknown,
        wait for every node addressed."""

    def resume(self) -> tuple[int, bytes | None]:
        """The last round already recorded and its global model (``(0, None)`` for a fresh job), so a
        restarted ServerApp continues where the job stands instead of redoing rounds."""

    def nodes(self) -> dict[int, str] | None:
        """The SuperNodes admitted for this job, node ID → provider; only they are addressed and only their
        replies count, each for that provider. None: no admission (any node that connects, as it claims)."""


class AcceptAll:
    def accept(self, provider: str, round_: int, update: bytes) -> bool:
        return True

    def commit(self, round_: int, global_model: bytes, used: list[str], metrics: dict[str, float]) -> None:
        return None

    def fetch(self, provider: str, round_: int) -> bytes | None:
        return None

    def expected(self) -> set[str] | None:
        return None

    def resume(self) -> tuple[int, bytes | None]:
        return 0, None

    def nodes(self) -> dict[int, str] | None:
        return None


def load_gate(spec: str, run_config: dict[str, Any]) -> RoundGate:
    if not spec:
        return AcceptAll()
    module, _, attribute = spec.partition(":")
    factory = getattr(importlib.import_module(module), attribute)
    gate: RoundGate = factory(run_config)
    return gate
