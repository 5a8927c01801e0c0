"""DPGRegistry: the three certification stages, expiry, renewal, revocation, the standard, parameters."""

import pytest
from brownie import ZERO_ADDRESS, chain

from conftest import CID, DAY, request_review, reverts, tick

DATASET, MODEL, SOFTWARE, COMPUTE = 0, 1, 2, 3
(NONE, REGISTERED, AWAITING_CHECK, CHECK_FAILED, VOTING, VOTE_FAILED, COMMITTEE_REVIEW, REJECTED, CERTIFIED,
 REVOKED) = range(10)
REPORT = "bafkreireportreportreportreportreportreportreportreportrepo"


@pytest.fixture
def voters(token, providers):
    """providers[0..2] hold 10 000 tokens each, delegated to themselves."""
    for p in providers[:3]:
        token.delegate(p, {"from": p})
    tick()
    return providers[:3]


@pytest.fixture
def whale(token, deployer):
    token.delegate(deployer, {"from": deployer})
    tick()
    return deployer


@pytest.fixture
def asset(dpg, poster):
    return dpg.registerAsset(DATASET, CID, "CC-BY-4.0", {"from": poster}).return_value


def _to_vote(dpg, asset, poster, checker):
    request_review(dpg, asset, poster)
    dpg.attestCheck(asset, 1, True, REPORT, {"from": checker})


def _to_committee(dpg, asset, poster, checker, whale):
    _to_vote(dpg, asset, poster, checker)
    dpg.castVote(asset, True, {"from": whale})
    chain.sleep(3 * DAY + 1)
    chain.mine()
    dpg.closeVote(asset)


def test_register_and_update_asset(dpg, poster, providers):
    tx = dpg.registerAsset(MODEL, CID, "Apache-2.0", {"from": poster})
    asset_id = tx.return_value
    a = dpg.getAsset(asset_id)
    assert (a["owner"], a["kind"], a["stage"], a["licence"]) == (poster, MODEL, REGISTERED, "Apache-2.0")
    assert tx.events["AssetRegistered"]["metadataCid"] == CID
    with reverts("DPGRegistryInvalidInput", "licence"):
        dpg.registerAsset(MODEL, CID, "", {"from": poster})
    with reverts("DPGRegistryInvalidInput", "metadataCid"):
        dpg.registerAsset(MODEL, "", "MIT", {"from": poster})
    with reverts("DPGRegistryNotOwner", asset_id, providers[0].address):
        dpg.updateAsset(asset_id, CID, "MIT", {"from": providers[0]})
    dpg.updateAsset(asset_id, CID + "x", "MIT", {"from": poster})
    assert dpg.getAsset(asset_id)["licence"] == "MIT"
    with reverts("DPGRegistryUnknownAsset", 99):
        request_review(dpg, 99, poster)


def test_full_certification(dpg, asset, poster, checker, voters, whale, committee):
    request_review(dpg, asset, poster)
    assert dpg.getAsset(asset)["stage"] == AWAITING_CHECK
    tx = dpg.attestCheck(asset, 1, True, REPORT, {"from": checker})
    assert tx.events["VotingOpened"]["snapshot"] == tx.timestamp - 1  # the token's clock is the timestamp
    for v in voters:
        dpg.castVote(asset, True, {"from": v})
    dpg.castVote(asset, True, {"from": whale})
    chain.sleep(3 * DAY + 1)
    chain.mine()
    tx = dpg.closeVote(asset)
    assert tx.events["VoteClosed"]["passed"]
    assert dpg.getAsset(asset)["stage"] == COMMITTEE_REVIEW
    dpg.committeeDecide(asset, True, "", {"from": committee[0]})
    assert not dpg.isCertified(asset)

    tx = dpg.committeeDecide(asset, True, "", {"from": committee[1]})

    a = dpg.getAsset(asset)
    assert a["stage"] == CERTIFIED and dpg.isCertified(asset)
    assert a["certifiedUntil"] == tx.timestamp + 365 * DAY
    assert tx.events["CertificationGranted"]["standardVersion"] == 1
    review = dpg.getReview(asset, 1)
    assert review["approvals"] == 2 and review["reportCid"] == REPORT


