"""Posting jobs in batches: requests that arrive together are pinned together and posted with one ``postJobs``
transaction per account (the poster's own address pays the gas, so every job stays attributable on-chain).

A request is answered only after its job is mined *and* indexed, so the caller can read it right away. A batch
the contract refuses is retried job by job, so one bad job gets its own decoded reason and the others still go
through. Nothing is posted before its spec is pinned; a job whose transaction was sent but not seen mined is
answered 504 with the transaction hash (the indexer picks the job up if it lands).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, TypeVar

from eth_utils.abi import event_abi_to_log_topic
from hexbytes import HexBytes
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from opendpg.chain import Chain, DataTerms, JobParams, Requirements, job_budget
from opendpg.dpg.market import data_terms_for, requirements_for
from opendpg.errors import ContractRevert, OpenDPGError, TransactionError
from opendpg.gateway.chain import GatewayChain
from opendpg.gateway.indexer import ChainIndexer
from opendpg.gateway.models import JobSubmission, User
from opendpg.spec import parse_spec

__all__ = ["NO_GAS", "JobPostError", "JobPoster", "PostRequest", "Posted", "gather", "revert_detail", "tokens"]

log = logging.getLogger(__name__)
T = TypeVar("T")
E18 = Decimal(10**18)
_INVALID_PARAM_FIELDS = {"coordinator": "coordinator", "rewardPerRound": "reward_per_round",
                         "joinDeadline": "join_window_s", "roundTimeout": "round_timeout_s"}


def gather(items: queue.Queue[T | None], limit: int, linger: float) -> list[T] | None:
    """Block for one item, then take more until ``limit`` or until none came for ``linger`` seconds. None once
    the queue's stop mark (None) is reached; a mark met mid-batch is put back so the next call stops."""
    first = items.get()
    if first is None:
        return None
    batch = [first]
    while len(batch) < limit:
        try:
            item = items.get(timeout=linger)
        except queue.Empty:
            break
        if item is None:
            items.put(None)
            break
        batch.append(item)
    return batch


class JobPostError(OpenDPGError):
    """A job that could not be posted: ``status`` is the HTTP status, ``detail`` FastAPI-style problems."""

    def __init__(self, status: int, detail: list[dict[str, Any]] | str) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


_CERTIFICATION_ERRORS = {"JobMarketAssetNotCertified", "JobMarketNotADataset"}


def revert_detail(exc: ContractRevert, requirements: Requirements | None = None) -> dict[str, Any]:
    """A revert as a FastAPI-style problem naming the field at fault (the job's ``requirements`` tell which
    certified asset a certification revert is about)."""
    asset = int(exc.args_dict.get("assetId", 0) or 0)
    if exc.name == "JobMarketNotAModel" or (exc.name == "JobMarketAssetNotCertified" and requirements is not None
                                            and asset and asset == requirements.model_asset):
        return {"loc": ["body", "spec", "certification", "model_asset"], "type": exc.name,
                "msg": f"{exc}: name a model asset that is DPG-certified now (GET /assets)"}
    if exc.name in _CERTIFICATION_ERRORS:
        return {"loc": ["body", "spec", "certification", "dataset_asset"], "type": exc.name,
                "msg": f"{exc}: name a dataset asset that is DPG-certified now (GET /assets)"}
    field_name = _INVALID_PARAM_FIELDS.get(str(exc.args_dict.get("field", "")), "")
    return {"loc": ["body", field_name] if field_name else ["body"], "msg": str(exc), "type": exc.name}


def tokens(amount: int) -> str:
    """Wei as whole tokens, exactly (``"40"``, ``"0.001"``)."""
    return str(Decimal(amount) / E18)


NO_GAS = [{"loc": ["body"], "msg": "the account has no gas: fund it (POST /faucet in development, or ask an operator)"}]


@dataclass(frozen=True)
class Posted:
    """A job mined and indexed: its id, the transaction that posted it, and its parameters as posted."""

    job_id: int
    tx_hash: str
    params: JobParams
    poster: str


