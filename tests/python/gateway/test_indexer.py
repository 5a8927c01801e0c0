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
from opendpg.gateway.models import ChainJob, ChainRound
from opendpg.process import stop_process_group
from tests.python.conftest import past_dispute_window
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


def test_a_job_is_never_shown_further_along_than_its_indexed_rounds(tmp_path):
    # Prepare: a chain of its own and an in-process indexer; a 2-round job whose round 1 is committed and whose
    # round-2 update is submitted, all indexed
    local = LocalChain(accounts=4, log_file=tmp_path / "chain.log").start()
    try:
        w3 = connect(local.rpc_url)
        deployer, coordinator, provider = local.dev_accounts()[:3]
        admin = Chain(w3, deploy_suite(TxSender(w3, deployer), SuiteParams(checkers=[deployer.address])),
                      TxSender(w3, deployer))
        for node in (coordinator, provider):
            admin.token.transfer(node.address, 500 * E18)
            admin.as_account(TxSender(w3, node)).registry.register(
                Capabilities("CPU", 0, 2, 4096, "local", [], ""), 100 * E18)
        now = int(w3.eth.get_block("latest")["timestamp"])
        job_id = admin.market.post_job(JobParams("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
                                                 admin.token.address, 2 * E18, E18, 2, 1, 1, 0, now + 3600, 600,
                                                 coordinator.address))
        as_provider = admin.as_account(TxSender(w3, provider)).market
        as_coordinator = admin.as_account(TxSender(w3, coordinator)).market
        as_provider.join_job(job_id)
        as_coordinator.start_job(job_id)
        as_provider.submit_update(job_id, 1, b"\x01" * 32, "bafkreiround1")
        as_coordinator.commit_round(job_id, 1, b"\x11" * 32, "bafkreiglobal1", [0])
        as_provider.submit_update(job_id, 2, b"\x02" * 32, "bafkreiround2")
        url = f"sqlite:///{tmp_path / 'index.db'}"
        migrate(url)
        sessions = session_factory(make_engine(url))
        indexer = ChainIndexer(admin, sessions)
        indexer.catch_up(int(w3.eth.block_number))

        # Execute: the chain finishes the job; the reconcile pass reads the chain before the events are indexed
        as_coordinator.commit_round(job_id, 2, b"\x22" * 32, "bafkreiglobal2", [0])
        past_dispute_window(as_coordinator, job_id)
        as_coordinator.finalize_job(job_id)
        indexer.reconcile()

        # Assert: the index still shows the job as far as its indexed rounds (round 1's model is the latest it
        # has), and once the events are indexed it shows the finished job with round 2
        with sessions() as session:
            job = session.get(ChainJob, job_id)
            assert (job.state, job.committed_rounds) == ("RUNNING", 1)
        indexer.catch_up(int(w3.eth.block_number))
        with sessions() as session:
            job = session.get(ChainJob, job_id)
            assert (job.state, job.committed_rounds) == ("FINISHED", 2)
            assert session.get(ChainRound, (job_id, 2)).global_cid == "bafkreiglobal2"
    finally:
        local.stop()
