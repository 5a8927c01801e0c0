// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IJobMarket
/// @notice Federated-training jobs with escrowed budgets, and the on-chain ledger of model updates.
/// @dev Lifecycle: `postJob` (budget pulled into escrow) → providers `joinJob` (stake locked) → the
///      coordinator `startJob` → per round every provider `submitUpdate(hash, cid)` and the coordinator
///      `commitRound(globalHash, globalCid, usedBitmap)` → `finalizeJob` → `claim` / `claimRefund`.
///      Rounds are numbered from 1. Provider `i` (join order, from 0) is bit `i` of every bitmap.
///      Rewards are credited per committed round to the providers whose updates were used; a provider
///      that submitted nothing by the round deadline is dropped and its job stake slashed; a coordinator
///      that misses the commit deadline (round deadline + `roundTimeout`) can be aborted: its job stake
///      is slashed and the poster reclaims what was not yet credited. A coordinator is bound to a job only
///      once it calls `startJob` itself (which locks its stake); after a round deadline it can always
///      commit, even with no update used, so no poster can make an honest coordinator miss a commit.
///      Join windows and round timeouts are bounded by governance (`limits`); a job not started by its
///      start deadline (`joinDeadline + roundTimeout`) can be cancelled by anyone, and a provider may leave
///      an open job. Each update hash is bound to the provider that submitted it first in its round.
///      Disputes: a provider whose submitted update was not used may dispute it (see {IJobDisputes}) until
///      `limits.disputeWindow` seconds after the job's last commit. The job cannot be finalized, nor an aborted
///      job's refund paid, before that window closes with no dispute open; an upheld dispute credits the
///      provider's round from the escrow and pays it a penalty out of the coordinator's job stake.
interface IJobMarket {
    enum JobState {
        None,
        Open,
        Running,
        Finished,
        Cancelled,
        Aborted
    }

    /// @notice What a poster gives to `postJob`.
    struct JobParams {
        string specCid;
        address paymentToken;
        uint96 budget;
        uint96 rewardPerRound;
        uint16 rounds;
        uint8 minProviders;
        uint8 maxProviders;
        uint96 requiredStake;
        uint64 joinDeadline;
        uint32 roundTimeout;
        address coordinator;
    }

    /// @notice A job as stored (the spec CID is in the `JobPosted` event). Packed so that posting writes
    ///         four slots. Once the poster's refund is paid, `budget` is lowered to `credited`.
    struct Job {
        JobState state;
        uint16 rounds;
        uint16 committedRounds;
        uint8 minProviders;
        uint8 maxProviders;
        uint8 providerCount;
        uint8 activeCount;
        uint8 submissions;
        uint32 roundTimeout;
        uint64 joinDeadline;
        uint64 roundDeadline;
        uint16 feeBps;
        address paymentToken;
        uint96 rewardPerRound;
        address poster;
        uint96 budget;
        address coordinator;
        uint96 requiredStake;
        uint256 credited;
        uint256 activeBitmap;
    }

    /// @notice One provider's standing in one job.
    struct Participant {
        uint8 slot; // join index + 1; 0 = not a participant
        bool dropped;
        uint16 missedRounds;
        uint16 droppedAfter;
        uint16 claimedRounds;
        uint16 dataShareBps; // the job's data-holder share when this provider joined (its reward is net of it)
        uint16 submittedRound; // the last round this provider submitted an update for (0: none yet)
    }

    /// @notice Bounds every job must respect, and what a job must pay and lock to count for reputation.
    /// @param minJoinWindow least seconds between posting and `joinDeadline`
    /// @param maxJoinWindow most seconds between posting and `joinDeadline`
    /// @param minRoundTimeout least `roundTimeout` (seconds): time enough for an honest provider to train
    /// @param maxRoundTimeout most `roundTimeout` (seconds): how long one round may hold stakes
    /// @param minReputationReward least `rewardPerRound`, in the stake token, for a job to count for reputation
    /// @param minReputationStake least `requiredStake` for a job to count for reputation
    /// @param disputeWindow seconds after a job's last commit during which its excluded updates can be disputed;
    ///        the job finalizes (and an aborted job refunds) only once it is over. The window in force applies.
    struct Limits {
        uint32 minJoinWindow;
        uint32 maxJoinWindow;
        uint32 minRoundTimeout;
        uint32 maxRoundTimeout;
        uint96 minReputationReward;
        uint96 minReputationStake;
        uint32 disputeWindow;
    }

