// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IDPGRegistry} from "../interfaces/IDPGRegistry.sol";
import {IJobDisputes} from "../interfaces/IJobDisputes.sol";
import {IJobMarket} from "../interfaces/IJobMarket.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title JobDisputes
/// @notice See {IJobDisputes}. Holds `DISPUTES_ROLE` on the job market; the committee is the DPG registry's.
contract JobDisputes is IJobDisputes, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    IJobMarket private immutable _market;
    IDPGRegistry private immutable _committee;
    IERC20 private immutable _bondToken;

    uint96 private _bond;
    uint96 private _penalty;
    uint64 private _decisionPeriod;
    uint256 private _count;
    mapping(uint256 disputeId => Dispute) private _disputes;
    mapping(uint256 jobId => mapping(uint16 round => mapping(address provider => uint256))) private _disputeOf;
    mapping(uint256 disputeId => mapping(address member => bool)) private _voted;
    mapping(address account => uint256) private _owed;

    constructor(IJobMarket market_, IDPGRegistry committee_, address admin, uint96 bond_, uint96 penalty_,
        uint64 decisionPeriod_) {
        if (address(market_) == address(0)) revert JobDisputesZeroAddress("market");
        if (address(committee_) == address(0)) revert JobDisputesZeroAddress("committee");
        if (admin == address(0)) revert JobDisputesZeroAddress("admin");
        _market = market_;
        _committee = committee_;
        _bondToken = INodeRegistry(market_.nodeRegistry()).stakeToken();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNANCE_ROLE, admin);
        _setBond(bond_);
        _setPenalty(penalty_);
        _setDecisionPeriod(decisionPeriod_);
    }

    // ------------------------------------------------------------------ providers

    /// @inheritdoc IJobDisputes
    function openDispute(uint256 jobId, uint16 round, bytes32 updateHash, string calldata evidenceCid)
        external
        nonReentrant
        returns (uint256 disputeId)
    {
        _checkDisputable(jobId, round, updateHash);
        disputeId = _record(jobId, round, updateHash);
        Dispute storage d = _disputes[disputeId];
        uint256 bond_ = d.bond;
        emit DisputeOpened(disputeId, jobId, round, msg.sender, updateHash, bond_, d.decideBy, evidenceCid);
        _market.holdForDispute(jobId); // reverts once the job's dispute window is over
        _bondToken.safeTransferFrom(msg.sender, address(this), bond_);
    }

    /// @inheritdoc IJobDisputes
    function withdraw() external nonReentrant {
        uint256 amount = _owed[msg.sender];
        if (amount == 0) revert JobDisputesNothingToWithdraw(msg.sender);
        _owed[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _bondToken.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ committee

    /// @inheritdoc IJobDisputes
    function vote(uint256 disputeId, bool uphold, string calldata reasonCid) external nonReentrant {
        Dispute storage d = _open(disputeId);
        if (block.timestamp > d.decideBy) revert JobDisputesDecisionClosed(disputeId, d.decideBy, block.timestamp);
        if (!_committee.isCommitteeMember(msg.sender)) revert JobDisputesNotCommitteeMember(msg.sender);
        if (msg.sender == d.provider || msg.sender == d.coordinator || msg.sender == d.poster) {
            revert JobDisputesPartyCannotDecide(disputeId, msg.sender);
        }
        if (_voted[disputeId][msg.sender]) revert JobDisputesAlreadyVoted(disputeId, msg.sender);
        _voted[disputeId][msg.sender] = true;
        uint256 votes = uphold ? ++d.upholdVotes : ++d.denyVotes;
        emit DisputeVoted(disputeId, msg.sender, uphold, reasonCid);
        if (votes < _committee.committeeThreshold()) return;
        if (uphold) {
            _resolve(disputeId, d, DisputeState.Upheld, d.provider, true, _penalty);
        } else {
            _resolve(disputeId, d, DisputeState.Denied, d.coordinator, false, 0);
        }
    }

    /// @inheritdoc IJobDisputes
    function lapse(uint256 disputeId) external nonReentrant {
        Dispute storage d = _open(disputeId);
        if (block.timestamp <= d.decideBy) revert JobDisputesDecisionOpen(disputeId, d.decideBy, block.timestamp);
        _resolve(disputeId, d, DisputeState.Lapsed, d.provider, false, 0);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IJobDisputes
    function setBond(uint96 newBond) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setBond(newBond);
    }

    /// @inheritdoc IJobDisputes
    function setPenalty(uint96 newPenalty) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setPenalty(newPenalty);
    }

    /// @inheritdoc IJobDisputes
    function setDecisionPeriod(uint64 newPeriod) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setDecisionPeriod(newPeriod);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IJobDisputes
    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        return _disputes[disputeId];
    }

    /// @inheritdoc IJobDisputes
    function disputeOf(uint256 jobId, uint16 round, address provider) external view returns (uint256) {
        return _disputeOf[jobId][round][provider];
    }

    /// @inheritdoc IJobDisputes
    function disputeCount() external view returns (uint256) {
        return _count;
    }

    /// @inheritdoc IJobDisputes
    function hasVoted(uint256 disputeId, address member) external view returns (bool) {
        return _voted[disputeId][member];
    }

    /// @inheritdoc IJobDisputes
    function owed(address account) external view returns (uint256) {
        return _owed[account];
    }

    /// @inheritdoc IJobDisputes
    function bond() external view returns (uint96) {
        return _bond;
    }

    /// @inheritdoc IJobDisputes
    function penalty() external view returns (uint96) {
        return _penalty;
    }

    /// @inheritdoc IJobDisputes
    function decisionPeriod() external view returns (uint64) {
        return _decisionPeriod;
    }

    /// @inheritdoc IJobDisputes
    function market() external view returns (address) {
        return address(_market);
    }

    /// @inheritdoc IJobDisputes
    function committee() external view returns (address) {
        return address(_committee);
    }

    /// @inheritdoc IJobDisputes
    function bondToken() external view returns (address) {
        return address(_bondToken);
    }

    // ------------------------------------------------------------------ internal

    /// @dev The caller's update `updateHash` was submitted in committed `round` and left out of its used set.
    function _checkDisputable(uint256 jobId, uint16 round, bytes32 updateHash) private view {
        IJobMarket market_ = _market;
        if (market_.submitterOf(jobId, round, updateHash) != msg.sender) {
            revert JobDisputesNotSubmitter(jobId, round, updateHash, msg.sender);
        }
        IJobMarket.Round memory r = market_.roundOf(jobId, round);
        if (r.globalHash == bytes32(0)) revert JobDisputesRoundNotCommitted(jobId, round);
        uint256 index = market_.participantOf(jobId, msg.sender).slot - 1; // a submitter always has a slot
        if ((r.usedBitmap >> index) & 1 == 1) revert JobDisputesUpdateUsed(jobId, round, msg.sender);
        uint256 existing = _disputeOf[jobId][round][msg.sender];
        if (existing != 0) revert JobDisputesAlreadyDisputed(jobId, round, msg.sender, existing);
    }

    function _record(uint256 jobId, uint16 round, bytes32 updateHash) private returns (uint256 disputeId) {
        IJobMarket.Job memory job = _market.getJob(jobId);
        disputeId = ++_count;
        _disputes[disputeId] = Dispute({
            jobId: jobId,
            provider: msg.sender,
            round: round,
            state: DisputeState.Open,
            upholdVotes: 0,
            denyVotes: 0,
            coordinator: job.coordinator,
            decideBy: uint64(block.timestamp) + _decisionPeriod,
            poster: job.poster,
            bond: _bond,
            updateHash: updateHash
        });
        _disputeOf[jobId][round][msg.sender] = disputeId;
    }

    function _open(uint256 disputeId) private view returns (Dispute storage d) {
        d = _disputes[disputeId];
        if (d.state == DisputeState.None) revert JobDisputesUnknownDispute(disputeId);
        if (d.state != DisputeState.Open) revert JobDisputesNotOpen(disputeId, d.state);
    }

    function _resolve(uint256 disputeId, Dispute storage d, DisputeState outcome, address bondTo, bool credit,
        uint256 penalty_) private {
        d.state = outcome;
        uint256 bond_ = d.bond;
        if (bond_ != 0) _owed[bondTo] += bond_;
        emit DisputeResolved(disputeId, outcome, bondTo, bond_);
        _market.settleDispute(d.jobId, d.round, d.provider, credit, penalty_, d.provider);
    }

    function _setBond(uint96 newBond) private {
        if (newBond == 0) revert JobDisputesInvalidParam("bond");
        emit BondSet(_bond, newBond);
        _bond = newBond;
    }

    function _setPenalty(uint96 newPenalty) private {
        emit PenaltySet(_penalty, newPenalty);
        _penalty = newPenalty;
    }

    function _setDecisionPeriod(uint64 newPeriod) private {
        if (newPeriod < 1 hours || newPeriod > 90 days) revert JobDisputesInvalidParam("decisionPeriod");
        emit DecisionPeriodSet(_decisionPeriod, newPeriod);
        _decisionPeriod = newPeriod;
    }
}
