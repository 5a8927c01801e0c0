"""The coordinator's round gate, loaded by the ServerApp process (run config ``gate =
"opendpg.coordinator.gate:ChainGate"``): an update is aggregated only if its header names the provider it comes
from and its SHA-256 is a hash that provider itself recorded on-chain for that round (the chain binds each hash
to its first submitter, so a copy of another provider's update is never paid); each aggregated model is pinned
and committed on-chain.

It reads the chain settings from the run config (``rpc-url``, ``deployment-file``, ``job-id``, ``state-dir``,
``ipfs-api``) and the coordinator's key from ``OPENDPG_PRIVATE_KEY`` in its environment (the Federation
passes it to the SuperLink, whose ServerApp process inherits it), never from the run config.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from web3 import Web3

from opendpg.chain import ZERO_ADDRESS, Chain, Deployment, TxSender, connect
from opendpg.config import load_settings
from opendpg.content import open_store
from opendpg.errors import ConfigError, ContentError, ContractRevert, OpenDPGError
from opendpg.files import write_atomic
from opendpg.fl.update import UpdateFormatError, decode_update

__all__ = ["ChainGate"]

log = logging.getLogger(__name__)


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
        roster = str(run_config.get("roster-file", ""))
        self.roster_file = Path(roster) if roster else None
        self._roster: tuple[float, dict[int, str]] = (-1.0, {})

    def accept(self, provider: str, round_: int, update: bytes) -> bool:
        """Accept only an update whose header names ``provider``, from a provider still active in the job, whose
        hash that provider submitted on-chain for ``round_`` (waiting up to ``hash-wait`` s for the submission)."""
        provider = Web3.to_checksum_address(provider)
        if provider not in self.providers or self.chain.market.participant_of(self.job_id, provider).dropped:
            return False
        try:
            named = str(decode_update(update).meta.get("provider", ""))
        except UpdateFormatError:
            return False
        if not Web3.is_address(named) or Web3.to_checksum_address(named) != provider:
            log.warning("job %s round %s: an update from %s names %r as its provider: refused", self.job_id, round_,
                        provider, named)
            return False
        digest = hashlib.sha256(update).digest()
        deadline = time.monotonic() + self.hash_wait
        while True:
            # the provider's submission count first, then who submitted this hash: a submission mined between the
            # two reads then shows in the second (read the other way round, an honest update whose hash lands
            # between them looks like "another hash submitted" and is refused)
            submitted_round = self.chain.market.participant_of(self.job_id, provider).submitted_round
            submitter = self.chain.market.submitter_of(self.job_id, round_, digest)
            if submitter != ZERO_ADDRESS:
                return Web3.to_checksum_address(submitter) == provider
            if submitted_round >= round_:
                return False  # it submitted another hash for this round
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def commit(self, round_: int, global_model: bytes, used: list[str], metrics: dict[str, float]) -> None:
        """Pin the global model and its round record (metrics included), then commit the round on-chain.

        Idempotent: a round already committed with this hash (a restart between the transaction and the
        record) is only recorded. When an active provider sent nothing, the contract lets the round drop
        it only after the round deadline, so the commit waits for that (and retries until it is mined). ``used``
        may be empty (no acceptable update): the round is committed with nothing paid.
        """
        started = time.monotonic()
        digest = hashlib.sha256(global_model).digest()
        cid = self.store.put(global_model)
        pinned = time.monotonic()
        market = self.chain.market
        tx = ""
        if market.get_job(self.job_id).committed_rounds >= round_:
            if market.round_of(self.job_id, round_)[0] != digest:
                raise OpenDPGError(f"job {self.job_id} round {round_}: a different global model is already committed")
        else:
            indices = [self.providers.index(Web3.to_checksum_address(p)) for p in used]
            tx = self._commit_when_allowed(round_, digest, cid, indices)
        timing = {"ipfs_put": pinned - started, "chain_commit": time.monotonic() - pinned}
        record = {"job": self.job_id, "round": round_, "cid": cid, "hash": digest.hex(), "used": used,
                  "metrics": metrics, "tx": tx, "timing": timing}
        record["record_cid"] = self.store.put(json.dumps(record, sort_keys=True).encode())
        write_atomic(self.state_dir / f"round-{round_}.json", json.dumps(record))

    def _commit_when_allowed(self, round_: int, digest: bytes, cid: str, indices: list[int]) -> str:
        gas: int | None = None
        while True:
            try:
                receipt = self.chain.market.commit_round(self.job_id, round_, digest, cid, indices, gas=gas)
                return str(receipt["transactionHash"].to_0x_hex())
            except ContractRevert as exc:
                if exc.name != "JobMarketDeadlineNotPassed":
                    raise
                wait = int(exc.args_dict["deadline"]) + 1 - time.time()
                log.info("job %s round %s: a provider sent nothing; dropping it after the round deadline (%.0f s)",
                         self.job_id, round_, max(wait, 0))
                time.sleep(min(max(wait, 0.5), 30))
                # from now on skip estimation: it runs at the last block's time, stale on an idle chain
                gas = 400_000 + 80_000 * len(self.providers)

    def fetch(self, provider: str, round_: int) -> bytes | None:
        """The update a provider submitted on-chain, from IPFS by its CID, checked against its hash (a Flower
        reply can be lost on the way; the chain and IPFS still have it)."""
        provider = Web3.to_checksum_address(provider)
        if self.chain.market.participant_of(self.job_id, provider).submitted_round < round_:
            return None
        logs = self.chain.market.contract.events.UpdateSubmitted().get_logs(
            from_block=self.chain.deployment.start_block,
            argument_filters={"jobId": self.job_id, "round": round_, "provider": provider})
        if not logs:
            return None
        on_chain = bytes(logs[0]["args"]["updateHash"])
        try:
            data = self.store.get(str(logs[0]["args"]["updateCid"]))
        except ContentError as exc:
            log.warning("job %s round %s: update of %s not fetchable: %s", self.job_id, round_, provider, exc)
            return None
        return data if hashlib.sha256(data).digest() == on_chain else None

    def nodes(self) -> dict[int, str] | None:
        """The job's admitted SuperNodes (node ID → provider) from the roster the coordinator keeps; None when
        its SuperLink admits any node (development, no node authentication)."""
        if self.roster_file is None:
            return None
        try:
            mtime = self.roster_file.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self._roster[0]:
            nodes = json.loads(self.roster_file.read_text())["nodes"]
            self._roster = (mtime, {int(n): Web3.to_checksum_address(p) for n, p in nodes.items()})
        return self._roster[1]

    def expected(self) -> set[str] | None:
        """The providers still active in the job."""
        market = self.chain.market
        return {p for p in self.providers if not market.participant_of(self.job_id, p).dropped}

    def resume(self) -> tuple[int, bytes | None]:
        """The last committed round and its global model, from this coordinator's records (checked against
        the on-chain hash) or, failing those, the ``RoundCommitted`` event's CID."""
        committed = self.chain.market.get_job(self.job_id).committed_rounds
        if committed == 0:
            return 0, None
        on_chain = self.chain.market.round_of(self.job_id, committed)[0]
        path = self.state_dir / f"round-{committed}.json"
        cid = json.loads(path.read_text())["cid"] if path.exists() else self._committed_cid(committed)
        model = self.store.get(cid)
        if hashlib.sha256(model).digest() != on_chain:
            raise OpenDPGError(f"job {self.job_id} round {committed}: {cid} is not the committed global model")
        return committed, model

    def _committed_cid(self, round_: int) -> str:
        logs = self.chain.market.job_logs("RoundCommitted", self.job_id)
        return next(str(e["args"]["globalCid"]) for e in logs if int(e["args"]["round"]) == round_)
