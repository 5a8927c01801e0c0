"""Governor proposals: what they do (a list of calls the timelock makes), how they are found again, and where
they stand. Every protocol parameter lives behind the timelock, so these are the only way to change one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from web3 import Web3

from opendpg.chain import Chain
from opendpg.content import ContentStore
from opendpg.dpg.standard import parse_standard
from opendpg.errors import OpenDPGValueError

__all__ = ["PARAMETERS", "STATES", "SUPPORT", "Action", "Proposal", "ProposalError", "add_committee_member",
           "find_proposal", "proposal_status", "publish_standard", "remove_committee_member", "revoke_asset",
           "set_parameter"]

#: ``IGovernor.ProposalState`` names, in order.
STATES = ("pending", "active", "canceled", "defeated", "succeeded", "queued", "expired", "executed")
#: ``GovernorCountingSimple`` vote types.
SUPPORT = {"against": 0, "for": 1, "abstain": 2}


class ProposalError(OpenDPGValueError):
    """A proposal that cannot be built, or one that is not on the chain."""


@dataclass(frozen=True)
class Action:
    """One call the timelock will make if the proposal passes."""

    target: str
    calldata: bytes
    summary: str
    value: int = 0


@dataclass(frozen=True)
class Proposal:
    actions: list[Action]
    description: str
    proposal_id: int | None = field(default=None, compare=False)

    @property
    def targets(self) -> list[str]:
        return [a.target for a in self.actions]

    @property
    def values(self) -> list[int]:
        return [a.value for a in self.actions]

    @property
    def calldatas(self) -> list[bytes]:
        return [a.calldata for a in self.actions]

    @property
    def description_hash(self) -> bytes:
        return bytes(Web3.keccak(text=self.description))

    def compute_id(self, chain: Chain) -> int:
        """``Governor.hashProposal``: keccak256(abi.encode(targets, values, calldatas, descriptionHash))."""
        encoded = chain.w3.codec.encode(["address[]", "uint256[]", "bytes[]", "bytes32"],
                                        [self.targets, self.values, self.calldatas, self.description_hash])
        return int.from_bytes(Web3.keccak(encoded), "big")

    def submit(self, chain: Chain) -> int:
        if not self.actions:
            raise ProposalError("a proposal needs at least one action")
        if not self.description.strip():
            raise ProposalError("a proposal needs a description (--description): voters read it")
        return chain.governor.propose(self.targets, self.values, self.calldatas, self.description)


def _int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ProposalError(f"{name}: {text!r} is not a whole number") from None
    if value < 0:
        raise ProposalError(f"{name}: must not be negative")
    return value


def _tokens(text: str, name: str) -> int:
    try:
        return int(Decimal(text) * 10**18)
    except InvalidOperation:
        raise ProposalError(f"{name}: {text!r} is not a number of tokens") from None


#: Parameter name → (contract client, setter, parser of the value as typed, unit).
PARAMETERS: dict[str, tuple[str, str, Callable[[str, str], int], str]] = {
    "dpg.voting_period": ("dpg", "setVotingPeriod", _int, "seconds"),
    "dpg.quorum_bps": ("dpg", "setQuorumBps", _int, "basis points of the votes delegated"),
    "dpg.approval_bps": ("dpg", "setApprovalBps", _int, "basis points of the votes cast"),
    "dpg.certification_period": ("dpg", "setCertificationPeriod", _int, "seconds"),
    "dpg.committee_threshold": ("dpg", "setCommitteeThreshold", _int, "members"),
    "dpg.review_fee": ("dpg", "setReviewFee", _tokens, "tokens"),
    "dpg.review_timeout": ("dpg", "setReviewTimeout", _int, "seconds"),
    "governor.voting_delay": ("governor", "setVotingDelay", _int, "seconds"),
    "governor.voting_period": ("governor", "setVotingPeriod", _int, "seconds"),
    "governor.proposal_threshold": ("governor", "setProposalThreshold", _tokens, "tokens"),
    "governor.quorum_percent": ("governor", "updateQuorumNumerator", _int, "percent of the votes delegated"),
    "market.protocol_fee_bps": ("market", "setProtocolFeeBps", _int, "basis points"),
    "registry.min_stake": ("registry", "setMinStake", _tokens, "tokens"),
    "registry.unbonding_period": ("registry", "setUnbondingPeriod", _int, "seconds"),
    "rewards.committee_reward": ("rewards", "setCommitteeReward", _tokens, "tokens"),
}


#: The job market's limits (``setLimits`` takes them together): name → (field, parser, unit).
LIMITS: dict[str, tuple[str, Callable[[str, str], int], str]] = {
    "market.min_join_window": ("min_join_window", _int, "seconds"),
    "market.max_join_window": ("max_join_window", _int, "seconds"),
    "market.min_round_timeout": ("min_round_timeout", _int, "seconds"),
    "market.max_round_timeout": ("max_round_timeout", _int, "seconds"),
    "market.min_reputation_reward": ("min_reputation_reward", _tokens, "tokens"),
    "market.min_reputation_stake": ("min_reputation_stake", _tokens, "tokens"),
}


def set_parameter(chain: Chain, name: str, value: str) -> Action:
    if name in LIMITS:
        field, parse_limit, unit = LIMITS[name]
        limits = replace(chain.market.limits(), **{field: parse_limit(value, name)})
        return Action(chain.market.address, chain.market.encode("setLimits", astuple(limits)),
                      f"set {name} to {value} ({unit}), the other limits as they are now")
    if name not in PARAMETERS:
        raise ProposalError(f"unknown parameter {name!r}: one of {', '.join([*PARAMETERS, *LIMITS])}")
    client_name, setter, parse, unit = PARAMETERS[name]
    client = getattr(chain, client_name)
    return Action(client.address, client.encode(setter, parse(value, name)), f"set {name} to {value} ({unit})")


def publish_standard(chain: Chain, store: ContentStore, document: bytes) -> Action:
    """Pin a new DPG Standard document and propose it as the current version (it must be newer)."""
    standard = parse_standard(document)
    current, _ = chain.dpg.standard()
    if standard.version <= current:
        raise ProposalError(f"the document is version {standard.version}; the current standard is version "
                            f"{current}: a new version must be greater")
    cid = store.put(document)
    return Action(chain.dpg.address, chain.dpg.encode("setStandard", standard.version, cid),
                  f"publish DPG Standard v{standard.version} ({cid})")


def _address(text: str) -> str:
    if not Web3.is_address(text):
        raise ProposalError(f"{text!r} is not an address")
    return Web3.to_checksum_address(text)


def add_committee_member(chain: Chain, member: str) -> Action:
    address = _address(member)
    if chain.dpg.is_committee_member(address):
        raise ProposalError(f"{address} is already on the committee")
    return Action(chain.dpg.address, chain.dpg.encode("addCommitteeMember", address),
                  f"add {address} to the expert committee")


def remove_committee_member(chain: Chain, member: str) -> Action:
    address = _address(member)
    if not chain.dpg.is_committee_member(address):
        raise ProposalError(f"{address} is not on the committee")
    return Action(chain.dpg.address, chain.dpg.encode("removeCommitteeMember", address),
                  f"remove {address} from the expert committee")


def revoke_asset(chain: Chain, store: ContentStore, asset_id: int, reason: str) -> Action:
    if not reason.strip():
        raise ProposalError("a revocation needs a reason: it is published with it")
    if chain.dpg.get_asset(asset_id)["stage"] == 0:
        raise ProposalError(f"asset {asset_id} does not exist")
    cid = store.put(reason.encode())
    return Action(chain.dpg.address, chain.dpg.encode("revoke", asset_id, cid),
                  f"revoke the certification of asset {asset_id} (reason {cid})")


def find_proposal(chain: Chain, proposal_id: int) -> Proposal:
    """A proposal as it was made, from its ``ProposalCreated`` event (needed to queue and execute it)."""
    event = chain.governor.contract.events.ProposalCreated()
    for log in event.get_logs(from_block=chain.deployment.start_block):
        args = log["args"]
        if int(args["proposalId"]) == proposal_id:
            actions = [Action(Web3.to_checksum_address(t), bytes(c), "", int(v))
                       for t, v, c in zip(args["targets"], args["values"], args["calldatas"], strict=True)]
            return Proposal(actions, str(args["description"]), proposal_id)
    raise ProposalError(f"no proposal {proposal_id} on this chain (see `opendpg gov list`)")


def proposal_status(chain: Chain, proposal_id: int) -> dict[str, Any]:
    governor = chain.governor
    proposal = find_proposal(chain, proposal_id)
    state = STATES[governor.state(proposal_id)]
    against, for_, abstain = governor.votes(proposal_id)
    timing = governor.timing(proposal_id)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    quorum = governor.quorum(timing["snapshot"]) if now > timing["snapshot"] else None
    return {"id": proposal_id, "state": state, "description": proposal.description,
            "votes": {"for": for_, "against": against, "abstain": abstain}, "quorum": quorum,
            "voting_starts": timing["snapshot"] + 1, "voting_ends": timing["deadline"],
            "now": now, "executable_at": timing["eta"] or None,
            "actions": [{"target": a.target, "calldata": "0x" + a.calldata.hex()} for a in proposal.actions]}
