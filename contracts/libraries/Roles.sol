// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Roles
/// @notice AccessControl role ids shared by the protocol contracts.
library Roles {
    /// @notice Sets parameters, slashes for fraud, revokes certifications: the timelock.
    bytes32 internal constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");
    /// @notice Locks, settles and slashes node stake for jobs: the job market.
    bytes32 internal constant STAKE_MANAGER_ROLE = keccak256("STAKE_MANAGER_ROLE");
    /// @notice Holds jobs for open disputes and settles them in the job market: the dispute contract.
    bytes32 internal constant DISPUTES_ROLE = keccak256("DISPUTES_ROLE");
    /// @notice Spends and releases data holders' privacy budgets as providers join jobs: the job market.
    bytes32 internal constant DATA_SPENDER_ROLE = keccak256("DATA_SPENDER_ROLE");
    /// @notice Posts automated DPG-check attestations.
    bytes32 internal constant CHECKER_ROLE = keccak256("CHECKER_ROLE");
    /// @notice A member of the DPG expert committee.
    bytes32 internal constant COMMITTEE_ROLE = keccak256("COMMITTEE_ROLE");
}