    /// @notice What a job demands of its providers beyond stake (see `postJobWithRequirements`).
    /// @param datasetAsset a DPG-registry dataset asset that must be certified when the job is posted, joined and
    ///        started (0: none); its owner, the data holder, earns `dataShareBps` of every provider reward
    /// @param datasetId the catalog dataset id (keccak256 of the catalog name) each provider must declare (0: any)
    /// @param certifiedComputeOnly only providers whose compute commitment is certified may join
    /// @param modelAsset a DPG-registry model asset, the open base model the job fine-tunes, that must be certified
    ///        when the job is posted, joined and started (0: none)
    struct Requirements {
        uint256 datasetAsset;
        bytes32 datasetId;
        bool certifiedComputeOnly;
        uint256 modelAsset;
    }

    /// @notice The dataset a job trains on in its providers' own files, and the privacy it spends there (see
    ///         `postJobWithData` and {IDataLedger}).
    /// @param asset the DPG-registry dataset asset every provider must hold (declared in the data ledger)
    /// @param schema the fingerprint of the asset's schema the job was written for; holders of another refused
    /// @param epsilon the differential-privacy epsilon each provider spends on the job, in millionths (0: no DP)
    /// @param delta the delta of that epsilon, in 1e-18 units (0 with no DP)
    struct DataTerms {
        uint256 asset;
        bytes32 schema;
        uint64 epsilon;
        uint64 delta;
    }

    /// @notice A committed round.
    struct Round {
        bytes32 globalHash;
        uint256 usedBitmap;
    }

    // ---------------------------------------------------------------- errors
    error JobMarketUnknownJob(uint256 jobId);
    /// @notice The job parameter `field` is invalid.
    error JobMarketInvalidParams(string field);
    /// @notice `postJobs` was given no jobs, or more than `maxJobs`.
    error JobMarketBatchSize(uint256 given, uint256 maxJobs);
    /// @notice `budget` cannot pay `rewardPerRound * rounds * maxProviders` = `required`.
    error JobMarketBudgetTooSmall(uint256 budget, uint256 required);
    /// @notice The token delivered `received` instead of `expected` (fee-on-transfer tokens are not supported).
    error JobMarketUnsupportedToken(address token, uint256 expected, uint256 received);
    error JobMarketWrongState(uint256 jobId, JobState current, JobState expected);
    error JobMarketNotPoster(uint256 jobId, address caller);
    error JobMarketNotCoordinator(uint256 jobId, address caller);
    /// @notice Joining closed at `deadline`; it is `nowTime`.
    error JobMarketJoinClosed(uint256 jobId, uint256 deadline, uint256 nowTime);
    error JobMarketJobFull(uint256 jobId, uint8 maxProviders);
    error JobMarketAlreadyJoined(uint256 jobId, address provider);
    error JobMarketCoordinatorCannotJoin(uint256 jobId, address coordinator);
    error JobMarketNotEnoughProviders(uint256 jobId, uint8 joined, uint8 minProviders);
    error JobMarketNotParticipant(uint256 jobId, address account);
    /// @notice `account` is not a registered node: only registered nodes may join jobs.
    error JobMarketNotRegistered(address account);
    error JobMarketProviderDropped(uint256 jobId, address provider);
    /// @notice `given` is not the round in progress, `expected`.
    error JobMarketWrongRound(uint256 jobId, uint16 given, uint16 expected);
    /// @notice The deadline `deadline` has passed; it is `nowTime`.
    error JobMarketDeadlinePassed(uint256 jobId, uint256 deadline, uint256 nowTime);
    /// @notice The action is allowed only after `deadline`; it is `nowTime`.
    error JobMarketDeadlineNotPassed(uint256 jobId, uint256 deadline, uint256 nowTime);
    error JobMarketAlreadySubmitted(uint256 jobId, uint16 round, address provider);
    /// @notice `updateHash` was already submitted in `round` by `submitter`: an update is paid to one provider only.
    error JobMarketDuplicateUpdate(uint256 jobId, uint16 round, bytes32 updateHash, address submitter);
    /// @notice The limits are inconsistent: `field` names the bad one.
    error JobMarketInvalidLimits(string field);
    error JobMarketZeroHash();
    /// @notice `usedBitmap` names providers outside the active set `activeBitmap`.
    error JobMarketInvalidUsedSet(uint256 jobId, uint256 usedBitmap, uint256 activeBitmap);
    /// @notice `used` providers were marked used but only `submitted` of them submitted an update.
    error JobMarketUnsubmittedUpdateUsed(uint256 jobId, uint16 round, uint256 used, uint256 submitted);
    /// @notice No round is in progress: every round is committed, or too few providers remain; the job
    ///         awaits `finalizeJob`.
    error JobMarketNoRoundInProgress(uint256 jobId);
    error JobMarketRoundNotFinished(uint256 jobId, uint16 committedRounds, uint16 rounds);
    error JobMarketNothingToClaim(uint256 jobId, address account);
    error JobMarketFeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    error JobMarketZeroAddress(string field);
    /// @notice Asset `assetId` is not (or no longer) DPG-certified.
    error JobMarketAssetNotCertified(uint256 assetId);
    /// @notice Asset `assetId` is not a dataset.
    error JobMarketNotADataset(uint256 assetId);
    /// @notice Asset `assetId` is not a model.
    error JobMarketNotAModel(uint256 assetId);
    /// @notice `provider` does not declare dataset `datasetId` in its node capabilities.
    error JobMarketDatasetNotHeld(uint256 jobId, address provider, bytes32 datasetId);
    /// @notice The job takes only providers with a certified compute commitment; `provider` has none.
    error JobMarketComputeNotCertified(uint256 jobId, address provider);
    /// @notice No DPG registry is configured, so certification requirements cannot be checked.
    error JobMarketNoCertificationRegistry();
    /// @notice The job cannot end yet: `open` disputes are undecided, or its dispute window runs until `windowEnd`.
    error JobMarketDisputesPending(uint256 jobId, uint256 open, uint256 windowEnd);
    /// @notice No data ledger is configured, so a job on providers' own data cannot be posted.
    error JobMarketNoDataLedger();
    /// @notice `dataShareBps` `value` is above the maximum `maxBps`.
    error JobMarketDataShareTooHigh(uint256 value, uint256 maxBps);