def test_certification_expires_and_can_be_renewed(dpg, asset, poster, checker, whale, committee):
    _to_committee(dpg, asset, poster, checker, whale)
    dpg.committeeDecide(asset, True, "", {"from": committee[0]})
    dpg.committeeDecide(asset, True, "", {"from": committee[1]})
    chain.sleep(365 * DAY + 1)
    chain.mine()
    assert not dpg.isCertified(asset)

    _to_committee(dpg, asset, poster, checker, whale)
    dpg.committeeDecide(asset, True, "", {"from": committee[0]})
    dpg.committeeDecide(asset, True, "", {"from": committee[2]})

    assert dpg.isCertified(asset) and dpg.getAsset(asset)["review"] == 2


def test_failed_check(dpg, asset, poster, checker, providers):
    request_review(dpg, asset, poster)
    with reverts("AccessControlUnauthorizedAccount"):
        dpg.attestCheck(asset, 1, True, REPORT, {"from": providers[0]})
    with reverts("DPGRegistryStaleStandard", 0, 1):
        dpg.attestCheck(asset, 0, True, REPORT, {"from": checker})
    with reverts("DPGRegistryInvalidInput", "reportCid"):
        dpg.attestCheck(asset, 1, True, "", {"from": checker})
    dpg.attestCheck(asset, 1, False, REPORT, {"from": checker})
    assert dpg.getAsset(asset)["stage"] == CHECK_FAILED
    with reverts("DPGRegistryWrongStage", asset, CHECK_FAILED):
        dpg.castVote(asset, True, {"from": providers[0]})
    request_review(dpg, asset, poster)  # may try again
    assert dpg.getAsset(asset)["review"] == 2


def test_vote_without_quorum_fails(dpg, token, asset, poster, checker, voters, whale):
    _to_vote(dpg, asset, poster, checker)
    snapshot = dpg.getReview(asset, 1)["snapshot"]
    delegated = token.getPastTotalDelegated(snapshot)
    dpg.castVote(asset, True, {"from": voters[0]})
    with reverts("DPGRegistryVotingStillOpen"):
        dpg.closeVote(asset)
    chain.sleep(3 * DAY + 1)
    chain.mine()

    tx = dpg.closeVote(asset)

    ev = tx.events["VoteClosed"]
    # quorum is 10 % of the votes delegated at the snapshot (the whale's and three voters'), not of the supply
    assert delegated == token.getVotes(whale) + 30_000 * 10**18
    assert not ev["passed"] and ev["quorum"] == delegated // 10
    assert dpg.getAsset(asset)["stage"] == VOTE_FAILED


def test_vote_reverts(dpg, asset, poster, checker, voters, accounts):
    _to_vote(dpg, asset, poster, checker)
    dpg.castVote(asset, False, {"from": voters[0]})
    assert dpg.hasVoted(asset, 1, voters[0])
    with reverts("DPGRegistryAlreadyVoted", asset, voters[0].address):
        dpg.castVote(asset, True, {"from": voters[0]})
    with reverts("DPGRegistryNoVotingPower"):
        dpg.castVote(asset, True, {"from": accounts[9]})
    chain.sleep(3 * DAY + 1)
    chain.mine()
    with reverts("DPGRegistryVotingClosed"):
        dpg.castVote(asset, True, {"from": voters[1]})


def test_votes_after_snapshot_do_not_count(dpg, token, asset, poster, checker, voters, accounts):
    _to_vote(dpg, asset, poster, checker)
    latecomer = accounts[9]
    token.transfer(latecomer, 1_000 * 10**18, {"from": voters[1]})
    token.delegate(latecomer, {"from": latecomer})
    with reverts("DPGRegistryNoVotingPower"):
        dpg.castVote(asset, True, {"from": latecomer})


def test_vote_against_majority_fails(dpg, asset, poster, checker, whale, voters):
    _to_vote(dpg, asset, poster, checker)
    dpg.castVote(asset, False, {"from": whale})
    dpg.castVote(asset, True, {"from": voters[0]})
    chain.sleep(3 * DAY + 1)
    chain.mine()
    assert not dpg.closeVote(asset).events["VoteClosed"]["passed"]


