"""DataLedger with the job market: providers declare the dataset assets they hold in their own files (schema
fingerprint, records, a privacy budget), jobs on held data spend from that budget at join, and the spend comes
back only while the data was never trained on."""

import pytest
from brownie import chain, web3

from conftest import CID, DAY, E18, certify, job_params, register, reverts

DATASET, MODEL, COMPUTE = 0, 1, 3
MICRO = 10**6  # epsilon in millionths
DELTA = 10**13  # 1e-5 in 1e-18 units
SCHEMA = "0x" + "ab" * 32
OTHER_SCHEMA = "0x" + "cd" * 32
NO_REQUIREMENTS = (0, "0x" + "00" * 32, False, 0)


@pytest.fixture(scope="module")
def ledger(suite):
    return suite["DataLedger"]


@pytest.fixture
def asset(dpg, poster):
    """A dataset asset (uncertified: private records are not open data) whose schema the holders follow."""
    return dpg.registerAsset(DATASET, CID, "LicenseRef-hospital-terms", {"from": poster}).return_value


@pytest.fixture
def holders(registry, token, providers, coordinator, ledger, asset):
    """providers[0..2] registered and holding `asset` with SCHEMA: 500 records, 3.0 epsilon at delta 1e-5."""
    for node in [*providers, coordinator]:
        register(registry, token, node)
    for p in providers[:3]:
        ledger.declareHolding(asset, SCHEMA, 500, 3 * MICRO, DELTA, False, {"from": p})
    return providers[:3]


def plain(values):
    """A returned struct as plain Python values (bytes32 as 0x-hex) for comparison."""
    return tuple("0x" + bytes(v).hex() if isinstance(v, bytes) else v if isinstance(v, bool) else int(v)
                 for v in values)


def post_on_data(market, token, poster, coordinator, asset, epsilon, *, schema=SCHEMA, delta=DELTA, **kwargs):
    kwargs.setdefault("join_window", 7 * DAY)
    params = job_params(token, coordinator, **kwargs)
    token.approve(market, params[2], {"from": poster})
    tx = market.postJobWithData(params, NO_REQUIREMENTS, (asset, schema, epsilon, delta if epsilon else 0),
                                {"from": poster})
    return tx.return_value


def test_a_holding_is_declared_without_any_record(ledger, registry, token, providers, dpg, poster, asset):
    model = dpg.registerAsset(MODEL, CID, "MIT", {"from": poster}).return_value
    with reverts("DataLedgerNotANode", providers[0].address):
        ledger.declareHolding(asset, SCHEMA, 500, 3 * MICRO, DELTA, True, {"from": providers[0]})
    register(registry, token, providers[0])
    with reverts("DataLedgerNotADataset", model):
        ledger.declareHolding(model, SCHEMA, 500, 3 * MICRO, DELTA, True, {"from": providers[0]})
    for field, args in (("schema", (asset, "0x" + "00" * 32, 500, 0, DELTA, False)),
                        ("records", (asset, SCHEMA, 0, 0, DELTA, False)),
                        ("delta", (asset, SCHEMA, 500, 0, 0, False)),
                        ("delta", (asset, SCHEMA, 500, 0, E18, False))):
        with reverts("DataLedgerInvalidInput", field):
            ledger.declareHolding(*args, {"from": providers[0]})

    tx = ledger.declareHolding(asset, SCHEMA, 500, 3 * MICRO, DELTA, True, {"from": providers[0]})

    event = tx.events["HoldingDeclared"]
    assert (event["holder"], event["assetId"], event["schema"], event["records"], event["budget"], event["delta"],
            event["requiresDp"]) == (providers[0], asset, SCHEMA, 500, 3 * MICRO, DELTA, True)
    assert plain(ledger.holdingOf(providers[0], asset)) == (SCHEMA, 500, 3 * MICRO, 0, DELTA, True)
    assert ledger.remainingBudget(providers[0], asset) == 3 * MICRO


