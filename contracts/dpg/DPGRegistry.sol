// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {IERC6372} from "@openzeppelin/contracts/interfaces/IERC6372.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ICommonsToken} from "../interfaces/ICommonsToken.sol";
import {IDPGRegistry} from "../interfaces/IDPGRegistry.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title DPGRegistry
/// @notice See {IDPGRegistry}. `GOVERNANCE_ROLE` (the timelock) owns the standard, the committee and
///         every parameter; `CHECKER_ROLE` holders attest automated checks.
contract DPGRegistry is IDPGRegistry, AccessControl {
    using SafeCast for uint256;
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;

    /// @inheritdoc IDPGRegistry
    IVotes public immutable votesToken;

    uint256 private _assetCount;
    mapping(uint256 assetId => Asset) private _assets;
    mapping(uint256 assetId => mapping(uint32 review => Review)) private _reviews;
    mapping(uint256 assetId => mapping(uint32 review => mapping(address => bool))) private _voted;
    mapping(uint256 assetId => mapping(uint32 review => mapping(address => bool))) private _decided;

    mapping(address owner => uint256 assetId) private _computeCommitment;

    uint32 private _standardVersion;
    mapping(uint32 version => string) private _standardCids;

    mapping(address => bool) private _committee;
    uint256 private _committeeSize;
    uint256 private _committeeThreshold;

    uint64 private _votingPeriod;
    uint16 private _quorumBps;
    uint16 private _approvalBps;
    uint64 private _certificationPeriod;
    uint64 private _reviewTimeout;
    uint96 private _reviewFee;
    address private _feeRecipient;

    struct Settings {
        uint64 votingPeriod;
        uint16 quorumBps;
        uint16 approvalBps;
        uint64 certificationPeriod;
        uint64 reviewTimeout;
        uint32 standardVersion;
        string standardCid;
        address[] committee;
        uint256 committeeThreshold;
    }

    constructor(IVotes votesToken_, address admin, Settings memory settings) {
        if (address(votesToken_) == address(0) || admin == address(0)) revert DPGRegistryInvalidInput("address");
        votesToken = votesToken_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNANCE_ROLE, admin);
        _setVotingPeriod(settings.votingPeriod);
        _setQuorumBps(settings.quorumBps);
        _setApprovalBps(settings.approvalBps);
        _setCertificationPeriod(settings.certificationPeriod);
        _setReviewTimeout(settings.reviewTimeout);
        _setStandard(settings.standardVersion, settings.standardCid);
        for (uint256 i = 0; i < settings.committee.length; ++i) {
            _addCommitteeMember(settings.committee[i]);
        }
        _setCommitteeThreshold(settings.committeeThreshold);
    }

    // ------------------------------------------------------------------ asset owners

    /// @inheritdoc IDPGRegistry
    function registerAsset(AssetKind kind, string calldata metadataCid, string calldata licence)
        external
        returns (uint256 assetId)
    {
        _validateAsset(metadataCid, licence);
        assetId = ++_assetCount;
        Asset storage a = _assets[assetId];
        a.owner = msg.sender;
        a.kind = kind;
        _enter(a, Stage.Registered);
        a.metadataCid = metadataCid;
        a.licence = licence;
        if (kind == AssetKind.ComputeCommitment) _computeCommitment[msg.sender] = assetId;
        emit AssetRegistered(assetId, msg.sender, kind, metadataCid, licence);
    }

    /// @inheritdoc IDPGRegistry
    function updateAsset(uint256 assetId, string calldata metadataCid, string calldata licence) external {
        Asset storage a = _ownedAsset(assetId);
        Stage s = a.stage;
        if (s == Stage.AwaitingCheck || s == Stage.Voting || s == Stage.CommitteeReview || s == Stage.Revoked) {
            revert DPGRegistryWrongStage(assetId, s);
        }
        _validateAsset(metadataCid, licence);
        a.metadataCid = metadataCid;
        a.licence = licence;
        _enter(a, Stage.Registered);
        a.certifiedUntil = 0;
        emit AssetUpdated(assetId, metadataCid, licence);
    }

    /// @inheritdoc IDPGRegistry
    function requestCertification(uint256 assetId) external {
        Asset storage a = _ownedAsset(assetId);
        Stage s = a.stage;
        if (s == Stage.AwaitingCheck || s == Stage.Voting || s == Stage.CommitteeReview || s == Stage.Revoked) {
            revert DPGRegistryWrongStage(assetId, s);
        }
        uint32 review = a.review + 1;
        a.review = review;
        _enter(a, Stage.AwaitingCheck);
        a.standardVersion = _standardVersion;
        uint96 fee = _reviewFee;
        _reviews[assetId][review].fee = fee;
        emit CertificationRequested(assetId, review, _standardVersion);
        if (fee != 0) IERC20(address(votesToken)).safeTransferFrom(msg.sender, _feeRecipient, fee);
    }

    /// @inheritdoc IDPGRegistry
    function withdrawReview(uint256 assetId) external {
        Asset storage a = _ownedAsset(assetId);
        Stage stuck = a.stage;
        if (stuck != Stage.AwaitingCheck && stuck != Stage.CommitteeReview) revert DPGRegistryWrongStage(assetId, stuck);
        uint256 readyAt = uint256(a.stageSince) + _reviewTimeout;
        if (block.timestamp <= readyAt) revert DPGRegistryReviewNotStuck(assetId, readyAt, block.timestamp);
        Stage back = a.certifiedUntil > block.timestamp ? Stage.Certified : Stage.Registered;
        _enter(a, back);
        emit ReviewWithdrawn(assetId, a.review, stuck, back);
    }

    // ------------------------------------------------------------------ stage 1

    /// @inheritdoc IDPGRegistry
    function attestCheck(uint256 assetId, uint32 standardVersion, bool passed, string calldata reportCid)
        external
        onlyRole(Roles.CHECKER_ROLE)
    {
        Asset storage a = _assetAt(assetId, Stage.AwaitingCheck);
        if (standardVersion != _standardVersion) revert DPGRegistryStaleStandard(standardVersion, _standardVersion);
        if (bytes(reportCid).length == 0 || bytes(reportCid).length > 128) revert DPGRegistryInvalidInput("reportCid");
        uint32 review = a.review;
        Review storage r = _reviews[assetId][review];
        r.reportCid = reportCid;
        a.standardVersion = standardVersion;
        emit CheckAttested(assetId, review, msg.sender, passed, reportCid);
        if (!passed) {
            _fail(a, Stage.CheckFailed);
            return;
        }
        uint48 snapshot = IERC6372(address(votesToken)).clock() - 1;
        uint64 voteEnd = (block.timestamp + _votingPeriod).toUint64();
        r.snapshot = snapshot;
        r.voteEnd = voteEnd;
        r.quorum = ((ICommonsToken(address(votesToken)).getPastTotalDelegated(snapshot) * _quorumBps) / BPS).toUint128();
        _enter(a, Stage.Voting);
        emit VotingOpened(assetId, review, snapshot, voteEnd);
    }

    // ------------------------------------------------------------------ stage 2

    /// @inheritdoc IDPGRegistry
    function castVote(uint256 assetId, bool support) external {
        Asset storage a = _assetAt(assetId, Stage.Voting);
        uint32 review = a.review;
        Review storage r = _reviews[assetId][review];
        if (block.timestamp > r.voteEnd) revert DPGRegistryVotingClosed(assetId, r.voteEnd, block.timestamp);
        if (_voted[assetId][review][msg.sender]) revert DPGRegistryAlreadyVoted(assetId, msg.sender);
        uint256 weight = votesToken.getPastVotes(msg.sender, r.snapshot);
        if (weight == 0) revert DPGRegistryNoVotingPower(msg.sender, r.snapshot);
        _voted[assetId][review][msg.sender] = true;
        if (support) r.forVotes += weight.toUint128();
        else r.againstVotes += weight.toUint128();
        emit CertificationVoteCast(assetId, review, msg.sender, support, weight);
    }

    /// @inheritdoc IDPGRegistry
    function closeVote(uint256 assetId) external {
        Asset storage a = _assetAt(assetId, Stage.Voting);
        uint32 review = a.review;
        Review storage r = _reviews[assetId][review];
        if (block.timestamp <= r.voteEnd) revert DPGRegistryVotingStillOpen(assetId, r.voteEnd, block.timestamp);
        uint256 forVotes = r.forVotes;
        uint256 against = r.againstVotes;
        uint256 total = forVotes + against;
        uint256 quorum = r.quorum;
        // a tie fails: certification needs more weight for than against, whatever the approval threshold
        bool passed = total >= quorum && forVotes > against && forVotes * BPS >= total * _approvalBps;
        if (passed) _enter(a, Stage.CommitteeReview);
        else _fail(a, Stage.VoteFailed);
        emit VoteClosed(assetId, review, forVotes, against, quorum, passed);
    }

    // ------------------------------------------------------------------ stage 3

    /// @inheritdoc IDPGRegistry
    function committeeDecide(uint256 assetId, bool approve, string calldata reasonCid) external {
        if (!_committee[msg.sender]) revert DPGRegistryNotCommitteeMember(msg.sender);
        Asset storage a = _assetAt(assetId, Stage.CommitteeReview);
        uint32 review = a.review;
        if (_decided[assetId][review][msg.sender]) revert DPGRegistryAlreadyDecided(assetId, msg.sender);
        if (!approve && bytes(reasonCid).length == 0) revert DPGRegistryInvalidInput("reasonCid");
        _decided[assetId][review][msg.sender] = true;
        Review storage r = _reviews[assetId][review];
        emit CommitteeDecision(assetId, review, msg.sender, approve, reasonCid);
        if (approve) {
            uint16 approvals = r.approvals + 1;
            r.approvals = approvals;
            if (approvals >= _committeeThreshold) {
                uint64 until = (block.timestamp + _certificationPeriod).toUint64();
                _enter(a, Stage.Certified);
                a.certifiedUntil = until;
                emit CertificationGranted(assetId, review, a.standardVersion, until);
            }
        } else {
            uint16 rejections = r.rejections + 1;
            r.rejections = rejections;
            // Rejected once the threshold can no longer be reached by the remaining members.
            if (rejections > _committeeSize - _committeeThreshold) {
                _fail(a, Stage.Rejected);
                emit CertificationRejected(assetId, review);
            }
        }
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IDPGRegistry
    function revoke(uint256 assetId, string calldata reasonCid) external onlyRole(Roles.GOVERNANCE_ROLE) {
        Asset storage a = _existingAsset(assetId);
        if (a.stage == Stage.Revoked) revert DPGRegistryWrongStage(assetId, a.stage);
        if (bytes(reasonCid).length == 0) revert DPGRegistryInvalidInput("reasonCid");
        _fail(a, Stage.Revoked);
        emit CertificationRevoked(assetId, reasonCid);
    }

    /// @inheritdoc IDPGRegistry
    function setStandard(uint32 version, string calldata cid) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setStandard(version, cid);
    }

    /// @inheritdoc IDPGRegistry
    function addCommitteeMember(address member) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _addCommitteeMember(member);
    }

    /// @inheritdoc IDPGRegistry
    function removeCommitteeMember(address member) external onlyRole(Roles.GOVERNANCE_ROLE) {
        if (!_committee[member]) revert DPGRegistryNotCommitteeMember(member);
        if (_committeeSize - 1 < _committeeThreshold) {
            revert DPGRegistryInvalidThreshold(_committeeThreshold, _committeeSize - 1);
        }
        _committee[member] = false;
        _committeeSize -= 1;
        emit CommitteeMemberRemoved(member, _committeeSize);
    }

    /// @inheritdoc IDPGRegistry
    function setCommitteeThreshold(uint256 threshold) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setCommitteeThreshold(threshold);
    }

    /// @inheritdoc IDPGRegistry
    function setVotingPeriod(uint64 period) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setVotingPeriod(period);
    }

    /// @inheritdoc IDPGRegistry
    function setQuorumBps(uint16 quorumBps_) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setQuorumBps(quorumBps_);
    }

    /// @inheritdoc IDPGRegistry
    function setApprovalBps(uint16 approvalBps_) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setApprovalBps(approvalBps_);
    }

    /// @inheritdoc IDPGRegistry
    function setCertificationPeriod(uint64 period) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setCertificationPeriod(period);
    }

    /// @inheritdoc IDPGRegistry
    function setReviewTimeout(uint64 timeout) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setReviewTimeout(timeout);
    }

    /// @inheritdoc IDPGRegistry
    function setReviewFee(uint96 fee) external onlyRole(Roles.GOVERNANCE_ROLE) {
        if (fee != 0 && _feeRecipient == address(0)) revert DPGRegistryInvalidInput("feeRecipient");
        emit ReviewFeeSet(_reviewFee, fee);
        _reviewFee = fee;
    }

    /// @inheritdoc IDPGRegistry
    function setFeeRecipient(address recipient) external onlyRole(Roles.GOVERNANCE_ROLE) {
        if (recipient == address(0)) revert DPGRegistryInvalidInput("feeRecipient");
        emit FeeRecipientSet(_feeRecipient, recipient);
        _feeRecipient = recipient;
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IDPGRegistry
    function getAsset(uint256 assetId) external view returns (Asset memory) {
        return _assets[assetId];
    }

    /// @inheritdoc IDPGRegistry
    function getReview(uint256 assetId, uint32 review) external view returns (Review memory) {
        return _reviews[assetId][review];
    }

    /// @inheritdoc IDPGRegistry
    function isCertified(uint256 assetId) external view returns (bool) {
        Asset storage a = _assets[assetId];
        return a.stage != Stage.Revoked && a.certifiedUntil > block.timestamp;
    }

    /// @inheritdoc IDPGRegistry
    function assetCount() external view returns (uint256) {
        return _assetCount;
    }

    /// @inheritdoc IDPGRegistry
    function standard() external view returns (uint32 version, string memory cid) {
        return (_standardVersion, _standardCids[_standardVersion]);
    }

    /// @inheritdoc IDPGRegistry
    function standardCid(uint32 version) external view returns (string memory) {
        return _standardCids[version];
    }

    /// @inheritdoc IDPGRegistry
    function isCommitteeMember(address account) external view returns (bool) {
        return _committee[account];
    }

    /// @inheritdoc IDPGRegistry
    function committeeSize() external view returns (uint256) {
        return _committeeSize;
    }

    /// @inheritdoc IDPGRegistry
    function committeeThreshold() external view returns (uint256) {
        return _committeeThreshold;
    }

    /// @inheritdoc IDPGRegistry
    function votingPeriod() external view returns (uint64) {
        return _votingPeriod;
    }

    /// @inheritdoc IDPGRegistry
    function quorumBps() external view returns (uint16) {
        return _quorumBps;
    }

    /// @inheritdoc IDPGRegistry
    function approvalBps() external view returns (uint16) {
        return _approvalBps;
    }

    /// @inheritdoc IDPGRegistry
    function certificationPeriod() external view returns (uint64) {
        return _certificationPeriod;
    }

    /// @inheritdoc IDPGRegistry
    function reviewTimeout() external view returns (uint64) {
        return _reviewTimeout;
    }

    /// @inheritdoc IDPGRegistry
    function reviewFee() external view returns (uint96) {
        return _reviewFee;
    }

    /// @inheritdoc IDPGRegistry
    function feeRecipient() external view returns (address) {
        return _feeRecipient;
    }

    /// @inheritdoc IDPGRegistry
    function hasVoted(uint256 assetId, uint32 review, address voter) external view returns (bool) {
        return _voted[assetId][review][voter];
    }

    /// @inheritdoc IDPGRegistry
    function computeCommitmentOf(address owner) external view returns (uint256) {
        return _computeCommitment[owner];
    }

    /// @inheritdoc IDPGRegistry
    function hasDecided(uint256 assetId, uint32 review, address member) external view returns (bool) {
        return _decided[assetId][review][member];
    }

    // ------------------------------------------------------------------ internal

    function _enter(Asset storage a, Stage stage) private {
        a.stage = stage;
        a.stageSince = uint64(block.timestamp);
    }

    /// @dev A failed review (or a revocation) ends the certification, including one a renewal was meant to extend.
    function _fail(Asset storage a, Stage stage) private {
        _enter(a, stage);
        a.certifiedUntil = 0;
    }

    function _existingAsset(uint256 assetId) private view returns (Asset storage a) {
        a = _assets[assetId];
        if (a.stage == Stage.None) revert DPGRegistryUnknownAsset(assetId);
    }

    function _ownedAsset(uint256 assetId) private view returns (Asset storage a) {
        a = _existingAsset(assetId);
        if (a.owner != msg.sender) revert DPGRegistryNotOwner(assetId, msg.sender);
    }

    function _assetAt(uint256 assetId, Stage expected) private view returns (Asset storage a) {
        a = _existingAsset(assetId);
        if (a.stage != expected) revert DPGRegistryWrongStage(assetId, a.stage);
    }

    function _validateAsset(string calldata metadataCid, string calldata licence) private pure {
        if (bytes(metadataCid).length == 0 || bytes(metadataCid).length > 128) {
            revert DPGRegistryInvalidInput("metadataCid");
        }
        if (bytes(licence).length == 0 || bytes(licence).length > 64) revert DPGRegistryInvalidInput("licence");
    }

    function _setStandard(uint32 version, string memory cid) private {
        if (version <= _standardVersion) revert DPGRegistryStandardVersionNotIncreasing(version, _standardVersion);
        if (bytes(cid).length == 0 || bytes(cid).length > 128) revert DPGRegistryInvalidInput("cid");
        emit StandardSet(_standardVersion, version, cid);
        _standardVersion = version;
        _standardCids[version] = cid;
    }

    function _addCommitteeMember(address member) private {
        if (member == address(0)) revert DPGRegistryInvalidInput("member");
        if (_committee[member]) revert DPGRegistryAlreadyCommitteeMember(member);
        _committee[member] = true;
        _committeeSize += 1;
        emit CommitteeMemberAdded(member, _committeeSize);
    }

    function _setCommitteeThreshold(uint256 threshold) private {
        if (threshold == 0 || threshold > _committeeSize) revert DPGRegistryInvalidThreshold(threshold, _committeeSize);
        emit CommitteeThresholdSet(_committeeThreshold, threshold);
        _committeeThreshold = threshold;
    }

    function _setVotingPeriod(uint64 period) private {
        if (period == 0) revert DPGRegistryInvalidInput("votingPeriod");
        emit VotingPeriodSet(_votingPeriod, period);
        _votingPeriod = period;
    }

    function _setQuorumBps(uint16 value) private {
        if (value > BPS) revert DPGRegistryInvalidBps(value);
        emit QuorumBpsSet(_quorumBps, value);
        _quorumBps = value;
    }

    function _setApprovalBps(uint16 value) private {
        if (value == 0 || value > BPS) revert DPGRegistryInvalidBps(value);
        emit ApprovalBpsSet(_approvalBps, value);
        _approvalBps = value;
    }

    function _setReviewTimeout(uint64 timeout) private {
        if (timeout == 0) revert DPGRegistryInvalidInput("reviewTimeout");
        emit ReviewTimeoutSet(_reviewTimeout, timeout);
        _reviewTimeout = timeout;
    }

    function _setCertificationPeriod(uint64 period) private {
        if (period == 0) revert DPGRegistryInvalidInput("certificationPeriod");
        emit CertificationPeriodSet(_certificationPeriod, period);
        _certificationPeriod = period;
    }
}
