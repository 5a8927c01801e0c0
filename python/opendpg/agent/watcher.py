"""The agent's reaction to ``JobPosted``: fetch the spec by CID (verified), validate it, apply the join
policy and, for a job on held data, the data checks (:class:`~opendpg.agent.holdings.DataHoldings`), check that
it would connect to the coordinator's SuperLink (TLS it can verify: :class:`~opendpg.agent.links.CoordinatorLinks`),
and join,
exactly once per job even across restarts (decisions are persisted, and the chain is asked before sending). A
spec that cannot be fetched yet is retried on later events, not dropped."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from opendpg.agent.holdings import DataHoldings
from opendpg.agent.policy import Decision, ProviderProfile, decide
from opendpg.chain import Chain, ChainEvent
from opendpg.content import ContentStore
from opendpg.dpg.basemodels import fetch_base_model
from opendpg.dpg.market import admission
from opendpg.errors import ContentError, ContractRevert
from opendpg.files import write_atomic
from opendpg.fl.basemodel import BaseModelError
from opendpg.spec import BaseModelSpec, SpecError, parse_spec

__all__ = ["JobWatcher"]

log = logging.getLogger(__name__)


class JobWatcher:
    def __init__(self, chain: Chain, store: ContentStore, profile: ProviderProfile, state_file: Path,
                 retry_interval: float = 30.0, holdings: DataHoldings | None = None,
                 link_check: Callable[[str], str | None] | None = None,
                 base_models: Path | None = None) -> None:
        self.chain = chain
        self.base_models = base_models or state_file.parent / "base-models"  # verified base model files by CID
        self.link_check = link_check  # coordinator -> why we would not connect to its SuperLink (None: we would)
        self.holdings = holdings
        self.store = store
        self.profile = profile
        self.state_file = state_file
        self.decisions: dict[str, dict[str, object]] = (
            json.loads(state_file.read_text()) if state_file.exists() else {})
        self.unresolved: set[int] = {int(k) for k, v in self.decisions.items() if v.get("retry")}
        self.retry_interval = retry_interval
        self._tried: dict[int, float] = {}

    def _base_model(self, base: BaseModelSpec) -> str | None:
        """Why the job's base model cannot be used here (None: fetched by its CID, checked, cached)."""
        try:
            fetch_base_model(self.store, base, self.base_models)
        except (ContentError, BaseModelError) as exc:
            return f"base model asset {base.asset} ({base.files_cid}): {exc}"
        return None

    def _save(self) -> None:
        write_atomic(self.state_file, json.dumps(self.decisions, indent=1))

    def _record(self, job_id: int, decision: Decision, spec_cid: str) -> None:
        self.decisions[str(job_id)] = {**asdict(decision), "retry": False, "spec_cid": spec_cid}
        self._save()

    async def handle(self, event: ChainEvent) -> None:
        """Consider a posted job (in a worker thread: fetching and joining block)."""
        if event.name == "JobPosted":
            await asyncio.to_thread(self.consider, int(event.args["jobId"]), str(event.args["params"]["specCid"]))
        now = time.monotonic()
        for job_id in sorted(self.unresolved):  # anything still waiting for its spec gets another try, now and then
            if now - self._tried.get(job_id, 0.0) >= self.retry_interval:
                self._tried[job_id] = now
                await asyncio.to_thread(self.consider, job_id, None)

    def consider(self, job_id: int, spec_cid: str | None) -> Decision:
        known = self.decisions.get(str(job_id))
        if known is not None and not known.get("retry"):
            return Decision(bool(known["join"]), tuple(known["reasons"]))  # type: ignore[arg-type]
        if spec_cid is None:
            spec_cid = str(known["spec_cid"]) if known and "spec_cid" in known else ""
        try:
            spec = parse_spec(self.store.get(spec_cid))
        except ContentError as exc:
            decision = Decision(False, (f"spec {spec_cid} not available yet: {exc}",))
            self.decisions[str(job_id)] = {**asdict(decision), "retry": True, "spec_cid": spec_cid}
            self._save()
            self.unresolved.add(job_id)
            log.warning("job %s: %s", job_id, decision.reasons[0])
            return decision
        except SpecError as exc:
            decision = Decision(False, (f"invalid spec: {exc}",))
            self._record(job_id, decision, spec_cid)
            self.unresolved.discard(job_id)
            return decision
        self.unresolved.discard(job_id)
        market, me = self.chain.market, self.chain.sender.address
        job = market.get_job(job_id)
        now = int(self.chain.w3.eth.get_block("latest")["timestamp"])
        decision = decide(spec, job, self.profile, self.chain.registry.free_stake(me), now,
                          admission(self.chain, job_id, job, me))
        if spec.dataset.mode == "local" and decision.join:  # reading our records only for a job we would take
            data_reasons = (self.holdings.check(spec, market.data_terms_of(job_id)) if self.holdings is not None
                            else [f"dataset asset {spec.dataset.asset} is not held here"])
            if data_reasons:
                decision = Decision(False, tuple(data_reasons))
        if decision.join and spec.model.base is not None and (refused := self._base_model(spec.model.base)):
            decision = Decision(False, (refused,))
        if decision.join and self.link_check is not None and (refused := self.link_check(job.coordinator)):
            decision = Decision(False, (refused,))
        if decision.join and market.participant_of(job_id, me).slot == 0:
            try:
                market.join_job(job_id)
            except ContractRevert as exc:  # e.g. filled up meanwhile
                decision = Decision(False, (f"join refused: {exc.name} {exc.args_dict}",))
        log.info("job %s: %s", job_id, "joined" if decision.join else "; ".join(decision.reasons),
                 extra={"job": job_id, "join": decision.join})
        self._record(job_id, decision, spec_cid)
        return decision
