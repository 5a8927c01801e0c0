// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IDataLedger} from "../interfaces/IDataLedger.sol";
import {IDPGRegistry} from "../interfaces/IDPGRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title DataLedger
/// @notice See {IDataLedger}. The job market holds `DATA_SPENDER_ROLE`.
contract DataLedger is IDataLedger, AccessControl {
    uint64 private constant DELTA_ONE = 1e18;

    INodeRegistry private immutable _nodes;
    IDPGRegistry private immutable _assets;

    mapping(address holder => mapping(uint256 assetId => Holding)) private _holdings;
    mapping(uint256 jobId => mapping(address holder => Spend)) private _spends;

    constructor(INodeRegistry nodes_, IDPGRegistry assets_, address admin) {
        _nodes = nodes_;
        _assets = assets_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IDataLedger
    function declareHolding(
        uint256 assetId,
        bytes32 schema,
        uint64 records,
        uint64 budget,
        uint64 delta,
        bool requiresDp
    ) external {
        if (!_nodes.isRegistered(msg.sender)) revert DataLedgerNotANode(msg.sender);
        if (_assets.getAsset(assetId).kind != IDPGRegistry.AssetKind.Dataset) revert DataLedgerNotADataset(assetId);
        if (schema == bytes32(0)) revert DataLedgerInvalidInput("schema");
        if (records == 0) revert DataLedgerInvalidInput("records");
        if (delta == 0 || delta >= DELTA_ONE) revert DataLedgerInvalidInput("delta");
        Holding storage h = _holdings[msg.sender][assetId];
        if (budget < h.spent) revert DataLedgerBudgetBelowSpent(msg.sender, assetId, budget, h.spent);
        h.schema = schema;
        h.records = records;
        h.budget = budget;
        h.delta = delta;
        h.requiresDp = requiresDp;
        emit HoldingDeclared(msg.sender, assetId, schema, records, budget, delta, requiresDp);
    }

    /// @inheritdoc IDataLedger
    function withdrawHolding(uint256 assetId) external {
        Holding storage h = _holdings[msg.sender][assetId];
        if (h.schema == bytes32(0)) revert DataLedgerNotHeld(msg.sender, assetId, bytes32(0), bytes32(0));
        h.schema = bytes32(0);
        h.records = 0;
        emit HoldingWithdrawn(msg.sender, assetId);
    }

    /// @inheritdoc IDataLedger
    function spend(uint256 jobId, address holder, uint256 assetId, bytes32 schema, uint64 epsilon, uint64 delta)
        external
        onlyRole(Roles.DATA_SPENDER_ROLE)
    {
        Holding storage h = _holdings[holder][assetId];
        bytes32 held = h.schema;
        if (held != schema || held == bytes32(0)) revert DataLedgerNotHeld(holder, assetId, schema, held);
        if (epsilon == 0) {
            if (h.requiresDp) revert DataLedgerDpRequired(holder, assetId);
            return; // no DP: nothing to count
        }
        if (delta > h.delta) revert DataLedgerDeltaAboveBudget(holder, assetId, delta, h.delta);
        uint64 spent = h.spent;
        uint256 remaining = h.budget - spent; // budget >= spent always
        if (epsilon > remaining) revert DataLedgerBudgetExceeded(holder, assetId, remaining, epsilon);
        Spend storage s = _spends[jobId][holder];
        if (s.epsilon != 0) revert DataLedgerAlreadySpent(jobId, holder);
        spent += epsilon;
        h.spent = spent;
        s.assetId = uint64(assetId);
        s.epsilon = epsilon;
        emit BudgetSpent(holder, assetId, jobId, epsilon, spent);
    }

    /// @inheritdoc IDataLedger
    function release(uint256 jobId, address holder) external onlyRole(Roles.DATA_SPENDER_ROLE) {
        Spend memory s = _spends[jobId][holder];
        if (s.epsilon == 0) return;
        delete _spends[jobId][holder];
        Holding storage h = _holdings[holder][s.assetId];
        uint64 spent = h.spent - s.epsilon;
        h.spent = spent;
        emit BudgetReleased(holder, s.assetId, jobId, s.epsilon, spent);
    }

    /// @inheritdoc IDataLedger
    function holdingOf(address holder, uint256 assetId) external view returns (Holding memory) {
        return _holdings[holder][assetId];
    }

    /// @inheritdoc IDataLedger
    function remainingBudget(address holder, uint256 assetId) external view returns (uint256) {
        Holding storage h = _holdings[holder][assetId];
        return h.budget - h.spent;
    }

    /// @inheritdoc IDataLedger
    function spendOf(uint256 jobId, address holder) external view returns (Spend memory) {
        return _spends[jobId][holder];
    }
}