@dataclass
class PostRequest:
    user: User
    spec: bytes
    spec_cid: str
    reward_per_round: int
    rounds: int
    min_providers: int
    max_providers: int
    required_stake: int
    join_window_s: int
    round_timeout_s: int
    coordinator: str
    submission_id: str | None = None  # set when the caller was answered 202 (a durable JobSubmission row)
    future: Future[Posted] = field(default_factory=Future)

    @property
    def budget(self) -> int:
        return job_budget(self.reward_per_round, self.rounds, self.max_providers)

    @cached_property
    def requirements(self) -> Requirements | None:
        """The spec's certification requirements (such a job is posted on its own, with them)."""
        return requirements_for(parse_spec(self.spec)) if b'"certification"' in self.spec else None

    @cached_property
    def terms(self) -> DataTerms | None:
        """The data terms of a job on providers' own data (such a job is posted on its own, with them)."""
        return data_terms_for(parse_spec(self.spec))

    @property
    def alone(self) -> bool:
        """Whether the job needs its own transaction (requirements or data terms) instead of a ``postJobs``."""
        return self.requirements is not None or self.terms is not None

    def params(self, token: str, now: int) -> JobParams:
        return JobParams(self.spec_cid, token, self.budget, self.reward_per_round, self.rounds, self.min_providers,
                         self.max_providers, self.required_stake, now + self.join_window_s, self.round_timeout_s,
                         self.coordinator)


_Sent = tuple[Chain, HexBytes, list[PostRequest]]
GAS_BASE, GAS_PER_JOB = 60_000, 220_000  # postJob measures <= 200k (gas report); the first use of a token more


