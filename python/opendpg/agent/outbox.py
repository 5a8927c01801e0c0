"""The provider's outbox: every update its ClientApp wrote is pinned and its hash submitted on-chain, once.

Idempotent and crash-safe: before sending, the chain is asked whether this round already has our hash;
a ``.submitted`` marker (with the tx hash) is written after success, so a restart neither duplicates a
transaction nor skips an update it can still submit.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from opendpg.chain import Chain
from opendpg.content import ContentStore
from opendpg.errors import ContractRevert

__all__ = ["Outbox", "Submission"]

log = logging.getLogger(__name__)
ZERO_HASH = b"\x00" * 32


@dataclass(frozen=True)
class Submission:
    job_id: int
    round: int
    update_hash: bytes
    cid: str
    tx_hash: str | None  # None: it was already on-chain


class Outbox:
    def __init__(self, root: Path, chain: Chain, store: ContentStore) -> None:
        self.root = root
        self.chain = chain
        self.store = store

    def pending(self, job_id: int) -> list[Path]:
        folder = self.root / str(job_id)
        if not folder.exists():
            return []
        files = [p for p in folder.glob("round-*.update") if not p.with_suffix(".submitted").exists()]
        return sorted(files, key=lambda p: int(p.stem.split("-")[1]))

    def submit_pending(self, job_id: int) -> list[Submission]:
        done: list[Submission] = []
        for path in self.pending(job_id):
            round_ = int(path.stem.split("-")[1])
            data = path.read_bytes()
            digest = hashlib.sha256(data).digest()
            cid = self.store.put(data)
            on_chain = self.chain.market.update_hash_of(job_id, round_, self.chain.sender.address)
            tx_hash: str | None = None
            if on_chain == ZERO_HASH:
                try:
                    receipt = self.chain.market.submit_update(job_id, round_, digest, cid)
                    tx_hash = receipt["transactionHash"].to_0x_hex()
                except ContractRevert as exc:
                    log.warning("job %s round %s: update not accepted on-chain: %s", job_id, round_, exc)
                    path.with_suffix(".refused").write_text(str(exc))
                    path.with_suffix(".submitted").write_text("")
                    continue
            elif on_chain != digest:
                log.error("job %s round %s: a different hash is already on-chain for us", job_id, round_)
            path.with_suffix(".submitted").write_text(tx_hash or "")
            done.append(Submission(job_id, round_, digest, cid, tx_hash))
        return done
