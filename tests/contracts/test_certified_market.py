"""Certification shapes the market: jobs that require a certified dataset (and certified compute), providers of
a full job ordered by certified compute and reputation, and the data holder's share of every reward."""

import pytest
from brownie import chain, web3

from conftest import (
    CID,
    DAY,
    E18,
    GLOBAL_HASH,
    after_dispute_window,
    bitmap,
    certify,
    job_params,
    register,
    reverts,
    submit_all,
)

DATASET, MODEL, SOFTWARE, COMPUTE = 0, 1, 2, 3
DIGITS = "0x" + web3.keccak(text="digits").hex().removeprefix("0x")
NO_REQUIREMENTS = (0, "0x" + "00" * 32, False, 0)


@pytest.fixture
def holder(accounts):
    return accounts[10] if len(accounts) > 10 else accounts.add()


@pytest.fixture
def dataset(dpg, token, holder, checker, committee, deployer):
    return certify(dpg, token, holder, DATASET, checker, committee, deployer)


def post_requiring(market, token, poster, coordinator, requirements, **kwargs):
    kwargs.setdefault("join_window", 7 * DAY)
    params = job_params(token, coordinator, **kwargs)
    token.approve(market, params[2], {"from": poster})
    tx = market.postJobWithRequirements(params, requirements, {"from": poster})
    return tx.return_value, tx


def test_post_requires_a_certified_dataset(market, dpg, token, poster, coordinator, holder, dataset):
    uncertified = dpg.registerAsset(DATASET, CID, "CC-BY-4.0", {"from": holder}).return_value
    model = dpg.registerAsset(MODEL, CID, "MIT", {"from": holder}).return_value
    with reverts("JobMarketAssetNotCertified", uncertified):
        post_requiring(market, token, poster, coordinator, (uncertified, DIGITS, False, 0))
    with reverts("JobMarketNotADataset", model):
        post_requiring(market, token, poster, coordinator, (model, DIGITS, False, 0))

    job_id, tx = post_requiring(market, token, poster, coordinator, (dataset, DIGITS, False, 0))

    event = tx.events["JobRequirementsSet"]
    assert (event["jobId"], event["datasetAsset"], event["dataShareBps"]) == (job_id, dataset, 1000)
    requirements, share = market.requirementsOf(job_id)
    assert (*requirements, share) == (dataset, DIGITS, False, 0, 1000)
    assert market.requirementsOf(999)[1] == 0


@pytest.fixture
def base_model(dpg, token, holder, checker, committee, deployer):
    return certify(dpg, token, holder, MODEL, checker, committee, deployer)


def test_a_job_on_a_base_model_needs_it_certified_to_post_join_and_start(market, dpg, registry, token, poster,
                                                                        coordinator, providers, holder, base_model,
                                                                        dataset, gov):
    # Prepare: an uncertified model, a dataset in the model's place, and nodes
    uncertified = dpg.registerAsset(MODEL, CID, "Apache-2.0", {"from": holder}).return_value
    for node in [*providers[:3], coordinator]:
        register(registry, token, node)
    limits = list(market.limits())
    limits[1] = 400 * DAY  # governance allows join windows past the certification's expiry
    market.setLimits(limits, {"from": gov})

    # Execute + Assert: posting checks the model asset's kind and certification, and records it
    with reverts("JobMarketAssetNotCertified", uncertified):
        post_requiring(market, token, poster, coordinator, (0, DIGITS, False, uncertified))
    with reverts("JobMarketNotAModel", dataset):
        post_requiring(market, token, poster, coordinator, (0, DIGITS, False, dataset))
    job_id, tx = post_requiring(market, token, poster, coordinator, (0, DIGITS, False, base_model),
                                join_window=400 * DAY)
    event = tx.events["JobRequirementsSet"]
    assert (event["jobId"], event["datasetAsset"], event["modelAsset"], event["dataShareBps"]) == (
        job_id, 0, base_model, 0)  # no data share: the model's owner is not paid per reward
    assert tuple(market.requirementsOf(job_id)[0]) == (0, DIGITS, False, base_model)
    for p in providers[:2]:
        market.joinJob(job_id, {"from": p})

    # Execute + Assert: once the model's certification lapses nobody joins, the job cannot start, the poster's
    # escrow comes back whole
    chain.sleep(366 * DAY)
    chain.mine()
    assert not dpg.isCertified(base_model)
    with reverts("JobMarketAssetNotCertified", base_model):
        market.joinJob(job_id, {"from": providers[2]})
    with reverts("JobMarketAssetNotCertified", base_model):
        market.startJob(job_id, {"from": coordinator})
    before, budget = token.balanceOf(poster), market.getJob(job_id)["budget"]
    market.cancelJob(job_id, {"from": poster})
    market.claimRefund(job_id, {"from": poster})
    assert token.balanceOf(poster) - before == budget


def test_join_checks_dataset_and_compute(market, dpg, registry, token, poster, coordinator, providers, dataset,
                                         checker, committee, deployer):
    for node in [*providers[:3], coordinator]:
        register(registry, token, node)
    register(registry, token, providers[3], datasets=("other",))
    job_id, _ = post_requiring(market, token, poster, coordinator, (dataset, DIGITS, True, 0))

    with reverts("JobMarketDatasetNotHeld"):
        market.joinJob(job_id, {"from": providers[3]})
    with reverts("JobMarketComputeNotCertified", job_id, providers[0].address):
        market.joinJob(job_id, {"from": providers[0]})
    certify(dpg, token, providers[0], COMPUTE, checker, committee, deployer)
    market.joinJob(job_id, {"from": providers[0]})

    assert market.participantOf(job_id, providers[0])["slot"] == 1


