"""Faults and bad input around real components: an update of the wrong shape, the chain's RPC going away
and coming back under a running agent, a spec CID that does not resolve (yet), and a spec that fails
validation (the poster gets the whole escrow back)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from opendpg.agent import Outbox
from opendpg.chain import Capabilities, JobState
from opendpg.content import KuboStore, cid_of
from opendpg.fl.federation import Federation
from opendpg.spec import parse_spec
from tests.python.conftest import past_dispute_window
from tests.python.integration.stack import E18, Proxy, wait_for

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes

FAULTY_APP = Path(__file__).parent / "faulty_app"
REPO = Path(__file__).resolve().parents[3]


def _spec(rounds: int = 1, min_p: int = 3, max_p: int = 3):
    return parse_spec({
        "name": "faults", "model": {"name": "mlp", "hidden_units": 16},
        "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits", "partition": "iid"},
        "training": {"rounds": rounds, "local_epochs": 1}, "providers": {"min": min_p, "max": max_p}})


def _register(stack, *nodes) -> None:
    for node in nodes:
        stack.as_(node).registry.register(Capabilities("CPU", 0, 2, 4096, "local", ["sklearn/digits"], ""),
                                          100 * E18)


def run_one_round(stack, store, providers, coordinator, poster, tmp_path, monkeypatch, gate: str,
                  **gate_config: object) -> int:
    """Post a 1-round job for ``providers`` (2 of 3 needed), join and start it, and run its round on Flower with
    ``gate`` (run-config extras ``gate_config``); the third provider's ClientApp corrupts its update's shape. Each
    provider's outbox submits its update hash as the real agent's does. Returns the job id."""
    spec = _spec()
    job_id = stack.post(poster, store.put(spec.to_bytes()), coordinator, rounds=1, min_p=2, max_p=3)
    for p in providers:
        stack.as_(p).market.join_job(job_id)
    stack.as_(coordinator).market.start_job(job_id)
    outboxes = [Outbox(tmp_path / f"outbox-{i}", stack.as_(p), store) for i, p in enumerate(providers)]
    done = threading.Event()

    def submit_loop(outbox: Outbox) -> None:
        while not done.is_set():
            outbox.submit_pending(job_id)
            done.wait(0.1)

    threads = [threading.Thread(target=submit_loop, args=(o,), daemon=True) for o in outboxes]
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")  # the test apps
    # Flower's own SuperNodes, which run the ClientApp the run's FAB names (the faulty one); OpenDPG's warm worker
    # runs only the OpenDPG app a provider installed
    with Federation(tmp_path / "flwr", threads=1, superlink_env={"OPENDPG_PRIVATE_KEY": coordinator.key.hex()},
                    stock=True) as fed:
        for i, p in enumerate(providers):
            fed.start_supernode(p.address, {"provider": p.address, "job-id": job_id, "share-index": i,
                                            "share-count": 3, "outbox": str(outboxes[i].root),
                                            "corrupt-shape": i == 2})
        for t in threads:
            t.start()
        try:
            fed.run({"spec": spec.to_bytes().decode(), "job-id": job_id, "out-dir": str(tmp_path / "models"),
                     "gate": gate, "rpc-url": stack.rpc_url, "deployment-file": str(stack.deployment_file),
                     "state-dir": str(tmp_path / "rounds"), "ipfs-api": stack.kubo.api_url, "round-timeout": 120.0,
                     "hash-wait": 30.0, **gate_config}, app_dir=FAULTY_APP)
        finally:
            done.set()
            for t in threads:
                t.join()
    return job_id


def test_an_update_of_the_wrong_shape_is_left_out_and_not_paid(stack, accounts, tmp_path, monkeypatch):
    # Prepare: three providers joined and started; the third one's ClientApp corrupts its update's shape
    providers, coordinator, poster = accounts[11:14], accounts[14], accounts[15]
    stack.fund(*providers, coordinator, poster)
    _register(stack, *providers, coordinator)
    store = KuboStore(stack.kubo.api_url)

    # Execute: one round on Flower with the coordinator's chain gate
    job_id = run_one_round(stack, store, providers, coordinator, poster, tmp_path, monkeypatch,
                           "opendpg.coordinator.gate:ChainGate")

    # Assert: the round went on with the two good updates; the bad one is on-chain but rejected and unpaid
    market = stack.admin.market
    record = json.loads((tmp_path / "models" / "round-1.json").read_text())
    assert sorted(record["used"]) == sorted(p.address for p in providers[:2])
    assert "the job's model expects" in record["rejected"][providers[2].address]
    assert market.get_job(job_id).committed_rounds == 1
    rejected = market.contract.events.UpdateRejected().get_logs(from_block=stack.deployment.start_block,
                                                                 argument_filters={"jobId": job_id})
    assert [e["args"]["provider"] for e in rejected] == [providers[2].address]
    assert market.participant_of(job_id, providers[2].address).missed_rounds == 1
    past_dispute_window(market, job_id)
    stack.as_(poster).market.finalize_job(job_id)
    assert market.claimable(job_id, providers[2].address) == 0
    assert market.claimable(job_id, providers[0].address) == 10 * E18 * 99 // 100


def test_agent_catches_up_after_an_rpc_outage_and_handles_bad_specs(stack, accounts, anvil):
    # Prepare: an agent that reaches the chain only through a proxy; a registered coordinator; a poster
    agent, coordinator, poster = accounts[31], accounts[32], accounts[33]
    stack.fund(agent, coordinator, poster)
    stack.register_coordinator(coordinator)
    proxy = Proxy(anvil.port)
    proxy.up()
    stack.start_agent(agent, "agent-rpc", (0, 1), rpc_url=proxy.url)
    stack.wait_registered(agent)
    store = KuboStore(stack.kubo.api_url)
    market = stack.admin.market
    joined = lambda job: market.participant_of(job, agent.address).slot != 0  # noqa: E731

    try:
        # Execute + Assert 1: the RPC goes away; a job is posted meanwhile; once back, the agent joins it
        proxy.down()
        during = stack.post(poster, store.put(_spec(min_p=1, max_p=2).to_bytes()), coordinator, rounds=1, min_p=1,
                            max_p=2)
        wait_for(lambda: any("unavailable" in line["msg"] or "lost" in line["msg"] for line in stack.log("agent-rpc"))
                 or stack.procs["agent-rpc"].poll() is not None, 30, "the agent to notice the outage")
        time.sleep(3)  # a real outage: several poll intervals with nothing reachable
        assert stack.procs["agent-rpc"].poll() is None, "the agent must survive an RPC outage"
        assert not joined(during)
        proxy.up()
        wait_for(lambda: joined(during), 60, "the agent to catch up and join")

        # Execute + Assert 2: a spec CID that does not resolve yet: no join, kept for retry; pinned later: joined
        later = _spec(min_p=1, max_p=2).model_copy(update={"name": "pinned later"}).to_bytes()
        pending = stack.post(poster, cid_of(later), coordinator, rounds=1, min_p=1, max_p=2)
        decisions = stack.root / "agent-rpc" / "decisions.json"
        wait_for(lambda: decisions.exists() and json.loads(decisions.read_text()).get(str(pending), {}).get("retry"),
                 60, "the unresolved spec to be recorded for retry")
        assert not joined(pending)
        store.put(later)
        wait_for(lambda: joined(pending), 60, "the agent to join once the spec resolves")

        # Execute + Assert 3: a spec that fails validation: refused with the field named; the poster cancels and
        # gets the whole escrow back
        balance = stack.admin.token.balance_of(poster.address)
        broken = stack.post(poster, store.put(b'{"name": "x", "model": {"name": "mlp"}}'), coordinator, rounds=1,
                            min_p=1, max_p=2)
        escrow = balance - stack.admin.token.balance_of(poster.address)
        wait_for(lambda: str(broken) in json.loads(decisions.read_text()), 60, "the agent to judge the broken spec")
        reasons = json.loads(decisions.read_text())[str(broken)]["reasons"]
        assert not joined(broken) and "invalid spec" in reasons[0] and "dataset" in reasons[0]
        stack.as_(poster).market.cancel_job(broken)
        assert market.get_job(broken).state == JobState.CANCELLED
        assert stack.as_(poster).market.claim_refund(broken) == escrow
        assert stack.admin.token.balance_of(poster.address) == balance
    finally:
        proxy.down()
