"""What the web app needs from the gateway besides the API: the deployment (chain id, contract addresses and
ABIs); pinning for wallet users, who have no gateway account: job specs and DPG Standard documents (validated
first, so only those), and a committee member's reason for a decision (plain text, bounded); the automated
check report behind an asset's current review; the DPG Standard's documents by version; and the chain index's
jobs (public, like the chain they come from: one request instead of a scan of the chain's logs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Response, status
from web3 import Web3

from opendpg.dpg import StandardError, parse_standard, standard_bytes
from opendpg.dpg.market import data_terms_for
from opendpg.errors import ContentError
from opendpg.fl.models import check_model
from opendpg.gateway.chain import GatewayChain
from opendpg.gateway.deps import ChainDep, IndexerDep, SessionDep, SettingsDep
from opendpg.gateway.models import ChainJob
from opendpg.gateway.routers.certification import existing_asset
from opendpg.gateway.routers.jobs import indexed_jobs, job_detail, model_response, verification
from opendpg.gateway.schemas import (
    AppConfig,
    DataTermsOut,
    JobDetail,
    JobOut,
    Pinned,
    PinnedSpec,
    ReasonIn,
    Verification,
)
from opendpg.gateway.specs import filled_spec
from opendpg.spec import SpecError, parse_spec

router = APIRouter(tags=["web app"])
SpecBody = Annotated[dict[str, Any], Body(description="a job spec (GET /jobs/spec-schema)")]
StandardBody = Annotated[dict[str, Any], Body(description="a DPG Standard indicator document")]
Id = Annotated[int, Path(ge=1, le=2**63 - 1, description="an on-chain id (jobs and assets count from 1)")]
Address = Annotated[str | None, Query(pattern="^0x[0-9a-fA-F]{40}$", description="only this poster's jobs")]

_CONTRACTS = ("CommonsToken", "NodeRegistry", "JobMarket", "DPGRegistry", "ReviewRewards", "OpenDPGGovernor",
              "OpenDPGTimelock")


@router.get("/app-config", response_model=AppConfig)
def app_config(chain: ChainDep, settings: SettingsDep) -> AppConfig:
    """The chain and contracts the web app talks to through the user's wallet."""
    deployment = chain.reader.deployment
    return AppConfig(chain_id=deployment.chain_id, start_block=deployment.start_block,
                     rpc_url=settings.gateway_public_rpc_url,
                     contracts={name: {"address": record.address, "abi": record.abi}
                                for name, record in deployment.contracts.items() if name in _CONTRACTS})


@router.post("/specs", response_model=PinnedSpec, status_code=status.HTTP_201_CREATED)
def pin_spec(chain: ChainDep, spec: SpecBody) -> PinnedSpec:
    """Validate a job spec and pin its canonical bytes to IPFS, for a job the caller posts from its wallet. A spec
    that names a dataset asset held by providers gets the asset's schema."""
    try:
        parsed = parse_spec(filled_spec(chain, spec, ["body"]))
        check_model(parsed)
    except SpecError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {"loc": ["body", *path.split(".")], "msg": msg, "type": "spec"} for path, msg in exc.problems]) from None
    terms = data_terms_for(parsed)
    data_terms = None if terms is None else DataTermsOut(asset=terms.asset, schema="0x" + terms.schema.hex(),
                                                         epsilon=str(terms.epsilon), delta=str(terms.delta))
    return PinnedSpec(cid=_pin(chain, parsed.to_bytes()), spec=parsed.model_dump(mode="json"), data_terms=data_terms)


@contextmanager
def _ipfs() -> Iterator[None]:
    """IPFS failing under a route: 503 with the reason."""
    try:
        yield
    except ContentError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"IPFS is unavailable: {exc}") from None


def _pin(chain: GatewayChain, data: bytes) -> str:
    with _ipfs():
        return chain.store.put(data)