def test_committee_rejection(dpg, asset, poster, checker, whale, committee, providers):
    _to_committee(dpg, asset, poster, checker, whale)
    with reverts("DPGRegistryNotCommitteeMember", providers[0].address):
        dpg.committeeDecide(asset, True, "", {"from": providers[0]})
    with reverts("DPGRegistryInvalidInput", "reasonCid"):
        dpg.committeeDecide(asset, False, "", {"from": committee[0]})
    dpg.committeeDecide(asset, False, REPORT, {"from": committee[0]})
    assert dpg.getAsset(asset)["stage"] == COMMITTEE_REVIEW  # 2 of 3 can still approve
    with reverts("DPGRegistryAlreadyDecided", asset, committee[0].address):
        dpg.committeeDecide(asset, True, "", {"from": committee[0]})

    tx = dpg.committeeDecide(asset, False, REPORT, {"from": committee[1]})

    assert "CertificationRejected" in tx.events
    assert dpg.getAsset(asset)["stage"] == REJECTED and not dpg.isCertified(asset)


def test_revoke_by_governance_only(dpg, asset, poster, checker, whale, committee, gov):
    _to_committee(dpg, asset, poster, checker, whale)
    dpg.committeeDecide(asset, True, "", {"from": committee[0]})
    dpg.committeeDecide(asset, True, "", {"from": committee[1]})
    with reverts("AccessControlUnauthorizedAccount"):
        dpg.revoke(asset, REPORT, {"from": poster})
    with reverts("DPGRegistryInvalidInput", "reasonCid"):
        dpg.revoke(asset, "", {"from": gov})

    dpg.revoke(asset, REPORT, {"from": gov})

    assert not dpg.isCertified(asset) and dpg.getAsset(asset)["stage"] == REVOKED
    with reverts("DPGRegistryWrongStage", asset, REVOKED):
        dpg.requestCertification(asset, {"from": poster})
    with reverts("DPGRegistryWrongStage", asset, REVOKED):
        dpg.revoke(asset, REPORT, {"from": gov})


def test_update_clears_certification(dpg, asset, poster, checker, whale, committee):
    _to_committee(dpg, asset, poster, checker, whale)
    with reverts("DPGRegistryWrongStage", asset, COMMITTEE_REVIEW):
        dpg.updateAsset(asset, CID, "MIT", {"from": poster})
    dpg.committeeDecide(asset, True, "", {"from": committee[0]})
    dpg.committeeDecide(asset, True, "", {"from": committee[1]})
    dpg.updateAsset(asset, CID, "MIT", {"from": poster})
    assert not dpg.isCertified(asset) and dpg.getAsset(asset)["stage"] == REGISTERED


def test_standard_changes_only_through_governance(dpg, gov, poster, asset, checker):
    with reverts("AccessControlUnauthorizedAccount"):
        dpg.setStandard(2, CID, {"from": poster})
    with reverts("DPGRegistryStandardVersionNotIncreasing", 1, 1):
        dpg.setStandard(1, CID, {"from": gov})
    request_review(dpg, asset, poster)

    tx = dpg.setStandard(2, CID, {"from": gov})

    version, cid = dpg.standard()
    assert (int(version), cid) == (2, CID) and dpg.standardCid(1) != ""
    ev = tx.events["StandardSet"]
    assert (ev["oldVersion"], ev["newVersion"], ev["cid"]) == (1, 2, CID)
    with reverts("DPGRegistryStaleStandard", 1, 2):  # the checker must re-check against the new standard
        dpg.attestCheck(asset, 1, True, REPORT, {"from": checker})


