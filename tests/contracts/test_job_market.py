"""JobMarket: escrow, joins, the update ledger, rounds, rewards, timeouts."""

from brownie import ZERO_ADDRESS, ReentrantToken, chain

from conftest import (
    CID,
    DAY,
    E18,
    GLOBAL_HASH,
    UPDATE_HASH,
    after_dispute_window,
    bitmap,
    job_params,
    post,
    reverts,
    submit_all,
)

OPEN, RUNNING, FINISHED, CANCELLED, ABORTED = 1, 2, 3, 4, 5


# ---------------------------------------------------------------------------- posting

def test_post_job_escrows_budget_and_emits(market, token, poster, coordinator):
    params = job_params(token, coordinator)
    before = token.balanceOf(poster)

    job_id, tx = post(market, token, poster, params)

    assert job_id == 1 and market.jobCount() == 1
    assert token.balanceOf(market) == params[2]
    assert token.balanceOf(poster) == before - params[2]
    ev = tx.events["JobPosted"]
    assert ev["jobId"] == 1 and ev["poster"] == poster and ev["coordinator"] == coordinator
    assert ev["params"][0] == CID
    job = market.getJob(1)
    assert job["state"] == OPEN and job["budget"] == params[2] and job["feeBps"] == 100


def test_post_job_with_permit(market, token, coordinator, accounts):
    signer = accounts.add()
    token.transfer(signer, 1_000 * E18, {"from": accounts[0]})
    accounts[0].transfer(signer, E18)
    params = job_params(token, coordinator)
    deadline = chain.time() + 3600
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    typed = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "Permit": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
                       {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
                       {"name": "deadline", "type": "uint256"}],
        },
        "primaryType": "Permit",
        "domain": {"name": "OpenDPG Commons", "version": "1", "chainId": chain.id, "verifyingContract": token.address},
        "message": {"owner": signer.address, "spender": market.address, "value": params[2],
                    "nonce": token.nonces(signer), "deadline": deadline},
    }
    sig = Account.sign_message(encode_typed_data(full_message=typed), signer.private_key)

    tx = market.postJobWithPermit(params, deadline, sig.v, sig.r, sig.s, {"from": signer})

    assert tx.return_value == 1
    assert token.balanceOf(market) == params[2]
    assert token.nonces(signer) == 1


def test_post_jobs_batch_escrows_each_and_numbers_consecutively(market, token, poster, coordinator):
    first = job_params(token, coordinator)
    second = job_params(token, coordinator, budget=120 * E18)
    token.approve(market, first[2] + second[2], {"from": poster})
    before = token.balanceOf(poster)

    tx = market.postJobs([first, second], {"from": poster})

    assert tx.return_value == 1 and market.jobCount() == 2
    assert [e["jobId"] for e in tx.events["JobPosted"]] == [1, 2]
    assert market.getJob(2)["budget"] == 120 * E18 and market.getJob(2)["poster"] == poster
    assert token.balanceOf(poster) == before - first[2] - second[2]
    assert token.balanceOf(market) == first[2] + second[2]


def test_post_jobs_is_all_or_nothing(market, token, poster, coordinator):
    good = job_params(token, coordinator)
    bad = list(job_params(token, coordinator))
    bad[4] = 0  # rounds
    token.approve(market, 10**30, {"from": poster})
    before = token.balanceOf(poster)

    with reverts("JobMarketInvalidParams", "rounds"):
        market.postJobs([good, bad], {"from": poster})

    assert market.jobCount() == 0 and token.balanceOf(poster) == before


def test_post_jobs_rejects_empty_and_oversized_batches(market, token, poster, coordinator):
    with reverts("JobMarketBatchSize", 0, 128):
        market.postJobs([], {"from": poster})
    with reverts("JobMarketBatchSize", 129, 128):
        market.postJobs([job_params(token, coordinator)] * 129, {"from": poster})


def test_post_job_rejects_bad_params(market, token, poster, coordinator):
    token.approve(market, 10**30, {"from": poster})
    base = list(job_params(token, coordinator))
    cases = {
        0: ("", "specCid"),
        1: (ZERO_ADDRESS, "paymentToken"),
        4: (0, "rounds"),
        5: (0, "minProviders"),
        6: (1, "maxProviders"),
        3: (0, "rewardPerRound"),
        8: (chain.time() - 1, "joinDeadline"),
        9: (0, "roundTimeout"),
        10: (ZERO_ADDRESS, "coordinator"),
    }
    for index, (value, field) in cases.items():
        params = list(base)
        params[index] = value
        with reverts("JobMarketInvalidParams", field):
            market.postJob(params, {"from": poster})
    params = list(base)
    params[10] = poster.address
    with reverts("JobMarketInvalidParams", "coordinator"):
        market.postJob(params, {"from": poster})


