"""``opendpg agent run --config FILE``: the provider agent daemon.

On start it registers and stakes if needed, then follows the JobMarket's events from its checkpoint
(websocket new heads, HTTP polling while the socket is down):

- on start: check each held dataset's files against its asset's schema and declare the holding, with its
  privacy budget, in the data ledger (DataHoldings).
- ``JobPosted``: fetch the spec by CID (verified), validate it, apply the join policy and the data checks (the
  schema, the records, the DP-SGD spend against the budget), join (JobWatcher).
- ``JobStarted`` for a job it joined: start a Flower SuperNode for the job, pointed at the coordinator's
  SuperLink (its Fleet address and CA certificate are in the coordinator's node metadata on IPFS, by the CID
  registered on-chain; the TLS handshake is checked against that CA first), authenticated with the job's node
  key (derived from the long-term Flower key this node publishes in its own metadata), with where this node's
  records are (its files, or its slice in a simulation); a warm ClientApp worker writes each round's canonical
  update into the outbox. A SuperNode that exits is restarted, backing off up to 30 s; a SuperLink this node
  does not trust is retried every 30 s and logged.
- all the while: the outbox pins every new update and submits its hash on-chain, once.
- ``UpdateRejected`` (this node): the coordinator left out an update of ours; if it passes every check the DPG
  committee applies, open a dispute with a bond (``[disputes]``; see :mod:`opendpg.agent.disputer`).
- ``JobFinalized`` / ``JobAborted`` / ``JobCancelled`` / ``ProviderDropped`` (this node): stop the SuperNode;
  claim what was earned, and the dispute bonds owed. ``ProviderLeft`` / ``ProviderDisplaced`` (this node, before
  the start): forget the job.
- a joined job still open after its start deadline (its coordinator declined it or is gone): cancel it, which
  anyone may do then, so the stake it locks is freed (and the poster refunded).

Crash safety: every decision and SuperNode PID is persisted; the event checkpoint moves only after an event is
handled; each transaction is preceded by a look at the chain (joined? hash already there? anything
claimable?), so a restart sends nothing twice and picks up the rounds it can still make. SIGTERM stops the
SuperNodes, flushes the outbox once more and exits 0.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import subprocess
import threading
import time
from dataclasses import dataclass

from opendpg.agent.config import AgentConfig
from opendpg.agent.disputer import Disputer
from opendpg.agent.holdings import DataHoldings
from opendpg.agent.links import CoordinatorLinks, LinkRefused
from opendpg.agent.outbox import Outbox
from opendpg.agent.watcher import JobWatcher
from opendpg.chain import ChainClock, ChainEvent, JobState
from opendpg.dpg.basemodels import fetch_base_model
from opendpg.errors import ContractRevert
from opendpg.files import write_atomic
from opendpg.fl.federation import start_supernode
from opendpg.fl.nodekeys import load_or_create_node_key
from opendpg.node import NodeRuntime, handler_with_retries, sleep_or_stop, supervise
from opendpg.node.config import tokens
from opendpg.process import stop_process_group, stop_stale_group
from opendpg.spec import JobSpec, parse_spec

__all__ = ["AGENT_EVENTS", "ProviderAgent"]

log = logging.getLogger("opendpg.agent")
AGENT_EVENTS = ["JobPosted", "JobStarted", "RoundCommitted", "UpdateRejected", "ProviderDropped", "ProviderLeft",
                "ProviderDisplaced", "DisputeSettled", "JobFinalized", "JobCancelled", "JobAborted"]
ENDED = {JobState.FINISHED, JobState.CANCELLED, JobState.ABORTED}
UNSTARTED_CHECK_INTERVAL = 30.0  # seconds between looks for joined jobs left unstarted past their start deadline
REFUSED_LINK_RETRY = 30.0  # seconds before trying again a SuperLink this node refused (e.g. its certificate)
MAX_RESTART_DELAY = 30.0  # the longest wait before restarting a SuperNode that keeps exiting


@dataclass
class _JobState:
    status: str = "joined"  # joined → running → (dropped) → ended → claimed
    supernode_pid: int | None = None


def _left_the_job(event: ChainEvent, me: str) -> bool:
    """Whether ``event`` (``ProviderLeft`` or ``ProviderDisplaced``) took this node out of an open job."""
    return bool(event.args.get("provider") == me if event.name == "ProviderLeft" else event.args.get("displaced") == me)


class ProviderAgent:
    def __init__(self, config: AgentConfig, runtime: NodeRuntime | None = None) -> None:
        self.config = config
        self.runtime = runtime or NodeRuntime(config)
        self.chain = self.runtime.chain
        self.me = self.runtime.address
        state = config.state_dir
        self.holdings = DataHoldings(self.chain, self.runtime.store, config.assets, state / "holdings.json")
        self.links = CoordinatorLinks(self.chain, self.runtime.store, state / "flwr",
                                      load_or_create_node_key(state / "flower-node.key"), config.flower.insecure)
        self.watcher = JobWatcher(self.chain, self.runtime.store, config.profile(), state / "decisions.json",
                                  retry_interval=config.policy.spec_retry_interval, holdings=self.holdings,
                                  link_check=self.links.join_check)
        self.outbox = Outbox(state / "outbox", self.chain, self.runtime.store)
        self.disputer = Disputer(self.chain, self.runtime.store, state / "disputes.json", auto=config.disputes.auto,
                                 max_bond=tokens(config.disputes.max_bond))
        self.state_file = state / "jobs.json"
        self.jobs: dict[int, _JobState] = {}
        if self.state_file.exists():
            self.jobs = {int(k): _JobState(**v) for k, v in json.loads(self.state_file.read_text()).items()}
        self.supernodes: dict[int, subprocess.Popen[bytes]] = {}
        self.next_start: dict[int, float] = {}  # job -> when to (re)start its SuperNode (monotonic)
        self.restarts: dict[int, int] = {}  # job -> quick exits in a row
        self.started_at: dict[int, float] = {}
        self._starting = threading.Lock()
        self.clock = ChainClock(self.chain.w3)

    # ------------------------------------------------------------------ state

    def _save(self) -> None:
        write_atomic(self.state_file, json.dumps({str(k): vars(v) for k, v in self.jobs.items()}, indent=1))

    def _joined(self, job_id: int) -> bool:
        decision = self.watcher.decisions.get(str(job_id))
        return bool(decision and decision.get("join"))

    # ------------------------------------------------------------------ lifecycle

    async def run(self, stop: asyncio.Event) -> None:
        rt = self.runtime
        await rt.retrying("register", lambda: rt.ensure_registered(self.config.catalog, self.links.metadata()), stop)
        await rt.retrying("declare held datasets", self.holdings.declare_all, stop)
        self._kill_stale_supernodes()
        await rt.retrying("resume", self._resume, stop)
        gpu_model, gpu_memory = self.config.node.gpu()
        log.info("agent started", extra={"node": self.me, "jobs": sorted(self.jobs), "gpu": gpu_model,
                                         "gpu_memory_mib": gpu_memory})
        stream = await rt.stream(["JobMarket"], AGENT_EVENTS, "events.checkpoint")
        handler = handler_with_retries(self.handle, stop)
        tasks = [asyncio.create_task(stream.run(handler, stop)), asyncio.create_task(self._outbox_loop(stop))]
        try:
            await supervise(tasks, stop)
        finally:
            await stream.heads.close()
            for job_id in list(self.supernodes):
                self._stop_supernode(job_id, persist=False)
            try:
                for job_id in self._running():
                    self.outbox.submit_pending(job_id)  # one last flush: nothing trained is left unsubmitted
            except Exception as exc:  # the chain may be the reason we stop
                log.warning("final outbox flush failed; the next start submits it", extra={"error": str(exc)})
            log.info("agent stopped", extra={"node": self.me})

    def _kill_stale_supernodes(self) -> None:
        """SuperNodes left by a crashed agent: stop them (this start launches fresh ones)."""
        for job_id, job in self.jobs.items():
            if job.supernode_pid is not None and stop_stale_group(job.supernode_pid, "opendpg.fl.supernode"):
                log.info("stopped a stale SuperNode", extra={"job": job_id, "pid": job.supernode_pid})
            job.supernode_pid = None
        self._save()

    def _resume(self) -> None:
        """Jobs joined before this start: run the ones still running, claim the ones that ended."""
        for key, decision in self.watcher.decisions.items():
            if decision.get("join"):
                self.jobs.setdefault(int(key), _JobState())
        for job_id, job in sorted(self.jobs.items()):
            if job.status == "claimed":
                continue
            state = self.chain.market.get_job(job_id).state
            if state == JobState.RUNNING and not self.chain.market.participant_of(job_id, self.me).dropped:
                self.outbox.submit_pending(job_id)
                self._start_supernode(job_id)
            elif state in ENDED:
                self._end(job_id)
        self._save()

    def _running(self) -> list[int]:
        return [j for j, s in self.jobs.items() if s.status == "running"]

    # ------------------------------------------------------------------ events

    async def handle(self, event: ChainEvent) -> None:
        job_id = int(event.args["jobId"])
        if event.name == "JobPosted":
            await self.watcher.handle(event)
            if self._joined(job_id):
                self.jobs.setdefault(job_id, _JobState())
                self._save()
                log.info("joined job", extra={"job": job_id, "block": event.block_number})
            return
        if job_id not in self.jobs:
            return
        if event.name == "JobStarted":
            await asyncio.to_thread(self._job_started, job_id)
        elif event.name == "RoundCommitted":
            used = (int(event.args["usedBitmap"]) >> (self._index(job_id) or 0)) & 1
            log.info("round committed", extra={"job": job_id, "round": int(event.args["round"]),
                                               "our_update_used": bool(used)})
        elif event.name == "UpdateRejected" and event.args["provider"] == self.me:
            await asyncio.to_thread(self.disputer.consider, job_id, int(event.args["round"]))
        elif event.name == "DisputeSettled" and event.args["provider"] == self.me:
            log.info("our dispute was settled", extra={"job": job_id, "round": int(event.args["round"]),
                                                       "credited": bool(event.args["credited"]),
                                                       "penalty_paid_to_us": int(event.args["penalty"])})
            await asyncio.to_thread(self.disputer.withdraw_owed)
        elif event.name == "ProviderDropped" and event.args["provider"] == self.me:
            log.warning("dropped from the job (no update by the round deadline); stake slashed",
                        extra={"job": job_id, "round": int(event.args["round"]), "slashed": int(event.args["slashed"])})
            self.jobs[job_id].status = "dropped"
            self._stop_supernode(job_id)
        elif event.name in ("ProviderLeft", "ProviderDisplaced") and _left_the_job(event, self.me):
            log.warning("no longer in the job before it started; its stake is unlocked",
                        extra={"job": job_id, "event": event.name})
            self.jobs[job_id].status = "claimed"  # nothing to train, nothing to claim
            self._save()
        elif event.name in ("JobFinalized", "JobCancelled", "JobAborted"):
            await asyncio.to_thread(self._end, job_id)

    def _index(self, job_id: int) -> int | None:
        return self.chain.market.participant_of(job_id, self.me).index

    def _job_started(self, job_id: int) -> None:
        if self.chain.market.get_job(job_id).state == JobState.RUNNING and self.jobs[job_id].status == "joined":
            self._start_supernode(job_id)

    def _start_supernode(self, job_id: int) -> None:
        with self._starting:  # event handlers and the supervising loop may both ask, from worker threads
            if job_id in self.supernodes and self.supernodes[job_id].poll() is None:
                return
            self._launch_supernode(job_id)

    def _launch_supernode(self, job_id: int) -> None:
        job = self.chain.market.get_job(job_id)
        spec_cid = str(self.watcher.decisions[str(job_id)]["spec_cid"])  # every join decision records its spec
        spec = parse_spec(self.runtime.store.get(spec_cid))
        data = self._data_config(spec)
        if spec.model.base is not None:  # fetched and checked when the job was joined; again if the cache is gone
            data["base-model-path"] = str(fetch_base_model(self.runtime.store, spec.model.base,
                                                           self.watcher.base_models))
        state = self.jobs.setdefault(job_id, _JobState())
        state.status = "running"  # the job runs with us in it: keep trying to take part
        self._save()
        try:
            endpoint, link = self.links.link(job_id, job.coordinator)
        except LinkRefused as exc:
            self.next_start[job_id] = time.monotonic() + REFUSED_LINK_RETRY
            log.error("not connecting to the coordinator's SuperLink", extra={
                "job": job_id, "coordinator": job.coordinator, "reason": str(exc), "retry_in": REFUSED_LINK_RETRY})
            return
        flower = self.config.flower
        proc = start_supernode(self.config.state_dir / "flwr", endpoint, f"job-{job_id}", {
            "provider": self.me, "job-id": job_id, "outbox": str(self.outbox.root), **data}, link,
            stock=flower.stock, poll=(flower.poll_min, flower.poll_max), threads=flower.threads, worker=flower.worker,
            spec=spec.to_bytes())
        self.supernodes[job_id] = proc
        self.started_at[job_id] = time.monotonic()
        state.supernode_pid = proc.pid
        self._save()
        log.info("SuperNode started", extra={"job": job_id, "superlink": endpoint, "pid": proc.pid,
                                             "tls": link.root_ca is not None, **data})

    def _data_config(self, spec: JobSpec) -> dict[str, str | int | bool]:
        """Where the ClientApp finds this node's records: its files for a held asset, its slice in a simulation."""
        if spec.dataset.mode == "local":
            section = self.config.assets[int(spec.dataset.asset or 0)]
            return {"data-path": str(section.path), "drop-bad-rows": section.drop_bad_rows}
        share = self.config.data[str(spec.dataset.catalog_id)]
        return {"share-index": share.share_index, "share-count": share.share_count}

    def _stop_supernode(self, job_id: int, persist: bool = True) -> None:
        proc = self.supernodes.pop(job_id, None)
        if proc is not None:
            stop_process_group(proc)
        if persist and job_id in self.jobs:
            self.jobs[job_id].supernode_pid = None
            self._save()

    def _end(self, job_id: int) -> None:
        self._stop_supernode(job_id)
        state = self.jobs[job_id]
        self.outbox.submit_pending(job_id)  # refused now, but recorded: nothing lingers as pending
        state.status = "ended"
        self._save()
        amount = self.chain.market.claimable(job_id, self.me)
        if amount > 0:
            amount = self.chain.market.claim(job_id)
        self.disputer.withdraw_owed()
        state.status = "claimed"
        self._save()
        log.info("job ended; rewards claimed" if amount else "job ended; nothing to claim",
                 extra={"job": job_id, "amount": amount})

    def cancel_unstarted(self, now: float | None = None) -> list[int]:
        """Cancel the joined jobs still open after their start deadline (``joinDeadline + roundTimeout``): the
        coordinator declined them or is gone, and until someone cancels, the stake they lock stays locked. The
        ``JobCancelled`` event then ends them here. Returns the jobs cancelled."""
        now = self.clock.now() if now is None else now
        cancelled = []
        for job_id, state in sorted(self.jobs.items()):
            if state.status != "joined":
                continue
            job = self.chain.market.get_job(job_id)
            if job.state != JobState.OPEN or now <= job.join_deadline + job.round_timeout:
                continue
            try:
                self.chain.market.cancel_job(job_id)
            except ContractRevert as exc:  # the chain's clock is behind ours, or someone cancelled first
                if exc.name not in ("JobMarketDeadlineNotPassed", "JobMarketWrongState"):
                    log.error("could not cancel a job left unstarted", extra={"job": job_id, "error": str(exc)})
                continue
            cancelled.append(job_id)
            log.warning("job not started by its start deadline: cancelled, its stake unlocked", extra={"job": job_id})
        return cancelled

    async def _outbox_loop(self, stop: asyncio.Event) -> None:
        next_unstarted_check = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_unstarted_check:
                next_unstarted_check = time.monotonic() + UNSTARTED_CHECK_INTERVAL
                await self.runtime.retrying("cancel unstarted jobs", self.cancel_unstarted, stop)
            for job_id in self._running():
                submit = functools.partial(self.outbox.submit_pending, job_id)
                submitted = await self.runtime.retrying("submit updates", submit, stop)
                for s in submitted or []:
                    log.info("update submitted", extra={"job": s.job_id, "round": s.round, "hash": s.update_hash.hex(),
                                                        "cid": s.cid, "tx": s.tx_hash})
            for job_id, proc in list(self.supernodes.items()):
                if proc.poll() is not None and self.jobs[job_id].status == "running" and not stop.is_set():
                    self.supernodes.pop(job_id)
                    if time.monotonic() - self.started_at.get(job_id, 0.0) > MAX_RESTART_DELAY * 2:
                        self.restarts[job_id] = 0  # it ran a good while: this is a fresh failure
                    delay = min(2.0 ** self.restarts.get(job_id, 0), MAX_RESTART_DELAY)
                    self.restarts[job_id] = self.restarts.get(job_id, 0) + 1
                    self.next_start[job_id] = time.monotonic() + delay
                    log.warning("SuperNode exited; restarting it", extra={"job": job_id, "code": proc.returncode,
                                                                         "restart_in": delay})
            for job_id in self._running():
                if job_id not in self.supernodes and time.monotonic() >= self.next_start.get(job_id, 0.0) \
                        and not stop.is_set():
                    restart = functools.partial(self._start_supernode, job_id)
                    await self.runtime.retrying("start SuperNode", restart, stop)
            await sleep_or_stop(stop, 0.1)
