"""DPGRegistry: the three certification stages, expiry, renewal, revocation, the standard, parameters."""

import pytest
from brownie import ZERO_ADDRESS, chain

from conftest import CID, DAY, reverts

DATASET, MODEL, SOFTWARE, COMPUTE = 0, 1, 2, 3
(NONE, REGISTERED, AWAITING_CHECK, CHECK_FAILED, VOTING, VOTE_FAILED, COMMITTEE_REVIEW, REJECTED, CERTIFIED,
 REVOKED) = range(10)
REPORT = "bafkreireportreportreportreportreportreportreportreportrepo"


@pytest.fixture
def voters(token, providers):
    """providers[0..2] hold 10 000 tokens each, delegated to themselves (1e9 supply: quorum 4 % = 4e7)."""
    for p in providers[:3]:
        token.delegate(p, {"from": p})
    chain.mine()
    return providers[:3]


@pytest.fixture
def whale(token, deployer):
    token.delegate(deployer, {"from": deployer})
    chain.mine()
    return deployer


@pytest.fixture
def asset(dpg, poster):
    return dpg.registerAsset(DATASET, CID, "CC-BY-4.0", {"from": poster}).return_value


def _to_vote(dpg, asset, poster, checker):
    dpg.requestCertification(asset, {"from": poster})
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
        dpg.requestCertification(99, {"from": poster})


def test_full_certification(dpg, asset, poster, checker, voters, whale, committee):
    dpg.requestCertification(asset, {"from": poster})
    assert dpg.getAsset(asset)["stage"] == AWAITING_CHECK
    tx = dpg.attestCheck(asset, 1, True, REPORT, {"from": checker})
    assert tx.events["VotingOpened"]["snapshot"] == tx.block_number - 1
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
    dpg.requestCertification(asset, {"from": poster})
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
    dpg.requestCertification(asset, {"from": poster})  # may try again
    assert dpg.getAsset(asset)["review"] == 2


def test_vote_without_quorum_fails(dpg, asset, poster, checker, voters):
    _to_vote(dpg, asset, poster, checker)
    dpg.castVote(asset, True, {"from": voters[0]})
    with reverts("DPGRegistryVotingStillOpen"):
        dpg.closeVote(asset)
    chain.sleep(3 * DAY + 1)
    chain.mine()

    tx = dpg.closeVote(asset)

    ev = tx.events["VoteClosed"]
    assert not ev["passed"] and ev["quorum"] == 40_000_000 * 10**18
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
    dpg.requestCertification(asset, {"from": poster})

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