def test_post_job_rejects_budget_below_max_payout(market, token, poster, coordinator):
    params = job_params(token, coordinator, budget=89 * E18)  # 10 * 3 rounds * 3 providers = 90
    token.approve(market, params[2], {"from": poster})
    with reverts("JobMarketBudgetTooSmall", 89 * E18, 90 * E18):
        market.postJob(params, {"from": poster})


def test_post_job_rejects_fee_on_transfer_token(market, poster, coordinator, FeeOnTransferToken):
    fee_token = FeeOnTransferToken.deploy({"from": poster})
    params = job_params(fee_token, coordinator)
    fee_token.approve(market, params[2], {"from": poster})
    with reverts("JobMarketUnsupportedToken", fee_token.address, params[2], params[2] * 99 // 100):
        market.postJob(params, {"from": poster})


# ---------------------------------------------------------------------------- joining

def test_join_locks_stake(market, registry, open_job, staked):
    tx = market.joinJob(open_job, {"from": staked[0]})

    assert tx.events["ProviderJoined"]["index"] == 0
    assert registry.stakeOf(staked[0])["locked"] == 50 * E18
    assert market.providersOf(open_job) == [staked[0]]
    assert market.participantOf(open_job, staked[0])["slot"] == 1


def test_join_reverts(market, token, registry, open_job, staked, coordinator, accounts, poster):
    market.joinJob(open_job, {"from": staked[0]})
    with reverts("JobMarketAlreadyJoined", open_job, staked[0].address):
        market.joinJob(open_job, {"from": staked[0]})
    with reverts("JobMarketCoordinatorCannotJoin"):
        market.joinJob(open_job, {"from": coordinator})
    with reverts("NodeRegistryNotRegistered", accounts[9].address):
        market.joinJob(open_job, {"from": accounts[9]})
    with reverts("JobMarketUnknownJob", 99):
        market.joinJob(99, {"from": staked[1]})
    market.joinJob(open_job, {"from": staked[1]})
    market.joinJob(open_job, {"from": staked[2]})
    with reverts("JobMarketJobFull", open_job, 3):
        market.joinJob(open_job, {"from": staked[3]})


def test_join_requires_free_stake(market, token, registry, poster, coordinator, staked):
    job_id, _ = post(market, token, poster, job_params(token, coordinator, stake=150 * E18))
    job2, _ = post(market, token, poster, job_params(token, coordinator, stake=150 * E18))
    market.joinJob(job_id, {"from": staked[0]})
    with reverts("NodeRegistryInsufficientFreeStake", staked[0].address, 150 * E18, 50 * E18):
        market.joinJob(job2, {"from": staked[0]})


def test_join_after_deadline_reverts(market, open_job, staked):
    chain.sleep(DAY + 1)
    chain.mine()
    with reverts("JobMarketJoinClosed"):
        market.joinJob(open_job, {"from": staked[0]})


# ---------------------------------------------------------------------------- start

def test_start_requires_coordinator_and_min_providers(market, registry, open_job, staked, coordinator, poster):
    market.joinJob(open_job, {"from": staked[0]})
    with reverts("JobMarketNotCoordinator", open_job, poster.address):
        market.startJob(open_job, {"from": poster})
    with reverts("JobMarketNotEnoughProviders", open_job, 1, 2):
        market.startJob(open_job, {"from": coordinator})
    market.joinJob(open_job, {"from": staked[1]})

    tx = market.startJob(open_job, {"from": coordinator})

    job = market.getJob(open_job)
    assert job["state"] == RUNNING and job["activeBitmap"] == 0b11 and job["activeCount"] == 2
    assert tx.events["JobStarted"]["roundDeadline"] == job["roundDeadline"]
    assert registry.stakeOf(coordinator)["locked"] == 50 * E18
    with reverts("JobMarketWrongState", open_job, RUNNING, OPEN):
        market.joinJob(open_job, {"from": staked[2]})


# ---------------------------------------------------------------------------- rounds

def test_submit_update_records_hash(market, running_job, staked):
    tx = market.submitUpdate(running_job, 1, UPDATE_HASH, CID, {"from": staked[0]})

    assert market.submitterOf(running_job, 1, UPDATE_HASH) == staked[0]
    assert market.participantOf(running_job, staked[0])["submittedRound"] == 1
    ev = tx.events["UpdateSubmitted"]
    assert (ev["jobId"], ev["round"], ev["provider"], ev["updateCid"]) == (running_job, 1, staked[0], CID)
    assert market.getJob(running_job)["submissions"] == 1


def test_submit_update_reverts(market, running_job, staked, open_job):
    with reverts("JobMarketWrongRound", running_job, 2, 1):
        market.submitUpdate(running_job, 2, UPDATE_HASH, CID, {"from": staked[0]})
    with reverts("JobMarketZeroHash"):
        market.submitUpdate(running_job, 1, "0x" + "00" * 32, CID, {"from": staked[0]})
    with reverts("JobMarketNotParticipant", running_job, staked[4].address):
        market.submitUpdate(running_job, 1, UPDATE_HASH, CID, {"from": staked[4]})
    market.submitUpdate(running_job, 1, UPDATE_HASH, CID, {"from": staked[0]})
    with reverts("JobMarketAlreadySubmitted", running_job, 1, staked[0].address):
        market.submitUpdate(running_job, 1, UPDATE_HASH, CID, {"from": staked[0]})
    chain.sleep(3601)
    chain.mine()
    with reverts("JobMarketDeadlinePassed"):
        market.submitUpdate(running_job, 1, UPDATE_HASH, CID, {"from": staked[1]})


def test_commit_round_credits_used_providers(market, running_job, staked, coordinator):
    submit_all(market, running_job, 1, staked[:3])

    tx = market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 1, 2), {"from": coordinator})

    ev = tx.events["RoundCommitted"]
    assert (ev["round"], ev["globalHash"], ev["usedCount"]) == (1, GLOBAL_HASH, 3)
    stored = market.roundOf(running_job, 1)
    assert (stored["globalHash"], stored["usedBitmap"]) == (GLOBAL_HASH, 7)
    job = market.getJob(running_job)
    assert job["committedRounds"] == 1 and job["credited"] == 30 * E18 and job["submissions"] == 0
    assert market.claimable(running_job, staked[0]) == 99 * E18 // 10  # 10 minus 1 % fee
    assert market.accruedFees(market.getJob(running_job)["paymentToken"]) == 3 * E18 // 10


