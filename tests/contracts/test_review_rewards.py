"""ReviewRewards: voters share each review's pool by weight once the vote ended, committee members earn a fixed
reward per decision; pull payments, exactly once; a pool too small loses nothing; only governance sets rates."""

import pytest
from brownie import chain

from conftest import CID, DAY, E18, reverts

REPORT = "bafkreireportreportreportreportreportreportreportreportrepo"
VOTER_POOL, COMMITTEE_REWARD, FUNDED = 100 * E18, 50 * E18, 1_000_000 * E18


@pytest.fixture
def reviewed(dpg, token, poster, checker, providers, deployer):
    """An asset whose review 1 had votes from providers[0] (10 000, for) and providers[1] (30 000, against);
    providers[2] did not vote."""
    token.transfer(providers[1], 20_000 * E18, {"from": deployer})  # 30 000 vs 10 000
    for p in providers[:2]:
        token.delegate(p, {"from": p})
    chain.mine()
    asset = dpg.registerAsset(0, CID, "CC-BY-4.0", {"from": poster}).return_value
    dpg.requestCertification(asset, {"from": poster})
    dpg.attestCheck(asset, 1, True, REPORT, {"from": checker})
    dpg.castVote(asset, True, {"from": providers[0]})
    dpg.castVote(asset, False, {"from": providers[1]})
    return asset


def test_voters_share_by_weight_after_the_vote(rewards, token, dpg, reviewed, providers):
    with reverts("ReviewRewardsVoteNotEnded"):
        rewards.claim(reviewed, 1, {"from": providers[0]})
    assert [int(v) for v in rewards.claimable(reviewed, 1, providers[0])] == [0, 0]
    chain.sleep(3 * DAY + 1)
    chain.mine()
    before = [token.balanceOf(p) for p in providers[:2]]

    tx0 = rewards.claim(reviewed, 1, {"from": providers[0]})
    rewards.claim(reviewed, 1, {"from": providers[1]})

    assert token.balanceOf(providers[0]) - before[0] == VOTER_POOL // 4  # 10 000 of 40 000
    assert token.balanceOf(providers[1]) - before[1] == VOTER_POOL * 3 // 4
    assert rewards.pool() == FUNDED - VOTER_POOL
    assert tx0.events["ReviewRewardClaimed"]["voterReward"] == VOTER_POOL // 4
    with reverts("ReviewRewardsAlreadyClaimed", reviewed, 1, providers[0].address):
        rewards.claim(reviewed, 1, {"from": providers[0]})
    with reverts("ReviewRewardsNotReviewer", reviewed, 1, providers[2].address):
        rewards.claim(reviewed, 1, {"from": providers[2]})


def test_committee_members_earn_per_decision(rewards, token, dpg, poster, checker, committee, deployer):
    # Prepare: committee[0] also votes; the deployer's weight carries the quorum
    token.transfer(committee[0], 1_000 * E18, {"from": deployer})
    for holder in (deployer, committee[0]):
        token.delegate(holder, {"from": holder})
    chain.mine()
    asset = dpg.registerAsset(0, CID, "CC-BY-4.0", {"from": poster}).return_value
    dpg.requestCertification(asset, {"from": poster})
    dpg.attestCheck(asset, 1, True, REPORT, {"from": checker})
    for holder in (deployer, committee[0]):
        dpg.castVote(asset, True, {"from": holder})
    chain.sleep(3 * DAY + 1)
    chain.mine()
    dpg.closeVote(asset)
    dpg.committeeDecide(asset, True, "", {"from": committee[0]})
    dpg.committeeDecide(asset, False, REPORT, {"from": committee[2]})
    before = [token.balanceOf(m) for m in committee]

    both = rewards.claim(asset, 1, {"from": committee[0]})
    only_decision = rewards.claim(asset, 1, {"from": committee[2]})

    share = VOTER_POOL * 1_000 * E18 // dpg.getReview(asset, 1)["forVotes"]
    event = both.events["ReviewRewardClaimed"]
    assert (event["reviewer"], event["voterReward"], event["committeeReward"]) == (committee[0], share,
                                                                                  COMMITTEE_REWARD)
    assert token.balanceOf(committee[0]) - before[0] == share + COMMITTEE_REWARD
    assert only_decision.events["ReviewRewardClaimed"]["voterReward"] == 0
    assert token.balanceOf(committee[2]) - before[2] == COMMITTEE_REWARD
    with reverts("ReviewRewardsNotReviewer", asset, 1, committee[1].address):
        rewards.claim(asset, 1, {"from": committee[1]})


def test_only_governance_sets_rates(rewards, gov, providers):
    with reverts("AccessControlUnauthorizedAccount"):
        rewards.setCommitteeReward(1, {"from": providers[0]})
    tx = rewards.setVoterPoolPerReview(7 * E18, {"from": gov})
    event = tx.events["VoterPoolPerReviewSet"]
    assert (event["oldAmount"], event["newAmount"]) == (VOTER_POOL, 7 * E18)
    assert rewards.voterPoolPerReview() == 7 * E18


def test_a_pool_too_small_loses_nothing(rewards, token, reviewed, providers, gov, deployer):
    rewards.setVoterPoolPerReview(10 * FUNDED, {"from": gov})
    chain.sleep(3 * DAY + 1)
    chain.mine()

    with reverts("ReviewRewardsPoolTooSmall", 10 * FUNDED // 4, FUNDED):
        rewards.claim(reviewed, 1, {"from": providers[0]})
    token.approve(rewards, 2 * FUNDED, {"from": deployer})
    funded = rewards.fund(2 * FUNDED, {"from": deployer})
    rewards.claim(reviewed, 1, {"from": providers[0]})

    event = funded.events["PoolFunded"]
    assert (event["from"], event["amount"], event["pool"]) == (deployer, 2 * FUNDED, 3 * FUNDED)
    assert rewards.pool() == 3 * FUNDED - 10 * FUNDED // 4
    with reverts("ReviewRewardsInvalidInput", "amount"):
        rewards.fund(0, {"from": deployer})
