"""Fixtures for the Python tests: a real anvil per session and the suite deployed on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from opendpg.chain import Chain, Deployment, LocalChain, SuiteParams, TxSender, connect, deploy_suite

E18 = 10**18


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