class JobPoster:
    def __init__(self, chain: GatewayChain, indexer: ChainIndexer, sessions: sessionmaker[Session], *,
                 max_batch: int = 64, linger: float = 0.005, on_batch: Callable[[int], None] | None = None) -> None:
        self.chain = chain
        self.sessions = sessions
        self.indexer = indexer
        self.max_batch = max_batch
        self.on_batch = on_batch or (lambda n: None)
        self.linger = linger
        self._accounts = ThreadPoolExecutor(max_workers=8, thread_name_prefix="job-poster-account")
        self._queue: queue.Queue[PostRequest | None] = queue.Queue()
        self._job_posted = bytes(event_abi_to_log_topic(
            next(e for e in chain.reader.market.contract.abi if e.get("name") == "JobPosted")))  # type: ignore[arg-type]
        self._thread = threading.Thread(target=self._run, name="job-poster", daemon=True)

    def start(self) -> JobPoster:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=60)
        self._accounts.shutdown(wait=True)

    def submit(self, request: PostRequest) -> Future[Posted]:
        self._queue.put(request)
        return request.future

    # ------------------------------------------------------------------ the worker

    def _run(self) -> None:
        while (batch := gather(self._queue, self.max_batch, self.linger)) is not None:
            try:
                self._post(batch)
            except Exception as exc:  # the chain or IPFS is down: every waiting caller hears it
                log.warning("posting a batch of %d failed: %s", len(batch), exc)
                error = exc if isinstance(exc, JobPostError) else JobPostError(
                    503, f"the job was not posted: {exc}; nothing was charged, try again")
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(error)
            self._record(batch)

    def _record(self, batch: list[PostRequest]) -> None:
        """Write the outcome of every 202-answered job in the batch (one transaction)."""
        outcomes: list[dict[str, Any]] = []
        for request in batch:
            if request.submission_id is None or not request.future.done():
                continue
            exc = request.future.exception()
            if exc is None:
                posted = request.future.result()
                outcomes.append({"id": request.submission_id, "status": "posted", "job_id": posted.job_id,
                                 "tx_hash": posted.tx_hash, "error": None})
            else:
                status, detail = (exc.status, exc.detail) if isinstance(exc, JobPostError) else (500, str(exc))
                outcomes.append({"id": request.submission_id, "job_id": None, "tx_hash": None,
                                 "status": "sending" if status == 504 else "failed",  # sent: it may still land
                                 "error": json.dumps({"status": status, "detail": detail})})
        if not outcomes:
            return
        try:
            with self.sessions() as session, session.begin():  # one executemany UPDATE for the whole batch
                session.execute(update(JobSubmission), outcomes)
        except Exception:  # the chain already has what it has; a restart reconciles 'sending' rows with it
            log.exception("recording the outcome of %d submissions failed", len(outcomes))

    def _mark_sending(self, requests: list[PostRequest], now: int) -> None:
        ids = [r.submission_id for r in requests if r.submission_id is not None]
        if ids:
            with self.sessions() as session, session.begin():
                session.execute(update(JobSubmission).where(JobSubmission.id.in_(ids))
                                .values(status="sending", chain_time=now))

    def _post(self, batch: list[PostRequest]) -> None:
        self.on_batch(len(batch))
        self.chain.store.put_many([r.spec for r in batch])  # pinned before anything is posted
        latest = self.chain.reader.w3.provider.make_request(
            "eth_getBlockByNumber", ["latest", False])  # type: ignore[arg-type]  # raw: no block formatting
        now = int(latest["result"]["timestamp"], 16)  # the chain's clock, not ours (test chains travel in time)
        by_user: dict[int, list[PostRequest]] = {}
        for request in batch:
            by_user.setdefault(request.user.id, []).append(request)
        self._mark_sending(batch, now)  # before any transaction goes out: a restart then checks the chain
        pending: list[_Sent] = []
        for sent in self._accounts.map(lambda requests: self._for_account(requests, now), by_user.values()):
            pending.extend(sent)  # accounts in parallel: each its own nonces, and mostly waiting on the node
        last_block = 0
        mined: list[tuple[list[int], list[PostRequest], str, str]] = []
        while pending:
            retry: list[_Sent] = []
            receipts = self._receipts([tx_hash for _, tx_hash, _ in pending])
            for mine, tx_hash, requests in pending:
                try:
                    receipt = receipts.get(tx_hash)
                    if receipt is None or int(receipt["status"], 16) != 1:
                        mine.sender.wait(tx_hash)  # not seen, or reverted: this raises why (the decoded reason)
                        raise TransactionError(f"transaction {tx_hash.to_0x_hex()} has no successful receipt")
                except ContractRevert as exc:
                    if len(requests) > 1:  # refused as a batch: one by one, so each bad job gets its own reason
                        for request in requests:
                            retry.extend(self._send(mine, [request], now, estimate=True))
                    else:
                        requests[0].future.set_exception(JobPostError(
                            422, [revert_detail(exc, requests[0].requirements)]))
                    continue
                except Exception as exc:  # sent: never "nothing was charged"; the job may well be on-chain
                    for request in requests:
                        request.future.set_exception(JobPostError(
                            504, f"sent as transaction {tx_hash.to_0x_hex()} but not seen mined ({exc}): the job "
                                 "shows in GET /jobs if it lands"))
                    continue
                first = next(int(log["topics"][1], 16) for log in receipt["logs"]
                             if log["topics"] and HexBytes(log["topics"][0]) == self._job_posted)
                mined.append((list(range(first, first + len(requests))), requests, tx_hash.to_0x_hex(),
                              mine.token.address))  # ids are consecutive
                last_block = max(last_block, int(receipt["blockNumber"], 16))
            pending = retry
        if last_block:
            try:
                self.indexer.catch_up(last_block)
            except Exception as exc:  # mined is mined: answer; the index catches up on its own
                log.warning("indexing the posted jobs failed (%s); answering from the receipts", exc)
        for ids, requests, tx, token in mined:
            for job_id, request in zip(ids, requests, strict=True):
                request.future.set_result(Posted(job_id, tx, request.params(token, now), request.user.address))

    def _receipts(self, hashes: list[HexBytes], timeout: float = 120.0) -> dict[HexBytes, dict[str, Any]]:
        """Raw receipts of all ``hashes``, polled together every 2 ms until each is there (or ``timeout``): one
        slow transaction does not make the others wait a poll interval each."""
        provider = self.chain.reader.w3.provider
        found: dict[HexBytes, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while len(found) < len(hashes) and time.monotonic() < deadline:
            for tx_hash in hashes:
                if tx_hash not in found:
                    try:
                        receipt = provider.make_request("eth_getTransactionReceipt",  # type: ignore[arg-type]
                                                        [tx_hash.to_0x_hex()]).get("result")
                    except Exception:  # the node is away: these were sent, so keep looking (never "not charged")
                        receipt = None
                    if receipt:
                        found[tx_hash] = receipt
            if len(found) < len(hashes):
                time.sleep(0.002)
        return found

    def _for_account(self, requests: list[PostRequest], now: int) -> list[_Sent]:
        """Check, approve and send one account's jobs; a failure before sending answers only these 503."""
        try:
            mine = self.chain.as_user(requests[0].user)
            accepted = self._affordable(mine, requests)
            plain = [r for r in accepted if not r.alone]
            sent = self._send(mine, plain, now, estimate=False) if plain else []
            for request in accepted:  # jobs with certification requirements or data terms: one transaction each
                if request.alone:
                    sent += self._send(mine, [request], now, estimate=True)
            return sent
        except Exception as exc:
            log.warning("posting for %s failed before sending: %s", requests[0].user.address, exc)
            for request in requests:
                if not request.future.done():
                    request.future.set_exception(JobPostError(
                        503, f"the job was not posted: {exc}; nothing was charged, try again"))
            return []

    def _affordable(self, mine: Chain, requests: list[PostRequest]) -> list[PostRequest]:
        """The requests the account can pay for, in arrival order; the rest are answered 402 naming the fix."""
        address = requests[0].user.address
        market = mine.market.address
        balance, allowance = mine.token.balance_of(address), mine.token.allowance(address, market)
        gas = int(mine.w3.provider.make_request("eth_getBalance", [address, "latest"])["result"], 16)  # type: ignore[arg-type]
        accepted, total = [], 0
        for request in requests:
            if total + request.budget > balance:
                request.future.set_exception(JobPostError(402, [{
                    "loc": ["body", "reward_per_round"],
                    "msg": f"the escrow needs {tokens(request.budget)} tokens (reward x rounds x max providers); the "
                           f"account holds {tokens(balance - total)} not yet committed to other jobs: fund it "
                           "(POST /faucet in development, or ask an operator)"}]))
            else:
                accepted.append(request)
                total += request.budget
        if accepted and gas == 0:
            for request in accepted:
                request.future.set_exception(JobPostError(402, NO_GAS))
            return []
        if accepted and allowance < total:
            mine.token.approve(market, balance)  # once per funding, not once per job
        return accepted

    def _send(self, mine: Chain, requests: list[PostRequest], now: int, *, estimate: bool) -> list[_Sent]:
        """Sign and send one ``postJobs`` (one ``postJobWithRequirements`` for a job with requirements, one
        ``postJobWithData`` for a job on providers' own data). Without
        ``estimate`` the gas limit is the bound per job (unused gas is not charged) and a refusal shows in the
        receipt; with it a refusal is answered here."""
        market = mine.market
        requirements = requests[0].requirements if len(requests) == 1 else None
        terms = requests[0].terms if len(requests) == 1 else None
        if terms is not None:
            data = market.encode("postJobWithData", requests[0].params(mine.token.address, now).as_tuple(),
                                 (requirements or Requirements()).as_tuple(), terms.as_tuple())
        elif requirements is not None:
            data = market.encode("postJobWithRequirements", requests[0].params(mine.token.address, now).as_tuple(),
                                 requirements.as_tuple())
        else:
            data = market.encode("postJobs", [r.params(mine.token.address, now).as_tuple() for r in requests])
        try:
            gas = None if estimate else GAS_BASE + GAS_PER_JOB * len(requests)
            return [(mine, mine.sender.send_tx({"to": market.address, "data": data, "value": 0}, gas=gas), requests)]
        except ContractRevert as exc:
            for request in requests:
                request.future.set_exception(JobPostError(422, [revert_detail(exc, request.requirements)]))
            return []

