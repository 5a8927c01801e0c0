"""What the web app needs from the gateway besides the API: the deployment (chain id, contract addresses and
ABIs) and pinning a job spec for a wallet user, who has no gateway account (the spec is validated first, so this
pins job specs only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status

from opendpg.errors import ContentError
from opendpg.gateway.deps import ChainDep
from opendpg.gateway.schemas import AppConfig, PinnedSpec
from opendpg.spec import SpecError, parse_spec

router = APIRouter(tags=["web app"])
SpecBody = Annotated[dict[str, Any], Body(description="a job spec (GET /jobs/spec-schema)")]

_CONTRACTS = ("CommonsToken", "NodeRegistry", "JobMarket", "DPGRegistry", "ReviewRewards", "OpenDPGGovernor",
              "OpenDPGTimelock")


@router.get("/app-config", response_model=AppConfig)
def app_config(chain: ChainDep) -> AppConfig:
    """The chain and contracts the web app talks to through the user's wallet."""
    deployment = chain.reader.deployment
    return AppConfig(chain_id=deployment.chain_id, start_block=deployment.start_block,
                     contracts={name: {"address": record.address, "abi": record.abi}
                                for name, record in deployment.contracts.items() if name in _CONTRACTS})


@router.post("/specs", response_model=PinnedSpec, status_code=status.HTTP_201_CREATED)
def pin_spec(chain: ChainDep, spec: SpecBody) -> PinnedSpec:
    """Validate a job spec and pin its canonical bytes to IPFS, for a job the caller posts from its wallet."""
    try:
        parsed = parse_spec(spec)
    except SpecError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {"loc": ["body", *path.split(".")], "msg": msg, "type": "spec"} for path, msg in exc.problems]) from None
    try:
        cid = chain.store.put(parsed.to_bytes())
    except ContentError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"IPFS is unavailable: {exc}") from None
    return PinnedSpec(cid=cid, spec=parsed.model_dump(mode="json"))
