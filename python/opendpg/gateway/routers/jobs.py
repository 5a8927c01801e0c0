"""Jobs a user posts through the gateway: from a spec (validated, pinned to IPFS) to a job with escrow posted
from the user's own address; listing and detail from the chain index, cancel with refund, model download,
verify. A job belongs to the account whose address posted it: nobody else sees it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from opendpg.audit import verify_job
from opendpg.chain import JobState
from opendpg.content import cid_of
from opendpg.dpg.basemodels import job_checkpoint
from opendpg.dpg.certification import pack_files
from opendpg.errors import ContractRevert
from opendpg.fl.basemodel import BaseModelError
from opendpg.fl.models import check_model
from opendpg.gateway.chain import GatewayChain
from opendpg.gateway.deps import ChainDep, CurrentUser, IndexerDep, PosterDep, SessionDep, SettingsDep
from opendpg.gateway.indexer import ChainIndexer
from opendpg.gateway.models import (
    ChainJob,
    ChainPayment,
    ChainProvider,
    ChainRound,
    ChainUpdate,
    JobSubmission,
    User,
)
from opendpg.gateway.posting import JobPostError, PostRequest, revert_detail, tokens
from opendpg.gateway.schemas import (
    JobCreate,
    JobDetail,
    JobOut,
    PaymentOut,
    ProviderOut,
    RoundOut,
    RoundVerdictOut,
    SubmissionOut,
    UpdateOut,
    Verification,
)
from opendpg.gateway.specs import filled_spec
from opendpg.gateway.submissions import row_of
from opendpg.spec import SpecError, json_schema, parse_spec

router = APIRouter(prefix="/jobs", tags=["jobs"])

E18 = Decimal(10**18)


@router.get("/spec-schema")
def spec_schema() -> dict[str, Any]:
    """The JSON Schema of the job spec (``opendpg-job/1``)."""
    return json_schema()


@router.post("", response_model=JobOut, status_code=status.HTTP_201_CREATED,
             responses={202: {"model": SubmissionOut, "description": "accepted (with `Prefer: respond-async`)"}})
async def create_job(body: JobCreate, user: CurrentUser, chain: ChainDep, poster: PosterDep, request: Request,
                     prefer: Annotated[str | None, Header(description="`respond-async`: answer 202 as soon as the "
                                                                       "job is durably accepted")] = None,
                     ) -> JobOut | JSONResponse:
    """Validate the spec, pin it, and post the job with its escrow from the caller's own address. Jobs that
    arrive together go out together (one ``postJobs`` transaction per account); the answer comes once the job is
    mined and indexed, or, with ``Prefer: respond-async``, as a 202 once it is recorded (follow it at
    ``/jobs/submissions/{id}``). A spec that names a dataset asset held by providers gets the asset's schema."""
    document = await asyncio.to_thread(filled_spec, chain, body.spec, ["body", "spec"])
    try:
        spec = parse_spec(document)
        await asyncio.to_thread(check_model, spec)  # builds the model on the meta device: no weights
    except SpecError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {"loc": ["body", "spec", *field.split(".")], "msg": message} for field, message in exc.problems]) from None
    coordinator = Web3.to_checksum_address(body.coordinator)
    if not await chain.is_registered(coordinator):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[{
            "loc": ["body", "coordinator"],
            "msg": f"{coordinator} is not a registered node: name a coordinator from the node registry"}])
    data = spec.to_bytes()
    post = PostRequest(user=user, spec=data, spec_cid=cid_of(data), reward_per_round=int(body.reward_per_round * E18),
                       rounds=spec.training.rounds, min_providers=spec.providers.min, max_providers=spec.providers.max,
                       required_stake=int(body.required_stake * E18), join_window_s=body.join_window_s,
                       round_timeout_s=body.round_timeout_s, coordinator=coordinator)
    if prefer is not None and "respond-async" in prefer.lower():
        post.submission_id = uuid.uuid4().hex
        row = row_of(post)
        try:
            await asyncio.wrap_future(request.app.state.submissions.write(row))  # durable before the 202
        except Exception as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                detail=f"the job could not be recorded ({exc}); nothing was accepted") from None
        poster.submit(post)
        submission = _submission_out(row)
        return JSONResponse(submission.model_dump(), status_code=status.HTTP_202_ACCEPTED,
                            headers={"Location": submission.status_url, "Preference-Applied": "respond-async"})
    try:
        posted = await asyncio.wrap_future(poster.submit(post))
    except JobPostError as exc:
        raise HTTPException(exc.status, detail=exc.detail) from None
    p = posted.params  # mined and indexed by now; answered from what was posted (no database read)
    return JobOut(id=posted.job_id, state=JobState.OPEN.name, spec_cid=p.spec_cid, poster=posted.poster,
                  coordinator=p.coordinator, rounds=p.rounds, committed_rounds=0, budget=tokens(p.budget),
                  credited="0", reward_per_round=tokens(p.reward_per_round), max_providers=p.max_providers,
                  tx_hash=posted.tx_hash)