def test_commit_rejects_unused_submission_without_paying(market, running_job, staked, coordinator):
    submit_all(market, running_job, 1, staked[:3])

    tx = market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 2), {"from": coordinator})

    assert tx.events["UpdateRejected"]["provider"] == staked[1]
    assert market.claimable(running_job, staked[1]) == 0
    assert market.participantOf(running_job, staked[1])["missedRounds"] == 1
    assert market.getJob(running_job)["activeCount"] == 3


def test_commit_reverts(market, running_job, staked, coordinator, poster):
    submit_all(market, running_job, 1, staked[:2])
    with reverts("JobMarketNotCoordinator"):
        market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 1), {"from": poster})
    with reverts("JobMarketWrongRound", running_job, 2, 1):
        market.commitRound(running_job, 2, GLOBAL_HASH, CID, bitmap(0, 1), {"from": coordinator})
    with reverts("JobMarketZeroHash"):
        market.commitRound(running_job, 1, "0x" + "00" * 32, CID, bitmap(0, 1), {"from": coordinator})
    with reverts("JobMarketInvalidUsedSet", running_job, bitmap(3), bitmap(0, 1, 2)):
        market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(3), {"from": coordinator})
    # nothing used before the deadline: provider 2 would be dropped although it may still submit
    with reverts("JobMarketDeadlineNotPassed"):
        market.commitRound(running_job, 1, GLOBAL_HASH, CID, 0, {"from": coordinator})
    # provider 2 has not submitted: using it is refused
    with reverts("JobMarketUnsubmittedUpdateUsed", running_job, 1, 3, 2):
        market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 1, 2), {"from": coordinator})
    # excluding it before the deadline would drop an honest provider: refused
    with reverts("JobMarketDeadlineNotPassed"):
        market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 1), {"from": coordinator})


def test_provider_timeout_drops_and_slashes(market, registry, token, running_job, staked, coordinator):
    treasury = registry.treasury()
    before = token.balanceOf(treasury)
    submit_all(market, running_job, 1, staked[:2])
    chain.sleep(3601)
    chain.mine()

    tx = market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 1), {"from": coordinator})

    assert tx.events["ProviderDropped"]["provider"] == staked[2]
    assert token.balanceOf(treasury) - before == 50 * E18
    assert registry.stakeOf(staked[2])["staked"] == 150 * E18
    assert registry.stakeOf(staked[2])["locked"] == 0
    assert registry.reputationOf(staked[2])["slashes"] == 1
    job = market.getJob(running_job)
    assert job["activeBitmap"] == bitmap(0, 1) and job["activeCount"] == 2
    with reverts("JobMarketProviderDropped"):
        market.submitUpdate(running_job, 2, UPDATE_HASH, CID, {"from": staked[2]})
    assert market.claimable(running_job, staked[2]) == 0