def test_committee_membership_and_parameters(dpg, gov, committee, poster, accounts):
    new = accounts[9]
    with reverts("AccessControlUnauthorizedAccount"):
        dpg.addCommitteeMember(new, {"from": poster})
    dpg.addCommitteeMember(new, {"from": gov})
    assert dpg.isCommitteeMember(new) and dpg.committeeSize() == 4
    with reverts("DPGRegistryAlreadyCommitteeMember", new.address):
        dpg.addCommitteeMember(new, {"from": gov})
    with reverts("DPGRegistryInvalidInput", "member"):
        dpg.addCommitteeMember(ZERO_ADDRESS, {"from": gov})
    dpg.setCommitteeThreshold(4, {"from": gov})
    with reverts("DPGRegistryInvalidThreshold", 4, 3):
        dpg.removeCommitteeMember(new, {"from": gov})
    with reverts("DPGRegistryInvalidThreshold", 5, 4):
        dpg.setCommitteeThreshold(5, {"from": gov})
    dpg.setCommitteeThreshold(3, {"from": gov})
    dpg.removeCommitteeMember(new, {"from": gov})
    with reverts("DPGRegistryNotCommitteeMember", new.address):
        dpg.removeCommitteeMember(new, {"from": gov})

    for fn, value, event, getter in (
        (dpg.setVotingPeriod, DAY, "VotingPeriodSet", dpg.votingPeriod),
        (dpg.setQuorumBps, 1000, "QuorumBpsSet", dpg.quorumBps),
        (dpg.setApprovalBps, 6000, "ApprovalBpsSet", dpg.approvalBps),
        (dpg.setCertificationPeriod, 30 * DAY, "CertificationPeriodSet", dpg.certificationPeriod),
    ):
        old = getter()
        with reverts("AccessControlUnauthorizedAccount"):
            fn(value, {"from": poster})
        assert [int(v) for v in fn(value, {"from": gov}).events[event].values()] == [int(old), value]
        assert getter() == value
    with reverts("DPGRegistryInvalidBps", 10001):
        dpg.setQuorumBps(10001, {"from": gov})
    with reverts("DPGRegistryInvalidBps", 0):
        dpg.setApprovalBps(0, {"from": gov})
    with reverts("DPGRegistryInvalidInput", "votingPeriod"):
        dpg.setVotingPeriod(0, {"from": gov})


def test_a_tie_fails(dpg, token, asset, poster, checker, voters):
    # Prepare: two voters of equal weight; approval at 50 % would let a tie through with >=
    _to_vote(dpg, asset, poster, checker)
    dpg.castVote(asset, True, {"from": voters[0]})
    dpg.castVote(asset, False, {"from": voters[1]})
    chain.sleep(3 * DAY + 1)
    chain.mine()

    tx = dpg.closeVote(asset)

    ev = tx.events["VoteClosed"]
    assert ev["forVotes"] == ev["againstVotes"] and ev["forVotes"] + ev["againstVotes"] >= ev["quorum"]
    assert not ev["passed"] and dpg.getAsset(asset)["stage"] == VOTE_FAILED


def _certified(dpg, asset, poster, checker, whale, committee):
    _to_committee(dpg, asset, poster, checker, whale)
    dpg.committeeDecide(asset, True, "", {"from": committee[0]})
    dpg.committeeDecide(asset, True, "", {"from": committee[1]})
    assert dpg.isCertified(asset)


def test_a_failed_renewal_ends_the_certification(dpg, asset, poster, checker, whale, committee):
    # Prepare: certified, then a renewal whose check fails
    _certified(dpg, asset, poster, checker, whale, committee)
    request_review(dpg, asset, poster)
    assert dpg.isCertified(asset)  # in force while the renewal runs

    dpg.attestCheck(asset, 1, False, REPORT, {"from": checker})

    a = dpg.getAsset(asset)
    assert a["stage"] == CHECK_FAILED and a["certifiedUntil"] == 0 and not dpg.isCertified(asset)