    // ---------------------------------------------------------------- events
    event JobPosted(uint256 indexed jobId, address indexed poster, address indexed coordinator, JobParams params);
    event ProviderJoined(uint256 indexed jobId, address indexed provider, uint8 index, uint256 stakeLocked);
    /// @notice `provider` left the open job and its stake was unlocked; `moved` (if any) now holds `index`.
    event ProviderLeft(uint256 indexed jobId, address indexed provider, uint8 index, address moved);
    event JobStarted(uint256 indexed jobId, uint8 providerCount, uint256 activeBitmap, uint64 roundDeadline);
    event UpdateSubmitted(
        uint256 indexed jobId, uint16 indexed round, address indexed provider, bytes32 updateHash, string updateCid
    );
    event RoundCommitted(
        uint256 indexed jobId,
        uint16 indexed round,
        bytes32 globalHash,
        string globalCid,
        uint256 usedBitmap,
        uint256 usedCount,
        uint64 nextRoundDeadline
    );
    /// @notice `provider` submitted an update for `round` but the coordinator did not use it: not paid.
    event UpdateRejected(uint256 indexed jobId, uint16 indexed round, address indexed provider);
    /// @notice `provider` submitted nothing for `round` by its deadline: dropped, `slashed` taken.
    event ProviderDropped(uint256 indexed jobId, uint16 indexed round, address indexed provider, uint256 slashed);
    event JobFinalized(uint256 indexed jobId, uint16 committedRounds, uint256 refund);
    event JobCancelled(uint256 indexed jobId, address indexed by, uint256 refund);
    event JobAborted(uint256 indexed jobId, address indexed by, uint16 round, uint256 refund, uint256 coordinatorSlashed);
    event RewardClaimed(uint256 indexed jobId, address indexed provider, uint16 rounds, uint256 amount);
    event RefundClaimed(uint256 indexed jobId, address indexed poster, uint256 amount);
    event FeesWithdrawn(address indexed token, address indexed treasury, uint256 amount);
    event ProtocolFeeBpsSet(uint16 oldFeeBps, uint16 newFeeBps);
    event JobRequirementsSet(
        uint256 indexed jobId,
        uint256 indexed datasetAsset,
        bytes32 datasetId,
        bool certifiedComputeOnly,
        uint16 dataShareBps,
        uint256 modelAsset
    );
    /// @notice A full job took `by` (higher priority) in place of `displaced`, whose stake was unlocked.
    event ProviderDisplaced(uint256 indexed jobId, address indexed displaced, address indexed by, uint8 index);
    event DataShareClaimed(uint256 indexed jobId, address indexed holder, uint256 amount);
    event DataShareBpsSet(uint16 oldBps, uint16 newBps);
    event DpgRegistrySet(address oldRegistry, address newRegistry);
    event DataLedgerSet(address oldLedger, address newLedger);
    event JobDataTermsSet(
        uint256 indexed jobId, uint256 indexed asset, bytes32 schema, uint64 epsilon, uint64 delta
    );
    event LimitsSet(Limits oldLimits, Limits newLimits);
    /// @notice A dispute about the job was opened: it now has `open` undecided disputes.
    event DisputeHoldPlaced(uint256 indexed jobId, uint256 open);
    /// @notice A dispute about `provider`'s update of `round` was decided or lapsed: `credited` whether the round
    ///         was credited to it from the escrow; `penalty` of the coordinator's job stake was paid to `recipient`.
    event DisputeSettled(
        uint256 indexed jobId,
        uint16 indexed round,
        address indexed provider,
        bool credited,
        uint256 penalty,
        address recipient,
        uint256 open
    );

