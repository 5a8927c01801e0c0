// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title NodeRegistry
/// @notice See {INodeRegistry}. `GOVERNANCE_ROLE` (the timelock) sets parameters and slashes for
///         fraud; `STAKE_MANAGER_ROLE` (the job market) locks, settles and slashes stake for jobs.
contract NodeRegistry is INodeRegistry, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @notice The token staked by nodes.
    IERC20 public immutable stakeToken;

    uint256 private _minStake;
    uint64 private _unbondingPeriod;
    address private _treasury;

    address[] private _nodes;
    mapping(address node => bool) private _registered;
    mapping(address node => Capabilities) private _capabilities;
    mapping(address node => Stake) private _stakes;
    mapping(address node => Reputation) private _reputation;
    mapping(address node => mapping(bytes32 datasetId => bool)) private _holds;

    /// @param admin receives DEFAULT_ADMIN_ROLE and GOVERNANCE_ROLE (the timelock, or the deployer
    ///        until it hands them over)
    constructor(IERC20 stakeToken_, address admin, address treasury_, uint256 minStake_, uint64 unbondingPeriod_) {
        if (address(stakeToken_) == address(0)) revert NodeRegistryZeroAddress("stakeToken");
        if (admin == address(0)) revert NodeRegistryZeroAddress("admin");
        stakeToken = stakeToken_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNANCE_ROLE, admin);
        _setTreasury(treasury_);
        _setMinStake(minStake_);
        _setUnbondingPeriod(unbondingPeriod_);
    }

    // ------------------------------------------------------------------ providers

    /// @inheritdoc INodeRegistry
    function register(Capabilities calldata capabilities, uint256 amount) external nonReentrant {
        if (_registered[msg.sender]) revert NodeRegistryAlreadyRegistered(msg.sender);
        if (amount < _minStake) revert NodeRegistryStakeBelowMinimum(amount, _minStake);
        _registered[msg.sender] = true;
        _nodes.push(msg.sender);
        _writeCapabilities(msg.sender, capabilities);
        emit NodeRegistered(msg.sender, capabilities);
        _addStake(msg.sender, amount);
    }

    /// @inheritdoc INodeRegistry
    function updateCapabilities(Capabilities calldata capabilities) external {
        _requireRegistered(msg.sender);
        bytes32[] storage old = _capabilities[msg.sender].datasets;
        for (uint256 i = 0; i < old.length; ++i) {
            delete _holds[msg.sender][old[i]];
        }
        _writeCapabilities(msg.sender, capabilities);
        emit CapabilitiesUpdated(msg.sender, capabilities);
    }

    /// @inheritdoc INodeRegistry
    function addStake(uint256 amount) external nonReentrant {
        _requireRegistered(msg.sender);
        if (amount == 0) revert NodeRegistryZeroAmount();
        _addStake(msg.sender, amount);
    }

    /// @inheritdoc INodeRegistry
    function requestUnbonding(uint256 amount) external {
        _requireRegistered(msg.sender);
        if (amount == 0) revert NodeRegistryZeroAmount();
        Stake storage s = _stakes[msg.sender];
        uint256 free = s.staked - s.locked;
        if (amount > free) revert NodeRegistryInsufficientFreeStake(msg.sender, amount, free);
        uint256 remaining = s.staked - amount;
        if (remaining != 0 && remaining < _minStake) revert NodeRegistryStakeBelowMinimum(remaining, _minStake);
        s.staked = remaining.toUint128();
        s.unbonding += amount.toUint128();
        s.unbondingReadyAt = (block.timestamp + _unbondingPeriod).toUint64();
        emit UnbondingRequested(msg.sender, amount, s.unbonding, s.unbondingReadyAt);
    }

    /// @inheritdoc INodeRegistry
    function withdrawUnbonded() external nonReentrant {
        Stake storage s = _stakes[msg.sender];
        uint256 amount = s.unbonding;
        if (amount == 0) revert NodeRegistryNothingUnbonding(msg.sender);
        if (block.timestamp < s.unbondingReadyAt) {
            revert NodeRegistryUnbondingNotReady(s.unbondingReadyAt, block.timestamp);
        }
        s.unbonding = 0;
        s.unbondingReadyAt = 0;
        emit Withdrawn(msg.sender, amount);
        stakeToken.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ stake manager

    /// @inheritdoc INodeRegistry
    function lockStake(address node, uint256 amount) external onlyRole(Roles.STAKE_MANAGER_ROLE) {
        _requireRegistered(node);
        Stake storage s = _stakes[node];
        uint256 free = s.staked - s.locked;
        if (amount > free) revert NodeRegistryInsufficientFreeStake(node, amount, free);
        uint128 locked = s.locked + amount.toUint128();
        s.locked = locked;
        emit StakeLocked(node, amount, locked);
    }

    /// @inheritdoc INodeRegistry
    function settleJob(address node, uint256 amount, uint32 roundsDelivered, uint32 roundsMissed, bool completed)
        external
        onlyRole(Roles.STAKE_MANAGER_ROLE)
    {
        Stake storage s = _stakes[node];
        if (amount > s.locked) revert NodeRegistryInsufficientLockedStake(node, amount, s.locked);
        uint128 locked = s.locked - amount.toUint128();
        s.locked = locked;
        emit StakeUnlocked(node, amount, locked);
        Reputation storage r = _reputation[node];
        r.roundsDelivered += roundsDelivered;
        r.roundsMissed += roundsMissed;
        if (completed) r.jobsCompleted += 1;
        emit ReputationUpdated(node, r);
    }

    /// @inheritdoc INodeRegistry
    function slashLocked(address node, uint256 amount, bytes32 reason)
        external
        nonReentrant
        onlyRole(Roles.STAKE_MANAGER_ROLE)
    {
        _slashLocked(node, amount, reason, _treasury);
    }

    /// @inheritdoc INodeRegistry
    function slashLockedTo(address node, uint256 amount, bytes32 reason, address recipient)
        external
        nonReentrant
        onlyRole(Roles.STAKE_MANAGER_ROLE)
    {
        if (recipient == address(0)) revert NodeRegistryZeroAddress("recipient");
        _slashLocked(node, amount, reason, recipient);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc INodeRegistry
    function slash(address node, uint256 amount, bytes32 reason) external nonReentrant onlyRole(Roles.GOVERNANCE_ROLE) {
        _requireRegistered(node);
        if (amount == 0) revert NodeRegistryZeroAmount();
        Stake storage s = _stakes[node];
        uint256 free = s.staked - s.locked;
        if (amount > free + s.unbonding) revert NodeRegistryInsufficientFreeStake(node, amount, free + s.unbonding);
        uint256 fromFree = amount > free ? free : amount;
        s.staked -= fromFree.toUint128();
        s.unbonding -= (amount - fromFree).toUint128();
        _recordSlash(node, amount, reason, _treasury);
    }

    /// @inheritdoc INodeRegistry
    function setMinStake(uint256 newMinStake) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setMinStake(newMinStake);
    }

    /// @inheritdoc INodeRegistry
    function setUnbondingPeriod(uint64 newPeriod) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setUnbondingPeriod(newPeriod);
    }

    /// @inheritdoc INodeRegistry
    function setTreasury(address newTreasury) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setTreasury(newTreasury);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc INodeRegistry
    function isRegistered(address node) external view returns (bool) {
        return _registered[node];
    }

    /// @inheritdoc INodeRegistry
    function capabilitiesOf(address node) external view returns (Capabilities memory) {
        return _capabilities[node];
    }

    /// @inheritdoc INodeRegistry
    function stakeOf(address node) external view returns (Stake memory) {
        return _stakes[node];
    }

    /// @inheritdoc INodeRegistry
    function freeStake(address node) external view returns (uint256) {
        Stake storage s = _stakes[node];
        return s.staked - s.locked;
    }

    /// @inheritdoc INodeRegistry
    function reputationOf(address node) external view returns (Reputation memory) {
        return _reputation[node];
    }

    /// @inheritdoc INodeRegistry
    function holdsDataset(address node, bytes32 datasetId) external view returns (bool) {
        return _holds[node][datasetId];
    }

    /// @inheritdoc INodeRegistry
    function minStake() external view returns (uint256) {
        return _minStake;
    }

    /// @inheritdoc INodeRegistry
    function unbondingPeriod() external view returns (uint64) {
        return _unbondingPeriod;
    }

    /// @inheritdoc INodeRegistry
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @inheritdoc INodeRegistry
    function nodeCount() external view returns (uint256) {
        return _nodes.length;
    }

    /// @inheritdoc INodeRegistry
    function nodeAt(uint256 index) external view returns (address) {
        return _nodes[index];
    }

    // ------------------------------------------------------------------ internal

    function _requireRegistered(address node) private view {
        if (!_registered[node]) revert NodeRegistryNotRegistered(node);
    }

    function _writeCapabilities(address node, Capabilities calldata c) private {
        if (bytes(c.gpuModel).length > 64) revert NodeRegistryInvalidCapabilities("gpuModel");
        if (bytes(c.region).length > 32) revert NodeRegistryInvalidCapabilities("region");
        if (bytes(c.metadataCid).length > 128) revert NodeRegistryInvalidCapabilities("metadataCid");
        if (c.cpuCores == 0) revert NodeRegistryInvalidCapabilities("cpuCores");
        if (c.datasets.length > 64) revert NodeRegistryInvalidCapabilities("datasets");
        _capabilities[node] = c;
        for (uint256 i = 0; i < c.datasets.length; ++i) {
            _holds[node][c.datasets[i]] = true;
        }
    }

    function _addStake(address node, uint256 amount) private {
        Stake storage s = _stakes[node];
        uint128 staked = s.staked + amount.toUint128();
        s.staked = staked;
        emit StakeAdded(node, amount, staked);
        stakeToken.safeTransferFrom(node, address(this), amount);
    }

    function _slashLocked(address node, uint256 amount, bytes32 reason, address to) private {
        Stake storage s = _stakes[node];
        if (amount > s.locked) revert NodeRegistryInsufficientLockedStake(node, amount, s.locked);
        s.locked -= amount.toUint128();
        s.staked -= amount.toUint128();
        _recordSlash(node, amount, reason, to);
    }

    function _recordSlash(address node, uint256 amount, bytes32 reason, address to) private {
        Reputation storage r = _reputation[node];
        r.slashes += 1;
        emit Slashed(node, amount, reason, to);
        emit ReputationUpdated(node, r);
        stakeToken.safeTransfer(to, amount);
    }

    function _setMinStake(uint256 newMinStake) private {
        if (newMinStake == 0) revert NodeRegistryZeroAmount();
        emit MinStakeSet(_minStake, newMinStake);
        _minStake = newMinStake;
    }

    function _setUnbondingPeriod(uint64 newPeriod) private {
        emit UnbondingPeriodSet(_unbondingPeriod, newPeriod);
        _unbondingPeriod = newPeriod;
    }

    function _setTreasury(address newTreasury) private {
        if (newTreasury == address(0)) revert NodeRegistryZeroAddress("treasury");
        emit TreasurySet(_treasury, newTreasury);
        _treasury = newTreasury;
    }
}
