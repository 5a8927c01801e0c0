"""JobDisputes: a provider whose on-time update was excluded disputes it; the DPG committee (not party to the job)
decides; the job cannot end, nor refund an aborted job's poster, while a dispute may still change who is paid."""

import pytest
from brownie import chain

from conftest import CID, DAY, E18, GLOBAL_HASH, after_dispute_window, bitmap, job_params, post, reverts, submit_all

OPEN, UPHELD, DENIED, LAPSED = 1, 2, 3, 4
BOND = PENALTY = 50 * E18
NET = 10 * E18 * 99 // 100  # a round's reward net of the 1 % protocol fee


@pytest.fixture(scope="module")
def disputes(suite):
    return suite["JobDisputes"]


def _hash(round_, index):
    """The update hash `submit_all` gives provider `index` in `round_` (0x11 + index, whatever the round)."""
    return "0x" + f"{0x11 + index:02x}" * 32


def _open(disputes, token, job_id, round_, provider, index, evidence="bafyevidence"):
    token.approve(disputes, BOND, {"from": provider})
    tx = disputes.openDispute(job_id, round_, _hash(round_, index), evidence, {"from": provider})
    return tx.return_value


def _decide(disputes, dispute_id, uphold, committee):
    for member in committee[:2]:  # the suite's committee threshold is 2 of 3
        disputes.vote(dispute_id, uphold, "bafyreason", {"from": member})


def test_collusion_that_excludes_honest_updates_loses_more_than_it_keeps(
        market, registry, token, disputes, running_job, staked, poster, coordinator, committee):
    # Prepare: the attack the review found: the coordinator, colluding with the poster, uses only provider 0 in every
    # round, so the poster would reclaim the others' 60 of 90; they are honest and dispute every exclusion
    honest = staked[1:3]
    stakes_before = registry.stakeOf(coordinator)["staked"]
    balances = {p.address: token.balanceOf(p) for p in honest}  # before their bonds
    ids = []
    for r in (1, 2, 3):
        submit_all(market, running_job, r, staked[:3])
        market.commitRound(running_job, r, GLOBAL_HASH, CID, bitmap(0), {"from": coordinator})
        ids += [_open(disputes, token, running_job, r, p, i + 1) for i, p in enumerate(honest)]
    with reverts("JobMarketDisputesPending"):
        market.finalizeJob(running_job, {"from": poster})
    assert market.disputeStatus(running_job)[0] == 6

    # Execute: the committee upholds every dispute; the job ends after its window; everyone takes what is theirs
    for dispute_id in ids:
        _decide(disputes, dispute_id, True, committee)
    after_dispute_window(market)
    market.finalizeJob(running_job, {"from": poster})
    for p in honest:
        market.claim(running_job, {"from": p})
        disputes.withdraw({"from": p})

    # Assert: every honest round is paid from the escrow, so the poster gets nothing back; the coordinator lost its
    # whole job stake (50, capped there) to the first winner; each bond came back
    assert [disputes.getDispute(i)["state"] for i in ids] == [UPHELD] * 6
    assert market.refundable(running_job) == 0
    assert market.getJob(running_job)["credited"] == 90 * E18
    assert token.balanceOf(honest[0]) - balances[honest[0].address] == 3 * NET + PENALTY
    assert token.balanceOf(honest[1]) - balances[honest[1].address] == 3 * NET
    assert registry.stakeOf(coordinator)["staked"] == stakes_before - PENALTY
    assert registry.stakeOf(coordinator)["locked"] == 0
    assert market.disputeStatus(running_job)[2] == PENALTY
    for p in honest:
        assert market.participantOf(running_job, p)["missedRounds"] == 0
        assert registry.reputationOf(p)["roundsDelivered"] == 3


