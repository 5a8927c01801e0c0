"""The catalog: provider nodes (capabilities, stake, reputation) and DPG assets (certification stage), read
from the chain, newest last, paginated."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query

from opendpg.gateway.deps import ChainDep, CurrentUser
from opendpg.gateway.schemas import AssetOut, NodeOut

router = APIRouter(tags=["catalog"])

E18 = Decimal(10**18)
KINDS = ["dataset", "model", "software", "compute-commitment"]
STAGES = ["none", "registered", "awaiting-check", "check-failed", "voting", "vote-failed", "committee-review",
          "rejected", "certified", "revoked"]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]


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


@router.get("/assets", response_model=list[AssetOut])
def list_assets(user: CurrentUser, chain: ChainDep, offset: Offset = 0, limit: Limit = 50) -> list[AssetOut]:
    dpg = chain.reader.dpg
    assets = []
    for asset_id in range(offset + 1, min(dpg.asset_count(), offset + limit) + 1):  # asset ids start at 1
        a = dpg.get_asset(asset_id)
        assets.append(AssetOut(id=asset_id, owner=a["owner"], kind=KINDS[a["kind"]], stage=STAGES[a["stage"]],
                               certified=dpg.is_certified(asset_id), certified_until=a["certified_until"] or None,
                               standard_version=a["standard_version"], metadata_cid=a["metadata_cid"],
                               licence=a["licence"]))
    return assets
