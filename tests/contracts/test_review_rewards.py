"""ReviewRewards: a review's voters share the fee its owner paid, by weight, once the vote ended and only if it
reached quorum; the owner is never paid for its own asset; committee members earn a fixed reward per decision from
the pool; pull payments, exactly once; a pool too small loses nothing; only governance sets rates."""

import pytest
from brownie import chain

from conftest import CID, DAY, E18, request_review, reverts, tick

REPORT = "bafkreireportreportreportreportreportreportreportreportrepo"
REVIEW_FEE, COMMITTEE_REWARD, FUNDED = 100 * E18, 50 * E18, 1_000_000 * E18


def _review(dpg, owner, checker):
    asset = dpg.registerAsset(0, CID, "CC-BY-4.0", {"from": owner}).return_value
    request_review(dpg, asset, owner)
    dpg.attestCheck(asset, dpg.getAsset(asset)["standardVersion"], True, REPORT, {"from": checker})
    return asset


@pytest.fixture
def reviewed(dpg, token, poster, checker, providers, deployer):
    """An asset of the poster whose review 1 had votes from providers[0] (10 000, for) and providers[1]
    (30 000, against); providers[2] did not vote. Only they delegated: quorum is 10 % of 40 000."""
    token.transfer(providers[1], 20_000 * E18, {"from": deployer})  # 30 000 vs 10 000
    for p in providers[:2]:
        token.delegate(p, {"from": p})
    tick()
    asset = _review(dpg, poster, checker)
    dpg.castVote(asset, True, {"from": providers[0]})
    dpg.castVote(asset, False, {"from": providers[1]})
    return asset


def test_voters_share_the_fee_by_weight_after_the_vote(rewards, token, dpg, reviewed, providers):
    with reverts("ReviewRewardsVoteNotEnded"):
        rewards.claim(reviewed, 1, {"from": providers[0]})
    assert [int(v) for v in rewards.claimable(reviewed, 1, providers[0])] == [0, 0]
    chain.sleep(3 * DAY + 1)
    chain.mine()
    before = [token.balanceOf(p) for p in providers[:2]]

    tx0 = rewards.claim(reviewed, 1, {"from": providers[0]})
    rewards.claim(reviewed, 1, {"from": providers[1]})

    assert token.balanceOf(providers[0]) - before[0] == REVIEW_FEE // 4  # 10 000 of 40 000
    assert token.balanceOf(providers[1]) - before[1] == REVIEW_FEE * 3 // 4
    assert rewards.pool() == FUNDED  # the fee came in and went out: the DAO's pool paid no voter
    assert tx0.events["ReviewRewardClaimed"]["voterReward"] == REVIEW_FEE // 4
    with reverts("ReviewRewardsAlreadyClaimed", reviewed, 1, providers[0].address):
        rewards.claim(reviewed, 1, {"from": providers[0]})
    with reverts("ReviewRewardsNotReviewer", reviewed, 1, providers[2].address):
        rewards.claim(reviewed, 1, {"from": providers[2]})


def test_committee_members_earn_per_decision(rewards, token, dpg, poster, checker, committee, deployer):
    # Prepare: committee[0] also votes; the deployer's weight carries the quorum
    token.transfer(committee[0], 1_000 * E18, {"from": deployer})
    for holder in (deployer, committee[0]):
        token.delegate(holder, {"from": holder})
    tick()
    asset = _review(dpg, poster, checker)
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

    share = REVIEW_FEE * 1_000 * E18 // dpg.getReview(asset, 1)["forVotes"]
    event = both.events["ReviewRewardClaimed"]
    assert (event["reviewer"], event["voterReward"], event["committeeReward"]) == (committee[0], share,
                                                                                  COMMITTEE_REWARD)
    assert token.balanceOf(committee[0]) - before[0] == share + COMMITTEE_REWARD
    assert only_decision.events["ReviewRewardClaimed"]["voterReward"] == 0
    assert token.balanceOf(committee[2]) - before[2] == COMMITTEE_REWARD
    with reverts("ReviewRewardsNotReviewer", asset, 1, committee[1].address):
        rewards.claim(asset, 1, {"from": committee[1]})


