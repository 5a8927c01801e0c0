// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IReviewRewards
/// @notice Rewards for the people who review assets for DPG certification. Voters are paid from the review's
///         own fee, which the asset's owner paid to this contract when it asked for the review: once the vote has
///         ended, and only if it reached quorum, the voters other than the owner share the fee in proportion to
///         their vote weight, whatever they voted. A review without quorum pays its voters nothing and its fee
///         stays in the pool. Each expert committee member who decided a review of an asset it does not own earns
///         `committeeReward` from the pool, which governance (or anyone) funds. Reviewers pull with `claim`.
/// @dev So voting on one's own assets cannot farm rewards: the owner is never paid for its own review, and what
///      other voters share is what the owner paid. The committee reward is read when claimed. A claim the pool
///      cannot cover reverts and can be repeated once the pool is topped up; nothing is lost.
interface IReviewRewards {
    // ---------------------------------------------------------------- errors
    /// @notice The vote of `review` of `assetId` ends at `voteEnd`; it is `nowTime`.
    error ReviewRewardsVoteNotEnded(uint256 assetId, uint32 review, uint256 voteEnd, uint256 nowTime);
    /// @notice `account` neither voted in nor decided `review` of `assetId`.
    error ReviewRewardsNotReviewer(uint256 assetId, uint32 review, address account);
    error ReviewRewardsAlreadyClaimed(uint256 assetId, uint32 review, address account);
    /// @notice `account` owns asset `assetId`: it is not paid for reviews of its own asset.
    error ReviewRewardsOwnAsset(uint256 assetId, address account);
    /// @notice The vote of `review` drew `votes`, below its quorum `quorum`: its voters are not paid.
    error ReviewRewardsQuorumNotReached(uint256 assetId, uint32 review, uint256 votes, uint256 quorum);
    /// @notice The pool holds `available`; the claim needs `needed`.
    error ReviewRewardsPoolTooSmall(uint256 needed, uint256 available);
    /// @notice Field `field` is invalid.
    error ReviewRewardsInvalidInput(string field);

    // ---------------------------------------------------------------- events
    event PoolFunded(address indexed from, uint256 amount, uint256 pool);
    event ReviewRewardClaimed(
        uint256 indexed assetId, uint32 indexed review, address indexed reviewer, uint256 voterReward, uint256 committeeReward
    );
    event CommitteeRewardSet(uint256 oldAmount, uint256 newAmount);

    // ---------------------------------------------------------------- everyone
    /// @notice Add `amount` of the reward token to the pool (pulled with `transferFrom`).
    function fund(uint256 amount) external;

    /// @notice Pay the caller its reward for `review` of `assetId`.
    function claim(uint256 assetId, uint32 review) external;

    // ---------------------------------------------------------------- governance
    function setCommitteeReward(uint256 amount) external;

    // ---------------------------------------------------------------- views
    /// @notice What `account` would be paid for `review` of `assetId` now: (as a voter, as a committee member).
    function claimable(uint256 assetId, uint32 review, address account)
        external
        view
        returns (uint256 voterReward, uint256 committeeReward);

    function claimed(uint256 assetId, uint32 review, address account) external view returns (bool);

    function pool() external view returns (uint256);

    function committeeReward() external view returns (uint256);
}
