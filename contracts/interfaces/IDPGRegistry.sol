// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

/// @title IDPGRegistry
/// @notice The catalog of digital-public-good assets and their certification against the DPG Standard.
/// @dev Certification runs in three stages per review: (1) an automated-check attestation by a
///      `CHECKER_ROLE` holder against the current standard version, (2) a token-weighted community vote
///      (snapshot at the attestation, `votingPeriod` seconds, quorum and approval in basis points),
///      (3) confirmation by `committeeThreshold` of the expert committee's members. Certification lasts
///      `certificationPeriod` seconds, can be renewed by a new review and revoked by governance.
///      The standard (version + CID of its indicator document) changes only through governance.
///      Each review costs the owner `reviewFee`, sent to the fee recipient (the reviewer rewards, which pay it
///      to the voters of a review that reached quorum). Quorum is `quorumBps` of the votes delegated at the
///      snapshot (the votes that can be cast); a tie fails. A renewal keeps the old certification in force while
///      it runs; a renewal that fails (check, vote or committee) ends it. A review stuck waiting for the
///      checker or the committee for `reviewTimeout` seconds can be withdrawn by its owner.
interface IDPGRegistry {
    enum AssetKind {
        Dataset,
        Model,
        Software,
        ComputeCommitment
    }

    enum Stage {
        None,
        Registered,
        AwaitingCheck,
        CheckFailed,
        Voting,
        VoteFailed,
        CommitteeReview,
        Rejected,
        Certified,
        Revoked
    }

    struct Asset {
        address owner;
        AssetKind kind;
        Stage stage;
        uint32 review; // number of the current (or last) review, from 1
        uint32 standardVersion; // standard version of the current (or last) review
        uint64 certifiedUntil; // 0 if never certified or certification cleared
        uint64 stageSince; // when the asset entered its current stage
        string metadataCid;
        string licence; // SPDX identifier
    }

    struct Review {
        uint48 snapshot;
        uint64 voteEnd;
        uint16 approvals;
        uint16 rejections;
        uint96 fee; // what the owner paid for this review
        uint128 forVotes;
        uint128 againstVotes;
        uint128 quorum; // votes needed, fixed when the vote opens
        string reportCid;
    }

    // ---------------------------------------------------------------- errors
    error DPGRegistryUnknownAsset(uint256 assetId);
    error DPGRegistryNotOwner(uint256 assetId, address caller);
    /// @notice The asset is at stage `current`, which does not allow this action.
    error DPGRegistryWrongStage(uint256 assetId, Stage current);
    /// @notice Field `field` is invalid.
    error DPGRegistryInvalidInput(string field);
    /// @notice The attestation was made against standard version `given`; the current one is `current`.
    error DPGRegistryStaleStandard(uint32 given, uint32 current);
    /// @notice The new standard version `given` must be greater than the current `current`.
    error DPGRegistryStandardVersionNotIncreasing(uint32 given, uint32 current);
    /// @notice Voting ends at `voteEnd`; it is `nowTime`.
    error DPGRegistryVotingClosed(uint256 assetId, uint256 voteEnd, uint256 nowTime);
    error DPGRegistryVotingStillOpen(uint256 assetId, uint256 voteEnd, uint256 nowTime);
    error DPGRegistryAlreadyVoted(uint256 assetId, address voter);
    /// @notice `voter` had no voting power at the review's snapshot `snapshot`.
    error DPGRegistryNoVotingPower(address voter, uint256 snapshot);
    error DPGRegistryNotCommitteeMember(address account);
    error DPGRegistryAlreadyCommitteeMember(address account);
    error DPGRegistryAlreadyDecided(uint256 assetId, address member);
    /// @notice A threshold of `threshold` is impossible with `members` committee members.
    error DPGRegistryInvalidThreshold(uint256 threshold, uint256 members);
    /// @notice A basis-point value `value` above 10000, or zero where that makes no sense.
    error DPGRegistryInvalidBps(uint256 value);
    /// @notice The review waits at its stage until `readyAt` before its owner may withdraw it; it is `nowTime`.
    error DPGRegistryReviewNotStuck(uint256 assetId, uint256 readyAt, uint256 nowTime);

