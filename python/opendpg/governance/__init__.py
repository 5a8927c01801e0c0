"""DAO governance: proposals for the Governor (publish a new DPG Standard version, change a protocol
parameter, manage the expert committee, revoke a certification), found again by id from the chain's
``ProposalCreated`` events, and their status."""

from opendpg.governance.proposals import (
    LIMITS,
    PARAMETERS,
    STATES,
    SUPPORT,
    Action,
    Proposal,
    ProposalError,
    add_committee_member,
    find_proposal,
    proposal_status,
    publish_standard,
    remove_committee_member,
    revoke_asset,
    set_parameter,
)

__all__ = [
    "LIMITS",
    "PARAMETERS",
    "STATES",
    "SUPPORT",
    "Action",
    "Proposal",
    "ProposalError",
    "add_committee_member",
    "find_proposal",
    "proposal_status",
    "publish_standard",
    "remove_committee_member",
    "revoke_asset",
    "set_parameter",
]
