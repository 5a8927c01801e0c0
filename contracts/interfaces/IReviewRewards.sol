// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IReviewRewards
/// @notice Rewards for the people who review assets for DPG certification, paid from a pool that governance
///         (or anyone) funds. For each review of an asset, the voters who took part share `voterPoolPerReview`
///         in proportion to their vote weight, whatever they voted, once the vote has ended; each expert
///         committee member who decided earns `committeeReward`. Reviewers pull their reward with `claim`.
/// @dev Rates are read when a reward is claimed. A claim the pool cannot cover reverts and can be repeated
///      once the pool is topped up; nothing is lost.
interface IReviewRewards {
    // ---------------------------------------------------------------- errors
    /// @notice The vote of `review` of `assetId` ends at `voteEnd`; it is `nowTime`.
    error ReviewRewardsVoteNotEnded(uint256 assetId, uint32 review, uint256 voteEnd, uint256 nowTime);
    /// @notice `account` neither voted in nor decided `review` of `assetId`.
    error ReviewRewardsNotReviewer(uint256 assetId, uint32 review, address account);
    error ReviewRewardsAlreadyClaimed(uint256 assetId, uint32 review, address account);
    /// @notice The pool holds `available`; the claim needs `needed`.
    error ReviewRewardsPoolTooSmall(uint256 needed, uint256 available);
    /// @notice Field `field` is invalid.
    error ReviewRewardsInvalidInput(string field);

    // ---------------------------------------------------------------- events
    event PoolFunded(address indexed from, uint256 amount, uint256 pool);
    event ReviewRewardClaimed(
        uint256 indexed assetId, uint32 indexed review, address indexed reviewer, uint256 voterReward, uint256 committeeReward
    );
    event VoterPoolPerReviewSet(uint256 oldAmount, uint256 newAmount);
    event CommitteeRewardSet(uint256 oldAmount, uint256 newAmount);

    // ---------------------------------------------------------------- everyone
    /// @notice Add `amount` of the reward token to the pool (pulled with `transferFrom`).
    function fund(uint256 amount) external;

    /// @notice Pay the caller its reward for `review` of `assetId`.
    function claim(uint256 assetId, uint32 review) external;

    // ---------------------------------------------------------------- governance
    function setVoterPoolPerReview(uint256 amount) external;

    function setCommitteeReward(uint256 amount) external;

    // ---------------------------------------------------------------- views
    /// @notice What `account` would be paid for `review` of `assetId` now: (as a voter, as a committee member).
    function claimable(uint256 assetId, uint32 review, address account)
        external
        view
        returns (uint256 voterReward, uint256 committeeReward);

    function claimed(uint256 assetId, uint32 review, address account) external view returns (bool);

    function pool() external view returns (uint256);

    function voterPoolPerReview() external view returns (uint256);

    function committeeReward() external view returns (uint256);
}