def test_commit_after_commit_deadline_reverts(market, running_job, staked, coordinator):
    submit_all(market, running_job, 1, staked[:3])
    chain.sleep(2 * 3600 + 1)
    chain.mine()
    with reverts("JobMarketDeadlinePassed"):
        market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 1, 2), {"from": coordinator})


# ---------------------------------------------------------------------------- full lifecycles

def _run_rounds(market, job_id, providers, coordinator, rounds):
    for r in range(1, rounds + 1):
        submit_all(market, job_id, r, providers)
        market.commitRound(job_id, r, GLOBAL_HASH, CID, bitmap(*range(len(providers))), {"from": coordinator})


def test_happy_path_pays_providers_and_refunds_rest(market, registry, token, poster, coordinator, staked):
    params = job_params(token, coordinator, budget=100 * E18)  # max payout 90
    job_id, _ = post(market, token, poster, params)
    for p in staked[:2]:
        market.joinJob(job_id, {"from": p})
    market.startJob(job_id, {"from": coordinator})
    _run_rounds(market, job_id, staked[:2], coordinator, 3)
    with reverts("JobMarketNoRoundInProgress", job_id):
        market.submitUpdate(job_id, 4, UPDATE_HASH, CID, {"from": staked[0]})

    after_dispute_window(market)
    market.finalizeJob(job_id, {"from": staked[4]})
    balances = [token.balanceOf(p) for p in staked[:2]]
    for p in staked[:2]:
        market.claim(job_id, {"from": p})
    poster_before = token.balanceOf(poster)
    market.claimRefund(job_id, {"from": poster})
    market.withdrawFees(token, {"from": staked[4]})

    for p, b in zip(staked[:2], balances, strict=True):
        assert token.balanceOf(p) - b == 3 * 99 * E18 // 10
        assert registry.stakeOf(p)["locked"] == 0
        rep = registry.reputationOf(p)
        assert (rep["jobsCompleted"], rep["roundsDelivered"], rep["roundsMissed"]) == (1, 3, 0)
    assert token.balanceOf(poster) - poster_before == 40 * E18  # 100 - 6 rounds * 10
    assert registry.stakeOf(coordinator)["locked"] == 0
    assert token.balanceOf(market) == 1  # one wei of fees stays to keep the slot warm
    assert market.accruedFees(token) == 1
    assert market.getJob(job_id)["state"] == FINISHED
    with reverts("JobMarketNothingToClaim", job_id, staked[0].address):
        market.claim(job_id, {"from": staked[0]})
    with reverts("JobMarketNothingToClaim", job_id, poster.address):
        market.claimRefund(job_id, {"from": poster})


def test_claim_mid_job_then_rest_after(market, token, running_job, staked, coordinator):
    _run_rounds(market, running_job, staked[:3], coordinator, 1)
    before = token.balanceOf(staked[0])
    tx = market.claim(running_job, {"from": staked[0]})
    assert tx.events["RewardClaimed"]["rounds"] == 1
    _run_rounds_from(market, running_job, staked[:3], coordinator, 2, 3)
    market.claim(running_job, {"from": staked[0]})
    assert token.balanceOf(staked[0]) - before == 3 * 99 * E18 // 10


def _run_rounds_from(market, job_id, providers, coordinator, first, last):
    for r in range(first, last + 1):
        submit_all(market, job_id, r, providers)
        market.commitRound(job_id, r, GLOBAL_HASH, CID, bitmap(*range(len(providers))), {"from": coordinator})


def test_finalize_too_early_reverts(market, running_job):
    with reverts("JobMarketRoundNotFinished", running_job, 0, 3):
        market.finalizeJob(running_job)


def test_finalize_early_when_providers_fall_below_minimum(market, token, registry, poster, coordinator, staked):
    job_id, _ = post(market, token, poster, job_params(token, coordinator, min_providers=2, max_providers=2,
                                                       budget=60 * E18))
    for p in staked[:2]:
        market.joinJob(job_id, {"from": p})
    market.startJob(job_id, {"from": coordinator})
    submit_all(market, job_id, 1, staked[:1])
    chain.sleep(3601)
    chain.mine()
    market.commitRound(job_id, 1, GLOBAL_HASH, CID, bitmap(0), {"from": coordinator})

    after_dispute_window(market)
    market.finalizeJob(job_id)

    assert market.getJob(job_id)["state"] == FINISHED
    assert market.refundable(job_id) == 50 * E18
    assert registry.reputationOf(staked[1])["roundsMissed"] == 1