def test_joins_spend_the_budget_and_a_join_beyond_it_is_refused(market, ledger, token, poster, coordinator,
                                                                 holders, asset):
    first = post_on_data(market, token, poster, coordinator, asset, 2 * MICRO)
    second = post_on_data(market, token, poster, coordinator, asset, 2 * MICRO)

    tx = market.joinJob(first, {"from": holders[0]})

    event = tx.events["BudgetSpent"]
    assert (event["holder"], event["assetId"], event["jobId"], event["epsilon"], event["spent"]) == (
        holders[0], asset, first, 2 * MICRO, 2 * MICRO)
    assert ledger.remainingBudget(holders[0], asset) == 1 * MICRO
    assert plain(ledger.spendOf(first, holders[0])) == (asset, 2 * MICRO)
    with reverts("DataLedgerBudgetExceeded", holders[0].address, asset, 1 * MICRO, 2 * MICRO):
        market.joinJob(second, {"from": holders[0]})
    market.joinJob(second, {"from": holders[1]})  # another holder's budget is its own
    assert ledger.holdingOf(holders[1], asset)[3] == 2 * MICRO


def _automine(enabled):
    """Mine each transaction as it comes (or hold them for one block): anvil's evm_setAutomine, ganache's miner_*."""
    if "error" in web3.provider.make_request("evm_setAutomine", [enabled]):
        web3.provider.make_request("miner_start" if enabled else "miner_stop", [])


def test_two_jobs_racing_for_the_last_of_a_budget_get_one_join(market, ledger, token, poster, coordinator, holders,
                                                                asset):
    jobs = [post_on_data(market, token, poster, coordinator, asset, 2 * MICRO) for _ in range(2)]
    _automine(False)
    try:
        sent = [market.joinJob(job, {"from": holders[0], "required_confs": 0, "gas_limit": 500_000,
                                     "allow_revert": True}) for job in jobs]
        web3.provider.make_request("evm_mine", [])
    finally:
        _automine(True)

    receipts = [web3.eth.wait_for_transaction_receipt(tx.txid) for tx in sent]
    assert receipts[0]["blockNumber"] == receipts[1]["blockNumber"]  # the same block
    assert [r["status"] for r in receipts] == [1, 0]  # the first in the block wins, the second is refused
    assert market.participantOf(jobs[0], holders[0])["slot"] == 1
    assert market.participantOf(jobs[1], holders[0])["slot"] == 0
    assert ledger.holdingOf(holders[0], asset)[3] == 2 * MICRO


def test_a_join_must_fit_the_holding(market, ledger, token, poster, coordinator, holders, asset):
    other = post_on_data(market, token, poster, coordinator, asset, MICRO, schema=OTHER_SCHEMA)
    no_dp = post_on_data(market, token, poster, coordinator, asset, 0)
    loose = post_on_data(market, token, poster, coordinator, asset, MICRO, delta=10 * DELTA)
    ledger.declareHolding(asset, SCHEMA, 500, 3 * MICRO, DELTA, True, {"from": holders[1]})

    with reverts("DataLedgerNotHeld"):  # holders[0] holds SCHEMA, not OTHER_SCHEMA
        market.joinJob(other, {"from": holders[0]})
    with reverts("DataLedgerDpRequired", holders[1].address, asset):
        market.joinJob(no_dp, {"from": holders[1]})
    with reverts("DataLedgerDeltaAboveBudget", holders[0].address, asset, 10 * DELTA, DELTA):
        market.joinJob(loose, {"from": holders[0]})
    tx = market.joinJob(no_dp, {"from": holders[0]})  # a holder that does not require DP takes it, spending nothing
    assert "BudgetSpent" not in tx.events
    assert ledger.remainingBudget(holders[0], asset) == 3 * MICRO


def test_the_spend_comes_back_only_while_the_data_was_never_trained_on(market, ledger, token, poster, coordinator,
                                                                       holders, asset):
    left, cancelled, started = (post_on_data(market, token, poster, coordinator, asset, MICRO, min_providers=1)
                                for _ in range(3))
    for job in (left, cancelled, started):
        market.joinJob(job, {"from": holders[0]})
    assert ledger.remainingBudget(holders[0], asset) == 0

    tx = market.leaveJob(left, {"from": holders[0]})
    event = tx.events["BudgetReleased"]
    assert (event["holder"], event["jobId"], event["epsilon"], event["spent"]) == (holders[0], left, MICRO, 2 * MICRO)
    market.cancelJob(cancelled, {"from": poster})
    assert ledger.remainingBudget(holders[0], asset) == 2 * MICRO
    assert plain(ledger.spendOf(cancelled, holders[0])) == (0, 0)

    market.startJob(started, {"from": coordinator})
    chain.sleep(2 * 3600 + 1)  # no update, no commit: the coordinator missed the deadline
    chain.mine()
    market.abortJob(started, {"from": poster})
    assert ledger.remainingBudget(holders[0], asset) == 2 * MICRO  # trained on (or could have been): spent for good
    assert plain(ledger.spendOf(started, holders[0])) == (asset, MICRO)


