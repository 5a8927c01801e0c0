// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice TEST ONLY. A payment token that, on every transfer out of `target`, calls back into `target`
///         with `payload` (e.g. `claim(jobId)` or `claimRefund(jobId)`) to try to drain the escrow.
///         Records whether the re-entry succeeded.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool public attacking;
    bool public reentered;
    bool public reentrySucceeded;

    constructor() ERC20("Reentrant", "REENT") {
        _mint(msg.sender, 1e30);
    }

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from == target && target != address(0) && !attacking) {
            attacking = true;
            reentered = true;
            (bool ok,) = target.call(payload);
            reentrySucceeded = reentrySucceeded || ok;
            attacking = false;
        }
    }
}
