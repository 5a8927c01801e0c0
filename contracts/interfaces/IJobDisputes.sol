// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IJobDisputes
/// @notice Disputes against a coordinator's exclusion of an update: the remedy for "the coordinator alone decides
///         who is paid".
/// @dev A provider whose update of a committed round was submitted on time (its hash is bound to it on-chain) but
///      left out of the round's used set opens a dispute with a `bond` in the stake token, within the job's
///      dispute window (`IJobMarket.Limits.disputeWindow` after the job's last commit). The job cannot finalize,
///      and an aborted job cannot refund its poster, until the dispute is settled. Members of the DPG expert
///      committee who are not party to the job (neither its provider, coordinator nor poster) decide: the first
///      side to reach the committee threshold within `decisionPeriod` wins. They judge the update the way the
///      coordinator's gate must (`opendpg dispute check`: it matches its hash, names its provider, has the
///      model's shapes, finite values).
///      - Upheld: the round is credited to the provider from the escrow as if its update had been used, the
///        provider gets its bond back and up to `penalty` of the coordinator's job stake (while the job runs).
///      - Denied: the bond goes to the coordinator.
///      - Not decided in time: anyone lapses it; the bond goes back, nothing is credited.
///      So no poster, coordinator or both together can keep a provider's pay for an on-time valid update: the pay
///      comes out of the poster's escrow anyway, and the coordinator loses the penalty on top.
///      Payouts of bonds are pull payments (`withdraw`).
interface IJobDisputes {
    enum DisputeState {
        None,
        Open,
        Upheld,
        Denied,
        Lapsed
    }

    /// @notice One dispute. `decideBy` is the last second a committee vote counts.
    struct Dispute {
        uint256 jobId;
        address provider;
        uint16 round;
        DisputeState state;
        uint8 upholdVotes;
        uint8 denyVotes;
        address coordinator;
        uint64 decideBy;
        address poster;
        uint96 bond;
        bytes32 updateHash;
    }

    // ---------------------------------------------------------------- errors
    /// @notice `account` did not submit `updateHash` in `round` of `jobId`: only an update's submitter may dispute it.
    error JobDisputesNotSubmitter(uint256 jobId, uint16 round, bytes32 updateHash, address account);
    /// @notice `round` of `jobId` is not committed yet: there is no exclusion to dispute.
    error JobDisputesRoundNotCommitted(uint256 jobId, uint16 round);
    /// @notice The update was used (and paid) in `round`: nothing to dispute.
    error JobDisputesUpdateUsed(uint256 jobId, uint16 round, address provider);
    /// @notice `provider`'s update of `round` is already disputed (dispute `disputeId`).
    error JobDisputesAlreadyDisputed(uint256 jobId, uint16 round, address provider, uint256 disputeId);
    error JobDisputesUnknownDispute(uint256 disputeId);
    /// @notice The dispute is `state`, not open.
    error JobDisputesNotOpen(uint256 disputeId, DisputeState state);
    /// @notice `account` is not a member of the DPG expert committee.
    error JobDisputesNotCommitteeMember(address account);
    /// @notice `account` is the provider, coordinator or poster of the disputed job: it cannot decide.
    error JobDisputesPartyCannotDecide(uint256 disputeId, address account);
    error JobDisputesAlreadyVoted(uint256 disputeId, address member);
    /// @notice Votes counted until `decideBy`; it is `nowTime`.
    error JobDisputesDecisionClosed(uint256 disputeId, uint256 decideBy, uint256 nowTime);
    /// @notice The committee may still decide until `decideBy`; it is `nowTime`.
    error JobDisputesDecisionOpen(uint256 disputeId, uint256 decideBy, uint256 nowTime);
    error JobDisputesNothingToWithdraw(address account);
    /// @notice A parameter is invalid; `field` names it.
    error JobDisputesInvalidParam(string field);
    error JobDisputesZeroAddress(string field);

    // ---------------------------------------------------------------- events
    event DisputeOpened(
        uint256 indexed disputeId,
        uint256 indexed jobId,
        uint16 round,
        address indexed provider,
        bytes32 updateHash,
        uint256 bond,
        uint64 decideBy,
        string evidenceCid
    );
    event DisputeVoted(uint256 indexed disputeId, address indexed member, bool uphold, string reasonCid);
    /// @notice The dispute ended `state` (Upheld, Denied or Lapsed); `bondTo` is owed the bond.
    event DisputeResolved(uint256 indexed disputeId, DisputeState state, address bondTo, uint256 bond);
    event Withdrawn(address indexed account, uint256 amount);
    event BondSet(uint256 oldBond, uint256 newBond);
    event PenaltySet(uint256 oldPenalty, uint256 newPenalty);
    event DecisionPeriodSet(uint64 oldPeriod, uint64 newPeriod);

    // ---------------------------------------------------------------- providers
    /// @notice Dispute the exclusion of the caller's update `updateHash` from committed `round` of `jobId`,
    ///         pulling `bond()` of the stake token (needs approval). `evidenceCid` points to what the provider wants
    ///         the committee to see (its update is on-chain already). Returns the dispute id.
    function openDispute(uint256 jobId, uint16 round, bytes32 updateHash, string calldata evidenceCid)
        external
        returns (uint256 disputeId);

    /// @notice Pay the caller the bonds it is owed.
    function withdraw() external;

    // ---------------------------------------------------------------- committee
    /// @notice Vote on an open dispute as a committee member not party to the job; the vote that reaches the
    ///         committee threshold settles it.
    function vote(uint256 disputeId, bool uphold, string calldata reasonCid) external;

    /// @notice Close a dispute the committee did not decide by `decideBy`: bond back, nothing credited.
    function lapse(uint256 disputeId) external;

    // ---------------------------------------------------------------- governance
    function setBond(uint96 newBond) external;

    /// @notice The most of the coordinator's job stake an upheld dispute pays the provider.
    function setPenalty(uint96 newPenalty) external;

    /// @notice Seconds the committee has to decide a dispute.
    function setDecisionPeriod(uint64 newPeriod) external;

    // ---------------------------------------------------------------- views
    function getDispute(uint256 disputeId) external view returns (Dispute memory);

    /// @notice The dispute about `provider`'s update of `round` (0: none).
    function disputeOf(uint256 jobId, uint16 round, address provider) external view returns (uint256);

    function disputeCount() external view returns (uint256);

    function hasVoted(uint256 disputeId, address member) external view returns (bool);

    /// @notice Bonds `account` can withdraw.
    function owed(address account) external view returns (uint256);

    function bond() external view returns (uint96);

    function penalty() external view returns (uint96);

    function decisionPeriod() external view returns (uint64);

    function market() external view returns (address);

    function committee() external view returns (address);

    function bondToken() external view returns (address);
}