def test_a_junk_updates_dispute_is_denied_and_its_bond_goes_to_the_coordinator(
        market, token, disputes, running_job, staked, coordinator, committee):
    # Prepare: provider 2's update of round 1 is junk; the coordinator rightly leaves it out; it disputes anyway
    submit_all(market, running_job, 1, staked[:3])
    market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 1), {"from": coordinator})
    dispute_id = _open(disputes, token, running_job, 1, staked[2], 2)
    coordinator_before = token.balanceOf(coordinator)

    # Execute
    disputes.vote(dispute_id, False, "bafyreason", {"from": committee[0]})
    tx = disputes.vote(dispute_id, False, "bafyreason", {"from": committee[2]})
    disputes.withdraw({"from": coordinator})

    # Assert: denied, nothing credited, the bond paid to the coordinator; the hold is released
    assert tx.events["DisputeResolved"]["state"] == DENIED
    assert token.balanceOf(coordinator) - coordinator_before == BOND
    assert market.claimable(running_job, staked[2]) == 0
    assert market.participantOf(running_job, staked[2])["missedRounds"] == 1
    assert market.disputeStatus(running_job)[0] == 0
    with reverts("JobDisputesNotOpen", dispute_id, DENIED):
        disputes.vote(dispute_id, True, "", {"from": committee[1]})


def test_an_undecided_dispute_lapses_and_holds_the_aborted_jobs_refund_until_then(
        market, token, disputes, running_job, staked, poster, coordinator, committee):
    # Prepare: round 1 excludes provider 1, who disputes; then the coordinator vanishes and the job is aborted
    submit_all(market, running_job, 1, staked[:3])
    market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 2), {"from": coordinator})
    dispute_id = _open(disputes, token, running_job, 1, staked[1], 1)
    disputes.vote(dispute_id, True, "bafyreason", {"from": committee[0]})  # one vote: below the threshold
    chain.sleep(2 * 3600 + 1)
    chain.mine()
    market.abortJob(running_job, {"from": poster})
    assert market.refundable(running_job) == 0  # held by the open dispute
    with reverts("JobMarketNothingToClaim", running_job, poster.address):
        market.claimRefund(running_job, {"from": poster})
    with reverts("JobDisputesDecisionOpen"):
        disputes.lapse(dispute_id, {"from": poster})
    chain.sleep(3 * DAY)
    chain.mine()
    with reverts("JobDisputesDecisionClosed"):
        disputes.vote(dispute_id, True, "", {"from": committee[1]})
    provider_before = token.balanceOf(staked[1])

    # Execute: anyone lapses it; the provider takes its bond back; the poster its refund
    disputes.lapse(dispute_id, {"from": poster})
    disputes.withdraw({"from": staked[1]})
    market.claimRefund(running_job, {"from": poster})

    # Assert: nothing credited for the disputed update; the poster got all but round 1's two used updates
    assert disputes.getDispute(dispute_id)["state"] == LAPSED
    assert token.balanceOf(staked[1]) - provider_before == BOND
    assert market.getJob(running_job)["budget"] == market.getJob(running_job)["credited"] == 20 * E18


def test_an_upheld_dispute_after_an_abort_is_paid_from_the_escrow_the_refund_waited_for(
        market, token, disputes, running_job, staked, poster, coordinator, committee):
    submit_all(market, running_job, 1, staked[:3])
    market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 2), {"from": coordinator})
    dispute_id = _open(disputes, token, running_job, 1, staked[1], 1)
    chain.sleep(2 * 3600 + 1)
    chain.mine()
    market.abortJob(running_job, {"from": poster})

    _decide(disputes, dispute_id, True, committee)
    market.claimRefund(running_job, {"from": poster})

    # the coordinator's job stake went to the treasury at the abort: no penalty is left to pay
    assert market.claimable(running_job, staked[1]) == NET
    assert market.getJob(running_job)["credited"] == 30 * E18
    assert market.disputeStatus(running_job)[2] == 0


