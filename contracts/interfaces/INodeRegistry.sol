// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title INodeRegistry
/// @notice Providers register compute/data nodes, stake the commons token, and unbond after a delay.
///         The job market locks stake per job and slashes it for protocol faults; governance slashes
///         for fraud. Slashed tokens go to the treasury. Events are the agents' and indexers' API.
interface INodeRegistry {
    /// @notice What a node offers. Datasets are catalog ids (keccak256 of the catalog name).
    struct Capabilities {
        string gpuModel;
        uint32 gpuMemoryMiB;
        uint16 cpuCores;
        uint32 ramMiB;
        string region;
        bytes32[] datasets;
        string metadataCid;
    }

    /// @notice Reputation counters, only ever increased by the job market (and governance slashes).
    struct Reputation {
        uint32 jobsCompleted;
        uint32 roundsDelivered;
        uint32 roundsMissed;
        uint32 slashes;
    }

    /// @notice A node's stake. `locked` is the part committed to running jobs (always <= `staked`).
    struct Stake {
        uint128 staked;
        uint128 locked;
        uint128 unbonding;
        uint64 unbondingReadyAt;
    }

    // ---------------------------------------------------------------- errors
    /// @notice `node` is already registered.
    error NodeRegistryAlreadyRegistered(address node);
    /// @notice `node` is not registered.
    error NodeRegistryNotRegistered(address node);
    /// @notice The stake after this action, `stake`, would be below the minimum `minStake`.
    error NodeRegistryStakeBelowMinimum(uint256 stake, uint256 minStake);
    /// @notice An amount of zero was given where a positive amount is required.
    error NodeRegistryZeroAmount();
    /// @notice `requested` exceeds the unlocked stake `available` of the node.
    error NodeRegistryInsufficientFreeStake(address node, uint256 requested, uint256 available);
    /// @notice `requested` exceeds the locked stake `locked` of the node.
    error NodeRegistryInsufficientLockedStake(address node, uint256 requested, uint256 locked);
    /// @notice Nothing is unbonding for `node`.
    error NodeRegistryNothingUnbonding(address node);
    /// @notice Unbonded stake becomes withdrawable at `readyAt`; it is now `nowTime`.
    error NodeRegistryUnbondingNotReady(uint256 readyAt, uint256 nowTime);
    /// @notice A capability field is invalid; `field` names it.
    error NodeRegistryInvalidCapabilities(string field);
    /// @notice The address given for `field` is the zero address.
    error NodeRegistryZeroAddress(string field);

    // ---------------------------------------------------------------- events
    event NodeRegistered(address indexed node, Capabilities capabilities);
    event CapabilitiesUpdated(address indexed node, Capabilities capabilities);
    event StakeAdded(address indexed node, uint256 amount, uint256 staked);
    event UnbondingRequested(address indexed node, uint256 amount, uint256 unbonding, uint64 readyAt);
    event Withdrawn(address indexed node, uint256 amount);
    event StakeLocked(address indexed node, uint256 amount, uint256 locked);
    event StakeUnlocked(address indexed node, uint256 amount, uint256 locked);
    /// @param reason a short code (`MISSED_ROUND`, `MISSED_COMMIT`, `DISPUTE_LOST`) or the keccak256 of a governance
    ///        reason CID
    /// @param treasury where the slashed tokens went: the treasury, or a dispute's winner (`slashLockedTo`)
    event Slashed(address indexed node, uint256 amount, bytes32 indexed reason, address treasury);
    event ReputationUpdated(address indexed node, Reputation reputation);
    event MinStakeSet(uint256 oldMinStake, uint256 newMinStake);
    event UnbondingPeriodSet(uint64 oldPeriod, uint64 newPeriod);
    event TreasurySet(address oldTreasury, address newTreasury);

    // ---------------------------------------------------------------- providers
    /// @notice Register the caller's node and stake `amount` (pulled with `transferFrom`).
    /// @dev Reverts with `NodeRegistryStakeBelowMinimum` if `amount < minStake()`.
    function register(Capabilities calldata capabilities, uint256 amount) external;

    /// @notice Replace the caller's capability record.
    function updateCapabilities(Capabilities calldata capabilities) external;

    /// @notice Add `amount` to the caller's stake.
    function addStake(uint256 amount) external;

    /// @notice Move `amount` of free stake into unbonding; restarts the unbonding clock.
    /// @dev The remaining stake must stay >= minStake unless it becomes zero (full exit).
    function requestUnbonding(uint256 amount) external;

    /// @notice Withdraw everything that finished unbonding.
    function withdrawUnbonded() external;

    // ---------------------------------------------------------------- stake manager (the job market)
    /// @notice Lock `amount` of `node`'s free stake for a job.
    function lockStake(address node, uint256 amount) external;

    /// @notice Release `amount` of `node`'s locked stake and record the job's outcome in its reputation.
    function settleJob(address node, uint256 amount, uint32 roundsDelivered, uint32 roundsMissed, bool completed)
        external;

    /// @notice Slash `amount` of `node`'s locked stake into the treasury for protocol fault `reason`.
    function slashLocked(address node, uint256 amount, bytes32 reason) external;

    /// @notice As {slashLocked}, paying `recipient` (the party the fault wronged, e.g. a dispute's winner).
    function slashLockedTo(address node, uint256 amount, bytes32 reason, address recipient) external;

    // ---------------------------------------------------------------- governance
    /// @notice Slash up to the node's unlocked + unbonding stake for fraud established by governance.
    function slash(address node, uint256 amount, bytes32 reason) external;

    function setMinStake(uint256 newMinStake) external;

    function setUnbondingPeriod(uint64 newPeriod) external;

    function setTreasury(address newTreasury) external;

    // ---------------------------------------------------------------- views
    /// @notice The token nodes stake (the commons token).
    function stakeToken() external view returns (IERC20);

    function isRegistered(address node) external view returns (bool);

    function capabilitiesOf(address node) external view returns (Capabilities memory);

    function stakeOf(address node) external view returns (Stake memory);

    /// @notice Stake that is neither locked nor unbonding.
    function freeStake(address node) external view returns (uint256);

    function reputationOf(address node) external view returns (Reputation memory);

    function holdsDataset(address node, bytes32 datasetId) external view returns (bool);

    function minStake() external view returns (uint256);

    function unbondingPeriod() external view returns (uint64);

    function treasury() external view returns (address);

    function nodeCount() external view returns (uint256);

    function nodeAt(uint256 index) external view returns (address);
}
