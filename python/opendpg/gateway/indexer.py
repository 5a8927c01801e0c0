"""The chain indexer: JobMarket events, from a checkpoint in the database, into the ``chain_*`` tables.

- **Exactly once**: each pass applies a contiguous range of events and moves the checkpoint in the same database
  transaction, so a crash or restart neither loses nor repeats an event.
- **The chain wins**: events give the structure (who joined, which update, which round, which payment); the
  numbers that change (state, committed rounds, credit, drops, missed rounds) are read back from the contract's
  views for every job an event touched. A reconcile pass walks all indexed jobs, a batch at a time, compares
  them with ``getJob`` and corrects (and counts) any disagreement.
- **Reorgs**: the checkpoint keeps its block's hash; when the chain no longer has that block, the indexer rewinds
  ``reorg_depth`` blocks, drops what it indexed after that, re-reads the rewound jobs from the chain, and
  indexes the blocks again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from opendpg.chain import ZERO_ADDRESS, Chain, JobState
from opendpg.chain.events import ChainEvent, EventStream, MemoryCheckpoint, Position
from opendpg.errors import ChainUnavailableError
from opendpg.gateway.models import (
    INDEX_TABLES,
    ChainJob,
    ChainPayment,
    ChainProvider,
    ChainRound,
    ChainUpdate,
    IndexState,
)

__all__ = ["ChainIndexer"]

log = logging.getLogger(__name__)
NAME = "JobMarket"
_PAYMENTS = {"RewardClaimed": ("reward", "provider"), "RefundClaimed": ("refund", "poster"),
             "DataShareClaimed": ("data share", "holder")}


class ChainIndexer:
    def __init__(self, chain: Chain, sessions: sessionmaker[Session], *, poll_interval: float = 0.5,
                 reconcile_interval: float = 10.0, reconcile_batch: int = 100, reorg_depth: int = 64,
                 on_correction: Callable[[int], None] | None = None) -> None:
        self.chain = chain
        self.sessions = sessions
        self.poll_interval = poll_interval
        self.reconcile_interval = reconcile_interval
        self.reconcile_batch = reconcile_batch
        self.reorg_depth = reorg_depth
        self.on_correction = on_correction or (lambda n: None)
        self.corrections = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cursor = 0  # reconcile: the last job id checked
        with sessions() as session:
            state = session.get(IndexState, NAME)
        self._hash = state.block_hash if state else ""
        position = Position(state.block_number, state.log_index) if state else None
        self.stream = EventStream(chain.w3, chain.deployment, [NAME], checkpoint=MemoryCheckpoint(position))
        self.indexed = self.stream.position  # what the database holds (the stream runs ahead inside a pass)

    # ------------------------------------------------------------------ lifecycle

    @property
    def position(self) -> Position:
        return self.stream.position

    def start(self) -> ChainIndexer:
        self._thread = threading.Thread(target=self._run, name="chain-indexer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def wake(self) -> None:
        self._wake.set()

    def catch_up(self, block: int) -> None:
        """Return once every event up to ``block`` is in the database (a writer calls this before answering)."""
        while self.indexed.block < block:
            self.step()

    def _run(self) -> None:
        next_reconcile = time.monotonic() + self.reconcile_interval
        backoff = 0.1
        while not self._stop.is_set():
            try:
                applied = self.step()
                if time.monotonic() >= next_reconcile:
                    self.reconcile()
                    next_reconcile = time.monotonic() + self.reconcile_interval
                backoff = 0.1
            except ChainUnavailableError as exc:
                log.warning("indexer: chain unavailable (%s); retrying in %.1f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:
                log.exception("indexer pass failed; retrying")
                self._stop.wait(1.0)
                continue
            if not applied:
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    # ------------------------------------------------------------------ one pass

    def step(self) -> int:
        """Apply every new event (one database transaction); return how many."""
        with self._lock:
            self._check_reorg()
            before = self.position
            events = [e for e in self.stream.read_new() if e.position > before]
            if events:
                self.stream.commit(events[-1].position)
            after = self.position  # read_new moves it past blocks without events too
            if after == before:
                return 0
            try:
                block_hash = self._block_hash(after.block)
                with self.sessions() as session, session.begin():
                    touched: dict[int, set[str]] = {}
                    posted = [int(e.args["jobId"]) for e in events if e.name == "JobPosted"]
                    known = set(session.scalars(select(ChainJob.job_id).where(ChainJob.job_id.in_(posted)))) \
                        if posted else set()  # one query for the whole pass, not one per job
                    for event in events:
                        self._apply(session, event, touched, known)
                    for job_id, providers in touched.items():
                        self._refresh(session, job_id, providers, after.block)
                    self._save(session, after, block_hash)
            except BaseException:
                self.stream.rewind(before)  # nothing was stored: read these events again
                raise
            self._hash = block_hash
            self.indexed = after
            return len(events)

    def _block_hash(self, number: int) -> str:
        """The hash of block ``number`` ("" if the chain has no such block); a raw call: web3's block formatting
        would cost more than the lookup."""
        try:
            response = self.chain.w3.provider.make_request(
                "eth_getBlockByNumber", [hex(number), False])  # type: ignore[arg-type]
        except Exception as exc:
            raise ChainUnavailableError(str(exc)) from exc
        if "error" in response:
            raise ChainUnavailableError(str(response["error"]))
        block = response.get("result")
        return str(block["hash"]) if block else ""

    def _save(self, session: Session, position: Position, block_hash: str) -> None:
        state = session.get(IndexState, NAME)
        if state is None:
            session.add(IndexState(name=NAME, block_number=position.block, log_index=position.log_index,
                                   block_hash=block_hash))
        else:
            state.block_number, state.log_index, state.block_hash = position.block, position.log_index, block_hash

    def _apply(self, session: Session, event: ChainEvent, touched: dict[int, set[str]], known: set[int]) -> None:
        a, block = event.args, event.block_number
        job_id = int(a.get("jobId", 0))
        if event.name == "JobPosted":
            p = a["params"]
            if job_id not in known:
                session.add(ChainJob(
                    job_id=job_id, poster=a["poster"], coordinator=a["coordinator"], spec_cid=p["specCid"],
                    payment_token=p["paymentToken"], budget=str(p["budget"]), reward_per_round=str(p["rewardPerRound"]),
                    required_stake=str(p["requiredStake"]), rounds=int(p["rounds"]),
                    min_providers=int(p["minProviders"]), max_providers=int(p["maxProviders"]),
                    join_deadline=int(p["joinDeadline"]), round_timeout=int(p["roundTimeout"]),
                    state=JobState.OPEN.name, committed_rounds=0, credited="0", tx_hash=event.tx_hash,
                    block_number=block, updated_block=block))
            return
        if not job_id:
            return  # fee withdrawals and parameter changes are not per job
        providers = touched.setdefault(job_id, set())
        if event.name == "ProviderJoined":
            if session.get(ChainProvider, (job_id, a["provider"])) is None:
                session.add(ChainProvider(job_id=job_id, address=a["provider"], slot=int(a["index"]),
                                          stake_locked=str(a["stakeLocked"]), dropped=False, missed_rounds=0,
                                          block_number=block))
            providers.add(a["provider"])
        elif event.name in ("ProviderLeft", "ProviderDisplaced"):  # its place is taken or freed before the start
            gone = a["provider"] if event.name == "ProviderLeft" else a["displaced"]
            session.execute(delete(ChainProvider).where(ChainProvider.job_id == job_id,
                                                        ChainProvider.address == gone))
            moved = a.get("moved", ZERO_ADDRESS)
            if moved != ZERO_ADDRESS and (row := session.get(ChainProvider, (job_id, moved))) is not None:
                row.slot = int(a["index"])
        elif event.name == "UpdateSubmitted":
            key = (job_id, int(a["round"]), a["provider"])
            if session.get(ChainUpdate, key) is None:
                session.add(ChainUpdate(job_id=job_id, round=key[1], provider=key[2],
                                        update_hash=bytes(a["updateHash"]).hex(), cid=a["updateCid"], rejected=False,
                                        block_number=block))
        elif event.name == "UpdateRejected":
            update = session.get(ChainUpdate, (job_id, int(a["round"]), a["provider"]))
            if update is not None:
                update.rejected = True
        elif event.name == "RoundCommitted":
            if session.get(ChainRound, (job_id, int(a["round"]))) is None:
                session.add(ChainRound(job_id=job_id, round=int(a["round"]), global_hash=bytes(a["globalHash"]).hex(),
                                       global_cid=a["globalCid"], used_bitmap=str(a["usedBitmap"]),
                                       block_number=block))
        elif event.name == "ProviderDropped":
            providers.add(a["provider"])
        elif event.name in _PAYMENTS:
            kind, who = _PAYMENTS[event.name]
            if session.get(ChainPayment, (event.tx_hash, event.log_index)) is None:
                session.add(ChainPayment(tx_hash=event.tx_hash, log_index=event.log_index, job_id=job_id, kind=kind,
                                         account=a[who], amount=str(a["amount"]), block_number=block))
        # JobStarted, JobFinalized, JobCancelled, JobAborted: the refresh below reads the state

    def _refresh(self, session: Session, job_id: int, providers: set[str], block: int) -> int:
        """Overwrite the job's changing numbers (and ``providers``') with the chain's; return how many differed."""
        job = session.get(ChainJob, job_id)
        if job is None:
            return 0
        market = self.chain.market
        try:
            chain_job = market.get_job(job_id)
            participants = {address: market.participant_of(job_id, address) for address in providers}
        except Exception as exc:
            raise ChainUnavailableError(str(exc)) from exc
        if chain_job.state == JobState.NONE:  # gone from the chain (a reorg undid it)
            self._forget(session, job_id)
            return 1
        indexed_rounds = session.scalar(select(func.max(ChainRound.round)).where(ChainRound.job_id == job_id)) or 0
        if chain_job.committed_rounds > indexed_rounds:
            # The chain moved on past the events indexed so far: a reader must never see the job further along
            # than its rounds (a finished job with a stale latest model). The pass that indexes its next
            # RoundCommitted events refreshes it again.
            return 0
        wanted: dict[str, Any] = {"state": chain_job.state.name, "committed_rounds": chain_job.committed_rounds,
                                  "credited": str(chain_job.credited), "budget": str(chain_job.budget),
                                  "poster": chain_job.poster, "coordinator": chain_job.coordinator}
        differed = sum(1 for field, value in wanted.items() if getattr(job, field) != value)
        for field, value in wanted.items():
            setattr(job, field, value)
        job.updated_block = max(job.updated_block, block)
        for address, participant in participants.items():
            row = session.get(ChainProvider, (job_id, address))
            if row is not None:
                row.dropped, row.missed_rounds = participant.dropped, participant.missed_rounds
        return differed

    @staticmethod
    def _forget(session: Session, job_id: int) -> None:
        for table in INDEX_TABLES:
            session.execute(delete(table).where(table.job_id == job_id))  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ the chain wins

    def _check_reorg(self) -> None:
        position = self.position
        if not self._hash or position.block < 0:
            return
        if self._block_hash(position.block) == self._hash:  # "" when the block is gone: the chain is shorter now
            return
        fork = max(self.chain.deployment.start_block - 1, position.block - self.reorg_depth)
        log.warning("indexer: block %d changed (reorg); rewinding to block %d", position.block, fork)
        with self.sessions() as session, session.begin():
            rewound = set(session.scalars(select(ChainJob.job_id).where(ChainJob.updated_block > fork)))
            for table in INDEX_TABLES:
                session.execute(delete(table).where(table.block_number > fork))  # type: ignore[attr-defined]
            for job_id in rewound:
                self._refresh(session, job_id, set(session.scalars(
                    select(ChainProvider.address).where(ChainProvider.job_id == job_id))), fork)
            fork_hash = self._block_hash(fork) if fork >= 0 else ""
            self._save(session, Position(fork), fork_hash)
        self.stream.rewind(Position(fork))
        self._hash = fork_hash
        self.indexed = Position(fork)

    def reconcile(self) -> int:
        """Compare the next batch of indexed jobs with the chain and correct them; return the corrections."""
        with self._lock, self.sessions() as session, session.begin():
            jobs = list(session.scalars(select(ChainJob.job_id).where(ChainJob.job_id > self._cursor)
                                        .order_by(ChainJob.job_id).limit(self.reconcile_batch)))
            self._cursor = jobs[-1] if len(jobs) == self.reconcile_batch else 0
            fixed = 0
            for job_id in jobs:
                providers = set(session.scalars(select(ChainProvider.address).where(ChainProvider.job_id == job_id)))
                fixed += self._refresh(session, job_id, providers, self.position.block)
        if fixed:
            log.warning("indexer: corrected %d field(s) that disagreed with the chain", fixed)
            self.corrections += fixed
            self.on_correction(fixed)
        return fixed
