"""Fixtures for the Python tests: a real anvil per session and the suite deployed on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from opendpg.chain import Chain, Deployment, LocalChain, SuiteParams, TxSender, connect, deploy_suite

E18 = 10**18


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with a test marked ``slow`` first (in their collected order), so that when the suite runs in
    several processes (``make test``: pytest-xdist, a whole module per process) the long ones start at once and
    the short ones fill in after."""
    slow_modules = {item.module for item in items if item.get_closest_marker("slow")}  # type: ignore[attr-defined]
    items.sort(key=lambda item: item.module not in slow_modules)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def anvil() -> Iterator[LocalChain]:
    chain = LocalChain(kind="anvil", accounts=40)
    chain.start()
    yield chain
    chain.stop()


@pytest.fixture(scope="session")
def w3(anvil: LocalChain) -> Web3:
    return connect(anvil.rpc_url)


@pytest.fixture(scope="session")
def accounts(anvil: LocalChain) -> list:
    return anvil.dev_accounts()


@pytest.fixture(scope="session")
def deployment(w3: Web3, accounts: list) -> Deployment:
    params = SuiteParams(checkers=[accounts[0].address], governance=accounts[9].address)
    return deploy_suite(TxSender(w3, accounts[0]), params)


@pytest.fixture(scope="session")
def admin(w3: Web3, deployment: Deployment, accounts: list) -> Chain:
    return Chain(w3, deployment, TxSender(w3, accounts[0]))


def as_account(admin: Chain, account) -> Chain:  # type: ignore[no-untyped-def]
    return admin.as_account(TxSender(admin.w3, account))


def job_parties(admin: Chain) -> tuple[LocalAccount, LocalAccount, LocalAccount]:
    """Three fresh accounts, each funded with 1 ETH and 1,000 tokens: a provider registered for ``sklearn/digits``
    and a coordinator, each staking 100 tokens, and a poster."""
    from eth_account import Account

    from opendpg.chain import Capabilities

    provider, poster, coordinator = Account.create(), Account.create(), Account.create()
    for acct in (provider, poster, coordinator):
        admin.sender.wait(admin.sender.send_tx({"to": acct.address, "value": E18, "data": b""}))
        admin.token.transfer(acct.address, 1_000 * E18)
    as_account(admin, provider).registry.register(Capabilities("CPU", 0, 2, 1024, "x", ["sklearn/digits"], ""),
                                                  100 * E18)
    as_account(admin, coordinator).registry.register(Capabilities("CPU", 0, 2, 1024, "x", [], ""), 100 * E18)
    return provider, poster, coordinator


def past_dispute_window(market, job_id: int) -> None:  # type: ignore[no-untyped-def]
    """Move the chain's clock past the job's dispute window (``finalizeJob`` waits for it); ``market`` is a
    :class:`~opendpg.chain.contracts.JobMarketClient`."""
    _, end, _ = market.dispute_status(job_id)
    w3 = market.chain.w3
    now = int(w3.eth.get_block("latest")["timestamp"])
    if now <= end:
        w3.provider.make_request("evm_increaseTime", [end - now + 1])
        w3.provider.make_request("evm_mine", [])


class Dao:
    """A chain of the test module's own, governed as in production (the timelock holds every parameter), for
    tests that travel in time: ``accounts[1]`` is the checker, ``[2..4]`` the expert committee (2 of 3 decide),
    ``[5..7]`` token holders with 30 M, 20 M and 5 M delegated votes (quorum 10 % of the 55 M delegated);
    ``[8]`` and ``[10..12]`` hold 10 000 tokens each (undelegated) to pay review fees for the assets they own."""

    def __init__(self, local: LocalChain, store) -> None:  # type: ignore[no-untyped-def]
        self.local = local
        self.store = store
        self.w3 = connect(local.rpc_url)
        self.accounts = local.dev_accounts()
        deployer = self.accounts[0]
        params = SuiteParams(checkers=[self.accounts[1].address],
                             committee=[a.address for a in self.accounts[2:5]], committee_threshold=2)
        self.deployment = deploy_suite(TxSender(self.w3, deployer), params)
        self.admin = Chain(self.w3, self.deployment, TxSender(self.w3, deployer))
        for account, millions in zip(self.accounts[5:8], (30, 20, 5), strict=True):
            self.admin.token.transfer(account.address, millions * 1_000_000 * E18)
            self.as_(account).token.delegate(account.address)
        for account in (self.accounts[8], *self.accounts[10:13]):
            self.admin.token.transfer(account.address, 10_000 * E18)
        self.travel(1)  # votes count from the second after they were delegated (the token's clock)

    def as_(self, account) -> Chain:  # type: ignore[no-untyped-def]
        return self.admin.as_account(TxSender(self.w3, account))

    def mine(self, blocks: int = 1) -> None:
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]

    def travel(self, seconds: int) -> None:
        self.local.increase_time(seconds)

    def pass_voting_delay(self) -> None:
        self.travel(SuiteParams().voting_delay + 1)

    def pass_voting_period(self) -> None:
        self.travel(SuiteParams().voting_period + 1)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


@pytest.fixture(scope="module")
def dao(tmp_path_factory) -> Iterator[Dao]:  # type: ignore[no-untyped-def]
    from opendpg.content import KuboDaemon, KuboStore

    with LocalChain(kind="anvil", accounts=12) as local, \
            KuboDaemon(tmp_path_factory.mktemp("dao-kubo") / "repo") as kubo:
        yield Dao(local, KuboStore(kubo.api_url))