    // ---------------------------------------------------------------- posters
    /// @notice Post a job and pull `params.budget` of `params.paymentToken` into escrow (needs approval).
    function postJob(JobParams calldata params) external returns (uint256 jobId);

    /// @notice Post several jobs in one transaction (each as {postJob}, each with its own escrow pulled):
    ///         their ids are consecutive from `firstJobId`. All or none: one invalid job reverts the batch.
    function postJobs(JobParams[] calldata params) external returns (uint256 firstJobId);

    /// @notice As {postJob}, approving the escrow with an EIP-2612 permit first.
    function postJobWithPermit(JobParams calldata params, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        returns (uint256 jobId);

    /// @notice As {postJob}, with `requirements` (checked now: the dataset asset must be a certified dataset, the
    ///         model asset a certified model);
    ///         the data share in force now applies to the job for its whole life.
    function postJobWithRequirements(JobParams calldata params, Requirements calldata requirements)
        external
        returns (uint256 jobId);

    /// @notice As {postJobWithRequirements} (pass all-zero requirements for none), for a job that trains on
    ///         `terms.asset` held in its providers' own files: each joining provider must hold the asset with
    ///         `terms.schema` in the data ledger, which records the job's privacy spend against the provider's
    ///         budget at join (and gives it back if the provider leaves, is displaced, or the job is cancelled
    ///         before it starts).
    function postJobWithData(JobParams calldata params, Requirements calldata requirements, DataTerms calldata terms)
        external
        returns (uint256 jobId);

    /// @notice Cancel an open job: the poster at any time before start, anyone once the start deadline
    ///         (`joinDeadline + roundTimeout`) passed. Joined stakes are unlocked; the budget is refundable.
    function cancelJob(uint256 jobId) external;

    /// @notice Abort a running job whose coordinator missed the commit deadline of the current round.
    function abortJob(uint256 jobId) external;

    /// @notice Pay the poster the part of the budget that was never credited (after the job ended).
    function claimRefund(uint256 jobId) external;

    // ---------------------------------------------------------------- providers
    /// @notice Join an open job, locking `requiredStake` of the caller's node stake. When the job is full, the
    ///         caller takes the place of the lowest-priority provider if its own priority is higher (see
    ///         `priorityOf`); otherwise it reverts `JobMarketJobFull`.
    function joinJob(uint256 jobId) external;

    /// @notice Leave an open job: the caller's stake for it is unlocked; the last joiner takes its index.
    function leaveJob(uint256 jobId) external;

    /// @notice Record the hash (and IPFS CID) of the caller's model update for `round`. The hash is bound
    ///         to the caller: the same hash from another provider in the same round is refused
    ///         (`JobMarketDuplicateUpdate`), and the update's own header names its provider, which the
    ///         coordinator checks.
    function submitUpdate(uint256 jobId, uint16 round, bytes32 updateHash, string calldata updateCid) external;

    /// @notice Pay the caller the rewards credited to it in `jobId` and not yet claimed.
    function claim(uint256 jobId) external;

    /// @notice Pay the owner of the job's dataset asset its share of the rewards credited so far.
    function claimDataShare(uint256 jobId) external;

    // ---------------------------------------------------------------- coordinator
    /// @notice Start an open job once at least `minProviders` joined, before the start deadline
    ///         (`joinDeadline + roundTimeout`). This is how the coordinator accepts the job: it locks the
    ///         coordinator's stake, which nothing before it can touch.
    function startJob(uint256 jobId) external;

    /// @notice Commit `round`: the aggregated model's hash and CID, and the providers whose updates were used.
    /// @dev Active providers not in `usedBitmap`: if they submitted, their update is rejected (not paid); if
    ///      they did not and the round deadline passed, they are dropped and slashed. `usedBitmap` may be
    ///      empty (every update junk, or nobody submitted): the round is committed with nothing paid, so an
    ///      honest coordinator can always meet its commit deadline. Gas is independent of the number of
    ///      providers used.
    function commitRound(uint256 jobId, uint16 round, bytes32 globalHash, string calldata globalCid, uint256 usedBitmap)
        external;

    /// @notice End a job whose rounds are all committed, or whose active providers fell below the minimum, once
    ///         its dispute window is over and no dispute is open (`JobMarketDisputesPending`): unlocks stakes, updates reputations, makes the rest of the budget refundable. Reputation is
    ///         earned only in jobs paid in the stake token with at least `limits.minReputationReward` per round
    ///         and `limits.minReputationStake` locked: one point per round whose update was used and paid, and a
    ///         completed job only for a provider with at least one such round (misses and slashes always count).
    function finalizeJob(uint256 jobId) external;

    // ---------------------------------------------------------------- disputes (DISPUTES_ROLE)
    /// @notice Hold a running (or aborted) job for a new dispute, within its dispute window: it cannot finalize,
    ///         nor refund its poster, until every dispute is settled.
    function holdForDispute(uint256 jobId) external;

    /// @notice Settle one dispute: release its hold; if `credit`, pay `provider`'s update of `round` (it must have
    ///         been rejected: counted as missed) from the escrow like a used one; and pay `recipient` up to `penalty`
    ///         of the coordinator's job stake while it is still locked (a running job; the rest stays locked).
    function settleDispute(uint256 jobId, uint16 round, address provider, bool credit, uint256 penalty,
        address recipient) external;

    // ---------------------------------------------------------------- protocol
    /// @notice Send accrued protocol fees in `token` to the treasury. One wei stays behind so that the next
    ///         commit does not pay for re-creating the storage slot.
    function withdrawFees(address token) external;

    function setProtocolFeeBps(uint16 newFeeBps) external;

    /// @notice The data holder's share of each provider reward in jobs with a certified dataset (basis points).
    function setDataShareBps(uint16 newBps) external;

    /// @notice The DPG registry consulted for certification requirements and provider priority.
    function setDpgRegistry(address newRegistry) external;

    /// @notice The data ledger that records holdings and privacy spends of jobs on providers' own data.
    function setDataLedger(address newLedger) external;

    /// @notice Bounds on join windows and round timeouts of new jobs, and the reputation thresholds.
    function setLimits(Limits calldata newLimits) external;

    // ---------------------------------------------------------------- views
    function getJob(uint256 jobId) external view returns (Job memory);

    function jobCount() external view returns (uint256);

    function providersOf(uint256 jobId) external view returns (address[] memory);

    function participantOf(uint256 jobId, address provider) external view returns (Participant memory);

    /// @notice The provider that submitted `updateHash` in `round` (zero: nobody).
    function submitterOf(uint256 jobId, uint16 round, bytes32 updateHash) external view returns (address);

    function roundOf(uint256 jobId, uint16 round) external view returns (Round memory);

    /// @notice Rewards `provider` could claim now.
    function claimable(uint256 jobId, address provider) external view returns (uint256);

    /// @notice Undecided disputes, the end of the dispute window (0: nothing committed yet) and the coordinator's
    ///         job stake already paid out to disputes.
    function disputeStatus(uint256 jobId) external view returns (uint256 open, uint256 windowEnd, uint256 penalties);

    /// @notice The refund the poster could claim now.
    function refundable(uint256 jobId) external view returns (uint256);

    function accruedFees(address token) external view returns (uint256);

    function protocolFeeBps() external view returns (uint16);

    function nodeRegistry() external view returns (address);

    function dpgRegistry() external view returns (address);

    function dataShareBps() external view returns (uint16);

    function dataLedger() external view returns (address);

    /// @notice The data terms of a job posted with `postJobWithData` (all zero otherwise).
    function dataTermsOf(uint256 jobId) external view returns (DataTerms memory);

    function limits() external view returns (Limits memory);

    /// @notice A job's requirements and its data share (all zero for a job posted without requirements).
    function requirementsOf(uint256 jobId) external view returns (Requirements memory, uint16 dataShareBps);

    /// @notice What the data holder could claim now.
    function dataShareClaimable(uint256 jobId) external view returns (uint256);

    /// @notice The rule that orders providers of a full job: a certified compute commitment first (bit 128), then
    ///         the reputation score `roundsDelivered + 10 * jobsCompleted - 2 * roundsMissed - 20 * slashes`
    ///         (at least 0); a tie keeps whoever joined first.
    function priorityOf(address provider) external view returns (uint256);
}