def _submission_out(row: JobSubmission) -> SubmissionOut:
    return SubmissionOut(id=row.id, status=row.status, job_id=row.job_id, tx_hash=row.tx_hash,  # type: ignore[arg-type]
                         error=json.loads(row.error) if row.error else None, status_url=f"/jobs/submissions/{row.id}")


@router.get("/submissions/{submission_id}", response_model=SubmissionOut)
def show_submission(submission_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")], user: CurrentUser,
                    session: SessionDep) -> SubmissionOut:
    """Where a job accepted with a 202 stands: queued, sending, posted (with its job id) or failed (with why)."""
    row = session.get(JobSubmission, submission_id)
    if row is None or row.user_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail=[{"loc": ["path", "submission_id"], "msg": "no such submission"}])
    return _submission_out(row)


@router.get("", response_model=list[JobOut])
def list_jobs(user: CurrentUser, session: SessionDep,
              limit: Annotated[int, Query(ge=1, le=500, description="at most this many, newest first")] = 100,
              before: Annotated[int | None, Query(ge=1, description="only jobs with a smaller id (paging)")] = None,
              ) -> list[JobOut]:
    """The caller's jobs, newest first, from the index."""
    return indexed_jobs(session, user.address, limit, before)


def indexed_jobs(session: Session, poster: str | None, limit: int, before: int | None) -> list[JobOut]:
    """Jobs from the index, newest first: all of them, or ``poster``'s; ids below ``before`` when given."""
    query = select(ChainJob)
    if poster is not None:
        query = query.where(ChainJob.poster == poster)
    if before is not None:
        query = query.where(ChainJob.job_id < before)
    return [_job_out(job) for job in session.scalars(query.order_by(ChainJob.job_id.desc()).limit(limit))]


@router.get("/{job_id}", response_model=JobDetail)
def show_job(job_id: int, user: CurrentUser, session: SessionDep) -> JobDetail:
    """One job from the index: state, providers, every round (update hashes and CIDs, the aggregated model, its
    evaluation on the held-out set), payments."""
    return job_detail(session, _own(session, user, job_id))


def job_detail(session: Session, job: ChainJob) -> JobDetail:
    """Everything the index holds about ``job``."""
    job_id = job.job_id
    providers = list(session.scalars(select(ChainProvider).where(ChainProvider.job_id == job_id)
                                     .order_by(ChainProvider.slot)))
    by_slot = {p.slot: p.address for p in providers}
    updates: dict[int, list[UpdateOut]] = {}
    for u in session.scalars(select(ChainUpdate).where(ChainUpdate.job_id == job_id)
                             .order_by(ChainUpdate.round, ChainUpdate.block_number)):
        updates.setdefault(u.round, []).append(UpdateOut(provider=u.provider, hash=u.update_hash, cid=u.cid,
                                                         rejected=u.rejected))
    history = [RoundOut(round=r.round, global_hash=r.global_hash, global_cid=r.global_cid,
                        used=[by_slot[i] for i in sorted(by_slot) if int(r.used_bitmap) >> i & 1],
                        updates=updates.get(r.round, []), loss=r.loss, accuracy=r.accuracy,
                        metrics_error=r.metrics_error)
               for r in session.scalars(select(ChainRound).where(ChainRound.job_id == job_id)
                                        .order_by(ChainRound.round))]
    payments = [PaymentOut(kind=p.kind, account=p.account, amount=tokens(int(p.amount)))
                for p in session.scalars(select(ChainPayment).where(ChainPayment.job_id == job_id)
                                         .order_by(ChainPayment.block_number, ChainPayment.log_index))]
    return JobDetail(**_job_out(job).model_dump(), history=history, payments=payments,
                     providers=[ProviderOut(address=p.address, dropped=p.dropped, missed_rounds=p.missed_rounds)
                                for p in providers])


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: int, user: CurrentUser, session: SessionDep, chain: ChainDep, indexer: IndexerDep) -> JobOut:
    """Cancel a job nobody started yet and take the whole escrow back to the account."""
    _own(session, user, job_id)
    mine = chain.as_user(user)
    try:
        if mine.market.get_job(job_id).state == JobState.OPEN:
            mine.market.cancel_job(job_id)
        if mine.market.refundable(job_id) > 0:
            mine.market.claim_refund(job_id)
    except ContractRevert as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=[revert_detail(exc)]) from None
    return _indexed(session, user, job_id, indexer)


@router.post("/{job_id}/refund", response_model=JobOut)
def claim_refund(job_id: int, user: CurrentUser, session: SessionDep, chain: ChainDep,
                 indexer: IndexerDep) -> JobOut:
    """Take back what the job never credited to providers, once it finished, was cancelled or aborted."""
    _own(session, user, job_id)
    mine = chain.as_user(user)
    if mine.market.refundable(job_id) == 0:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=[{
            "loc": ["path", "job_id"], "msg": "nothing to refund: the job is still running, or the refund was paid"}])
    try:
        mine.market.claim_refund(job_id)
    except ContractRevert as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=[revert_detail(exc)]) from None
    return _indexed(session, user, job_id, indexer)


