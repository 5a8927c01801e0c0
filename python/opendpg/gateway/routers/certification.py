"""DPG certification through the gateway: an asset's review with its automated report, votes, closing the vote,
the expert committee's decisions, renewal, reviewer rewards, and delegating one's votes (votes count only once
delegated, from the next review's snapshot on). Every action is a transaction from the caller's own address."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, status

from opendpg.chain import Chain
from opendpg.dpg.certification import Certification
from opendpg.errors import ContractRevert, OpenDPGError
from opendpg.gateway.chain import GatewayChain
from opendpg.gateway.deps import ChainDep, CurrentUser
from opendpg.gateway.models import User
from opendpg.gateway.routers.catalog import asset_out
from opendpg.gateway.routers.funding import require_gas
from opendpg.gateway.schemas import AssetDetail, DecisionIn, DelegationOut, ReviewOut, RewardOut, VoteIn

router = APIRouter(tags=["certification"])

E18 = Decimal(10**18)
_FORBIDDEN = {"DPGRegistryNoVotingPower", "DPGRegistryNotCommitteeMember", "DPGRegistryNotOwner",
              "ReviewRewardsNotReviewer", "AccessControlUnauthorizedAccount"}
_HINTS = {"DPGRegistryNoVotingPower": "your votes were not delegated when the review opened: POST "
                                      "/governance/delegate now, and vote in the next review",
          "ReviewRewardsNotReviewer": "you neither voted in nor decided this review"}


def _tokens(wei: int) -> str:
    return str(Decimal(wei) / E18)


def _acting(chain: GatewayChain, user: User) -> Certification:
    mine = chain.as_user(user)
    require_gas(mine, user.address)
    return Certification(mine, chain.store)


def _refused(exc: ContractRevert) -> HTTPException:
    code = status.HTTP_403_FORBIDDEN if exc.name in _FORBIDDEN else status.HTTP_409_CONFLICT
    hint = _HINTS.get(exc.name, "")
    return HTTPException(code, detail=[{"loc": ["path", "asset_id"], "type": exc.name,
                                        "msg": f"{exc}{': ' + hint if hint else ''}"}])


def existing_asset(chain: Chain, asset_id: int) -> None:
    if not 1 <= asset_id <= chain.dpg.asset_count():
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no asset {asset_id}")


@router.get("/assets/{asset_id}", response_model=AssetDetail)
def show_asset(asset_id: int, user: CurrentUser, chain: ChainDep) -> AssetDetail:
    reader = chain.reader
    existing_asset(reader, asset_id)
    state = Certification(reader, chain.store).state(asset_id)
    review: ReviewOut | None = None
    voted = False
    if state.review is not None:
        r = state.review
        review = ReviewOut(number=state.asset["review"], vote_end=r["vote_end"] or None,
                           for_votes=_tokens(r["for_votes"]), against_votes=_tokens(r["against_votes"]),
                           approvals=r["approvals"], rejections=r["rejections"], report_cid=r["report_cid"] or None)
        voted = reader.dpg.has_voted(asset_id, state.asset["review"], user.address)
    return AssetDetail(**asset_out(chain, asset_id).model_dump(), review=review, report=state.report, voted=voted,
                       committee_member=reader.dpg.is_committee_member(user.address))


def _act(chain: GatewayChain, user: User, asset_id: int, action: Any) -> AssetDetail:
    existing_asset(chain.reader, asset_id)
    try:
        action(_acting(chain, user))
    except ContractRevert as exc:
        raise _refused(exc) from None
    return show_asset(asset_id, user, chain)


@router.post("/assets/{asset_id}/votes", response_model=AssetDetail)
def vote(asset_id: int, body: VoteIn, user: CurrentUser, chain: ChainDep) -> AssetDetail:
    """Vote on an asset under community review, with your delegated weight at the review's snapshot."""
    return _act(chain, user, asset_id, lambda cert: cert.vote(asset_id, body.support))


@router.post("/assets/{asset_id}/close", response_model=AssetDetail)
def close_vote(asset_id: int, user: CurrentUser, chain: ChainDep) -> AssetDetail:
    """Tally a vote whose period is over (anyone may): to the committee, or vote-failed."""
    return _act(chain, user, asset_id, lambda cert: cert.close_vote(asset_id))


@router.post("/assets/{asset_id}/decisions", response_model=AssetDetail)
def decide(asset_id: int, body: DecisionIn, user: CurrentUser, chain: ChainDep) -> AssetDetail:
    """An expert committee member approves or rejects (a rejection needs its reason, which is published)."""
    if not body.approve and not body.reason:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=[{"loc": ["body", "reason"], "type": "missing",
                                     "msg": "a rejection needs a reason: it is published with the decision"}])
    return _act(chain, user, asset_id, lambda cert: cert.decide(asset_id, body.approve, body.reason))


@router.post("/assets/{asset_id}/renew", response_model=AssetDetail)
def renew(asset_id: int, user: CurrentUser, chain: ChainDep) -> AssetDetail:
    """The owner starts a new review against the current standard (after expiry, a failure or a rejection)."""
    return _act(chain, user, asset_id, lambda cert: cert.renew(asset_id))


@router.post("/assets/{asset_id}/rewards", response_model=RewardOut)
def claim_reward(asset_id: int, user: CurrentUser, chain: ChainDep) -> RewardOut:
    """Claim your reviewer reward for the asset's current review (as a voter, as a committee member)."""
    existing_asset(chain.reader, asset_id)
    try:
        paid = _acting(chain, user).claim_reward(asset_id)
    except ContractRevert as exc:
        raise _refused(exc) from None
    return RewardOut(voter=_tokens(paid["voter"]), committee=_tokens(paid["committee"]))


@router.post("/governance/delegate", response_model=DelegationOut, tags=["governance"])
def delegate(user: CurrentUser, chain: ChainDep) -> DelegationOut:
    """Delegate your token votes to yourself: they weigh in certification reviews and DAO proposals opened
    from the next block on."""
    mine = chain.as_user(user)
    require_gas(mine, user.address)
    try:
        mine.token.delegate(user.address)
    except OpenDPGError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"delegation failed: {exc}") from None
    return DelegationOut(address=user.address, votes=_tokens(mine.token.votes(user.address)))
