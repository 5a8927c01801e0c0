// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Votes} from "@openzeppelin/contracts/governance/utils/Votes.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ICommonsToken} from "../interfaces/ICommonsToken.sol";

/// @title CommonsToken
/// @notice The OpenDPG commons token: staked by providers, paid as rewards, and used for votes on DPG
///         certifications and on the governance of the protocol. The whole supply is minted once at
///         deployment; there is no owner and no later minting. Its clock is the block timestamp, and it
///         checkpoints the total of delegated votes (see {ICommonsToken}).
contract CommonsToken is ERC20, ERC20Permit, ERC20Votes, ICommonsToken {
    using Checkpoints for Checkpoints.Trace208;

    Checkpoints.Trace208 private _delegatedCheckpoints;

    /// @param name_ token name
    /// @param symbol_ token symbol
    /// @param holder receives the initial supply (usually the deployer, who then distributes it)
    /// @param supply the fixed total supply, in the smallest unit
    constructor(string memory name_, string memory symbol_, address holder, uint256 supply)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        _mint(holder, supply);
    }

    /// @inheritdoc Votes
    function clock() public view override returns (uint48) {
        return uint48(block.timestamp);
    }

    /// @inheritdoc Votes
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /// @inheritdoc ICommonsToken
    function getPastTotalDelegated(uint256 timepoint) external view returns (uint256) {
        return _delegatedCheckpoints.upperLookupRecent(_validateTimepoint(timepoint));
    }

    /// @inheritdoc ICommonsToken
    function totalDelegated() external view returns (uint256) {
        return _delegatedCheckpoints.latest();
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    /// @dev Every change of delegated votes passes here: votes moving from no delegate to one (a first delegation,
    ///      or tokens arriving at a delegating holder) add to the total, the reverse subtracts.
    function _moveDelegateVotes(address from, address to, uint256 amount) internal override {
        super._moveDelegateVotes(from, to, amount);
        if (from == to || amount == 0 || (from != address(0) && to != address(0))) return;
        uint208 delta = SafeCast.toUint208(amount);
        (uint208 before, uint208 after_) = _delegatedCheckpoints.push(
            clock(), from == address(0) ? _delegatedCheckpoints.latest() + delta : _delegatedCheckpoints.latest() - delta
        );
        emit TotalDelegatedChanged(before, after_);
    }
}
