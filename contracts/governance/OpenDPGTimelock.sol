// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title OpenDPGTimelock
/// @notice Holds every protocol parameter and the treasury; executes what the Governor passed after
///         `minDelay`. Proposer and canceller: the Governor. Executor: anyone (open execution).
contract OpenDPGTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
