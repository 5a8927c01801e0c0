// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IDPGRegistry} from "../interfaces/IDPGRegistry.sol";
import {IReviewRewards} from "../interfaces/IReviewRewards.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title ReviewRewards
/// @notice See {IReviewRewards}. Reads who reviewed what from the DPG registry; holds the pool in the
///         commons token; `GOVERNANCE_ROLE` (the timelock) sets the rates.
contract ReviewRewards is IReviewRewards, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    IERC20 public immutable rewardToken;
    IDPGRegistry public immutable registry;

    uint256 private _committeeReward;
    /// @dev Bit 0: the voter reward was paid; bit 1: the committee reward was paid.
    mapping(uint256 assetId => mapping(uint32 review => mapping(address => uint8))) private _paid;
    uint8 private constant PAID_VOTER = 1;
    uint8 private constant PAID_COMMITTEE = 2;

    constructor(IERC20 token, IDPGRegistry registry_, address admin, uint256 committeeAmount) {
        if (address(token) == address(0) || address(registry_) == address(0) || admin == address(0)) {
            revert ReviewRewardsInvalidInput("address");
        }
        rewardToken = token;
        registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNANCE_ROLE, admin);
        _setCommitteeReward(committeeAmount);
    }

    /// @inheritdoc IReviewRewards
    function fund(uint256 amount) external nonReentrant {
        if (amount == 0) revert ReviewRewardsInvalidInput("amount");
        rewardToken.safeTransferFrom(msg.sender, address(this), amount);
        emit PoolFunded(msg.sender, amount, rewardToken.balanceOf(address(this)));
    }

    /// @inheritdoc IReviewRewards
    function claim(uint256 assetId, uint32 review) external nonReentrant {
        uint8 paid = _paid[assetId][review][msg.sender];
        (uint256 asVoter, uint256 asCommittee) = _due(assetId, review, msg.sender, paid, true);
        uint256 total = asVoter + asCommittee;
        if (total == 0) {
            if (paid != 0) revert ReviewRewardsAlreadyClaimed(assetId, review, msg.sender);
            revert ReviewRewardsNotReviewer(assetId, review, msg.sender);
        }
        uint256 available = rewardToken.balanceOf(address(this));
        if (total > available) revert ReviewRewardsPoolTooSmall(total, available);
        _paid[assetId][review][msg.sender] =
            paid | (asVoter != 0 ? PAID_VOTER : 0) | (asCommittee != 0 ? PAID_COMMITTEE : 0);
        emit ReviewRewardClaimed(assetId, review, msg.sender, asVoter, asCommittee);
        rewardToken.safeTransfer(msg.sender, total);
    }

    /// @inheritdoc IReviewRewards
    function setCommitteeReward(uint256 amount) external onlyRole(Roles.GOVERNANCE_ROLE) {
        _setCommitteeReward(amount);
    }

    /// @inheritdoc IReviewRewards
    function claimable(uint256 assetId, uint32 review, address account)
        external
        view
        returns (uint256 voterReward, uint256 committeeAmount)
    {
        return _due(assetId, review, account, _paid[assetId][review][account], false);
    }

    /// @inheritdoc IReviewRewards
    function claimed(uint256 assetId, uint32 review, address account) external view returns (bool) {
        return _paid[assetId][review][account] != 0;
    }

    /// @inheritdoc IReviewRewards
    function pool() external view returns (uint256) {
        return rewardToken.balanceOf(address(this));
    }

    /// @inheritdoc IReviewRewards
    function committeeReward() external view returns (uint256) {
        return _committeeReward;
    }

    /// @dev What is owed and not yet paid. A voter's share needs the vote to have ended (the total weight is
    ///      final then) and to have reached quorum; the owner gets nothing for its own asset. `strict` reverts
    ///      with the reason instead of returning zero when nothing else is due.
    function _due(uint256 assetId, uint32 review, address account, uint8 paid, bool strict)
        private
        view
        returns (uint256 asVoter, uint256 asCommittee)
    {
        address owner = registry.getAsset(assetId).owner;
        if (account == owner) {
            if (strict) revert ReviewRewardsOwnAsset(assetId, account);
            return (0, 0);
        }
        if (paid & PAID_COMMITTEE == 0 && registry.hasDecided(assetId, review, account)) {
            asCommittee = _committeeReward;
        }
        if (paid & PAID_VOTER != 0 || !registry.hasVoted(assetId, review, account)) return (0, asCommittee);
        IDPGRegistry.Review memory r = registry.getReview(assetId, review);
        bool quiet = !strict || asCommittee != 0;
        if (block.timestamp <= r.voteEnd) {
            if (!quiet) revert ReviewRewardsVoteNotEnded(assetId, review, r.voteEnd, block.timestamp);
            return (0, asCommittee);
        }
        uint256 total = uint256(r.forVotes) + r.againstVotes;
        if (total < r.quorum) {
            if (!quiet) revert ReviewRewardsQuorumNotReached(assetId, review, total, r.quorum);
            return (0, asCommittee);
        }
        IVotes votes = registry.votesToken();
        // the owner's own weight takes no share: the other voters share the whole fee
        uint256 sharing = total;
        if (registry.hasVoted(assetId, review, owner)) sharing -= votes.getPastVotes(owner, r.snapshot);
        asVoter = (uint256(r.fee) * votes.getPastVotes(account, r.snapshot)) / sharing;
    }

    function _setCommitteeReward(uint256 amount) private {
        emit CommitteeRewardSet(_committeeReward, amount);
        _committeeReward = amount;
    }
}
