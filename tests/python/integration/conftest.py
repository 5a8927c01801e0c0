"""Module-scoped real components for the daemon tests: kubo and a fresh deployment on the session anvil."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opendpg.chain import Chain, SuiteParams, TxSender, deploy_suite
from opendpg.content import KuboDaemon
from tests.python.integration.stack import Stack


@pytest.fixture(scope="module")
def kubo(tmp_path_factory):
    with KuboDaemon(tmp_path_factory.mktemp("kubo") / "repo") as daemon:
        yield daemon


@pytest.fixture(scope="module")
def stack(request, anvil, w3, accounts, kubo, tmp_path_factory) -> Iterator[Stack]:
    """A deployment of the module's own: agents see only this module's jobs. A module that acts by hand inside the
    dispute window (each step a CLI process, slow on a loaded machine) sets a longer ``DISPUTE_WINDOW`` and moves
    the clock past it with :func:`~tests.python.conftest.past_dispute_window`."""
    deployer = accounts[10]
    window = getattr(request.module, "DISPUTE_WINDOW", SuiteParams.dispute_window)
    deployment = deploy_suite(TxSender(w3, deployer), SuiteParams(checkers=[deployer.address], dispute_window=window))
    root = tmp_path_factory.mktemp("stack")
    deployment_file = root / "deployment.json"
    deployment.save(deployment_file)
    s = Stack(anvil.rpc_url, anvil.ws_url, deployment, deployment_file, kubo,
              Chain(w3, deployment, TxSender(w3, deployer)), root)
    yield s
    s.stop_all()
