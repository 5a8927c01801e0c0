"""The coordinator daemon is killed (``kill -9``; its SuperLink survives it) after round 1 and restarted: it
stops the stale SuperLink, brings a fresh one up on the same address, and resumes the job from the last
committed round; no round is committed twice and the whole history verifies."""

from __future__ import annotations

import os
import signal

import pytest

from opendpg.audit import verify_job
from opendpg.chain import Chain, JobState
from opendpg.content import KuboStore
from opendpg.spec import parse_spec
from tests.python.integration.stack import wait_for

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes

ROUNDS = 4


@pytest.mark.timeout(2400)  # generous: a busy machine slows every round
def test_a_restarted_coordinator_resumes_the_job(stack, accounts):
    # Prepare
    coordinator, providers, poster = accounts[35], accounts[36:38], accounts[39]
    stack.start_daemons(coordinator, providers, poster)
    spec = parse_spec({
        "name": "digits", "model": {"name": "mlp", "hidden_units": 16},
        "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits", "partition": "iid"},
        "training": {"rounds": ROUNDS, "local_epochs": 3}, "providers": {"min": 2, "max": 2}})
    store = KuboStore(stack.kubo.api_url)
    job_id = stack.post(poster, store.put(spec.to_bytes()), coordinator, rounds=ROUNDS, min_p=2, max_p=2,
                        round_timeout=180)
    market = stack.admin.market

    # Execute: kill the coordinator after round 1; its SuperLink (and the ServerApp under it) survives, hung: frozen
    # here so that it cannot finish the job before the restarted coordinator is up on a slow machine
    wait_for(lambda: market.get_job(job_id).committed_rounds >= 1, 600, "round 1 to be committed", interval=0.05)
    stack.kill9("coordinator", with_supernodes=False)
    stale = int((stack.root / "coordinator" / "superlink.pid").read_text())
    os.killpg(stale, signal.SIGSTOP)
    stack.restart("coordinator")
    wait_for(lambda: market.get_job(job_id).state == JobState.FINISHED, 1200, "the job to be finalized")

    # Assert: every round committed exactly once, by both providers, and it all verifies
    commits = market.contract.events.RoundCommitted().get_logs(from_block=stack.deployment.start_block,
                                                               argument_filters={"jobId": job_id})
    assert sorted(int(e["args"]["round"]) for e in commits) == list(range(1, ROUNDS + 1))
    assert all(int(e["args"]["usedCount"]) == 2 for e in commits)
    log = stack.log("coordinator")
    assert any(line["msg"] == "stopped a stale SuperLink" for line in log)
    # the new run continued from the last round committed before the stale SuperLink hung
    resumed = [line["from_round"] for line in log if line["msg"] == "training run started"]
    assert resumed[0] == 1 and len(resumed) >= 2 and all(2 <= r <= ROUNDS for r in resumed[1:])
    verdicts = verify_job(Chain.reader(stack.admin.w3, stack.deployment), store, job_id)
    assert [v.ok for v in verdicts] == [True] * ROUNDS