@router.get("/{job_id}/model", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "the latest committed global model (canonical ODPGUPD1 bytes)"}})
def download_model(job_id: int, user: CurrentUser, session: SessionDep, chain: ChainDep) -> Response:
    """The latest committed global model, fetched from IPFS by its on-chain CID and checked against its hash."""
    _own(session, user, job_id)
    return model_response(session, chain, job_id)


def _latest_model(session: Session, chain: GatewayChain, job_id: int) -> tuple[ChainRound, bytes]:
    """The last committed round of a job and its global model, from IPFS by its on-chain CID, checked against
    its hash."""
    last = session.scalar(select(ChainRound).where(ChainRound.job_id == job_id).order_by(ChainRound.round.desc()))
    if last is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            detail=[{"loc": ["path", "job_id"], "msg": "no round committed yet: no model to download"}])
    data = chain.store.get(last.global_cid)
    if hashlib.sha256(data).hexdigest() != last.global_hash:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail="the stored model does not match its on-chain hash")
    return last, data


def model_response(session: Session, chain: GatewayChain, job_id: int) -> Response:
    """The latest committed global model of a job, from IPFS by its on-chain CID, checked against its hash."""
    last, data = _latest_model(session, chain, job_id)
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="job-{job_id}-round-{last.round}.odpgupd"',
        "X-OpenDPG-Round": str(last.round), "X-OpenDPG-SHA256": last.global_hash})


@router.get("/{job_id}/checkpoint", response_class=Response,
            responses={200: {"content": {"application/x-tar": {}},
                             "description": "the latest committed global model as a ready-to-load checkpoint: a tar "
                                            "of model.safetensors (LoRA adapters merged into the base) and its "
                                            "card opendpg-model.json"}})
def download_checkpoint(job_id: int, user: CurrentUser, session: SessionDep, chain: ChainDep,
                        settings: SettingsDep) -> Response:
    """The latest committed global model (checked against its on-chain hash) built into the job's architecture,
    on its base model when it names one, with LoRA adapters merged: load it with
    ``opendpg.fl.basemodel.load_model`` or publish it as a base model."""
    job = _own(session, user, job_id)
    last, data = _latest_model(session, chain, job_id)
    spec = parse_spec(chain.store.get(job.spec_cid))
    trained_on = (f"OpenDPG job {job_id} (spec {job.spec_cid}): the global model of round {last.round}, sha256 "
                  f"{last.global_hash}, as committed on-chain")
    with tempfile.TemporaryDirectory(prefix="opendpg-checkpoint-") as tmp:
        try:
            folder = job_checkpoint(spec, data, chain.store, FilePath(tmp) / "checkpoint", trained_on,
                                    cache=settings.state_dir / "base-models")
        except BaseModelError as exc:
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=f"the job's base model: {exc}") from None
        archive = pack_files(folder)  # written just now from the checked global model: no second read
    return Response(archive, media_type="application/x-tar", headers={
        "Content-Disposition": f'attachment; filename="job-{job_id}-round-{last.round}-checkpoint.tar"',
        "X-OpenDPG-Round": str(last.round), "X-OpenDPG-SHA256": last.global_hash})


@router.post("/{job_id}/verify", response_model=Verification)
def verify(job_id: int, user: CurrentUser, session: SessionDep, chain: ChainDep) -> Verification:
    """Run the auditor: every update and global model from IPFS checked against the chain, every aggregate
    recomputed."""
    _own(session, user, job_id)
    return verification(chain, job_id)


def verification(chain: GatewayChain, job_id: int) -> Verification:
    verdicts = verify_job(chain.reader, chain.store, job_id)
    return Verification(ok=all(v.ok for v in verdicts),  # nothing committed yet: nothing wrong either
                        rounds=[RoundVerdictOut(round=v.round, ok=v.ok, problems=v.problems, used=v.used)
                                for v in verdicts])


def _own(session: Session, user: User, job_id: int) -> ChainJob:
    job = session.get(ChainJob, job_id)
    if job is None or job.poster != user.address:  # another user's job is as unknown as a missing one
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=[{"loc": ["path", "job_id"], "msg": "no such job"}])
    return job


def _indexed(session: Session, user: User, job_id: int, indexer: ChainIndexer) -> JobOut:
    """The job after a write of ours: the index first catches up with the chain."""
    indexer.catch_up(int(indexer.chain.w3.eth.block_number))
    session.expire_all()
    return _job_out(_own(session, user, job_id))


def _job_out(job: ChainJob) -> JobOut:
    return JobOut(id=job.job_id, state=job.state, spec_cid=job.spec_cid, poster=job.poster,
                  coordinator=job.coordinator, rounds=job.rounds, committed_rounds=job.committed_rounds,
                  budget=tokens(int(job.budget)), credited=tokens(int(job.credited)),
                  reward_per_round=tokens(int(job.reward_per_round)), max_providers=job.max_providers,
                  tx_hash=job.tx_hash)