def test_an_expired_certification_stops_the_job_and_refunds(market, dpg, registry, token, poster, coordinator,
                                                          providers, dataset, gov):
    for node in [*providers[:3], coordinator]:
        register(registry, token, node)
    limits = list(market.limits())
    limits[1] = 400 * DAY  # governance allows join windows past the certification's expiry
    market.setLimits(limits, {"from": gov})
    job_id, _ = post_requiring(market, token, poster, coordinator, (dataset, DIGITS, False, 0), join_window=400 * DAY)
    for p in providers[:2]:
        market.joinJob(job_id, {"from": p})
    chain.sleep(366 * DAY)
    chain.mine()
    assert not dpg.isCertified(dataset)

    with reverts("JobMarketAssetNotCertified", dataset):
        market.joinJob(job_id, {"from": providers[2]})
    with reverts("JobMarketAssetNotCertified", dataset):
        market.startJob(job_id, {"from": coordinator})
    before, budget = token.balanceOf(poster), market.getJob(job_id)["budget"]
    market.cancelJob(job_id, {"from": poster})
    market.claimRefund(job_id, {"from": poster})

    assert token.balanceOf(poster) - before == budget  # nothing stuck in escrow
    assert token.balanceOf(market) == 0
    assert registry.stakeOf(providers[0])["locked"] == 0


def test_full_job_prefers_certified_compute_then_reputation(market, dpg, registry, token, poster, coordinator,
                                                           providers, checker, committee, deployer):
    for node in [*providers[:4], coordinator]:
        register(registry, token, node)
    job_id, _ = post_requiring(market, token, poster, coordinator, NO_REQUIREMENTS, min_providers=1,
                               max_providers=2)
    market.joinJob(job_id, {"from": providers[0]})
    market.joinJob(job_id, {"from": providers[1]})
    with reverts("JobMarketJobFull", job_id, 2):  # equal priority: first come stays
        market.joinJob(job_id, {"from": providers[2]})
    certify(dpg, token, providers[3], COMPUTE, checker, committee, deployer)
    assert market.priorityOf(providers[3]) == 1 << 128

    tx = market.joinJob(job_id, {"from": providers[3]})

    event = tx.events["ProviderDisplaced"]
    assert (event["displaced"], event["by"], event["index"]) == (providers[1], providers[3], 1)
    assert market.providersOf(job_id) == [providers[0], providers[3]]
    assert market.participantOf(job_id, providers[1])["slot"] == 0
    assert registry.stakeOf(providers[1])["locked"] == 0 and registry.stakeOf(providers[3])["locked"] == 50 * E18
    with reverts("JobMarketJobFull", job_id, 2):
        market.joinJob(job_id, {"from": providers[1]})


def test_data_holder_earns_its_share(market, registry, token, poster, coordinator, providers, holder, dataset):
    for node in [*providers[:2], coordinator]:
        register(registry, token, node)
    reward = 10 * E18
    job_id, _ = post_requiring(market, token, poster, coordinator, (dataset, DIGITS, False, 0), reward=reward,
                               rounds=1, min_providers=2, max_providers=2)
    for p in providers[:2]:
        market.joinJob(job_id, {"from": p})
    market.startJob(job_id, {"from": coordinator})
    submit_all(market, job_id, 1, providers[:2])
    market.commitRound(job_id, 1, GLOBAL_HASH, CID, bitmap(0, 1), {"from": coordinator})
    after_dispute_window(market)
    market.finalizeJob(job_id, {"from": coordinator})
    net = reward - reward * 100 // 10_000  # 1 % protocol fee
    share = net * 1000 // 10_000  # 10 % to the data holder
    before = [token.balanceOf(a) for a in (providers[0], holder)]

    market.claim(job_id, {"from": providers[0]})
    tx = market.claimDataShare(job_id, {"from": poster})  # anyone may trigger it; the holder is paid

    assert token.balanceOf(providers[0]) - before[0] == net - share
    assert token.balanceOf(holder) - before[1] == 2 * share
    assert tx.events["DataShareClaimed"]["holder"] == holder
    with reverts("JobMarketNothingToClaim"):
        market.claimDataShare(job_id, {"from": holder})
    assert market.claimable(job_id, providers[1]) == net - share


def test_governance_sets_the_data_share(market, gov, providers):
    with reverts("AccessControlUnauthorizedAccount"):
        market.setDataShareBps(1, {"from": providers[0]})
    with reverts("JobMarketDataShareTooHigh", 5001, 5000):
        market.setDataShareBps(5001, {"from": gov})
    tx = market.setDataShareBps(2500, {"from": gov})
    assert (tx.events["DataShareBpsSet"]["oldBps"], market.dataShareBps()) == (1000, 2500)
    with reverts("JobMarketZeroAddress", "dpgRegistry"):
        market.setDpgRegistry("0x" + "00" * 20, {"from": gov})
