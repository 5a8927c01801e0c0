"""``opendpg coordinator run --config FILE``: the coordinator daemon.

It registers and stakes if needed, publishing its SuperLink's Fleet address and the CA certificate its TLS
certificate chains to in its node metadata (on IPFS, by CID on-chain), so provider agents know where to connect
and whom to trust, and runs one long-lived SuperLink (:mod:`opendpg.fl.superlink`: the Fleet API alone on the
address providers dial, every other API on loopback). Its SuperLink admits exactly the providers the chain says
are in each job (:class:`~opendpg.coordinator.admission.Admission`: their job node keys registered on
``ProviderJoined``, removed when they leave, are dropped or the job ends, all restored after a restart). For
every job posted with this node as coordinator it:

1. waits until enough providers joined (``max``, or ``min`` plus ``join_grace`` seconds, or the join deadline);
2. starts the job on-chain if its policy accepts it (starting is how a coordinator accepts a job: it locks its
   stake then, and nothing before binds it); a refused job is left unstarted, for its poster to cancel;
3. runs the OpenDPG ServerApp for it (``flwr run``) with the ChainGate: each update is aggregated only if its
   SHA-256 is the hash its provider put on-chain; each global model is evaluated by the providers on their
   validation splits and on the poster's held-out set (fetched by ``held_out_cid``; the coordinator holds no
   training data), then pinned and committed, its round record (metrics included) pinned too;
4. finalizes the job when every round is committed (or too few providers remain), once the dispute window after
   its last commit is over and no dispute about it is open (the chain refuses earlier).

Restarts resume: the job list is persisted, the event checkpoint replays what was missed, and a restarted run
continues from the last committed round (the gate's ``resume``). Per-round metrics are logged as structured
lines and kept in ``STATE/rounds/job-N/round-R.json``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time

from opendpg.chain import ChainClock, ChainEvent, Job, JobState
from opendpg.coordinator.admission import Admission
from opendpg.coordinator.config import CoordinatorConfig
from opendpg.dpg.basemodels import fetch_base_model
from opendpg.dpg.market import start_blocker
from opendpg.errors import ContentError, ContractRevert
from opendpg.files import write_atomic
from opendpg.fl.basemodel import BaseModelError
from opendpg.fl.federation import Federation, FederationError
from opendpg.fl.tls import TlsFiles, ensure_tls, load_tls
from opendpg.node import NodeRuntime, handler_with_retries, sleep_or_stop, supervise
from opendpg.node.flower import coordinator_metadata
from opendpg.process import free_port, stop_stale_group
from opendpg.spec import JobSpec, parse_spec

__all__ = ["COORDINATOR_EVENTS", "Coordinator"]

log = logging.getLogger("opendpg.coordinator")
COORDINATOR_EVENTS = ["JobPosted", "ProviderJoined", "ProviderLeft", "ProviderDisplaced", "JobStarted",
                      "RoundCommitted", "ProviderDropped", "DisputeHoldPlaced", "DisputeSettled", "JobFinalized",
                      "JobCancelled", "JobAborted"]
ROSTER_EVENTS = {"ProviderJoined", "ProviderLeft", "ProviderDisplaced", "ProviderDropped", "JobFinalized",
                 "JobCancelled", "JobAborted"}
ENDED = {JobState.FINISHED, JobState.CANCELLED, JobState.ABORTED}
ADMISSION_CHECK_INTERVAL = 15.0  # seconds between re-checks of every open job's admitted SuperNodes


class Coordinator:
    def __init__(self, config: CoordinatorConfig, runtime: NodeRuntime | None = None) -> None:
        self.config = config
        self.runtime = runtime or NodeRuntime(config)
        self.chain = self.runtime.chain
        self.me = self.runtime.address
        self.state_file = config.state_dir / "jobs.json"
        self.jobs: dict[int, dict[str, object]] = {}
        if self.state_file.exists():
            self.jobs = {int(k): v for k, v in json.loads(self.state_file.read_text()).items()}
        self.rounds_dir = config.state_dir / "rounds"
        flower = config.flower
        self.tls = None if flower.insecure else self._tls()
        self.federation = Federation(config.state_dir / "flwr", port=flower.port, host=flower.host,
                                     control_port=flower.control_port or free_port(),
                                     superlink_env={"OPENDPG_PRIVATE_KEY": config.private_key()},
                                     tls=self.tls, node_auth=not flower.insecure, insecure=flower.insecure,
                                     stock=flower.stock, stats_file=config.state_dir / "flwr" / "superlink-stats.json")
        self.admission = (None if flower.insecure else
                          Admission(self.chain, self.runtime.store, self.federation.control(),
                                    config.state_dir / "admission"))
        self.runs: dict[int, asyncio.Task[None]] = {}
        self.min_reached: dict[int, float] = {}
        self.clock = ChainClock(self.chain.w3)

    @property
    def endpoint(self) -> str:
        return self.config.flower.fleet_address

    def _tls(self) -> TlsFiles:
        flower = self.config.flower
        if flower.tls_ca and flower.tls_cert and flower.tls_key:
            return load_tls(flower.tls_ca, flower.tls_cert, flower.tls_key)
        return ensure_tls(self.config.state_dir / "tls", flower.certificate_names(),
                          subject=f"OpenDPG coordinator {self.me}")

    def _open_jobs(self) -> list[int]:
        return [j for j, info in sorted(self.jobs.items()) if info.get("status") != "ended"]

    def _save(self) -> None:
        write_atomic(self.state_file, json.dumps({str(k): v for k, v in self.jobs.items()}, indent=1))

    async def run(self, stop: asyncio.Event) -> None:
        rt = self.runtime
        self._stop_stale_superlink()
        await asyncio.to_thread(self.federation.start_superlink)
        assert self.federation.superlink is not None
        (self.config.state_dir / "superlink.pid").write_text(str(self.federation.superlink.pid))
        await rt.retrying("register", lambda: rt.ensure_registered(
            [], coordinator_metadata(self.endpoint, None if self.tls is None else self.tls.ca_pem())), stop)
        if self.admission is not None:  # a fresh SuperLink has no registrations: the current members again
            await rt.retrying("admit providers", functools.partial(self.admission.restore, self._open_jobs()), stop)
        log.info("coordinator started", extra={"node": self.me, "superlink": self.endpoint,
                                               "tls": self.tls is not None, "jobs": sorted(self.jobs)})
        stream = await rt.stream(["JobMarket"], COORDINATOR_EVENTS, "events.checkpoint")
        tasks = [asyncio.create_task(stream.run(handler_with_retries(self.handle, stop), stop)),
                 asyncio.create_task(self._tick_loop(stop))]
        try:
            await supervise(tasks, stop)
        finally:
            self.federation.stop()  # ends the runs' ServerApps; a restart resumes from the last committed round
            runs = list(self.runs.values())
            for task in runs:
                task.cancel()
            await asyncio.gather(*runs, return_exceptions=True)
            await stream.heads.close()
            log.info("coordinator stopped", extra={"node": self.me})

    def _stop_stale_superlink(self) -> None:
        """A SuperLink left by a crashed coordinator (its own session survives us): stop it, freeing the port."""
        pid_file = self.config.state_dir / "superlink.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text())
            if stop_stale_group(pid, "opendpg.fl.superlink"):
                log.info("stopped a stale SuperLink", extra={"pid": pid})
            pid_file.unlink()

    # ------------------------------------------------------------------ events

    async def handle(self, event: ChainEvent) -> None:
        job_id = int(event.args["jobId"])
        if event.name == "JobPosted":
            if event.args["coordinator"] == self.me and job_id not in self.jobs:
                self.jobs[job_id] = {"spec_cid": str(event.args["params"]["specCid"]), "status": "open"}
                self._save()
                log.info("job posted for us", extra={"job": job_id, "spec_cid": self.jobs[job_id]["spec_cid"]})
            return
        if job_id not in self.jobs:
            return
        if event.name in ROSTER_EVENTS and self.admission is not None:
            await asyncio.to_thread(self.admission.reconcile, job_id)
        if event.name == "ProviderJoined":
            log.info("provider joined", extra={"job": job_id, "provider": event.args["provider"],
                                               "index": int(event.args["index"])})
        elif event.name == "RoundCommitted":
            await asyncio.to_thread(self._log_round, job_id, int(event.args["round"]), event)
        elif event.name == "ProviderDropped":
            log.warning("provider dropped and slashed", extra={"job": job_id, "provider": event.args["provider"],
                                                               "round": int(event.args["round"])})
        elif event.name == "DisputeHoldPlaced":
            log.warning("a provider disputes an exclusion in this job; the DPG committee decides (an upheld "
                        "dispute pays the provider from the escrow and a penalty from this node's job stake)",
                        extra={"job": job_id, "open_disputes": int(event.args["open"])})
        elif event.name == "DisputeSettled":
            log.info("dispute settled", extra={"job": job_id, "round": int(event.args["round"]),
                                               "provider": event.args["provider"],
                                               "credited": bool(event.args["credited"]),
                                               "penalty": int(event.args["penalty"])})
            await asyncio.to_thread(self._withdraw_bonds)
        elif event.name in ("JobFinalized", "JobCancelled", "JobAborted"):
            self.jobs[job_id]["status"] = "ended"
            self._save()
            log.info("job ended", extra={"job": job_id, "event": event.name})

    def _log_round(self, job_id: int, round_: int, event: ChainEvent) -> None:
        path = self.rounds_dir / f"job-{job_id}" / f"round-{round_}.json"
        for _ in range(50):  # the gate writes the record right after the commit is mined
            if path.exists():
                break
            time.sleep(0.05)
        record = json.loads(path.read_text()) if path.exists() else {}
        metrics = record.get("metrics", {})
        log.info("round committed", extra={
            "job": job_id, "round": round_, "global_hash": bytes(event.args["globalHash"]).hex(),
            "global_cid": event.args["globalCid"], "used": int(event.args["usedCount"]),
            "accuracy": metrics.get("accuracy"), "loss": metrics.get("loss"), "record_cid": record.get("record_cid")})

    # ------------------------------------------------------------------ scheduling

    async def _tick_loop(self, stop: asyncio.Event) -> None:
        next_admission_check = time.monotonic() + ADMISSION_CHECK_INTERVAL
        while not stop.is_set():
            if self.admission is not None and time.monotonic() >= next_admission_check:
                next_admission_check = time.monotonic() + ADMISSION_CHECK_INTERVAL
                for job_id in self._open_jobs():
                    await self.runtime.retrying("admit providers", functools.partial(self.admission.reconcile, job_id),
                                                stop)
            for job_id, info in list(self.jobs.items()):
                if info.get("status") == "ended" or job_id in self.runs:
                    continue
                launch = await self.runtime.retrying("advance job", functools.partial(self._advance, job_id), stop)
                if launch and not stop.is_set():
                    self.runs[job_id] = asyncio.create_task(self._run_job(job_id, stop))
            await sleep_or_stop(stop, 0.5)

    def _advance(self, job_id: int) -> bool:
        """Move the job along; True when its training run should be (re)launched."""
        market = self.chain.market
        job = market.get_job(job_id)
        info = self.jobs[job_id]
        if job.state in ENDED:
            info["status"] = "ended"
            self._save()
            return False
        if job.state == JobState.OPEN:
            refusals = self.config.policy.refusals(job)
            if refusals:
                info["status"] = "ended"  # declined: never started, so never bound
                info["declined"] = refusals
                self._save()
                log.warning("job declined: it will not be started", extra={"job": job_id, "reasons": refusals})
                return False
            if job.provider_count < job.min_providers:
                return False
            now = time.time()
            reached = self.min_reached.setdefault(job_id, now)
            if (job.provider_count >= job.max_providers or now - reached >= self.config.jobs.join_grace
                    or now >= job.join_deadline):
                blocker = start_blocker(self.chain, job_id)
                if blocker is not None:  # the chain would refuse too: say why once, keep watching (a renewal)
                    if info.get("blocked") != blocker:
                        info["blocked"] = blocker
                        self._save()
                        log.warning("job cannot start", extra={"job": job_id, "reason": blocker})
                    return False
                try:
                    market.start_job(job_id)
                except ContractRevert as exc:
                    log.warning("could not start the job", extra={"job": job_id, "error": str(exc)})
                    return False
                log.info("job started", extra={"job": job_id, "providers": job.provider_count})
            return False
        if job.state == JobState.RUNNING:
            if job.committed_rounds >= job.rounds or job.active_count < job.min_providers:
                self._finalize(job_id, job)
                return False
            return str(info.get("status")) != "ended"
        return False

    def _held_out(self, job_id: int, spec: JobSpec) -> str:
        """The poster's held-out set, fetched by its CID (the store checks the bytes) into this job's folder; ""
        for a job without one (its rounds carry the providers' federated metrics only)."""
        if not spec.held_out_cid or spec.dataset.mode != "local":
            return ""
        path = self.config.state_dir / "held-out" / f"job-{job_id}"
        if not path.exists():
            write_atomic(path, self.runtime.store.get(spec.held_out_cid))
        return str(path)

    async def _run_job(self, job_id: int, stop: asyncio.Event) -> None:
        info = self.jobs[job_id]
        failures = int(info.get("failures", 0))  # type: ignore[call-overload]
        try:
            spec_bytes = await asyncio.to_thread(self.runtime.store.get, str(info["spec_cid"]))
            spec = parse_spec(spec_bytes)
            job = await asyncio.to_thread(self.chain.market.get_job, job_id)
            held_out = await asyncio.to_thread(self._held_out, job_id, spec)
            base = "" if spec.model.base is None else str(await asyncio.to_thread(
                fetch_base_model, self.runtime.store, spec.model.base, self.config.state_dir / "base-models"))
            settings = self.config.chain
            run_config = {
                "spec": spec.to_bytes().decode(), "job-id": job_id,
                "out-dir": str(self.config.state_dir / "models" / f"job-{job_id}"),
                "gate": "opendpg.coordinator.gate:ChainGate", "rpc-url": settings.rpc_url,
                "deployment-file": str(settings.deployment_file), "state-dir": str(self.rounds_dir),
                "ipfs-api": settings.ipfs_api or "", "hash-wait": self.config.jobs.hash_wait,
                "round-timeout": float(job.round_timeout), "min-nodes-wait": self.config.jobs.min_nodes_wait,
                "held-out-path": held_out, "base-model-path": base, "eval-timeout": max(10.0, job.round_timeout / 4),
                "roster-file": "" if self.admission is None else str(self.admission.roster_file(job_id)),
            }
            log.info("training run started", extra={"job": job_id, "from_round": job.committed_rounds + 1,
                                                    "rounds": job.rounds})
            timeout = spec.training.rounds * (job.round_timeout * 2 + 60) + 600
            await asyncio.to_thread(self.federation.run, run_config, timeout, name=f"job-{job_id}")
            log.info("training run finished", extra={"job": job_id})
        except (FederationError, OSError, ContentError, BaseModelError) as exc:  # a base model not fetchable
            if stop.is_set():
                return
            failures += 1
            info["failures"] = failures
            self._save()
            log.error("training run failed", extra={"job": job_id, "error": str(exc), "failures": failures})
            if failures > self.config.jobs.run_retries:
                info["status"] = "ended"
                self._save()
                log.error("giving up on the job: the poster can abort it after the commit deadline",
                          extra={"job": job_id})
            await asyncio.sleep(2.0)
        finally:
            self.runs.pop(job_id, None)

    def _withdraw_bonds(self) -> None:
        """Denied disputes owe this node their bonds: take them."""
        if self.chain.disputes.owed(self.me):
            log.info("dispute bonds withdrawn", extra={"amount": self.chain.disputes.withdraw()})

    def _finalize(self, job_id: int, job: Job) -> None:
        """Finalize once the chain allows it: the dispute window after the last commit over, no dispute open."""
        info = self.jobs[job_id]
        open_disputes, window_end, _ = self.chain.market.dispute_status(job_id)
        if open_disputes or self.clock.now() <= window_end:
            if info.get("finalize_after") != [open_disputes, window_end]:
                info["finalize_after"] = [open_disputes, window_end]
                self._save()
                log.info("all rounds done; the job finalizes after its dispute window",
                         extra={"job": job_id, "window_end": window_end, "open_disputes": open_disputes})
            return
        market = self.chain.market
        try:
            market.finalize_job(job_id, gas=market.finalize_gas(job))
        except ContractRevert as exc:
            if exc.name == "JobMarketDisputesPending":  # the chain's clock is behind ours: try again later
                return
            if exc.name != "JobMarketWrongState":
                raise
        self.jobs[job_id]["status"] = "ended"
        self._save()
        log.info("job finalized", extra={"job": job_id, "committed_rounds": job.committed_rounds})
