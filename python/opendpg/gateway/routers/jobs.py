"""Jobs a user posts through the gateway: from a spec (validated, pinned to IPFS) to a job with escrow posted
from the user's own address; listing, detail from the chain, cancel with refund. Only the poster sees them."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from opendpg.audit import verify_job
from opendpg.chain import Chain, JobParams, JobState
from opendpg.errors import ContractRevert
from opendpg.gateway.deps import ChainDep, CurrentUser, SessionDep
from opendpg.gateway.models import JobRecord, User
from opendpg.gateway.routers.funding import require_gas
from opendpg.gateway.schemas import (
    JobCreate,
    JobDetail,
    JobOut,
    PaymentOut,
    ProviderOut,
    RoundOut,
    RoundVerdictOut,
    UpdateOut,
    Verification,
)
from opendpg.spec import SpecError, json_schema, parse_spec

router = APIRouter(prefix="/jobs", tags=["jobs"])

E18 = Decimal(10**18)
_INVALID_PARAM_FIELDS = {"coordinator": "coordinator", "rewardPerRound": "reward_per_round",
                         "joinDeadline": "join_window_s", "roundTimeout": "round_timeout_s"}


def _tokens(amount: int) -> str:
    return str(Decimal(amount) / E18)


def _revert_detail(exc: ContractRevert) -> dict[str, Any]:
    field = _INVALID_PARAM_FIELDS.get(str(exc.args_dict.get("field", "")), "")
    return {"loc": ["body", field] if field else ["body"], "msg": str(exc), "type": exc.name}


@router.get("/spec-schema")
def spec_schema() -> dict[str, Any]:
    """The JSON Schema of the job spec (``opendpg-job/1``)."""
    return json_schema()


@router.post("", response_model=JobOut, status_code=status.HTTP_201_CREATED)
def create_job(body: JobCreate, user: CurrentUser, session: SessionDep, chain: ChainDep) -> JobOut:
    try:
        spec = parse_spec(body.spec)
    except SpecError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {"loc": ["body", "spec", *field.split(".")], "msg": message} for field, message in exc.problems]) from None
    coordinator = Web3.to_checksum_address(body.coordinator)
    if not chain.reader.registry.is_registered(coordinator):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[{
            "loc": ["body", "coordinator"],
            "msg": f"{coordinator} is not a registered node: name a coordinator from the node registry"}])
    mine = chain.as_user(user)
    reward = int(body.reward_per_round * E18)
    budget = reward * spec.training.rounds * spec.providers.max
    balance = mine.token.balance_of(user.address)
    if balance < budget:
        raise HTTPException(status.HTTP_402_PAYMENT_REQUIRED, detail=[{
            "loc": ["body", "reward_per_round"],
            "msg": f"the escrow needs {_tokens(budget)} tokens (reward x rounds x max providers); the account holds "
                   f"{_tokens(balance)}: fund it (POST /faucet in development, or ask an operator)"}])
    require_gas(mine, user.address)
    spec_cid = chain.store.put(spec.to_bytes())
    now = int(mine.w3.eth.get_block("latest")["timestamp"])
    params = JobParams(spec_cid, mine.token.address, budget, reward, spec.training.rounds, spec.providers.min,
                       spec.providers.max, int(body.required_stake * E18), now + body.join_window_s,
                       body.round_timeout_s, coordinator)
    try:
        mine.token.ensure_allowance(mine.market.address, budget)
        receipt = mine.sender.transact(mine.market.contract.functions.postJob(params.as_tuple()))
    except ContractRevert as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[_revert_detail(exc)]) from None
    job_id = int(mine.market.events(receipt, "JobPosted")[0]["jobId"])
    record = JobRecord(user_id=user.id, chain_job_id=job_id, spec_cid=spec_cid,
                       tx_hash=receipt["transactionHash"].to_0x_hex())
    session.add(record)
    session.commit()
    return _job_out(chain.reader, record)


@router.get("", response_model=list[JobOut])
def list_jobs(user: CurrentUser, session: SessionDep, chain: ChainDep) -> list[JobOut]:
    records = session.scalars(select(JobRecord).where(JobRecord.user_id == user.id).order_by(JobRecord.id))
    return [_job_out(chain.reader, r) for r in records]


@router.get("/{job_id}", response_model=JobDetail)
def show_job(job_id: int, user: CurrentUser, session: SessionDep, chain: ChainDep) -> JobDetail:
    record = _own(session, user, job_id)
    reader = chain.reader
    base = _job_out(reader, record)
    market = reader.market
    providers = []
    for address in market.providers_of(job_id):
        p = market.participant_of(job_id, address)
        providers.append(ProviderOut(address=address, dropped=p.dropped, missed_rounds=p.missed_rounds))
    updates: dict[int, list[UpdateOut]] = {}
    for log in market.job_logs("UpdateSubmitted", job_id):
        a = log["args"]
        updates.setdefault(int(a["round"]), []).append(
            UpdateOut(provider=a["provider"], hash=bytes(a["updateHash"]).hex(), cid=a["updateCid"]))
    addresses = [p.address for p in providers]
    history = [RoundOut(round=int(a["round"]), global_hash=bytes(a["globalHash"]).hex(), global_cid=a["globalCid"],
                        used=[addresses[i] for i in range(len(addresses)) if int(a["usedBitmap"]) >> i & 1],
                        updates=updates.get(int(a["round"]), []))
               for a in (log["args"] for log in market.job_logs("RoundCommitted", job_id))]
    payments = [PaymentOut(kind="reward", account=log["args"]["provider"], amount=_tokens(log["args"]["amount"]))
                for log in market.job_logs("RewardClaimed", job_id)]
    payments += [PaymentOut(kind="refund", account=log["args"]["poster"], amount=_tokens(log["args"]["amount"]))
                 for log in market.job_logs("RefundClaimed", job_id)]
    return JobDetail(**base.model_dump(), providers=providers, history=history, payments=payments)


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: int, user: CurrentUser, session: SessionDep, chain: ChainDep) -> JobOut:
    """Cancel a job nobody started yet and take the whole escrow back to the account."""
    record = _own(session, user, job_id)
    mine = chain.as_user(user)
    try:
        if mine.market.get_job(job_id).state == JobState.OPEN:
            mine.market.cancel_job(job_id)
        if mine.market.refundable(job_id) > 0:
            mine.market.claim_refund(job_id)
    except ContractRevert as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=[_revert_detail(exc)]) from None
    return _job_out(chain.reader, record)


@router.post("/{job_id}/refund", response_model=JobOut)
def claim_refund(job_id: int, user: CurrentUser, session: SessionDep, chain: ChainDep) -> JobOut:
    """Take back what the job never credited to providers, once it finished, was cancelled or aborted."""
    record = _own(session, user, job_id)
    mine = chain.as_user(user)
    if mine.market.refundable(job_id) == 0:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=[{
            "loc": ["path", "job_id"], "msg": "nothing to refund: the job is still running, or the refund was paid"}])
    try:
        mine.market.claim_refund(job_id)
    except ContractRevert as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=[_revert_detail(exc)]) from None
    return _job_out(chain.reader, record)


@router.get("/{job_id}/model", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "the latest committed global model (canonical ODPGUPD1 bytes)"}})
def download_model(job_id: int, user: CurrentUser, session: SessionDep, chain: ChainDep) -> Response:
    """The latest committed global model, fetched from IPFS by its on-chain CID and checked against its hash."""
    _own(session, user, job_id)
    commits = chain.reader.market.job_logs("RoundCommitted", job_id)
    if not commits:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail=[{"loc": ["path", "job_id"], "msg": "no round committed yet: no model to download"}])
    last = max(commits, key=lambda e: int(e["args"]["round"]))["args"]
    data = chain.store.get(str(last["globalCid"]))
    if hashlib.sha256(data).digest() != bytes(last["globalHash"]):
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail="the stored model does not match its on-chain hash")
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="job-{job_id}-round-{int(last["round"])}.odpgupd"',
        "X-OpenDPG-Round": str(int(last["round"])), "X-OpenDPG-SHA256": hashlib.sha256(data).hexdigest()})


@router.post("/{job_id}/verify", response_model=Verification)
def verify(job_id: int, user: CurrentUser, session: SessionDep, chain: ChainDep) -> Verification:
    """Run the auditor: every update and global model from IPFS checked against the chain, every aggregate
    recomputed."""
    _own(session, user, job_id)
    verdicts = verify_job(chain.reader, chain.store, job_id)
    return Verification(ok=all(v.ok for v in verdicts),  # nothing committed yet: nothing wrong either
                        rounds=[RoundVerdictOut(round=v.round, ok=v.ok, problems=v.problems, used=v.used)
                                for v in verdicts])


def _own(session: Session, user: User, job_id: int) -> JobRecord:
    record = session.scalar(select(JobRecord).where(JobRecord.chain_job_id == job_id))
    if record is None or record.user_id != user.id:  # another user's job is as unknown as a missing one
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=[{"loc": ["path", "job_id"], "msg": "no such job"}])
    return record


def _job_out(reader: Chain, record: JobRecord) -> JobOut:
    job = reader.market.get_job(record.chain_job_id)
    return JobOut(id=record.chain_job_id, state=job.state.name, spec_cid=record.spec_cid, poster=job.poster,
                  coordinator=job.coordinator, rounds=job.rounds, committed_rounds=job.committed_rounds,
                  budget=_tokens(job.budget), credited=_tokens(job.credited),
                  reward_per_round=_tokens(job.reward_per_round), tx_hash=record.tx_hash)
