"""The gateway's chain indexer: reads survive a restart and catch up with what happened meanwhile, a database
that disagrees with the chain is corrected, and a reorg that undoes an indexed job replaces it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from opendpg.chain import Capabilities, Chain, JobParams, LocalChain, SuiteParams, TxSender, connect, deploy_suite
from opendpg.gateway.db import make_engine, migrate, session_factory
from opendpg.gateway.indexer import ChainIndexer
from opendpg.gateway.models import ChainJob
from opendpg.process import stop_process_group
from tests.python.gateway.conftest import Gateway, _serve, chain_env, start_gateway
from tests.python.gateway.test_jobs import _body
from tests.python.integration.stack import wait_for

E18 = 10**18


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gw(request, tmp_path_factory, anvil, world) -> Iterator[Gateway]:
    yield from _serve(request, tmp_path_factory,
                      chain_env(anvil, world) | {"OPENDPG_GATEWAY_RECONCILE_INTERVAL": "0.5"})


def _funded_user(gw: Gateway) -> dict[str, str]:
    email = f"indexed-{uuid.uuid4().hex[:8]}@example.org"
    gw.sign_up(email)
    auth = gw.login(email)
    assert gw.client.post("/faucet", headers=auth).status_code == 200
    return auth


def test_reads_survive_a_restart_and_catch_up(gw, world, anvil, accounts, tmp_path):
    # Prepare: a job posted through the gateway; then the gateway stops
    auth = _funded_user(gw)
    job_id = gw.client.post("/jobs", json=_body(world), headers=auth).json()["id"]
    provider = accounts[37]
    admin: Chain = world["admin"]
    node = admin.as_account(TxSender(admin.w3, provider))
    if not node.registry.is_registered(provider.address):
        admin.token.transfer(provider.address, 500 * E18)
        node.registry.register(Capabilities("CPU", 0, 2, 4096, "local", [], ""), 100 * E18)
    stop_process_group(gw.proc)

    # Execute: a provider joins while the gateway is down; the gateway starts again on the same database
    node.market.join_job(job_id)
    state = tmp_path / "restarted"
    state.mkdir()
    proc, url = start_gateway(state, gw.db_url, chain_env(anvil, world))
    gw.proc, gw.client.base_url = proc, url

    # Assert: the job and the join made while it was down are both there
    detail = gw.client.get(f"/jobs/{job_id}", headers=auth).json()
    assert detail["state"] == "OPEN" and [p["address"] for p in detail["providers"]] == [provider.address]


def test_a_database_that_disagrees_with_the_chain_is_corrected(gw, world):
    # Prepare: an indexed job
    auth = _funded_user(gw)
    job_id = gw.client.post("/jobs", json=_body(world), headers=auth).json()["id"]

    # Execute: someone edits the database behind the gateway's back
    engine = create_engine(gw.db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE chain_jobs SET state = 'FINISHED', credited = '7' WHERE job_id = :id"),
                     {"id": job_id})
    engine.dispose()

    # Assert: the reconcile pass puts the chain's values back and counts the correction
    wait_for(lambda: gw.client.get(f"/jobs/{job_id}", headers=auth).json()["state"] == "OPEN", 30,
             "the reconcile pass to restore the chain's state")
    assert gw.client.get(f"/jobs/{job_id}", headers=auth).json()["credited"] == "0"
    metrics = gw.client.get("/metrics").text
    corrected = [line for line in metrics.splitlines() if line.startswith("opendpg_gateway_index_corrections_total")]
    assert corrected and float(corrected[0].split()[-1]) >= 2


def test_a_reorg_that_undoes_an_indexed_job_replaces_it(tmp_path):
    # Prepare: a chain of its own (the reorg must not disturb the shared one), the contracts, an indexer
    local = LocalChain(accounts=4, log_file=tmp_path / "chain.log").start()
    try:
        w3 = connect(local.rpc_url)
        deployer, coordinator = local.dev_accounts()[:2]
        admin = Chain(w3, deploy_suite(TxSender(w3, deployer), SuiteParams(checkers=[deployer.address])),
                      TxSender(w3, deployer))
        admin.token.transfer(coordinator.address, 500 * E18)
        admin.as_account(TxSender(w3, coordinator)).registry.register(
            Capabilities("CPU", 0, 2, 4096, "local", [], ""), 100 * E18)
        url = f"sqlite:///{tmp_path / 'index.db'}"
        migrate(url)
        sessions = session_factory(make_engine(url))
        indexer = ChainIndexer(admin, sessions)
        snapshot = w3.provider.make_request("evm_snapshot", [])["result"]

        def post(cid: str) -> int:
            now = int(w3.eth.get_block("latest")["timestamp"])
            params = JobParams(cid, admin.token.address, 10 * E18, E18, 2, 1, 5, 0, now + 3600, 600,
                               coordinator.address)
            return admin.as_account(TxSender(w3, deployer)).market.post_job(params)  # fresh nonces after a revert

        first = post("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
        indexer.catch_up(int(w3.eth.block_number))
        with sessions() as session:
            assert session.get(ChainJob, first).spec_cid.startswith("bafkreigh2")

        # Execute: the chain goes back before that job, and another job takes its id and a longer history
        w3.provider.make_request("evm_revert", [snapshot])
        for _ in range(3):
            w3.provider.make_request("evm_mine", [])
        second = post("bafkreidivzimqfqtoqxkrpge6bjyhlvxqs3rhe73owtmdulaxr5do5in7u")
        indexer.step()

        # Assert: one job with that id, the one the chain has now
        assert second == first
        with sessions() as session:
            assert session.get(ChainJob, first).spec_cid.startswith("bafkreidiv")
            assert session.query(ChainJob).count() == 1
    finally:
        local.stop()