def test_cancel_before_start_refunds_in_full(market, token, registry, open_job, staked, poster):
    market.joinJob(open_job, {"from": staked[0]})
    before = token.balanceOf(poster)

    market.cancelJob(open_job, {"from": poster})
    market.claimRefund(open_job, {"from": poster})

    assert token.balanceOf(poster) - before == 90 * E18
    assert registry.stakeOf(staked[0])["locked"] == 0
    assert market.getJob(open_job)["state"] == CANCELLED
    with reverts("JobMarketWrongState"):
        market.joinJob(open_job, {"from": staked[1]})


def test_cancel_by_others_only_after_start_grace(market, open_job, staked, poster):
    with reverts("JobMarketDeadlineNotPassed"):
        market.cancelJob(open_job, {"from": staked[0]})
    chain.sleep(DAY + 3600 + 1)
    chain.mine()
    tx = market.cancelJob(open_job, {"from": staked[0]})
    assert tx.events["JobCancelled"]["refund"] == 90 * E18


def test_cancel_running_job_reverts(market, running_job, poster):
    with reverts("JobMarketWrongState", running_job, RUNNING, OPEN):
        market.cancelJob(running_job, {"from": poster})


def test_refund_only_for_poster_and_after_end(market, open_job, staked, poster):
    with reverts("JobMarketNotPoster", open_job, staked[0].address):
        market.claimRefund(open_job, {"from": staked[0]})
    with reverts("JobMarketNothingToClaim"):
        market.claimRefund(open_job, {"from": poster})


def test_coordinator_timeout_lets_poster_reclaim_and_slashes(market, registry, token, running_job, staked,
                                                             coordinator, poster):
    _run_rounds(market, running_job, staked[:3], coordinator, 1)
    submit_all(market, running_job, 2, staked[:3])
    with reverts("JobMarketDeadlineNotPassed"):
        market.abortJob(running_job, {"from": poster})
    chain.sleep(2 * 3600 + 1)
    chain.mine()
    treasury_before = token.balanceOf(registry.treasury())

    tx = market.abortJob(running_job, {"from": poster})
    market.claimRefund(running_job, {"from": poster})

    assert tx.events["JobAborted"]["refund"] == 60 * E18
    assert market.getJob(running_job)["state"] == ABORTED
    assert token.balanceOf(registry.treasury()) - treasury_before == 50 * E18
    assert registry.stakeOf(coordinator)["staked"] == 150 * E18
    assert registry.reputationOf(coordinator)["slashes"] == 1
    for p in staked[:3]:
        assert registry.stakeOf(p)["locked"] == 0
        assert market.claimable(running_job, p) == 99 * E18 // 10  # round 1 still payable


def test_abort_after_last_round_reverts(market, running_job, staked, coordinator):
    _run_rounds(market, running_job, staked[:3], coordinator, 3)
    chain.sleep(3 * 3600)
    chain.mine()
    with reverts("JobMarketNoRoundInProgress", running_job):
        market.abortJob(running_job)


# ---------------------------------------------------------------------------- protocol

def test_fee_setter_is_governance_only(market, gov, poster):
    with reverts("AccessControlUnauthorizedAccount"):
        market.setProtocolFeeBps(50, {"from": poster})
    with reverts("JobMarketFeeTooHigh", 1001, 1000):
        market.setProtocolFeeBps(1001, {"from": gov})
    tx = market.setProtocolFeeBps(50, {"from": gov})
    assert (tx.events["ProtocolFeeBpsSet"]["oldFeeBps"], tx.events["ProtocolFeeBpsSet"]["newFeeBps"]) == (100, 50)
    assert market.protocolFeeBps() == 50


def test_withdraw_fees_goes_to_treasury(market, registry, token, running_job, staked, coordinator):
    with reverts("JobMarketNothingToClaim"):
        market.withdrawFees(token)
    _run_rounds(market, running_job, staked[:3], coordinator, 1)
    before = token.balanceOf(registry.treasury())
    market.withdrawFees(token)
    assert token.balanceOf(registry.treasury()) - before == 3 * E18 // 10 - 1
    assert market.accruedFees(token) == 1
    with reverts("JobMarketNothingToClaim"):
        market.withdrawFees(token)


def test_fee_change_does_not_affect_posted_jobs(market, token, running_job, gov, staked, coordinator):
    market.setProtocolFeeBps(0, {"from": gov})
    _run_rounds(market, running_job, staked[:3], coordinator, 1)
    assert market.claimable(running_job, staked[0]) == 99 * E18 // 10


