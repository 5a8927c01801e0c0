// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

/// @title ICommonsToken
/// @notice What the commons token adds to ERC20Votes: the total of votes delegated, checkpointed like every
///         account's votes. Tokens never delegated (staked in the node registry, escrowed in the job market,
///         held in the reward pool or the treasury, or by holders who never delegate) cannot vote, so quorums
///         are taken of this total: the votes that can be cast. The token's clock is the block timestamp.
interface ICommonsToken is IVotes {
    /// @notice The total of delegated votes went from `previousTotal` to `newTotal`.
    event TotalDelegatedChanged(uint256 previousTotal, uint256 newTotal);

    /// @notice The votes delegated to anyone (self-delegation included) at `timepoint`, a past timestamp.
    function getPastTotalDelegated(uint256 timepoint) external view returns (uint256);

    /// @notice The votes delegated to anyone now.
    function totalDelegated() external view returns (uint256);
}
