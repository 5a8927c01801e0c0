// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IDataLedger} from "../interfaces/IDataLedger.sol";
import {IDPGRegistry} from "../interfaces/IDPGRegistry.sol";
import {IJobMarket} from "../interfaces/IJobMarket.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {Bitmap} from "../libraries/Bitmap.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title JobMarket
/// @notice See {IJobMarket}. Escrow is per job; rewards are computed from round counters so that
///         committing a round costs the same gas whatever the number of providers.
contract JobMarket is IJobMarket, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice The highest protocol fee, 10 % of each reward.
    uint16 public constant MAX_FEE_BPS = 1000;
    /// @notice The most jobs one `postJobs` call takes.
    uint256 public constant MAX_BATCH = 128;
    /// @notice The highest data-holder share, half of each provider reward.
    uint16 public constant MAX_DATA_SHARE_BPS = 5000;
    uint256 private constant BPS = 10_000;
    bytes32 private constant MISSED_ROUND = "MISSED_ROUND";
    bytes32 private constant MISSED_COMMIT = "MISSED_COMMIT";
    bytes32 private constant DISPUTE_LOST = "DISPUTE_LOST";

    INodeRegistry private immutable _registry;
    /// @dev Only jobs paid in the stake token count for reputation: its value is known, a fresh token's is not.
    address private immutable _stakeToken;

    uint16 private _feeBps;
    uint256 private _nextJobId = 1; // non-zero from the start: the first post does not pay a fresh slot
    mapping(uint256 jobId => Job) private _jobs;
    mapping(uint256 jobId => mapping(uint256 index => address)) private _providerAt;
    mapping(uint256 jobId => mapping(address provider => Participant)) private _participants;
    mapping(uint256 jobId => mapping(uint16 round => mapping(bytes32 updateHash => address))) private _submitters;
    mapping(uint256 jobId => mapping(uint16 round => Round)) private _rounds;
    mapping(address token => uint256) private _accruedFees;

    /// @dev A job's requirements as stored: one slot, plus the dataset id when there is one.
    struct StoredRequirements {
        uint64 datasetAsset;
        uint16 dataShareBps;
        bool certifiedComputeOnly;
        uint96 dataShareClaimed;
        bool heldData; // posted with data terms: joins spend privacy budget (read with the rest, for free)
        uint64 modelAsset; // the certified base model the job fine-tunes (0: none)
    }

    IDPGRegistry private _dpg;
    uint16 private _dataShareBps;
    mapping(uint256 jobId => StoredRequirements) private _requirements;
    mapping(uint256 jobId => bytes32) private _requiredDataset;
    Limits private _limits;

    /// @dev Written only when a job is disputed: the happy path pays nothing for disputes.
    struct DisputeTally {
        uint128 open;
        uint128 penalties; // coordinator job stake paid out to upheld disputes
    }

    mapping(uint256 jobId => DisputeTally) private _disputes;

    IDataLedger private _ledger;
    /// @dev Written only for jobs on providers' own data.
    mapping(uint256 jobId => DataTerms) private _dataTerms;

    constructor(INodeRegistry registry_, address admin, uint16 feeBps_, Limits memory limits_) {
        if (address(registry_) == address(0)) revert JobMarketZeroAddress("nodeRegistry");
        if (admin == address(0)) revert JobMarketZeroAddress("admin");
        _registry = registry_;
        _stakeToken = address(registry_.stakeToken());
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNANCE_ROLE, admin);
        _setProtocolFeeBps(feeBps_);
        _setLimits(limits_);
    }

    // ------------------------------------------------------------------ posters

    /// @inheritdoc IJobMarket
    function postJob(JobParams calldata params) external nonReentrant returns (uint256) {
        return _postJob(params);
    }

    /// @inheritdoc IJobMarket
    function postJobs(JobParams[] calldata params) external nonReentrant returns (uint256 firstJobId) {
        uint256 n = params.length;
        if (n == 0 || n > MAX_BATCH) revert JobMarketBatchSize(n, MAX_BATCH);
        firstJobId = _postJob(params[0]);
        for (uint256 i = 1; i < n; ++i) {
            _postJob(params[i]);
        }
    }

    /// @inheritdoc IJobMarket
    function postJobWithPermit(JobParams calldata params, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        returns (uint256)
    {
        // A permit front-run by someone else still leaves the allowance in place: ignore its failure and
        // let transferFrom decide.
        try IERC20Permit(params.paymentToken).permit(msg.sender, address(this), params.budget, deadline, v, r, s) {}
            catch {}
        return _postJob(params);
    }

    /// @inheritdoc IJobMarket
    function postJobWithRequirements(JobParams calldata params, Requirements calldata requirements)
        external
        nonReentrant
        returns (uint256 jobId)
    {
        jobId = _setRequirements(requirements);
        _postJob(params);
    }

    /// @inheritdoc IJobMarket
    function postJobWithData(JobParams calldata params, Requirements calldata requirements, DataTerms calldata terms)
        external
        nonReentrant
        returns (uint256 jobId)
    {
        jobId = _setRequirements(requirements);
        if (address(_ledger) == address(0)) revert JobMarketNoDataLedger();
        uint256 asset = terms.asset;
        if (asset == 0 || asset > type(uint64).max) revert JobMarketInvalidParams("asset");
        if (_dpg.getAsset(asset).kind != IDPGRegistry.AssetKind.Dataset) revert JobMarketNotADataset(asset);
        if (terms.schema == bytes32(0)) revert JobMarketInvalidParams("schema");
        if ((terms.epsilon == 0) != (terms.delta == 0) || terms.delta >= 1e18) revert JobMarketInvalidParams("delta");
        _dataTerms[jobId] = terms;
        _requirements[jobId].heldData = true;
        emit JobDataTermsSet(jobId, asset, terms.schema, terms.epsilon, terms.delta);
        _postJob(params);
    }

    /// @dev Stores the requirements of the job about to be posted (under the next id, which `_postJob` takes).
    function _setRequirements(Requirements calldata requirements) private returns (uint256 jobId) {
        IDPGRegistry dpg = _dpg;
        if (address(dpg) == address(0)) revert JobMarketNoCertificationRegistry();
        uint256 asset = requirements.datasetAsset;
        uint16 share = 0;
        if (asset != 0) {
            if (asset > type(uint64).max) revert JobMarketInvalidParams("datasetAsset");
            if (dpg.getAsset(asset).kind != IDPGRegistry.AssetKind.Dataset) revert JobMarketNotADataset(asset);
            if (!dpg.isCertified(asset)) revert JobMarketAssetNotCertified(asset);
            share = _dataShareBps;
        }
        uint256 model = requirements.modelAsset;
        if (model != 0) {
            if (model > type(uint64).max) revert JobMarketInvalidParams("modelAsset");
            if (dpg.getAsset(model).kind != IDPGRegistry.AssetKind.Model) revert JobMarketNotAModel(model);
            if (!dpg.isCertified(model)) revert JobMarketAssetNotCertified(model);
        }
        jobId = _nextJobId;
        _requirements[jobId] = StoredRequirements({
            datasetAsset: uint64(asset),
            dataShareBps: share,
            certifiedComputeOnly: requirements.certifiedComputeOnly,
            dataShareClaimed: 0,
            heldData: false,
            modelAsset: uint64(model)
        });
        if (requirements.datasetId != bytes32(0)) _requiredDataset[jobId] = requirements.datasetId;
        emit JobRequirementsSet(jobId, asset, requirements.datasetId, requirements.certifiedComputeOnly, share, model);
    }

    /// @inheritdoc IJobMarket
    function cancelJob(uint256 jobId) external {
        Job storage job = _job(jobId);
        _requireState(jobId, job, JobState.Open);
        if (msg.sender != job.poster) {
            uint256 startDeadline = _startDeadline(job);
            if (block.timestamp <= startDeadline) {
                revert JobMarketDeadlineNotPassed(jobId, startDeadline, block.timestamp);
            }
        }
        job.state = JobState.Cancelled;
        emit JobCancelled(jobId, msg.sender, job.budget);
        _releaseProviders(jobId, job, false, false);
        if (_requirements[jobId].heldData) {
            for (uint256 i = job.providerCount; i > 0; --i) {
                _ledger.release(jobId, _providerAt[jobId][i - 1]); // never trained on: the privacy spend comes back
            }
        }
    }

    /// @inheritdoc IJobMarket
    function abortJob(uint256 jobId) external {
        Job storage job = _job(jobId);
        _requireState(jobId, job, JobState.Running);
        _requireRoundInProgress(jobId, job);
        uint256 commitDeadline = uint256(job.roundDeadline) + job.roundTimeout;
        if (block.timestamp <= commitDeadline) {
            revert JobMarketDeadlineNotPassed(jobId, commitDeadline, block.timestamp);
        }
        job.state = JobState.Aborted;
        uint256 slashed = job.requiredStake - _disputes[jobId].penalties;
        emit JobAborted(jobId, msg.sender, job.committedRounds + 1, job.budget - job.credited, slashed);
        _releaseProviders(jobId, job, false, _countsForReputation(job));
        if (slashed != 0) _registry.slashLocked(job.coordinator, slashed, MISSED_COMMIT);
    }

    /// @inheritdoc IJobMarket
    function claimRefund(uint256 jobId) external nonReentrant {
        Job storage job = _job(jobId);
        if (msg.sender != job.poster) revert JobMarketNotPoster(jobId, msg.sender);
        uint256 amount = _refundable(jobId, job);
        if (amount == 0) revert JobMarketNothingToClaim(jobId, msg.sender);
        job.budget = uint96(job.credited); // credited <= budget, so this fits
        emit RefundClaimed(jobId, msg.sender, amount);
        IERC20(job.paymentToken).safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ providers

    /// @inheritdoc IJobMarket
    function joinJob(uint256 jobId) external {
        Job storage job = _job(jobId);
        _requireState(jobId, job, JobState.Open);
        if (block.timestamp > job.joinDeadline) revert JobMarketJoinClosed(jobId, job.joinDeadline, block.timestamp);
        if (msg.sender == job.coordinator) revert JobMarketCoordinatorCannotJoin(jobId, msg.sender);
        Participant storage p = _participants[jobId][msg.sender];
        if (p.slot != 0) revert JobMarketAlreadyJoined(jobId, msg.sender);
        uint256 stake = job.requiredStake;
        // lockStake checks registration when there is stake to lock; without, it must be checked here
        if (stake == 0 && !_registry.isRegistered(msg.sender)) revert JobMarketNotRegistered(msg.sender);
        _checkRequirements(jobId, msg.sender);

        uint8 index = job.providerCount;
        address displaced = address(0);
        if (index < job.maxProviders) {
            job.providerCount = index + 1;
        } else {
            index = _lowestBelow(jobId, job, _priority(msg.sender));
            displaced = _providerAt[jobId][index];
            delete _participants[jobId][displaced];
            emit ProviderDisplaced(jobId, displaced, msg.sender, index);
        }
        p.slot = index + 1;
        StoredRequirements storage r = _requirements[jobId];
        uint16 share = r.dataShareBps;
        if (share != 0) p.dataShareBps = share; // same slot as `slot`: claims read it for free
        _providerAt[jobId][index] = msg.sender;
        emit ProviderJoined(jobId, msg.sender, index, stake);
        if (stake != 0) {
            if (displaced != address(0)) _registry.settleJob(displaced, stake, 0, 0, false);
            _registry.lockStake(msg.sender, stake);
        }
        if (r.heldData) {
            DataTerms storage terms = _dataTerms[jobId];
            if (displaced != address(0)) _ledger.release(jobId, displaced);
            _ledger.spend(jobId, msg.sender, terms.asset, terms.schema, terms.epsilon, terms.delta);
        }
    }

    /// @inheritdoc IJobMarket
    function leaveJob(uint256 jobId) external {
        Job storage job = _job(jobId);
        _requireState(jobId, job, JobState.Open);
        uint8 slot = _participants[jobId][msg.sender].slot;
        if (slot == 0) revert JobMarketNotParticipant(jobId, msg.sender);
        uint8 index = slot - 1;
        uint8 last = job.providerCount - 1;
        address moved = address(0);
        if (index != last) {
            moved = _providerAt[jobId][last];
            _providerAt[jobId][index] = moved;
            _participants[jobId][moved].slot = slot;
        }
        delete _providerAt[jobId][last];
        delete _participants[jobId][msg.sender];
        job.providerCount = last;
        emit ProviderLeft(jobId, msg.sender, index, moved);
        uint256 stake = job.requiredStake;
        if (stake != 0) _registry.settleJob(msg.sender, stake, 0, 0, false);
        if (_requirements[jobId].heldData) _ledger.release(jobId, msg.sender);
    }

    /// @inheritdoc IJobMarket
    function submitUpdate(uint256 jobId, uint16 round, bytes32 updateHash, string calldata updateCid) external {
        Job storage job = _job(jobId);
        _requireState(jobId, job, JobState.Running);
        _requireCurrentRound(jobId, job, round);
        if (block.timestamp > job.roundDeadline) {
            revert JobMarketDeadlinePassed(jobId, job.roundDeadline, block.timestamp);
        }
        if (updateHash == bytes32(0)) revert JobMarketZeroHash();
        Participant storage p = _participants[jobId][msg.sender];
        if (p.slot == 0) revert JobMarketNotParticipant(jobId, msg.sender);
        if (p.dropped) revert JobMarketProviderDropped(jobId, msg.sender);
        if (p.submittedRound == round) revert JobMarketAlreadySubmitted(jobId, round, msg.sender);
        address submitter = _submitters[jobId][round][updateHash];
        if (submitter != address(0)) revert JobMarketDuplicateUpdate(jobId, round, updateHash, submitter);

        _submitters[jobId][round][updateHash] = msg.sender;
        p.submittedRound = round;
        job.submissions += 1;
        emit UpdateSubmitted(jobId, round, msg.sender, updateHash, updateCid);
    }

    /// @inheritdoc IJobMarket
    function claim(uint256 jobId) external nonReentrant {
        Job storage job = _job(jobId);
        Participant storage p = _participants[jobId][msg.sender];
        if (p.slot == 0) revert JobMarketNotParticipant(jobId, msg.sender);
        uint16 earned = _earnedRounds(job, p);
        uint16 rounds = earned - p.claimedRounds;
        if (rounds == 0) revert JobMarketNothingToClaim(jobId, msg.sender);
        p.claimedRounds = earned;
        uint256 amount = uint256(rounds) * _providerReward(job, p);
        emit RewardClaimed(jobId, msg.sender, rounds, amount);
        IERC20(job.paymentToken).safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ coordinator

    /// @inheritdoc IJobMarket
    function startJob(uint256 jobId) external {
        Job storage job = _job(jobId);
        _requireState(jobId, job, JobState.Open);
        if (msg.sender != job.coordinator) revert JobMarketNotCoordinator(jobId, msg.sender);
        uint256 startDeadline = _startDeadline(job);
        if (block.timestamp > startDeadline) revert JobMarketDeadlinePassed(jobId, startDeadline, block.timestamp);
        uint8 count = job.providerCount;
        if (count < job.minProviders) revert JobMarketNotEnoughProviders(jobId, count, job.minProviders);
        _requireCertifiedAssets(_requirements[jobId]);

        uint64 deadline = uint64(block.timestamp) + job.roundTimeout;
        uint256 active = (uint256(1) << count) - 1;
        job.state = JobState.Running;
        job.activeCount = count;
        job.activeBitmap = active;
        job.roundDeadline = deadline;
        emit JobStarted(jobId, count, active, deadline);
        uint256 stake = job.requiredStake;
        if (stake != 0) _registry.lockStake(msg.sender, stake);
    }

    /// @inheritdoc IJobMarket
    function commitRound(uint256 jobId, uint16 round, bytes32 globalHash, string calldata globalCid, uint256 usedBitmap)
        external
    {
        Job storage job = _job(jobId);
        uint256 deadline = _checkCommit(jobId, job, round, globalHash, usedBitmap);
        // Only the exceptions cost gas: active providers whose update was not used.
        (uint256 rejectedSubmissions, address[] memory dropped) =
            _settleExcluded(jobId, job, round, job.activeBitmap & ~usedBitmap, deadline);
        uint256 used = Bitmap.popCount(usedBitmap);
        uint256 submittedByUsed = job.submissions - rejectedSubmissions;
        if (submittedByUsed != used) revert JobMarketUnsubmittedUpdateUsed(jobId, round, used, submittedByUsed);

        uint64 nextDeadline = _creditRound(job, round, used);
        _rounds[jobId][round] = Round({globalHash: globalHash, usedBitmap: usedBitmap});
        emit RoundCommitted(jobId, round, globalHash, globalCid, usedBitmap, used, nextDeadline);
        // Interactions last: slash the dropped providers' job stake.
        uint256 stake = job.requiredStake;
        if (stake != 0) {
            for (uint256 i = 0; i < dropped.length; ++i) {
                _registry.slashLocked(dropped[i], stake, MISSED_ROUND);
            }
        }
    }

    /// @inheritdoc IJobMarket
    function finalizeJob(uint256 jobId) external {
        Job storage job = _job(jobId);
        _requireState(jobId, job, JobState.Running);
        if (job.committedRounds < job.rounds && job.activeCount >= job.minProviders) {
            revert JobMarketRoundNotFinished(jobId, job.committedRounds, job.rounds);
        }
        DisputeTally storage t = _disputes[jobId];
        uint256 windowEnd = _disputeWindowEnd(job);
        if (t.open != 0 || block.timestamp <= windowEnd) revert JobMarketDisputesPending(jobId, t.open, windowEnd);
        job.state = JobState.Finished;
        emit JobFinalized(jobId, job.committedRounds, job.budget - job.credited);
        bool counts = _countsForReputation(job);
        _releaseProviders(jobId, job, true, counts);
        // a coordinator completes a job for reputation only if it paid for at least one used update
        _registry.settleJob(job.coordinator, job.requiredStake - t.penalties, 0, 0, counts && job.credited != 0);
    }

    // ------------------------------------------------------------------ disputes

    /// @inheritdoc IJobMarket
    function holdForDispute(uint256 jobId) external onlyRole(Roles.DISPUTES_ROLE) {
        Job storage job = _job(jobId);
        if (job.state != JobState.Aborted) _requireState(jobId, job, JobState.Running);
        uint256 windowEnd = _disputeWindowEnd(job);
        if (block.timestamp > windowEnd) revert JobMarketDeadlinePassed(jobId, windowEnd, block.timestamp);
        uint128 open = ++_disputes[jobId].open;
        emit DisputeHoldPlaced(jobId, open);
    }

    /// @inheritdoc IJobMarket
    function settleDispute(uint256 jobId, uint16 round, address provider, bool credit, uint256 penalty,
        address recipient) external onlyRole(Roles.DISPUTES_ROLE)
    {
        Job storage job = _job(jobId);
        DisputeTally storage t = _disputes[jobId];
        t.open -= 1; // reverts when no dispute holds the job
        if (credit) {
            _participants[jobId][provider].missedRounds -= 1; // its rejection counted it as missed
            uint256 reward = job.rewardPerRound;
            uint256 fee = reward - _netReward(job);
            job.credited += reward;
            if (fee != 0) _accruedFees[job.paymentToken] += fee;
        }
        if (job.state != JobState.Running) penalty = 0; // the coordinator's job stake is released or slashed
        uint256 left = job.requiredStake - t.penalties;
        if (penalty > left) penalty = left;
        t.penalties += uint128(penalty);
        emit DisputeSettled(jobId, round, provider, credit, penalty, recipient, t.open);
        if (penalty != 0) _registry.slashLockedTo(job.coordinator, penalty, DISPUTE_LOST, recipient);
    }

    // ------------------------------------------------------------------ protocol

    /// @inheritdoc IJobMarket
    function withdrawFees(address token) external nonReentrant {
        uint256 amount = _accruedFees[token] - (_accruedFees[token] == 0 ? 0 : 1);
        if (amount == 0) revert JobMarketNothingToClaim(0, token);
        _accruedFees[token] = 1;
        address treasury = _registry.treasury();
        emit FeesWithdrawn(token, treasury, amount);
        IERC20(token).safeTransfer(treasury, amount);
    }

    /// @inheritdoc IJobMarket
    function claimDataShare(uint256 jobId) external nonReentrant {
        Job storage job = _job(jobId);
        StoredRequirements storage r = _requirements[jobId];
        address holder = r.datasetAsset == 0 ? address(0) : _dpg.getAsset(r.datasetAsset).owner;
        uint256 owed = _dataShareOwed(job, r);
        if (owed == 0) revert JobMarketNothingToClaim(jobId, holder);
        r.dataShareClaimed += uint96(owed); // owed <= credited <= budget, a uint96
        emit DataShareClaimed(jobId, holder, owed);
        IERC20(job.paymentToken).safeTransfer(holder, owed);
    }

    /// @inheritdoc IJobMarket
    function setProtocolFeeBps(uint16 newFeeBps) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setProtocolFeeBps(newFeeBps);
    }

    /// @inheritdoc IJobMarket
    function setDataShareBps(uint16 newBps) external onlyRole(Roles.GOVERNANCE_ROLE) {
        if (newBps > MAX_DATA_SHARE_BPS) revert JobMarketDataShareTooHigh(newBps, MAX_DATA_SHARE_BPS);
        emit DataShareBpsSet(_dataShareBps, newBps);
        _dataShareBps = newBps;
    }

    /// @inheritdoc IJobMarket
    function setDpgRegistry(address newRegistry) external onlyRole(Roles.GOVERNANCE_ROLE) {
        if (newRegistry == address(0)) revert JobMarketZeroAddress("dpgRegistry");
        emit DpgRegistrySet(address(_dpg), newRegistry);
        _dpg = IDPGRegistry(newRegistry);
    }

    /// @inheritdoc IJobMarket
    function setDataLedger(address newLedger) external onlyRole(Roles.GOVERNANCE_ROLE) {
        if (newLedger == address(0)) revert JobMarketZeroAddress("dataLedger");
        emit DataLedgerSet(address(_ledger), newLedger);
        _ledger = IDataLedger(newLedger);
    }

    /// @inheritdoc IJobMarket
    function setLimits(Limits calldata newLimits) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setLimits(newLimits);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IJobMarket
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    /// @inheritdoc IJobMarket
    function jobCount() external view returns (uint256) {
        return _nextJobId - 1;
    }

    /// @inheritdoc IJobMarket
    function providersOf(uint256 jobId) external view returns (address[] memory providers) {
        uint256 count = _jobs[jobId].providerCount;
        providers = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            providers[i] = _providerAt[jobId][i];
        }
    }

    /// @inheritdoc IJobMarket
    function participantOf(uint256 jobId, address provider) external view returns (Participant memory) {
        return _participants[jobId][provider];
    }

    /// @inheritdoc IJobMarket
    function submitterOf(uint256 jobId, uint16 round, bytes32 updateHash) external view returns (address) {
        return _submitters[jobId][round][updateHash];
    }

    /// @inheritdoc IJobMarket
    function roundOf(uint256 jobId, uint16 round) external view returns (Round memory) {
        return _rounds[jobId][round];
    }

    /// @inheritdoc IJobMarket
    function claimable(uint256 jobId, address provider) external view returns (uint256) {
        Job storage job = _jobs[jobId];
        Participant storage p = _participants[jobId][provider];
        if (p.slot == 0) return 0;
        return uint256(_earnedRounds(job, p) - p.claimedRounds) * _providerReward(job, p);
    }

    /// @inheritdoc IJobMarket
    function disputeStatus(uint256 jobId) external view returns (uint256 open, uint256 windowEnd, uint256 penalties) {
        DisputeTally storage t = _disputes[jobId];
        return (t.open, _disputeWindowEnd(_jobs[jobId]), t.penalties);
    }

    /// @inheritdoc IJobMarket
    function refundable(uint256 jobId) external view returns (uint256) {
        return _refundable(jobId, _jobs[jobId]);
    }

    /// @inheritdoc IJobMarket
    function accruedFees(address token) external view returns (uint256) {
        return _accruedFees[token];
    }

    /// @inheritdoc IJobMarket
    function protocolFeeBps() external view returns (uint16) {
        return _feeBps;
    }

    /// @inheritdoc IJobMarket
    function nodeRegistry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IJobMarket
    function dpgRegistry() external view returns (address) {
        return address(_dpg);
    }

    /// @inheritdoc IJobMarket
    function dataShareBps() external view returns (uint16) {
        return _dataShareBps;
    }

    /// @inheritdoc IJobMarket
    function limits() external view returns (Limits memory) {
        return _limits;
    }

    /// @inheritdoc IJobMarket
    function dataLedger() external view returns (address) {
        return address(_ledger);
    }

    /// @inheritdoc IJobMarket
    function dataTermsOf(uint256 jobId) external view returns (DataTerms memory) {
        return _dataTerms[jobId];
    }

    /// @inheritdoc IJobMarket
    function requirementsOf(uint256 jobId) external view returns (Requirements memory requirements, uint16 share) {
        StoredRequirements storage r = _requirements[jobId];
        requirements = Requirements(r.datasetAsset, _requiredDataset[jobId], r.certifiedComputeOnly, r.modelAsset);
        share = r.dataShareBps;
    }

    /// @inheritdoc IJobMarket
    function dataShareClaimable(uint256 jobId) external view returns (uint256) {
        return _dataShareOwed(_jobs[jobId], _requirements[jobId]);
    }

    /// @inheritdoc IJobMarket
    function priorityOf(address provider) external view returns (uint256) {
        return _priority(provider);
    }

    // ------------------------------------------------------------------ internal

    function _postJob(JobParams calldata p) private returns (uint256 jobId) {
        _validate(p);
        jobId = _nextJobId++;
        Job storage job = _jobs[jobId];
        job.state = JobState.Open;
        job.rounds = p.rounds;
        job.minProviders = p.minProviders;
        job.maxProviders = p.maxProviders;
        job.roundTimeout = p.roundTimeout;
        job.joinDeadline = p.joinDeadline;
        job.feeBps = _feeBps;
        job.paymentToken = p.paymentToken;
        job.rewardPerRound = p.rewardPerRound;
        job.poster = msg.sender;
        job.requiredStake = p.requiredStake;
        job.coordinator = p.coordinator;
        job.budget = p.budget;
        emit JobPosted(jobId, msg.sender, p.coordinator, p);

        IERC20 token = IERC20(p.paymentToken);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), p.budget);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != p.budget) revert JobMarketUnsupportedToken(p.paymentToken, p.budget, received);
    }

    function _validate(JobParams calldata p) private view {
        uint256 cidLength = bytes(p.specCid).length;
        if (cidLength == 0 || cidLength > 128) revert JobMarketInvalidParams("specCid");
        if (p.paymentToken.code.length == 0) revert JobMarketInvalidParams("paymentToken");
        if (p.coordinator == address(0)) revert JobMarketInvalidParams("coordinator");
        if (p.coordinator == msg.sender) revert JobMarketInvalidParams("coordinator");
        if (p.rounds == 0) revert JobMarketInvalidParams("rounds");
        if (p.minProviders == 0) revert JobMarketInvalidParams("minProviders");
        if (p.maxProviders < p.minProviders || p.maxProviders == type(uint8).max) {
            revert JobMarketInvalidParams("maxProviders");
        }
        if (p.rewardPerRound == 0) revert JobMarketInvalidParams("rewardPerRound");
        Limits storage limits_ = _limits;
        if (p.joinDeadline < block.timestamp + limits_.minJoinWindow
                || p.joinDeadline > block.timestamp + limits_.maxJoinWindow) {
            revert JobMarketInvalidParams("joinDeadline");
        }
        if (p.roundTimeout < limits_.minRoundTimeout || p.roundTimeout > limits_.maxRoundTimeout) {
            revert JobMarketInvalidParams("roundTimeout");
        }
        uint256 required = uint256(p.rewardPerRound) * p.rounds * p.maxProviders;
        if (p.budget < required) revert JobMarketBudgetTooSmall(p.budget, required);
    }

    /// @dev Checks a commit; returns the round's submission deadline.
    function _checkCommit(uint256 jobId, Job storage job, uint16 round, bytes32 globalHash, uint256 usedBitmap)
        private
        view
        returns (uint256 deadline)
    {
        _requireState(jobId, job, JobState.Running);
        if (msg.sender != job.coordinator) revert JobMarketNotCoordinator(jobId, msg.sender);
        _requireCurrentRound(jobId, job, round);
        deadline = job.roundDeadline;
        uint256 commitDeadline = deadline + job.roundTimeout;
        if (block.timestamp > commitDeadline) revert JobMarketDeadlinePassed(jobId, commitDeadline, block.timestamp);
        if (globalHash == bytes32(0)) revert JobMarketZeroHash();
        uint256 active = job.activeBitmap;
        if (usedBitmap & ~active != 0) revert JobMarketInvalidUsedSet(jobId, usedBitmap, active);
    }

    /// @dev Advances the job past `round`, crediting `used` rewards; returns the next round's deadline.
    function _creditRound(Job storage job, uint16 round, uint256 used) private returns (uint64 nextDeadline) {
        uint256 reward = job.rewardPerRound;
        uint256 fees = used * (reward - _netReward(job));
        nextDeadline = uint64(block.timestamp) + job.roundTimeout;
        job.committedRounds = round;
        job.submissions = 0;
        job.roundDeadline = nextDeadline;
        job.credited += used * reward;
        if (fees != 0) _accruedFees[job.paymentToken] += fees;
    }

    /// @dev For each active provider outside the used set: reject its update if it sent one, else (only once
    ///      the round deadline passed) drop it. Returns how many of them had submitted, and the dropped
    ///      providers, whose stake the caller slashes after all state changes.
    function _settleExcluded(uint256 jobId, Job storage job, uint16 round, uint256 excluded, uint256 deadline)
        private
        returns (uint256 rejected, address[] memory dropped)
    {
        dropped = new address[](Bitmap.popCount(excluded));
        uint256 droppedCount;
        while (excluded != 0) {
            uint256 index = Bitmap.lowestBit(excluded);
            excluded &= excluded - 1;
            address provider = _providerAt[jobId][index];
            Participant storage p = _participants[jobId][provider];
            if (p.submittedRound == round) {
                ++rejected;
                p.missedRounds += 1;
                emit UpdateRejected(jobId, round, provider);
            } else {
                if (block.timestamp <= deadline) revert JobMarketDeadlineNotPassed(jobId, deadline, block.timestamp);
                p.dropped = true;
                p.droppedAfter = round - 1;
                job.activeBitmap &= ~(uint256(1) << index);
                job.activeCount -= 1;
                dropped[droppedCount++] = provider;
                emit ProviderDropped(jobId, round, provider, job.requiredStake);
            }
        }
        assembly ("memory-safe") {
            mstore(dropped, droppedCount) // shrink to the providers actually dropped
        }
    }

    /// @dev Unlock every provider's job stake (dropped ones were already slashed) and record reputations:
    ///      misses always count; delivered rounds and a completed job only where `counts` (see
    ///      {_countsForReputation}), and a completed job only for a provider with a paid round.
    function _releaseProviders(uint256 jobId, Job storage job, bool completed, bool counts) private {
        uint256 count = job.providerCount;
        uint256 stake = job.requiredStake;
        for (uint256 i = 0; i < count; ++i) {
            address provider = _providerAt[jobId][i];
            Participant storage p = _participants[jobId][provider];
            uint16 earned = counts ? _earnedRounds(job, p) : 0;
            if (p.dropped) {
                _registry.settleJob(provider, 0, earned, p.missedRounds + 1, false);
            } else {
                _registry.settleJob(provider, stake, earned, p.missedRounds, completed && earned != 0);
            }
        }
    }

    /// @dev Whether a job's delivered rounds and completions count for reputation: paid in the stake token, at
    ///      least the governance minimums of reward and stake (self-dealing jobs must cost something real).
    function _countsForReputation(Job storage job) private view returns (bool) {
        Limits storage limits_ = _limits;
        return job.paymentToken == _stakeToken && job.rewardPerRound >= limits_.minReputationReward
            && job.requiredStake >= limits_.minReputationStake;
    }

    function _startDeadline(Job storage job) private view returns (uint256) {
        return uint256(job.joinDeadline) + job.roundTimeout;
    }

    /// @dev Reverts unless the job's dataset and base model assets, where it has them, are certified now.
    function _requireCertifiedAssets(StoredRequirements storage r) private view {
        uint256 asset = r.datasetAsset;
        if (asset != 0 && !_dpg.isCertified(asset)) revert JobMarketAssetNotCertified(asset);
        asset = r.modelAsset;
        if (asset != 0 && !_dpg.isCertified(asset)) revert JobMarketAssetNotCertified(asset);
    }

    function _checkRequirements(uint256 jobId, address provider) private view {
        StoredRequirements storage r = _requirements[jobId];
        _requireCertifiedAssets(r);
        bytes32 dataset = _requiredDataset[jobId];
        if (dataset != bytes32(0) && !_registry.holdsDataset(provider, dataset)) {
            revert JobMarketDatasetNotHeld(jobId, provider, dataset);
        }
        if (r.certifiedComputeOnly) {
            uint256 compute = _dpg.computeCommitmentOf(provider);
            if (compute == 0 || !_dpg.isCertified(compute)) revert JobMarketComputeNotCertified(jobId, provider);
        }
    }

    /// @dev See {IJobMarket-priorityOf}.
    function _priority(address provider) private view returns (uint256 score) {
        INodeRegistry.Reputation memory rep = _registry.reputationOf(provider);
        uint256 plus = uint256(rep.roundsDelivered) + 10 * uint256(rep.jobsCompleted);
        uint256 minus = 2 * uint256(rep.roundsMissed) + 20 * uint256(rep.slashes);
        score = plus > minus ? plus - minus : 0;
        IDPGRegistry dpg = _dpg;
        if (address(dpg) != address(0)) {
            uint256 compute = dpg.computeCommitmentOf(provider);
            if (compute != 0 && dpg.isCertified(compute)) score |= uint256(1) << 128;
        }
    }

    /// @dev The index of the lowest-priority provider of a full job (the latest joiner among equals), if
    ///      `priority` beats it; else the job is full for this newcomer.
    function _lowestBelow(uint256 jobId, Job storage job, uint256 priority) private view returns (uint8 index) {
        uint256 lowest = type(uint256).max;
        for (uint256 i = job.providerCount; i > 0; --i) {
            uint256 other = _priority(_providerAt[jobId][i - 1]);
            if (other < lowest) {
                lowest = other;
                index = uint8(i - 1);
            }
        }
        if (priority <= lowest) revert JobMarketJobFull(jobId, job.maxProviders);
    }

    /// @dev Each used provider-round pays the data holder `dataShareBps` of the net reward.
    function _providerReward(Job storage job, Participant storage p) private view returns (uint256) {
        uint256 net = _netReward(job);
        return net - (net * p.dataShareBps) / BPS;
    }

    /// @dev `credited` is an exact multiple of `rewardPerRound` (one per used provider-round), and the holder gets
    ///      the same floored `perRound` that each provider's reward was reduced by, so the escrow balances to the wei.
    function _dataShareOwed(Job storage job, StoredRequirements storage r) private view returns (uint256) {
        if (r.dataShareBps == 0 || job.rewardPerRound == 0) return 0;
        uint256 providerRounds = job.credited / job.rewardPerRound;
        uint256 perRound = (_netReward(job) * r.dataShareBps) / BPS;
        // slither-disable-next-line divide-before-multiply
        return providerRounds * perRound - r.dataShareClaimed;
    }

    function _earnedRounds(Job storage job, Participant storage p) private view returns (uint16) {
        return (p.dropped ? p.droppedAfter : job.committedRounds) - p.missedRounds;
    }

    function _netReward(Job storage job) private view returns (uint256) {
        uint256 reward = job.rewardPerRound;
        return reward - (reward * job.feeBps) / BPS;
    }

    /// @dev An aborted job's refund waits for its dispute window and open disputes, like finalizing does.
    function _refundable(uint256 jobId, Job storage job) private view returns (uint256) {
        JobState s = job.state;
        bool ended = s == JobState.Finished || s == JobState.Cancelled || s == JobState.Aborted;
        if (!ended || _disputes[jobId].open != 0 || block.timestamp <= _disputeWindowEnd(job)) return 0;
        return job.budget - job.credited;
    }

    /// @dev `disputeWindow` after the last commit (a commit sets the next deadline one `roundTimeout` ahead).
    function _disputeWindowEnd(Job storage job) private view returns (uint256) {
        if (job.committedRounds == 0) return 0;
        return uint256(job.roundDeadline) - job.roundTimeout + _limits.disputeWindow;
    }

    function _job(uint256 jobId) private view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.state == JobState.None) revert JobMarketUnknownJob(jobId);
    }

    function _requireState(uint256 jobId, Job storage job, JobState expected) private view {
        if (job.state != expected) revert JobMarketWrongState(jobId, job.state, expected);
    }

    function _requireRoundInProgress(uint256 jobId, Job storage job) private view {
        if (job.committedRounds >= job.rounds || job.activeCount < job.minProviders) {
            revert JobMarketNoRoundInProgress(jobId);
        }
    }

    function _requireCurrentRound(uint256 jobId, Job storage job, uint16 round) private view {
        _requireRoundInProgress(jobId, job);
        uint16 expected = job.committedRounds + 1;
        if (round != expected) revert JobMarketWrongRound(jobId, round, expected);
    }

    function _setLimits(Limits memory newLimits) private {
        if (newLimits.minJoinWindow == 0) revert JobMarketInvalidLimits("minJoinWindow");
        if (newLimits.maxJoinWindow < newLimits.minJoinWindow) revert JobMarketInvalidLimits("maxJoinWindow");
        if (newLimits.minRoundTimeout == 0) revert JobMarketInvalidLimits("minRoundTimeout");
        if (newLimits.maxRoundTimeout < newLimits.minRoundTimeout) revert JobMarketInvalidLimits("maxRoundTimeout");
        if (newLimits.disputeWindow == 0) revert JobMarketInvalidLimits("disputeWindow");
        emit LimitsSet(_limits, newLimits);
        _limits = newLimits;
    }

    function _setProtocolFeeBps(uint16 newFeeBps) private {
        if (newFeeBps > MAX_FEE_BPS) revert JobMarketFeeTooHigh(newFeeBps, MAX_FEE_BPS);
        emit ProtocolFeeBpsSet(_feeBps, newFeeBps);
        _feeBps = newFeeBps;
    }
}