def test_reentrant_token_cannot_drain_escrow(market, registry, poster, coordinator, staked, ReentrantToken):
    evil = ReentrantToken.deploy({"from": poster})
    params = job_params(evil, coordinator, stake=0)
    evil.approve(market, params[2], {"from": poster})
    job_id = market.postJob(params, {"from": poster}).return_value
    for p in staked[:2]:
        market.joinJob(job_id, {"from": p})
    market.startJob(job_id, {"from": coordinator})
    submit_all(market, job_id, 1, staked[:2])
    market.commitRound(job_id, 1, GLOBAL_HASH, CID, bitmap(0, 1), {"from": coordinator})
    evil.arm(market, market.claim.encode_input(job_id), {"from": staked[0]})
    escrow_before = evil.balanceOf(market)

    market.claim(job_id, {"from": staked[0]})

    assert evil.reentered() and not evil.reentrySucceeded()
    assert escrow_before - evil.balanceOf(market) == 99 * E18 // 10
    assert market.claimable(job_id, staked[0]) == 0


def test_unknown_job_views_are_empty(market, staked):
    assert market.getJob(42)["state"] == 0
    assert market.claimable(42, staked[0]) == 0
    assert market.providersOf(42) == []


# ---------------------------------------------------------------------------- exploits found by the review

def test_a_round_nobody_submitted_is_committed_empty_and_the_coordinator_keeps_its_stake(
        market, registry, token, running_job, staked, coordinator, poster):
    # Prepare: nobody submits round 1
    stake_before = registry.stakeOf(coordinator)["staked"]
    chain.sleep(3601)
    chain.mine()

    # Execute: after the round deadline the coordinator commits with nothing used
    tx = market.commitRound(running_job, 1, GLOBAL_HASH, CID, 0, {"from": coordinator})

    # Assert: every absent provider dropped and slashed, the coordinator untouched, the poster refunded in full
    assert [e["provider"] for e in tx.events["ProviderDropped"]] == list(staked[:3])
    assert tx.events["RoundCommitted"]["usedCount"] == 0
    for p in staked[:3]:
        assert registry.stakeOf(p)["staked"] == 150 * E18 and registry.stakeOf(p)["locked"] == 0
    chain.sleep(2 * 3600)
    chain.mine()
    with reverts("JobMarketNoRoundInProgress", running_job):
        market.abortJob(running_job, {"from": poster})
    market.finalizeJob(running_job, {"from": poster})
    assert [int(v) for v in registry.stakeOf(coordinator)] == [stake_before, 0, 0, 0]
    assert registry.reputationOf(coordinator)["slashes"] == 0
    assert market.refundable(running_job) == 90 * E18


def test_a_round_of_junk_updates_is_committed_with_nothing_paid(market, running_job, staked, coordinator):
    submit_all(market, running_job, 1, staked[:3])

    tx = market.commitRound(running_job, 1, GLOBAL_HASH, CID, 0, {"from": coordinator})

    assert [e["provider"] for e in tx.events["UpdateRejected"]] == list(staked[:3])
    job = market.getJob(running_job)
    assert job["committedRounds"] == 1 and job["credited"] == 0 and job["activeCount"] == 3
    for p in staked[:3]:
        assert market.claimable(running_job, p) == 0
        assert market.participantOf(running_job, p)["missedRounds"] == 1


def test_a_poster_cannot_burn_a_coordinators_stake_with_silent_sybils(market, registry, token, poster, coordinator,
                                                                      staked):
    # Prepare: the poster names the coordinator with a job stake equal to all its free stake and fills the job
    # with its own nodes, which will never submit
    sybils = staked[:2]
    params = job_params(token, coordinator, stake=200 * E18, min_providers=2, max_providers=2, budget=60 * E18)
    job_id, _ = post(market, token, poster, params)
    for s in sybils:
        market.joinJob(job_id, {"from": s})
    assert registry.stakeOf(coordinator)["locked"] == 0  # posting and joining bind nothing of the coordinator's
    market.startJob(job_id, {"from": coordinator})  # the coordinator accepts: its stake is locked now
    treasury_before = token.balanceOf(registry.treasury())
    chain.sleep(3601)
    chain.mine()

    # Execute: the coordinator closes the round with nothing used, then the job ends
    market.commitRound(job_id, 1, GLOBAL_HASH, CID, 0, {"from": coordinator})
    after_dispute_window(market)
    market.finalizeJob(job_id, {"from": coordinator})

    # Assert: the sybils lost their stake, the coordinator nothing
    assert registry.stakeOf(coordinator)["staked"] == 200 * E18 and registry.stakeOf(coordinator)["locked"] == 0
    assert token.balanceOf(registry.treasury()) - treasury_before == 2 * 200 * E18
    for s in sybils:
        assert registry.stakeOf(s)["staked"] == 0