def test_voting_alone_on_ones_own_assets_farms_nothing(rewards, token, dpg, checker, accounts, deployer):
    # Prepare: the attack the review found: one address with 1 wei of delegated votes, the only delegate, opens
    # reviews of its own assets and votes alone (it took 600 tokens from the DAO's pool in six reviews); a second
    # address of the same person votes too, to take the voters' share. The farmer keeps 100 tokens beyond the six
    # fees, so it still has votes at each review's snapshot (one second before the vote opens, which on a chain with
    # real timestamps can fall after the fee left its balance)
    farmer, sybil = accounts.add(), accounts.add()
    deployer.transfer(farmer, E18)
    deployer.transfer(sybil, E18)
    token.transfer(farmer, 700 * E18, {"from": deployer})
    token.transfer(sybil, 1, {"from": deployer})
    for account in (farmer, sybil):
        token.delegate(account, {"from": account})
    tick()
    pool = rewards.pool()
    before = token.balanceOf(farmer) + token.balanceOf(sybil)

    # Execute: six reviews, each voted by both, each claimed by both after the vote
    assets = []
    for _ in range(6):
        asset = _review(dpg, farmer, checker)
        dpg.castVote(asset, False, {"from": farmer})
        dpg.castVote(asset, False, {"from": sybil})
        assets.append(asset)
    chain.sleep(3 * DAY + 1)
    chain.mine()
    for asset in assets:
        with reverts("ReviewRewardsOwnAsset", asset, farmer.address):
            rewards.claim(asset, 1, {"from": farmer})
        rewards.claim(asset, 1, {"from": sybil})

    # Assert: the sybil got back what the farmer paid, no more; the DAO's pool lost nothing
    assert token.balanceOf(farmer) + token.balanceOf(sybil) == before
    assert rewards.pool() == pool


def test_a_review_without_quorum_pays_no_voter(rewards, token, dpg, poster, checker, providers, deployer):
    # Prepare: the deployer delegated (so quorum is 10 % of its weight) but does not vote; one small voter does
    token.delegate(deployer, {"from": deployer})
    token.delegate(providers[0], {"from": providers[0]})
    tick()
    asset = _review(dpg, poster, checker)
    dpg.castVote(asset, True, {"from": providers[0]})
    chain.sleep(3 * DAY + 1)
    chain.mine()
    review = dpg.getReview(asset, 1)
    pool = rewards.pool()

    with reverts("ReviewRewardsQuorumNotReached", asset, 1, 10_000 * E18, review["quorum"]):
        rewards.claim(asset, 1, {"from": providers[0]})

    assert review["quorum"] > 10_000 * E18
    assert [int(v) for v in rewards.claimable(asset, 1, providers[0])] == [0, 0]
    assert rewards.pool() == pool  # the fee stays in the pool


def test_only_governance_sets_rates(rewards, gov, providers):
    with reverts("AccessControlUnauthorizedAccount"):
        rewards.setCommitteeReward(1, {"from": providers[0]})
    tx = rewards.setCommitteeReward(7 * E18, {"from": gov})
    event = tx.events["CommitteeRewardSet"]
    assert (event["oldAmount"], event["newAmount"]) == (COMMITTEE_REWARD, 7 * E18)
    assert rewards.committeeReward() == 7 * E18


def test_a_pool_too_small_loses_nothing(rewards, token, dpg, poster, checker, committee, gov, deployer):
    token.delegate(deployer, {"from": deployer})
    tick()
    asset = _review(dpg, poster, checker)
    dpg.castVote(asset, True, {"from": deployer})
    chain.sleep(3 * DAY + 1)
    chain.mine()
    dpg.closeVote(asset)
    dpg.committeeDecide(asset, True, "", {"from": committee[0]})
    pool = rewards.pool()
    rewards.setCommitteeReward(10 * FUNDED, {"from": gov})

    with reverts("ReviewRewardsPoolTooSmall", 10 * FUNDED, pool):
        rewards.claim(asset, 1, {"from": committee[0]})
    token.approve(rewards, 10 * FUNDED, {"from": deployer})
    funded = rewards.fund(10 * FUNDED, {"from": deployer})
    rewards.claim(asset, 1, {"from": committee[0]})

    event = funded.events["PoolFunded"]
    assert (event["from"], event["amount"], event["pool"]) == (deployer, 10 * FUNDED, pool + 10 * FUNDED)
    assert rewards.pool() == pool
    with reverts("ReviewRewardsInvalidInput", "amount"):
        rewards.fund(0, {"from": deployer})
