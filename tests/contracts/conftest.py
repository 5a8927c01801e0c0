"""Brownie fixtures for the contract suite (run with ``brownie test``; see the Makefile)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import brownie
import pytest
from brownie import accounts, chain, project, web3

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from deploy import SuiteParams, deploy_suite

E18 = 10**18
DAY = 86_400
CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
UPDATE_HASH = "0x" + "11" * 32
GLOBAL_HASH = "0x" + "22" * 32
REPORT = "bafkreireportreportreportreportreportreportreportreportrepo"


def tick():
    """Mine a block at least one second later: the token's clock is the timestamp, and a snapshot is the second
    before the block that takes it, so what was delegated before a tick counts from then on."""
    chain.sleep(1)
    chain.mine()


def after_dispute_window(market):
    """Let the dispute window after a job's last commit pass (finalizing and an aborted job's refund wait for it)."""
    chain.sleep(market.limits()["disputeWindow"] + 1)
    chain.mine()


def request_review(dpg, asset, owner):
    """``owner`` asks for a review of ``asset``, paying the review fee (funded by the deployer if short)."""
    token = project.get_loaded_projects()[0].CommonsToken.at(dpg.votesToken())
    fee = dpg.reviewFee()
    if token.balanceOf(owner) < fee:
        token.transfer(owner, fee, {"from": accounts[0]})
    token.approve(dpg, fee, {"from": owner})
    return dpg.requestCertification(asset, {"from": owner})


def certify(dpg, token, owner, kind, checker, committee, deployer):
    """Register an asset of ``kind`` for ``owner`` and take it through check, vote and committee."""
    asset = dpg.registerAsset(kind, CID, "CC-BY-4.0", {"from": owner}).return_value
    if token.delegates(deployer) != deployer:
        token.delegate(deployer, {"from": deployer})
        tick()
    request_review(dpg, asset, owner)
    dpg.attestCheck(asset, 1, True, REPORT, {"from": checker})
    dpg.castVote(asset, True, {"from": deployer})
    chain.sleep(3 * DAY + 1)
    chain.mine()
    dpg.closeVote(asset)
    for member in committee[:2]:
        dpg.committeeDecide(asset, True, "", {"from": member})
    assert dpg.isCertified(asset)
    return asset


def reverts(error: str, *args: object):
    """Expect a revert with custom error ``error`` (and exactly ``args``, when given)."""
    if args:
        shown = [str(a).lower() if str(a).startswith("0x") else str(a) for a in args]
        return brownie.reverts(f"{error}: {', '.join(shown)}")
    return brownie.reverts(revert_pattern=rf"{re.escape(error)}(: .*)?")


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


@pytest.fixture(scope="module")
def deployer(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def providers(accounts):
    return [accounts[i] for i in range(1, 6)]


@pytest.fixture(scope="module")
def poster(accounts):
    return accounts[6]


@pytest.fixture(scope="module")
def coordinator(accounts):
    return accounts[7]


@pytest.fixture(scope="module")
def checker(accounts):
    return accounts[8]


@pytest.fixture(scope="module")
def gov(accounts):
    """Holds GOVERNANCE_ROLE in the `suite` fixture, so parameter setters can be tested directly."""
    return accounts[9]


@pytest.fixture(scope="module")
def committee(accounts):
    return [accounts.add() for _ in range(3)]


def _fund(token, deployer, people, amount):
    for person in people:
        token.transfer(person, amount, {"from": deployer})


@pytest.fixture(scope="module")
def suite(deployer, gov, checker, committee, providers, poster, coordinator, accounts):
    params = SuiteParams(
        governance=gov.address,
        checkers=[checker.address],
        committee=[m.address for m in committee],
        committee_threshold=2,
        unbonding_period=7 * DAY,
    )
    contracts = deploy_suite(deployer, params)
    _fund(contracts["CommonsToken"], deployer, [*providers, poster, coordinator], 10_000 * E18)
    for member in committee:
        deployer.transfer(member, 10 * E18)
    return contracts


@pytest.fixture(scope="module")
def token(suite):
    return suite["CommonsToken"]


@pytest.fixture(scope="module")
def registry(suite):
    return suite["NodeRegistry"]


@pytest.fixture(scope="module")
def market(suite):
    return suite["JobMarket"]


@pytest.fixture(scope="module")
def dpg(suite):
    return suite["DPGRegistry"]


def capabilities(datasets=("digits",), gpu="NVIDIA H100", cid=CID):
    return (gpu, 81920, 16, 131072, "eu-west", [web3.keccak(text=d).hex() for d in datasets], cid)


def register(registry, token, node, stake=200 * E18, **caps):
    token.approve(registry, stake, {"from": node})
    return registry.register(capabilities(**caps), stake, {"from": node})


def job_params(token, coordinator, *, budget=None, reward=10 * E18, rounds=3, min_providers=2,
               max_providers=3, stake=50 * E18, join_window=DAY, round_timeout=3600, cid=CID):
    if budget is None:
        budget = reward * rounds * max_providers
    return (cid, token.address, budget, reward, rounds, min_providers, max_providers, stake,
            chain.time() + join_window, round_timeout, coordinator.address)


def post(market, token, poster, params):
    token.approve(market, params[2], {"from": poster})
    tx = market.postJob(params, {"from": poster})
    return tx.return_value, tx


@pytest.fixture
def staked(registry, token, providers, coordinator):
    """Every provider and the coordinator registered with 200 tokens of stake."""
    for node in [*providers, coordinator]:
        register(registry, token, node)
    return providers


@pytest.fixture
def open_job(market, token, poster, coordinator, staked):
    job_id, _ = post(market, token, poster, job_params(token, coordinator))
    return job_id


@pytest.fixture
def running_job(market, open_job, staked, coordinator):
    """A 3-round job with providers[0..2] joined and started."""
    for p in staked[:3]:
        market.joinJob(open_job, {"from": p})
    market.startJob(open_job, {"from": coordinator})
    return open_job


def submit_all(market, job_id, round_, providers, prefix=0x11):
    for i, p in enumerate(providers):
        market.submitUpdate(job_id, round_, "0x" + f"{prefix + i:02x}" * 32, f"{CID}{i}", {"from": p})


def bitmap(*indices):
    return sum(1 << i for i in indices)


@pytest.fixture(scope="module")
def rewards(suite):
    return suite["ReviewRewards"]
