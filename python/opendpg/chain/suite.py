"""What the contract suite is: its contracts, roles and deployment parameters.

Dependency-free on purpose: ``scripts/deploy.py`` (brownie, in its own virtualenv) loads this file by path
so that both deployers share one definition of the parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CONTRACTS", "ROLE_NAMES", "SuiteParams"]

DAY = 86_400

#: Deployable contracts, in deployment order, with the source file that defines each.
CONTRACTS: dict[str, str] = {
    "CommonsToken": "contracts/token/CommonsToken.sol",
    "OpenDPGTimelock": "contracts/governance/OpenDPGTimelock.sol",
    "OpenDPGGovernor": "contracts/governance/OpenDPGGovernor.sol",
    "NodeRegistry": "contracts/nodes/NodeRegistry.sol",
    "JobMarket": "contracts/jobs/JobMarket.sol",
    "DPGRegistry": "contracts/dpg/DPGRegistry.sol",
    "ReviewRewards": "contracts/dpg/ReviewRewards.sol",
}

#: AccessControl roles, by name; ids are keccak256 of the name (DEFAULT_ADMIN_ROLE is zero).
ROLE_NAMES = ("GOVERNANCE_ROLE", "STAKE_MANAGER_ROLE", "CHECKER_ROLE")


@dataclass
class SuiteParams:
    """Deployment parameters; the defaults are the development settings (amounts in token wei)."""

    token_supply: int = 1_000_000_000 * 10**18
    min_stake: int = 100 * 10**18
    unbonding_period: int = 7 * DAY
    protocol_fee_bps: int = 100
    #: The data holder's share of each provider reward in jobs that use a certified dataset (basis points).
    data_share_bps: int = 1000
    timelock_delay: int = 2 * DAY
    voting_delay_blocks: int = 1
    voting_period_blocks: int = 50
    proposal_threshold: int = 0
    quorum_percent: int = 4
    dpg_voting_period: int = 3 * DAY
    dpg_quorum_bps: int = 400
    dpg_approval_bps: int = 5000
    certification_period: int = 365 * DAY
    standard_version: int = 1
    #: CID of the DPG Standard v1 document shipped in opendpg/dpg/data/standard-v1.json (a test keeps them equal)
    standard_cid: str = "bafkreigx3exkergnhnf6ajkpnpgfm5gjfpjrefp4a5vmgn76zjmxtdb65i"
    committee: list[str] = field(default_factory=list)  # empty: the deployer alone
    committee_threshold: int = 1
    checkers: list[str] = field(default_factory=list)
    #: Shared by the voters of each review, in proportion to their weight (token wei).
    review_voter_pool: int = 100 * 10**18
    #: Paid to each committee member per decision (token wei).
    review_committee_reward: int = 50 * 10**18
    #: Moved from the deployer (the foundation's allocation) into the reviewer pool at deployment.
    review_pool_funding: int = 1_000_000 * 10**18
    #: Holder of GOVERNANCE_ROLE: None means the timelock (production). Tests may name an account.
    governance: str | None = None
