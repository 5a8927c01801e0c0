"""The catalog: provider nodes (capabilities, stake, reputation) and DPG assets (certification stage), read
from the chain, newest last, paginated."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import ValidationError

from opendpg.dpg.basemodels import check_model_archive
from opendpg.dpg.certification import STAGES as CERTIFICATION_STAGES
from opendpg.dpg.files import FilesError, check_archive
from opendpg.dpg.metadata import AssetMetadata
from opendpg.dpg.standard import ASSET_KINDS
from opendpg.errors import ContentError, ContractRevert
from opendpg.fl.basemodel import BaseModelError
from opendpg.gateway.chain import GatewayChain
from opendpg.gateway.deps import ChainDep, CurrentUser
from opendpg.gateway.routers.funding import require_gas
from opendpg.gateway.schemas import AssetCreate, AssetOut, NodeOut, Pinned

router = APIRouter(tags=["catalog"])

E18 = Decimal(10**18)
# the API spells the registry's kinds and stages with hyphens
KINDS = [kind.replace("_", "-") for kind in ASSET_KINDS]
STAGES = [stage.replace("_", "-") for stage in CERTIFICATION_STAGES]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]
MAX_FILES_BYTES = 512 * 2**20  # an asset's files through the gateway; larger ones are pinned directly


@router.get("/providers", response_model=list[NodeOut])
def list_providers(user: CurrentUser, chain: ChainDep, offset: Offset = 0, limit: Limit = 50) -> list[NodeOut]:
    registry = chain.reader.registry
    nodes = []
    for index in range(offset, min(registry.node_count(), offset + limit)):
        address = registry.node_at(index)
        stake = registry.stake_of(address)
        nodes.append(NodeOut(address=address, capabilities=registry.capabilities_of(address),
                             staked=str(Decimal(stake["staked"]) / E18), locked=str(Decimal(stake["locked"]) / E18),
                             reputation=registry.reputation_of(address)))
    return nodes


@router.post("/assets/files", response_model=Pinned, status_code=status.HTTP_201_CREATED,
             openapi_extra={"requestBody": {
                 "required": True, "description": "the archive's bytes: .tar, .tar.gz or .zip",
                 "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def pin_files(request: Request, user: CurrentUser, chain: ChainDep) -> Pinned:
    """Pin an asset's files to IPFS: the request body is one archive (.tar, .tar.gz or .zip; a model's holds
    ``model.safetensors`` and its card ``opendpg-model.json``, never a pickle). Answers the CID to put in the
    asset's ``metadata.files_cid``; the archive must unpack safely (no member outside its folder)."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_FILES_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=[
                {"loc": ["body"], "msg": f"the archive is over {MAX_FILES_BYTES // 2**20} MiB: pin larger files to "
                                         "IPFS yourself and give their CID as metadata.files_cid"}])
    if not data:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=[{"loc": ["body"], "msg": "empty body: send the archive of the asset's files"}])
    archive = bytes(data)
    try:
        await asyncio.to_thread(check_archive, archive)
    except FilesError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=[{"loc": ["body"], "msg": str(exc), "type": "archive"}]) from None
    return Pinned(cid=await asyncio.to_thread(chain.store.put, archive))


@router.post("/assets", response_model=AssetOut, status_code=status.HTTP_201_CREATED)
def submit_asset(body: AssetCreate, user: CurrentUser, chain: ChainDep) -> AssetOut:
    """Register an asset from the caller's own address (its metadata document pinned to IPFS) and, unless
    ``certify`` is false, submit it for DPG certification (automated check, then vote, then committee).
    ``metadata`` holds what the DPG checker reads (owner, sdgs, documentation, data, privacy, standards,
    do_no_harm, ...; see the opendpg-asset fields): what is missing there fails the automated check. A model's
    ``metadata.files_cid`` (from ``POST /assets/files``) must hold safetensors weights and their card."""
    try:  # the metadata document the DPG checker reads (opendpg-asset/1 or /2)
        meta = AssetMetadata.model_validate({**body.metadata, "name": body.name, "kind": body.kind.replace("-", "_"),
                                             "description": body.description, "licence": body.licence})
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {"loc": ["body", "metadata", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]) from None
    if meta.kind == "model" and meta.files_cid:  # a base model jobs can start from: safetensors and card
        try:
            check_model_archive(chain.store, meta.files_cid)
        except (BaseModelError, ContentError) as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
                {"loc": ["body", "metadata", "files_cid"], "msg": str(exc), "type": "model_files"}]) from None
    mine = chain.as_user(user)
    require_gas(mine, user.address)
    if body.certify:
        fee, balance = mine.dpg.review_fee(), mine.token.balance_of(user.address)
        if balance < fee:
            raise HTTPException(status.HTTP_402_PAYMENT_REQUIRED, detail=[{
                "loc": ["body", "certify"],
                "msg": f"a review costs {Decimal(fee) / E18} tokens (it pays the reviewers); the account holds "
                       f"{Decimal(balance) / E18}: fund it (POST /faucet in development, or ask an operator), or "
                       "register without certification (certify: false)"}])
    cid = chain.store.put(meta.to_bytes())
    try:
        asset_id = mine.dpg.register_asset(KINDS.index(body.kind), cid, body.licence)
        if body.certify:
            mine.dpg.request_certification(asset_id)
    except ContractRevert as exc:
        field = str(exc.args_dict.get("field", ""))
        loc = ["body", "licence"] if field == "licence" else ["body"]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=[{"loc": loc, "msg": str(exc), "type": exc.name}]) from None
    return asset_out(chain, asset_id)


@router.get("/assets", response_model=list[AssetOut])
def list_assets(user: CurrentUser, chain: ChainDep, offset: Offset = 0, limit: Limit = 50) -> list[AssetOut]:
    dpg = chain.reader.dpg
    return [asset_out(chain, asset_id)  # asset ids start at 1
            for asset_id in range(offset + 1, min(dpg.asset_count(), offset + limit) + 1)]


def asset_out(chain: GatewayChain, asset_id: int) -> AssetOut:
    dpg = chain.reader.dpg
    a = dpg.get_asset(asset_id)
    return AssetOut(id=asset_id, owner=a["owner"], kind=KINDS[a["kind"]], stage=STAGES[a["stage"]],
                    certified=dpg.is_certified(asset_id), certified_until=a["certified_until"] or None,
                    standard_version=a["standard_version"], metadata_cid=a["metadata_cid"], licence=a["licence"])