@router.post("/standards", response_model=Pinned, status_code=status.HTTP_201_CREATED)
def pin_standard(chain: ChainDep, document: StandardBody) -> Pinned:
    """Validate a DPG Standard document (a newer version than the one in force) and pin it, for a proposal."""
    try:
        standard = parse_standard(json.dumps(document))
    except StandardError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=[{"loc": ["body"], "msg": str(exc), "type": "standard"}]) from None
    current, _ = chain.reader.dpg.standard()
    if standard.version <= current:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[{
            "loc": ["body", "version"], "type": "standard",
            "msg": f"version {standard.version} is not newer than the standard in force, version {current}"}])
    return Pinned(cid=_pin(chain, json.dumps(document, indent=1).encode()))


@router.get("/standards/{version}")
def standard_document(version: Id, chain: ChainDep) -> dict[str, Any]:
    """The document of a version of the DPG Standard, as the DAO published it (fetched by the CID recorded
    on-chain and checked against it)."""
    published = [s for s in chain.reader.dpg.standard_history() if s["version"] == version]
    if not published:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no DPG Standard version {version} was published")
    with _ipfs():
        document: dict[str, Any] = json.loads(standard_bytes(published[-1]["cid"], chain.store))
    return document


@router.post("/reasons", response_model=Pinned, status_code=status.HTTP_201_CREATED)
def pin_reason(chain: ChainDep, body: ReasonIn) -> Pinned:
    """Pin the text a committee member publishes with a decision (its CID goes on-chain)."""
    return Pinned(cid=_pin(chain, body.text.encode()))


@router.get("/reports/{asset_id}")
def current_report(asset_id: Id, chain: ChainDep) -> dict[str, Any]:
    """The automated check report of an asset's current review (as pinned by the checker)."""
    dpg = chain.reader.dpg
    existing_asset(chain.reader, asset_id)
    asset = dpg.get_asset(asset_id)
    cid = dpg.get_review(asset_id, asset["review"])["report_cid"] if asset["review"] else ""
    if not cid:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"asset {asset_id} has no automated check yet")
    with _ipfs():
        report: dict[str, Any] = json.loads(chain.store.get(cid))
    return report


@router.get("/chain/jobs", response_model=list[JobOut])
def chain_jobs(session: SessionDep, poster: Address = None,
               limit: Annotated[int, Query(ge=1, le=100, description="at most this many, newest first")] = 20,
               before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="only smaller ids (paging)")] = None,
               ) -> list[JobOut]:
    """Jobs on the chain as the gateway indexed them, newest first; optionally one poster's."""
    return indexed_jobs(session, Web3.to_checksum_address(poster) if poster else None, limit, before)


@router.get("/chain/jobs/{job_id}", response_model=JobDetail)
def chain_job(job_id: Id, session: SessionDep, chain: ChainDep, indexer: IndexerDep) -> JobDetail:
    """One job as the gateway indexed it: state, providers, every round (update hashes and CIDs, the global model
    and its evaluation on the held-out set), payments. A job the chain has but the index not yet is indexed first."""
    job = session.get(ChainJob, job_id)
    if job is None and job_id <= chain.reader.market.job_count():
        indexer.catch_up(int(chain.reader.w3.eth.block_number))
        session.expire_all()
        job = session.get(ChainJob, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no job {job_id}")
    return job_detail(session, job)


@router.get("/models/{job_id}", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "the latest committed global model (canonical ODPGUPD1 bytes)"}})
def public_model(job_id: Id, session: SessionDep, chain: ChainDep) -> Response:
    """A job's latest committed global model, checked against its on-chain hash (models are public, like their
    CIDs on-chain)."""
    return model_response(session, chain, job_id)


@router.post("/audits/{job_id}", response_model=Verification)
def public_audit(job_id: Id, chain: ChainDep) -> Verification:
    """Run the auditor on any job: every update and global model from IPFS checked against the chain, every
    aggregate recomputed."""
    if not 1 <= job_id <= chain.reader.market.job_count():
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no job {job_id}")
    return verification(chain, job_id)