def test_a_renewal_rejected_by_vote_or_committee_ends_the_certification(dpg, asset, poster, checker, whale,
                                                                         committee):
    _certified(dpg, asset, poster, checker, whale, committee)
    _to_vote(dpg, asset, poster, checker)
    dpg.castVote(asset, False, {"from": whale})
    chain.sleep(3 * DAY + 1)
    chain.mine()
    dpg.closeVote(asset)
    assert dpg.getAsset(asset)["stage"] == VOTE_FAILED and not dpg.isCertified(asset)

    _to_committee(dpg, asset, poster, checker, whale)
    dpg.committeeDecide(asset, False, REPORT, {"from": committee[0]})
    dpg.committeeDecide(asset, False, REPORT, {"from": committee[1]})
    assert dpg.getAsset(asset)["stage"] == REJECTED and not dpg.isCertified(asset)


def test_a_review_pays_its_fee_to_the_reward_pool(dpg, token, rewards, asset, poster):
    fee = dpg.reviewFee()
    pool = rewards.pool()
    before = token.balanceOf(poster)

    request_review(dpg, asset, poster)

    assert fee == 100 * 10**18 and dpg.feeRecipient() == rewards.address
    assert token.balanceOf(poster) == before - fee and rewards.pool() == pool + fee
    assert dpg.getReview(asset, 1)["fee"] == fee


def test_owner_withdraws_a_review_stuck_without_a_checker(dpg, asset, poster, providers):
    request_review(dpg, asset, poster)
    with reverts("DPGRegistryReviewNotStuck"):
        dpg.withdrawReview(asset, {"from": poster})
    chain.sleep(30 * DAY + 1)
    chain.mine()
    with reverts("DPGRegistryNotOwner", asset, providers[0].address):
        dpg.withdrawReview(asset, {"from": providers[0]})

    tx = dpg.withdrawReview(asset, {"from": poster})

    ev = tx.events["ReviewWithdrawn"]
    assert (ev["stuckAt"], ev["stage"]) == (AWAITING_CHECK, REGISTERED)
    assert dpg.getAsset(asset)["stage"] == REGISTERED
    request_review(dpg, asset, poster)  # the owner can try again
    assert dpg.getAsset(asset)["review"] == 2


def test_a_committee_review_stuck_after_a_membership_change_can_be_withdrawn(dpg, gov, asset, poster, checker,
                                                                             whale, committee):
    # Prepare: certified once, then a renewal in committee review; one member approves, one rejects, and the
    # DAO removes the third: every remaining member has decided and nobody can end the review
    _certified(dpg, asset, poster, checker, whale, committee)
    _to_committee(dpg, asset, poster, checker, whale)
    dpg.committeeDecide(asset, True, "", {"from": committee[0]})
    dpg.committeeDecide(asset, False, REPORT, {"from": committee[1]})
    dpg.removeCommitteeMember(committee[2], {"from": gov})
    for member in committee[:2]:
        with reverts("DPGRegistryAlreadyDecided"):
            dpg.committeeDecide(asset, True, "", {"from": member})
    with reverts("DPGRegistryWrongStage", asset, COMMITTEE_REVIEW):
        request_review(dpg, asset, poster)
    chain.sleep(30 * DAY + 1)
    chain.mine()

    tx = dpg.withdrawReview(asset, {"from": poster})

    # the first certification (a year) still runs: the asset is back to certified
    assert tx.events["ReviewWithdrawn"]["stage"] == CERTIFIED and dpg.isCertified(asset)
    request_review(dpg, asset, poster)
    assert dpg.getAsset(asset)["stage"] == AWAITING_CHECK


def test_review_parameters_are_governance_only(dpg, gov, poster):
    with reverts("AccessControlUnauthorizedAccount"):
        dpg.setReviewFee(1, {"from": poster})
    tx = dpg.setReviewFee(5 * 10**18, {"from": gov})
    assert [int(v) for v in tx.events["ReviewFeeSet"].values()] == [100 * 10**18, 5 * 10**18]
    tx = dpg.setReviewTimeout(DAY, {"from": gov})
    assert [int(v) for v in tx.events["ReviewTimeoutSet"].values()] == [30 * DAY, DAY]
    with reverts("DPGRegistryInvalidInput", "reviewTimeout"):
        dpg.setReviewTimeout(0, {"from": gov})
    with reverts("DPGRegistryInvalidInput", "feeRecipient"):
        dpg.setFeeRecipient(ZERO_ADDRESS, {"from": gov})
