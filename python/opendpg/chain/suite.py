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
    "JobDisputes": "contracts/jobs/JobDisputes.sol",
    "DataLedger": "contracts/data/DataLedger.sol",
}

#: AccessControl roles, by name; ids are keccak256 of the name (DEFAULT_ADMIN_ROLE is zero).
ROLE_NAMES = ("GOVERNANCE_ROLE", "STAKE_MANAGER_ROLE", "CHECKER_ROLE", "DISPUTES_ROLE", "DATA_SPENDER_ROLE")


@dataclass
class SuiteParams:
    """Deployment parameters; the defaults are the development settings (amounts in token wei)."""

    token_supply: int = 1_000_000_000 * 10**18
    min_stake: int = 100 * 10**18
    unbonding_period: int = 7 * DAY
    protocol_fee_bps: int = 100
    #: The data holder's share of each provider reward in jobs that use a certified dataset (basis points).
    data_share_bps: int = 1000
    #: JobMarket limits on new jobs: the join window (posting to join deadline) and the round timeout, seconds
    min_join_window: int = 60
    max_join_window: int = 30 * DAY
    min_round_timeout: int = 30
    max_round_timeout: int = 7 * DAY
    #: What a job (paid in the commons token) must pay per round and lock per provider to count for reputation
    min_reputation_reward: int = 10**18
    min_reputation_stake: int = 10 * 10**18
    #: Seconds after a job's last commit during which its excluded updates can be disputed; the job finalizes (its
    #: stakes unlock, its poster is refunded) only after it. Short for local chains; ``opendpg deploy`` takes days.
    dispute_window: int = 20
    #: What a provider bonds to open a dispute, and the most of the coordinator's job stake an upheld one pays it
    dispute_bond: int = 50 * 10**18
    dispute_penalty: int = 50 * 10**18
    #: How long the DPG expert committee has to decide a dispute before it lapses (bond back, nothing credited)
    dispute_decision_period: int = 3 * DAY
    timelock_delay: int = 2 * DAY
    #: The Governor counts in seconds (the token's clock): a day before voting opens, a week of voting
    voting_delay: int = DAY
    voting_period: int = 7 * DAY
    #: Votes needed to make a proposal (token wei): 0.01 % of the supply
    proposal_threshold: int = 100_000 * 10**18
    #: Quorum, in percent of the votes delegated at the snapshot (the votes that can be cast)
    quorum_percent: int = 10
    dpg_voting_period: int = 3 * DAY
    #: Certification votes' quorum, in basis points of the votes delegated at the snapshot
    dpg_quorum_bps: int = 1000
    dpg_approval_bps: int = 5000
    certification_period: int = 365 * DAY
    #: How long a review may wait for the checker or the committee before its owner may withdraw it
    review_timeout: int = 30 * DAY
    #: What the owner pays per review (token wei); its voters share it when the vote reaches quorum
    review_fee: int = 100 * 10**18
    standard_version: int = 1
    #: CID of the DPG Standard v1 document shipped in opendpg/dpg/data/standard-v1.json (a test keeps them equal)
    standard_cid: str = "bafkreigx3exkergnhnf6ajkpnpgfm5gjfpjrefp4a5vmgn76zjmxtdb65i"
    committee: list[str] = field(default_factory=list)  # empty: the deployer alone
    committee_threshold: int = 1
    checkers: list[str] = field(default_factory=list)
    #: Paid to each committee member per decision (token wei).
    review_committee_reward: int = 50 * 10**18
    #: Moved from the deployer (the foundation's allocation) into the reviewer pool at deployment.
    review_pool_funding: int = 1_000_000 * 10**18
    #: Holder of GOVERNANCE_ROLE: None means the timelock (production). Tests may name an account.
    governance: str | None = None

    def market_limits(self) -> tuple[int, int, int, int, int, int, int]:
        """``IJobMarket.Limits`` as the constructor and ``setLimits`` take it."""
        return (self.min_join_window, self.max_join_window, self.min_round_timeout, self.max_round_timeout,
                self.min_reputation_reward, self.min_reputation_stake, self.dispute_window)
