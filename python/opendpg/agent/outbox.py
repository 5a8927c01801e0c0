"""The provider's outbox: every update its ClientApp wrote is pinned and its hash submitted on-chain, once.

Idempotent and crash-safe: before sending, the chain is asked whether we already submitted for this round;
a ``.submitted`` marker (with the tx hash) is written after success, so a restart neither duplicates a
transaction nor skips an update it can still submit.

The chain binds each hash to its first submitter in a round. If another provider put our hash on-chain first
(copied from the mempool), the update is salted (a random ``salt`` in its header, the tensors unchanged),
written back to the outbox and submitted again: the copier's submission names our update, which names us, so
the coordinator refuses it, and ours is taken.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from opendpg.chain import Chain
from opendpg.content import ContentStore
from opendpg.errors import ContractRevert
from opendpg.files import write_atomic
from opendpg.fl.update import decode_update, encode_update

__all__ = ["Outbox", "Submission"]

log = logging.getLogger(__name__)
MAX_RESALTS = 3


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
        me = self.chain.sender.address
        for path in self.pending(job_id):
            round_ = int(path.stem.split("-")[1])
            data = path.read_bytes()
            tx_hash: str | None = None
            if self.chain.market.participant_of(job_id, me).submitted_round >= round_:
                cid = self.store.put(data)
                if self.chain.market.submitter_of(job_id, round_, hashlib.sha256(data).digest()) != me:
                    log.error("job %s round %s: a different update of ours is already on-chain", job_id, round_)
            else:
                try:
                    data, cid, tx_hash = self._submit(job_id, round_, path, data)
                except ContractRevert as exc:
                    log.warning("job %s round %s: update not accepted on-chain: %s", job_id, round_, exc)
                    path.with_suffix(".refused").write_text(str(exc))
                    path.with_suffix(".submitted").write_text("")
                    continue
            path.with_suffix(".submitted").write_text(tx_hash or "")
            done.append(Submission(job_id, round_, hashlib.sha256(data).digest(), cid, tx_hash))
        return done

    def _submit(self, job_id: int, round_: int, path: Path, data: bytes) -> tuple[bytes, str, str]:
        """Pin and submit ``data``; if someone else submitted its hash first, salt it and try again."""
        resalted = 0
        while True:
            cid = self.store.put(data)
            try:
                receipt = self.chain.market.submit_update(job_id, round_, hashlib.sha256(data).digest(), cid)
                return data, cid, str(receipt["transactionHash"].to_0x_hex())
            except ContractRevert as exc:
                if exc.name != "JobMarketDuplicateUpdate" or resalted == MAX_RESALTS:
                    raise
                resalted += 1
                log.warning("job %s round %s: %s submitted our update's hash first; submitting it salted",
                            job_id, round_, exc.args_dict.get("submitter"))
                update = decode_update(data)
                data = encode_update(update.tensors, {**update.meta, "salt": secrets.token_hex(16)})
                write_atomic(path, data)