    // ---------------------------------------------------------------- events
    event AssetRegistered(
        uint256 indexed assetId, address indexed owner, AssetKind kind, string metadataCid, string licence
    );
    event AssetUpdated(uint256 indexed assetId, string metadataCid, string licence);
    event CertificationRequested(uint256 indexed assetId, uint32 indexed review, uint32 standardVersion);
    event CheckAttested(
        uint256 indexed assetId, uint32 indexed review, address indexed checker, bool passed, string reportCid
    );
    event VotingOpened(uint256 indexed assetId, uint32 indexed review, uint48 snapshot, uint64 voteEnd);
    event CertificationVoteCast(
        uint256 indexed assetId, uint32 indexed review, address indexed voter, bool support, uint256 weight
    );
    event VoteClosed(
        uint256 indexed assetId, uint32 indexed review, uint256 forVotes, uint256 againstVotes, uint256 quorum, bool passed
    );
    event CommitteeDecision(
        uint256 indexed assetId, uint32 indexed review, address indexed member, bool approve, string reasonCid
    );
    event CertificationGranted(uint256 indexed assetId, uint32 indexed review, uint32 standardVersion, uint64 until);
    event CertificationRejected(uint256 indexed assetId, uint32 indexed review);
    event CertificationRevoked(uint256 indexed assetId, string reasonCid);
    event StandardSet(uint32 oldVersion, uint32 newVersion, string cid);
    event CommitteeMemberAdded(address indexed member, uint256 size);
    event CommitteeMemberRemoved(address indexed member, uint256 size);
    event CommitteeThresholdSet(uint256 oldThreshold, uint256 newThreshold);
    event VotingPeriodSet(uint64 oldPeriod, uint64 newPeriod);
    event QuorumBpsSet(uint16 oldQuorumBps, uint16 newQuorumBps);
    event ApprovalBpsSet(uint16 oldApprovalBps, uint16 newApprovalBps);
    event CertificationPeriodSet(uint64 oldPeriod, uint64 newPeriod);
    event ReviewTimeoutSet(uint64 oldTimeout, uint64 newTimeout);
    event ReviewFeeSet(uint96 oldFee, uint96 newFee);
    event FeeRecipientSet(address oldRecipient, address newRecipient);
    /// @notice The owner withdrew review `review`, stuck at stage `stuckAt`; the asset is back at `stage`.
    event ReviewWithdrawn(uint256 indexed assetId, uint32 indexed review, Stage stuckAt, Stage stage);

    // ---------------------------------------------------------------- asset owners
    function registerAsset(AssetKind kind, string calldata metadataCid, string calldata licence)
        external
        returns (uint256 assetId);

    /// @notice Replace metadata and licence; clears any certification (the new content must be reviewed).
    function updateAsset(uint256 assetId, string calldata metadataCid, string calldata licence) external;

    /// @notice Start a review against the current standard (also how a certification is renewed), paying
    ///         `reviewFee` (pulled with `transferFrom`).
    function requestCertification(uint256 assetId) external;

    /// @notice Withdraw a review that has waited `reviewTimeout` for the checker (AwaitingCheck) or the committee
    ///         (CommitteeReview): the asset goes back to Certified if its certification still runs, else to
    ///         Registered. The fee is not returned.
    function withdrawReview(uint256 assetId) external;

    // ---------------------------------------------------------------- stage 1: automated check
    /// @notice Attest the automated check of the asset's current review against `standardVersion`.
    function attestCheck(uint256 assetId, uint32 standardVersion, bool passed, string calldata reportCid) external;

    // ---------------------------------------------------------------- stage 2: community vote
    function castVote(uint256 assetId, bool support) external;

    /// @notice Tally the vote after its end: to committee review if quorum and approval are met and more
    ///         weight voted for than against (a tie fails).
    function closeVote(uint256 assetId) external;

    // ---------------------------------------------------------------- stage 3: expert committee
    function committeeDecide(uint256 assetId, bool approve, string calldata reasonCid) external;

    // ---------------------------------------------------------------- governance
    function revoke(uint256 assetId, string calldata reasonCid) external;

    function setStandard(uint32 version, string calldata cid) external;

    function addCommitteeMember(address member) external;

    function removeCommitteeMember(address member) external;

    function setCommitteeThreshold(uint256 threshold) external;

    function setVotingPeriod(uint64 period) external;

    function setQuorumBps(uint16 quorumBps) external;

    function setApprovalBps(uint16 approvalBps) external;

    function setCertificationPeriod(uint64 period) external;

    function setReviewTimeout(uint64 timeout) external;

    function setReviewFee(uint96 fee) external;

    /// @notice Where review fees go (the reviewer rewards contract).
    function setFeeRecipient(address recipient) external;

    // ---------------------------------------------------------------- views
    function getAsset(uint256 assetId) external view returns (Asset memory);

    function getReview(uint256 assetId, uint32 review) external view returns (Review memory);

    function isCertified(uint256 assetId) external view returns (bool);

    function assetCount() external view returns (uint256);

    function standard() external view returns (uint32 version, string memory cid);

    function standardCid(uint32 version) external view returns (string memory);

    function isCommitteeMember(address account) external view returns (bool);

    function committeeSize() external view returns (uint256);

    function committeeThreshold() external view returns (uint256);

    function votingPeriod() external view returns (uint64);

    function quorumBps() external view returns (uint16);

    function approvalBps() external view returns (uint16);

    function certificationPeriod() external view returns (uint64);

    function reviewTimeout() external view returns (uint64);

    function reviewFee() external view returns (uint96);

    function feeRecipient() external view returns (address);

    function hasVoted(uint256 assetId, uint32 review, address voter) external view returns (bool);

    /// @notice Whether committee member `member` decided `review` of `assetId`.
    function hasDecided(uint256 assetId, uint32 review, address member) external view returns (bool);

    /// @notice The votes token (ERC20Votes) whose past balances weigh community votes.
    function votesToken() external view returns (IVotes);

    /// @notice The compute-commitment asset `owner` registered last (0: none).
    function computeCommitmentOf(address owner) external view returns (uint256 assetId);
}
