"""The certification pipeline end to end on a real chain and kubo: register → automated check attested →
community vote → expert committee → certified; and every stage's failure path: a licence not on the approved
list, a vote without quorum, a committee rejection, an expired certification renewed."""

from __future__ import annotations

import json

import pytest

from opendpg.dpg import parse_metadata
from opendpg.dpg.certification import Certification
from opendpg.errors import ContractRevert
from tests.python.dpg.test_checker import EXAMPLE, _example

DAY = 86_400


@pytest.fixture(scope="module")
def roles(dao):
    a = dao.accounts
    return {name: Certification(dao.as_(account), dao.store) for name, account in (
        ("owner", a[8]), ("checker", a[1]), ("alice", a[2]), ("bob", a[3]), ("carol", a[4]),
        ("whale", a[5]), ("holder", a[6]), ("minnow", a[7]))}


def _register(roles, **changes) -> int:
    return roles["owner"].register(parse_metadata(json.dumps(_example(**changes))))


def _check_and_attest(roles, asset_id: int):
    report = roles["checker"].check(asset_id)
    return report, roles["checker"].attest(asset_id, report)


def test_full_certification(dao, roles):
    # Prepare: a registered dataset asset with certification requested
    asset_id = roles["owner"].register(parse_metadata(EXAMPLE.read_bytes()))
    assert roles["owner"].state(asset_id).stage == "awaiting_check"

    # Execute: check + attest, votes, close after the period, two committee approvals
    report, report_cid = _check_and_attest(roles, asset_id)
    roles["whale"].vote(asset_id, True)
    roles["holder"].vote(asset_id, True)
    roles["minnow"].vote(asset_id, False)
    dao.travel(3 * DAY + 1)
    roles["bob"].close_vote(asset_id)
    roles["alice"].decide(asset_id, True)
    assert roles["alice"].state(asset_id).stage == "committee_review"  # 1 of 2
    roles["carol"].decide(asset_id, True, "meets every indicator; statements are adequate")

    # Assert: certified for a year, the report readable from its on-chain CID
    state = roles["minnow"].state(asset_id)
    assert report.passed and state.stage == "certified" and state.certified
    assert state.asset["certified_until"] == pytest.approx(dao.now() + 365 * DAY, abs=5)
    assert state.review["report_cid"] == report_cid
    assert state.review["for_votes"] == 50_000_000 * 10**18 and state.review["against_votes"] == 5_000_000 * 10**18
    assert state.report["passed"] is True and state.report["asset"]["id"] == asset_id
    assert state.report["checker"] == dao.accounts[1].address
    # reviewers are paid from the pool: 100 tokens shared by weight (30:20:5), 50 per committee decision
    pool = roles["whale"].chain.rewards.pool()
    assert roles["whale"].claim_reward(asset_id) == {"voter": 100 * 10**18 * 30 // 55, "committee": 0}
    assert roles["minnow"].claim_reward(asset_id)["voter"] == 100 * 10**18 * 5 // 55  # voting against counts too
    assert roles["carol"].claim_reward(asset_id) == {"voter": 0, "committee": 50 * 10**18}
    assert roles["whale"].chain.rewards.pool() == pool - (100 * 10**18 * 35 // 55) - 50 * 10**18
    with pytest.raises(ContractRevert, match="ReviewRewardsAlreadyClaimed"):
        roles["whale"].claim_reward(asset_id)


def test_licence_not_approved_fails_the_check_and_can_be_fixed(dao, roles):
    asset_id = _register(roles, licence="CC-BY-NC-4.0")

    report, _ = _check_and_attest(roles, asset_id)

    assert not report.passed
    assert roles["owner"].state(asset_id).stage == "check_failed"
    with pytest.raises(ContractRevert, match="DPGRegistryWrongStage"):
        roles["whale"].vote(asset_id, True)
    # the owner relicenses, and a new review passes the check
    roles["owner"].update(asset_id, parse_metadata(json.dumps(_example(licence="CC-BY-4.0"))))
    roles["owner"].renew(asset_id)
    assert _check_and_attest(roles, asset_id)[0].passed
    assert roles["owner"].state(asset_id).stage == "voting"


def test_vote_without_quorum_fails(dao, roles):
    asset_id = _register(roles)
    _check_and_attest(roles, asset_id)

    roles["minnow"].vote(asset_id, True)  # 5 M: the quorum is 10 % of the 55 M delegated, 5.5 M
    dao.travel(3 * DAY + 1)
    roles["minnow"].close_vote(asset_id)

    assert roles["owner"].state(asset_id).stage == "vote_failed"


def _to_committee(dao, roles) -> int:
    """A new asset checked, voted through (50 M of 55 M) and closed: before the committee."""
    asset_id = _register(roles)
    _check_and_attest(roles, asset_id)
    roles["whale"].vote(asset_id, True)
    roles["holder"].vote(asset_id, True)
    dao.travel(3 * DAY + 1)
    roles["whale"].close_vote(asset_id)
    return asset_id


def test_committee_rejection_publishes_its_reason(dao, roles):
    asset_id = _to_committee(dao, roles)

    with pytest.raises(Exception, match="needs a reason"):
        roles["alice"].decide(asset_id, False)
    reason_cid = roles["alice"].decide(asset_id, False, "the owner is not the rights holder of the images")
    roles["bob"].decide(asset_id, False, "ownership evidence is a citation, not a licence grant")

    assert roles["owner"].state(asset_id).stage == "rejected"
    assert dao.store.get(reason_cid) == b"the owner is not the rights holder of the images"
    with pytest.raises(ContractRevert, match="DPGRegistryWrongStage"):
        roles["carol"].decide(asset_id, True)


def test_certification_expires_and_is_renewed(dao, roles):
    asset_id = _to_committee(dao, roles)
    roles["alice"].decide(asset_id, True)
    roles["bob"].decide(asset_id, True)
    assert roles["owner"].state(asset_id).certified

    dao.travel(366 * DAY)
    expired = roles["owner"].state(asset_id)
    roles["owner"].renew(asset_id)

    assert expired.stage == "certified" and not expired.certified  # the stage stays; the date decides
    renewed = roles["owner"].state(asset_id)
    assert renewed.stage == "awaiting_check" and renewed.asset["review"] == 2
    assert not renewed.certified


def test_unreadable_metadata_fails_the_check_instead_of_waiting(dao, roles):
    owner = roles["owner"].chain
    asset_id = owner.dpg.register_asset(0, dao.store.put(b'{"title": "not an opendpg-asset/1 document"}'), "MIT")
    owner.dpg.request_certification(asset_id)

    report, _ = _check_and_attest(roles, asset_id)

    assert not report.passed and {f.status for f in report.findings} == {"fail"}
    assert "not readable as opendpg-asset/1 or /2" in report.findings[0].evidence[0]
    assert roles["owner"].state(asset_id).stage == "check_failed"