def test_only_an_excluded_committed_updates_submitter_disputes_within_the_window(
        market, token, disputes, running_job, staked, poster, coordinator):
    submit_all(market, running_job, 1, staked[:3])
    token.approve(disputes, 10 * BOND, {"from": staked[1]})
    with reverts("JobDisputesRoundNotCommitted", running_job, 1):
        disputes.openDispute(running_job, 1, _hash(1, 1), "", {"from": staked[1]})
    market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 2), {"from": coordinator})

    with reverts("JobDisputesNotSubmitter"):
        disputes.openDispute(running_job, 1, _hash(1, 0), "", {"from": staked[1]})  # someone else's update
    with reverts("JobDisputesUpdateUsed", running_job, 1, staked[0].address):
        disputes.openDispute(running_job, 1, _hash(1, 0), "", {"from": staked[0]})
    dispute_id = _open(disputes, token, running_job, 1, staked[1], 1)
    with reverts("JobDisputesAlreadyDisputed", running_job, 1, staked[1].address, dispute_id):
        disputes.openDispute(running_job, 1, _hash(1, 1), "", {"from": staked[1]})

    # the last rounds go by; once the window after the last commit is over, nothing more can be disputed
    for r in (2, 3):
        submit_all(market, running_job, r, staked[:3])
        market.commitRound(running_job, r, GLOBAL_HASH, CID, bitmap(0, 2), {"from": coordinator})
    after_dispute_window(market)
    with reverts("JobMarketDeadlinePassed"):
        disputes.openDispute(running_job, 3, _hash(3, 1), "", {"from": staked[1]})


def test_only_committee_members_not_party_to_the_job_decide(
        market, dpg, token, disputes, running_job, staked, poster, coordinator, committee, gov):
    submit_all(market, running_job, 1, staked[:3])
    market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 2), {"from": coordinator})
    dispute_id = _open(disputes, token, running_job, 1, staked[1], 1)
    dpg.addCommitteeMember(coordinator, {"from": gov})

    with reverts("JobDisputesNotCommitteeMember", staked[3].address):
        disputes.vote(dispute_id, False, "", {"from": staked[3]})
    with reverts("JobDisputesPartyCannotDecide", dispute_id, coordinator.address):
        disputes.vote(dispute_id, False, "", {"from": coordinator})
    disputes.vote(dispute_id, True, "", {"from": committee[0]})
    with reverts("JobDisputesAlreadyVoted", dispute_id, committee[0].address):
        disputes.vote(dispute_id, True, "", {"from": committee[0]})
    with reverts("JobDisputesUnknownDispute", 99):
        disputes.vote(99, True, "", {"from": committee[0]})


def test_only_the_dispute_contract_holds_and_settles_jobs(market, running_job, poster):
    with reverts("AccessControlUnauthorizedAccount"):
        market.holdForDispute(running_job, {"from": poster})
    with reverts("AccessControlUnauthorizedAccount"):
        market.settleDispute(running_job, 1, poster, True, 0, poster, {"from": poster})


def test_a_finished_job_is_not_disputable(market, token, disputes, poster, coordinator, staked):
    job_id, _ = post(market, token, poster, job_params(token, coordinator, rounds=1, min_providers=2,
                                                        max_providers=2))
    for p in staked[:2]:
        market.joinJob(job_id, {"from": p})
    market.startJob(job_id, {"from": coordinator})
    submit_all(market, job_id, 1, staked[:2])
    market.commitRound(job_id, 1, GLOBAL_HASH, CID, bitmap(0), {"from": coordinator})
    after_dispute_window(market)
    market.finalizeJob(job_id, {"from": poster})
    token.approve(disputes, BOND, {"from": staked[1]})

    with reverts("JobMarketWrongState"):
        disputes.openDispute(job_id, 1, _hash(1, 1), "", {"from": staked[1]})


def test_parameters_are_set_by_governance_only(disputes, gov, poster):
    with reverts("AccessControlUnauthorizedAccount"):
        disputes.setBond(1, {"from": poster})
    with reverts("JobDisputesInvalidParam", "bond"):
        disputes.setBond(0, {"from": gov})
    with reverts("JobDisputesInvalidParam", "decisionPeriod"):
        disputes.setDecisionPeriod(60, {"from": gov})

    bond = disputes.setBond(7 * E18, {"from": gov}).events["BondSet"]
    penalty = disputes.setPenalty(9 * E18, {"from": gov}).events["PenaltySet"]
    period = disputes.setDecisionPeriod(DAY, {"from": gov}).events["DecisionPeriodSet"]

    assert (bond["oldBond"], bond["newBond"]) == (BOND, 7 * E18)
    assert (penalty["oldPenalty"], penalty["newPenalty"]) == (PENALTY, 9 * E18)
    assert (period["oldPeriod"], period["newPeriod"]) == (3 * DAY, DAY)
    assert (disputes.bond(), disputes.penalty(), disputes.decisionPeriod()) == (7 * E18, 9 * E18, DAY)
