// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title CommonsToken
/// @notice The OpenDPG commons token: staked by providers, paid as rewards, and used for votes on DPG
///         certifications and on the governance of the protocol. The whole supply is minted once at
///         deployment; there is no owner and no later minting.
contract CommonsToken is ERC20, ERC20Permit, ERC20Votes {
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

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }
}