def test_post_job_refuses_windows_and_timeouts_outside_the_limits(market, token, poster, coordinator):
    token.approve(market, 10**30, {"from": poster})
    now = chain[-1].timestamp  # the chain's clock (brownie's chain.time() is the wall clock, which can run ahead)
    cases = [
        (8, 2**64 - 1, "joinDeadline"),  # a join deadline in 584 billion years froze stakes
        (8, now + 31 * DAY, "joinDeadline"),  # past the 30-day maximum
        (8, now + 10, "joinDeadline"),  # under the one-minute minimum
        (9, 2**32 - 1, "roundTimeout"),  # 136 years per round
        (9, 7 * DAY + 1, "roundTimeout"),
        (9, 1, "roundTimeout"),  # one second: honest providers dropped while a sybil submits
        (9, 29, "roundTimeout"),
    ]
    for index, value, field in cases:
        params = list(job_params(token, coordinator))
        params[index] = value
        with reverts("JobMarketInvalidParams", field):
            market.postJob(params, {"from": poster})
    assert [int(v) for v in market.limits()] == [60, 30 * DAY, 30, 7 * DAY, E18, 10 * E18, 20]


def test_start_after_the_start_deadline_reverts_and_anyone_cancels(market, registry, open_job, staked, coordinator):
    for p in staked[:2]:
        market.joinJob(open_job, {"from": p})
    chain.sleep(DAY + 3600 + 1)  # join deadline + round timeout
    chain.mine()

    with reverts("JobMarketDeadlinePassed"):
        market.startJob(open_job, {"from": coordinator})
    market.cancelJob(open_job, {"from": staked[3]})

    assert market.getJob(open_job)["state"] == CANCELLED
    assert registry.stakeOf(staked[0])["locked"] == 0 and registry.stakeOf(coordinator)["locked"] == 0


def test_a_provider_leaves_an_open_job(market, registry, open_job, staked, coordinator):
    for p in staked[:3]:
        market.joinJob(open_job, {"from": p})
    with reverts("JobMarketNotParticipant", open_job, staked[3].address):
        market.leaveJob(open_job, {"from": staked[3]})

    tx = market.leaveJob(open_job, {"from": staked[0]})

    ev = tx.events["ProviderLeft"]
    assert (ev["provider"], ev["index"], ev["moved"]) == (staked[0], 0, staked[2])
    assert market.providersOf(open_job) == [staked[2], staked[1]]
    assert market.participantOf(open_job, staked[0])["slot"] == 0
    assert market.participantOf(open_job, staked[2])["slot"] == 1
    assert registry.stakeOf(staked[0])["locked"] == 0
    market.joinJob(open_job, {"from": staked[3]})  # the freed place is open again
    market.startJob(open_job, {"from": coordinator})
    assert market.getJob(open_job)["activeBitmap"] == bitmap(0, 1, 2)
    with reverts("JobMarketWrongState", open_job, RUNNING, OPEN):
        market.leaveJob(open_job, {"from": staked[1]})


def test_the_last_joiner_leaves_without_moving_anyone(market, open_job, staked):
    for p in staked[:2]:
        market.joinJob(open_job, {"from": p})

    tx = market.leaveJob(open_job, {"from": staked[1]})

    assert tx.events["ProviderLeft"]["moved"] == ZERO_ADDRESS
    assert market.providersOf(open_job) == [staked[0]] and market.getJob(open_job)["providerCount"] == 1


def test_a_copied_update_hash_is_refused(market, running_job, staked, coordinator):
    # Prepare: provider 0's update is on-chain (or seen in the mempool)
    market.submitUpdate(running_job, 1, UPDATE_HASH, CID, {"from": staked[0]})

    # Execute / Assert: provider 1 submits the same hash and CID: refused, naming who submitted it
    with reverts("JobMarketDuplicateUpdate"):
        market.submitUpdate(running_job, 1, UPDATE_HASH, CID, {"from": staked[1]})
    assert market.submitterOf(running_job, 1, UPDATE_HASH) == staked[0]
    market.submitUpdate(running_job, 1, "0x" + "33" * 32, CID, {"from": staked[1]})  # its own update is taken
    # the same hash in the next round is a new update
    market.submitUpdate(running_job, 1, "0x" + "44" * 32, CID, {"from": staked[2]})
    market.commitRound(running_job, 1, GLOBAL_HASH, CID, bitmap(0, 1, 2), {"from": coordinator})
    market.submitUpdate(running_job, 2, UPDATE_HASH, CID, {"from": staked[0]})


