"""The real daemons (one coordinator, three provider agents, each a separate process with its own SuperNode)
carry a job on the providers' own files (three hospitals' breast-cancer records in CSV, Parquet and JSON Lines,
DP-SGD, the poster's held-out set on IPFS) from JobPosted to payment while one provider machine dies (``kill -9``
of the agent and its SuperNode), another provider's agent is killed and restarted mid-job, and a third one's
SuperNode dies and is restarted by its agent."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from opendpg.audit import verify_job
from opendpg.chain import Chain, JobState
from opendpg.content import KuboStore
from opendpg.data import pack_held_out, sample_schema
from opendpg.dpg.datasets import EXAMPLE_HELD_DATASET
from opendpg.dpg.metadata import parse_metadata
from opendpg.spec import parse_spec
from tests.python.integration.stack import E18, wait_for

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes

ROUNDS = 3


def _events(stack, name: str, job_id: int) -> list:
    contract = stack.admin.market.contract
    return list(getattr(contract.events, name)().get_logs(from_block=stack.deployment.start_block,
                                                           argument_filters={"jobId": job_id}))


@pytest.mark.timeout(2400)  # generous: on a busy machine every ClientApp process imports torch slowly
def test_job_finishes_with_a_dead_and_a_restarted_provider(stack, accounts):
    # Prepare: a coordinator and three agents as processes; a 3-round job that needs 2 of 3 providers
    coordinator, providers, poster = accounts[35], accounts[36:39], accounts[39]
    held = stack.held_dataset(poster, len(providers))
    stack.start_daemons(coordinator, providers, poster, held=held)
    nonce_before = stack.admin.w3.eth.get_transaction_count(providers[0].address)  # registration included
    store = KuboStore(stack.kubo.api_url)
    schema = sample_schema("breast-cancer")
    spec = parse_spec({
        "name": "breast cancer where three hospitals keep it", "model": {"name": "mlp", "hidden_units": 32},
        "dataset": {"asset": held[0], "data_schema": parse_metadata(EXAMPLE_HELD_DATASET.read_bytes()).dataset_schema
                    .model_dump(mode="json")},
        "training": {"rounds": ROUNDS, "local_epochs": 2, "batch_size": 16, "learning_rate": 0.1},
        "providers": {"min": 2, "max": 3},
        "privacy": {"dp_sgd": {"noise_multiplier": 1.5, "max_grad_norm": 1.0, "epsilon": 5.0}},
        "held_out_cid": store.put(pack_held_out(schema, held[1].held_out)),
    })
    job_id = stack.post(poster, store.put(spec.to_bytes()), coordinator, rounds=ROUNDS, min_p=2, max_p=3,
                        round_timeout=120, spec=spec)  # time enough to train on a busy machine
    market = stack.admin.market
    staked_before = stack.admin.registry.stake_of(providers[2].address)["staked"]

    # Execute: after round 1, provider 2's machine dies; provider 0's agent crashes and is restarted; provider 1's
    # SuperNode dies (its ClientApp runs in the SuperNode's process: what a crash in training does)
    wait_for(lambda: market.get_job(job_id).committed_rounds >= 1, 600, "round 1 to be committed")
    stack.kill9("agent-2", with_supernodes=True)
    supernode_1 = json.loads((stack.root / "agent-1" / "jobs.json").read_text())[str(job_id)]["supernode_pid"]
    os.killpg(supernode_1, signal.SIGKILL)
    stack.kill9("agent-0", with_supernodes=False)  # its SuperNode lives on: the restarted agent must stop it
    stack.restart("agent-0")
    wait_for(lambda: market.get_job(job_id).state == JobState.FINISHED, 1200, "the job to be finalized")
    wait_for(lambda: len(_events(stack, "RewardClaimed", job_id)) == 2, 300, "the two live agents to claim")

    # Assert: finished with all rounds; the dead provider dropped, slashed, paid only for the rounds its update
    # was in before it died (round 1, unless it was too slow for round 1 on a loaded machine)
    job = market.get_job(job_id)
    assert job.committed_rounds == ROUNDS
    rounds_dir = stack.root / "coordinator" / "rounds" / f"job-{job_id}"
    used = [json.loads((rounds_dir / f"round-{r}.json").read_text())["used"] for r in range(1, ROUNDS + 1)]
    lived = sum(providers[2].address.lower() in map(str.lower, u) for u in used)
    dead = market.participant_of(job_id, providers[2].address)
    assert lived <= 1 and dead.dropped and dead.dropped_after == lived
    assert stack.admin.registry.stake_of(providers[2].address)["staked"] == staked_before - 10 * E18
    net_per_round = 10 * E18 * (10_000 - 100) // 10_000
    assert market.claimable(job_id, providers[2].address) == lived * net_per_round
    claimed = {e["args"]["provider"]: e["args"] for e in _events(stack, "RewardClaimed", job_id)}
    assert claimed[providers[1].address]["amount"] == ROUNDS * net_per_round
    assert claimed[providers[0].address]["amount"] == claimed[providers[0].address]["rounds"] * net_per_round
    # each hospital's privacy spend is on-chain; the coordinator evaluated on the poster's held-out set, the
    # hospitals on their validation splits
    assert [stack.admin.ledger.spend_of(job_id, p.address)[1] for p in providers] == [5_000_000] * 3
    record = json.loads((stack.root / "coordinator" / "rounds" / f"job-{job_id}" / f"round-{ROUNDS}.json")
                        .read_text())
    assert record["metrics"]["examples"] == 114 and record["metrics"]["accuracy"] > 0.7
    assert record["metrics"]["federated_providers"] >= 2 and record["metrics"]["federated_examples"] > 0
    # the restarted agent sent nothing twice: one join, at most one update per round, one claim, and its
    # transactions since registering are exactly: join + its updates + claim
    me = providers[0].address
    assert [e["args"]["provider"] for e in _events(stack, "ProviderJoined", job_id)].count(me) == 1
    mine = [e for e in _events(stack, "UpdateSubmitted", job_id) if e["args"]["provider"] == me]
    assert len({e["args"]["round"] for e in mine}) == len(mine) >= 2
    assert stack.admin.w3.eth.get_transaction_count(me) == nonce_before + 1 + len(mine) + 1
    assert any(line["msg"] == "stopped a stale SuperNode" for line in stack.log("agent-0"))
    # provider 1's agent restarted its SuperNode, which trained every later round (paid for all of them above)
    assert any(line["msg"] == "SuperNode exited; restarting it" for line in stack.log("agent-1"))
    # and everything committed still verifies
    verdicts = verify_job(Chain.reader(stack.admin.w3, stack.deployment), store, job_id)
    assert [v.ok for v in verdicts] == [True] * ROUNDS, [v.problems for v in verdicts]
    assert any(line["msg"] == "provider dropped and slashed" for line in stack.log("coordinator"))
    # SIGTERM: a clean stop, exit code 0, no SuperNode left behind
    for name in ("agent-1", "coordinator"):
        proc = stack.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    assert stack.log("agent-1")[-1]["msg"] == "agent stopped"
    assert stack.log("coordinator")[-1]["msg"] == "coordinator stopped"
    supernodes = subprocess.run(["pgrep", "-f", f"supernode.*{stack.root}/agent-1"], capture_output=True, text=True)
    assert supernodes.stdout == ""