def test_a_displaced_provider_gets_its_spend_back(market, ledger, dpg, token, poster, coordinator, holders, asset,
                                                  checker, committee, deployer):
    job = post_on_data(market, token, poster, coordinator, asset, MICRO, min_providers=1, max_providers=1)
    market.joinJob(job, {"from": holders[0]})
    certify(dpg, token, holders[1], COMPUTE, checker, committee, deployer)  # outranks holders[0]

    tx = market.joinJob(job, {"from": holders[1]})

    assert tx.events["ProviderDisplaced"]["displaced"] == holders[0]
    assert tx.events["BudgetReleased"]["holder"] == holders[0]
    assert ledger.remainingBudget(holders[0], asset) == 3 * MICRO
    assert ledger.remainingBudget(holders[1], asset) == 2 * MICRO


def test_a_withdrawn_holding_keeps_its_spends(market, ledger, token, poster, coordinator, holders, asset):
    job = post_on_data(market, token, poster, coordinator, asset, 2 * MICRO)
    later = post_on_data(market, token, poster, coordinator, asset, 0)
    market.joinJob(job, {"from": holders[0]})

    tx = ledger.withdrawHolding(asset, {"from": holders[0]})

    assert tx.events["HoldingWithdrawn"]["holder"] == holders[0]
    assert plain(ledger.holdingOf(holders[0], asset)) == ("0x" + "00" * 32, 0, 3 * MICRO, 2 * MICRO, DELTA, False)
    with reverts("DataLedgerNotHeld"):
        market.joinJob(later, {"from": holders[0]})
    with reverts("DataLedgerBudgetBelowSpent", holders[0].address, asset, MICRO, 2 * MICRO):
        ledger.declareHolding(asset, SCHEMA, 400, MICRO, DELTA, False, {"from": holders[0]})
    with reverts("DataLedgerNotHeld"):
        ledger.withdrawHolding(asset, {"from": holders[0]})


def test_only_the_market_spends_and_releases(ledger, holders, asset):
    with reverts("AccessControlUnauthorizedAccount"):
        ledger.spend(1, holders[0], asset, SCHEMA, MICRO, DELTA, {"from": holders[0]})
    with reverts("AccessControlUnauthorizedAccount"):
        ledger.release(1, holders[0], {"from": holders[0]})


def test_a_job_on_held_data_names_a_dataset_a_schema_and_a_whole_dp_term(market, dpg, token, poster, coordinator,
                                                                        holders, asset):
    model = dpg.registerAsset(MODEL, CID, "MIT", {"from": poster}).return_value
    with reverts("JobMarketNotADataset", model):
        post_on_data(market, token, poster, coordinator, model, MICRO)
    with reverts("JobMarketInvalidParams", "asset"):
        post_on_data(market, token, poster, coordinator, 0, MICRO)
    with reverts("JobMarketInvalidParams", "schema"):
        post_on_data(market, token, poster, coordinator, asset, MICRO, schema="0x" + "00" * 32)
    with reverts("JobMarketInvalidParams", "delta"):
        post_on_data(market, token, poster, coordinator, asset, MICRO, delta=0)

    job = post_on_data(market, token, poster, coordinator, asset, MICRO)

    assert plain(market.dataTermsOf(job)) == (asset, SCHEMA, MICRO, DELTA)
    assert plain(market.dataTermsOf(job + 1)) == (0, "0x" + "00" * 32, 0, 0)


def test_governance_sets_the_ledger(market, ledger, gov, poster):
    with reverts("AccessControlUnauthorizedAccount"):
        market.setDataLedger(poster, {"from": poster})
    with reverts("JobMarketZeroAddress", "dataLedger"):
        market.setDataLedger("0x" + "00" * 20, {"from": gov})

    tx = market.setDataLedger(poster, {"from": gov})

    assert (tx.events["DataLedgerSet"]["oldLedger"], tx.events["DataLedgerSet"]["newLedger"]) == (ledger, poster)
    assert market.dataLedger() == poster