def test_only_registered_nodes_join_even_without_stake(market, token, poster, coordinator, staked, accounts):
    stranger = accounts.add()
    accounts[0].transfer(stranger, E18)
    job_id, _ = post(market, token, poster, job_params(token, coordinator, stake=0))

    with reverts("JobMarketNotRegistered", stranger.address):
        market.joinJob(job_id, {"from": stranger})

    market.joinJob(job_id, {"from": staked[0]})
    assert market.providersOf(job_id) == [staked[0]]


def _finish_job(market, token, poster, coordinator, providers, used, *, reward=10 * E18, stake=50 * E18,
                payment=None):
    """Post a 1-round job, join ``providers``, submit, commit with ``used`` (indices) and finalize."""
    payment = payment or token
    params = job_params(payment, coordinator, reward=reward, rounds=1, min_providers=1,
                        max_providers=len(providers), stake=stake)
    payment.approve(market, params[2], {"from": poster})
    job_id = market.postJob(params, {"from": poster}).return_value
    for p in providers:
        market.joinJob(job_id, {"from": p})
    market.startJob(job_id, {"from": coordinator})
    submit_all(market, job_id, 1, providers)
    market.commitRound(job_id, 1, GLOBAL_HASH, CID, bitmap(*used), {"from": coordinator})
    after_dispute_window(market)
    market.finalizeJob(job_id, {"from": poster})
    return job_id


def test_reputation_counts_only_used_paid_rounds_in_jobs_meeting_the_minimums(market, registry, token, poster,
                                                                             coordinator, staked):
    p = staked[0]
    # every update rejected: completed, but no paid round
    _finish_job(market, token, poster, coordinator, [p], used=[])
    assert [int(v) for v in registry.reputationOf(p)[:3]] == [0, 0, 1]
    # reward below the minimum, stake below the minimum, or a token other than the stake token: nothing counts
    _finish_job(market, token, poster, coordinator, [p], used=[0], reward=E18 - 1)
    _finish_job(market, token, poster, coordinator, [p], used=[0], stake=10 * E18 - 1)
    other = ReentrantToken.deploy({"from": poster})  # unarmed: a plain ERC20 of no known value
    _finish_job(market, token, poster, coordinator, [p], used=[0], payment=other)
    assert [int(v) for v in registry.reputationOf(p)[:3]] == [0, 0, 1]
    assert registry.reputationOf(coordinator)["jobsCompleted"] == 0
    # at the minimums, used and paid: one completed job, one delivered round, for the coordinator too
    _finish_job(market, token, poster, coordinator, [p], used=[0], reward=E18, stake=10 * E18)
    assert [int(v) for v in registry.reputationOf(p)[:3]] == [1, 1, 1]
    assert registry.reputationOf(coordinator)["jobsCompleted"] == 1


def test_farmed_reputation_cannot_displace_an_honest_provider(market, registry, token, poster, coordinator, staked):
    # Prepare: the attack the review found: a node runs self-dealing 1-wei, zero-stake jobs with its own
    # coordinator to raise its priority (it reached 22 and displaced an honest provider)
    farmer, farm_coordinator = staked[3], staked[4]
    for _ in range(3):
        _finish_job(market, token, farmer, farm_coordinator, [staked[2]], used=[0], reward=1, stake=0)
    assert market.priorityOf(staked[2]) == 0
    honest, late = staked[0], staked[2]
    job_id, _ = post(market, token, poster, job_params(token, coordinator, min_providers=1, max_providers=1))
    market.joinJob(job_id, {"from": honest})

    with reverts("JobMarketJobFull", job_id, 1):
        market.joinJob(job_id, {"from": late})

    assert market.providersOf(job_id) == [honest]


def test_limits_are_set_by_governance_only(market, gov, poster):
    new = (120, 10 * DAY, 60, DAY, 2 * E18, 20 * E18, 2 * DAY)
    with reverts("AccessControlUnauthorizedAccount"):
        market.setLimits(new, {"from": poster})
    for bad, field in (((0, 10, 60, DAY, 0, 0, 1), "minJoinWindow"), ((120, 60, 60, DAY, 0, 0, 1), "maxJoinWindow"),
                       ((120, 600, 0, DAY, 0, 0, 1), "minRoundTimeout"),
                       ((120, 600, 60, 59, 0, 0, 1), "maxRoundTimeout"),
                       ((120, 600, 60, DAY, 0, 0, 0), "disputeWindow")):
        with reverts("JobMarketInvalidLimits", field):
            market.setLimits(bad, {"from": gov})

    tx = market.setLimits(new, {"from": gov})

    assert [int(v) for v in tx.events["LimitsSet"]["oldLimits"]] == [60, 30 * DAY, 30, 7 * DAY, E18, 10 * E18, 20]
    assert [int(v) for v in tx.events["LimitsSet"]["newLimits"]] == list(new)
    assert [int(v) for v in market.limits()] == list(new)
