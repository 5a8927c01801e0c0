"""``opendpg demo``: one federated training job, end to end, on components the demo starts itself.

Starts anvil and a private kubo daemon, deploys the contracts, registers a coordinator and three staked
providers that each hold a label-skewed share of scikit-learn's digits, pins the job spec to IPFS and posts
a FedAvg job with escrow. Flower's Deployment Engine (one SuperLink, one SuperNode per provider) trains;
each provider's outbox pins its update and submits the hash on-chain; the coordinator's gate aggregates
only updates whose hash is on-chain, pins every global model and commits it. Contract events are followed
live over a websocket. Then ``verify`` recomputes every round, the job is finalized and everyone is paid.

The three providers are driven by this process (join, outbox submission, claim); the autonomous provider
agent daemon (`opendpg agent run`) is still to come (issue 3).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

from opendpg.agent import Outbox
from opendpg.audit import verify_job
from opendpg.chain import (
    Capabilities,
    Chain,
    ChainEvent,
    EventStream,
    FileCheckpoint,
    JobParams,
    LocalChain,
    SuiteParams,
    TxSender,
    WebsocketHeads,
    connect,
    deploy_suite,
)
from opendpg.content import KuboDaemon, KuboStore
from opendpg.fl.federation import Federation
from opendpg.spec import JobSpec, parse_spec

__all__ = ["register"]

E18 = 10**18
SHOWN = ["JobPosted", "ProviderJoined", "JobStarted", "UpdateSubmitted", "RoundCommitted", "JobFinalized",
         "RewardClaimed", "RefundClaimed"]


def register(commands: Any) -> None:
    demo = commands.add_parser("demo", help="run one federated training job end to end on local components")
    demo.add_argument("--rounds", type=int, default=5)
    demo.add_argument("--state-dir", type=Path, default=Path(".opendpg/demo"))
    demo.set_defaults(run=lambda args: asyncio.run(run_demo(args)))


def _fmt(amount: int) -> str:
    return f"{amount / E18:,.2f} DPG"


def _spec(rounds: int) -> JobSpec:
    return parse_spec({
        "name": "Handwritten digits, label-skewed across three data holders",
        "model": {"name": "mlp", "hidden_units": 64},
        "dataset": {"catalog_id": "sklearn/digits", "partition": "label-skew", "labels_per_provider": 4},
        "training": {"rounds": rounds, "local_epochs": 5, "batch_size": 32, "learning_rate": 0.1},
        "strategy": {"name": "fedavg"},
        "providers": {"min": 3, "max": 3},
    })


def _show(event: ChainEvent, rounds_dir: Path) -> None:
    a = event.args
    if event.name == "UpdateSubmitted":
        print(f"  round {a['round']}: provider {a['provider'][:10]}… update {a['updateHash'].hex()[:16]}… "
              f"({a['updateCid'][:20]}…)")
    elif event.name == "RoundCommitted":
        accuracy = ""
        path = rounds_dir / f"round-{a['round']}.json"
        for _ in range(40):
            if path.exists():
                metrics = json.loads(path.read_text())["metrics"]
                accuracy = f", held-out accuracy {metrics['accuracy']:.3f}, loss {metrics['loss']:.3f}"
                break
            time.sleep(0.05)
        print(f"  round {a['round']} committed: global {a['globalHash'].hex()[:16]}…, {a['usedCount']} updates"
              f"{accuracy}")
    elif event.name in ("RewardClaimed", "RefundClaimed"):
        who = str(a.get("provider") or a.get("poster"))
        print(f"  {event.name}: {who[:10]}… {_fmt(a['amount'])}")
    else:
        print(f"  {event.name} (job {a['jobId']})")


async def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    state = args.state_dir
    state.mkdir(parents=True, exist_ok=True)
    with LocalChain(log_file=state / "chain.log") as local, KuboDaemon(state / "ipfs") as kubo:
        print(f"1. anvil at {local.rpc_url} (pid {local.pid}); kubo at {kubo.api_url} (pid {kubo.pid})")
        w3 = connect(local.rpc_url)
        accounts = local.dev_accounts()
        deployer, poster, coordinator, providers = accounts[0], accounts[1], accounts[2], accounts[3:6]
        admin = Chain(w3, deploy_suite(TxSender(w3, deployer), SuiteParams(checkers=[deployer.address])),
                      TxSender(w3, deployer))
        deployment_file = state / "deployment.json"
        admin.deployment.save(deployment_file)
        print(f"2. contracts deployed; deployment file {deployment_file}")
        people = [poster, coordinator, *providers]
        as_: dict[str, Chain] = {a.address: admin.as_account(TxSender(w3, a)) for a in people}
        for acct in [poster, coordinator, *providers]:
            admin.token.transfer(acct.address, 10_000 * E18)
        for node in [coordinator, *providers]:
            as_[node.address].registry.register(
                Capabilities("CPU", 0, 2, 8192, "local", ["sklearn/digits"], ""), 200 * E18)
        print("3. a coordinator and three providers registered and staked 200 DPG each")

        store = KuboStore(kubo.api_url)
        stream = EventStream(w3, admin.deployment, ["JobMarket"], events=SHOWN,
                             checkpoint=FileCheckpoint(state / "events.checkpoint"),
                             heads=await WebsocketHeads(local.ws_url).start(),
                             start_block=int(w3.eth.block_number) + 1)
        stop = asyncio.Event()
        rounds_dir = state / "coordinator"

        async def show(event: ChainEvent) -> None:
            _show(event, rounds_dir / f"job-{job_holder.get('id', 0)}")

        job_holder: dict[str, int] = {}
        follower = asyncio.create_task(stream.run(show, stop))
        spec = _spec(args.rounds)
        result = await asyncio.to_thread(_run_job, admin, as_, w3, store, kubo, local, poster, coordinator,
                                         providers, spec, state, deployment_file, job_holder)
        await asyncio.sleep(0.5)
        stop.set()
        await follower
        await stream.heads.close()

        job_id, verdicts, earned, refund = result
        print("5. verify: every update fetched from IPFS by its on-chain CID and hash, every aggregate recomputed")
        for v in verdicts:
            print(f"  round {v.round}: {'OK' if v.ok else 'MISMATCH ' + '; '.join(v.problems)}")
        final = json.loads((rounds_dir / f"job-{job_id}" / f"round-{args.rounds}.json").read_text())["metrics"]
        print("6. summary")
        print(f"  job {job_id}: {admin.market.get_job(job_id).state.name}, {args.rounds} rounds, final held-out "
              f"accuracy {final['accuracy']:.3f}")
        for addr, amount in earned.items():
            print(f"  provider {addr[:10]}… earned {_fmt(amount)}")
        print(f"  escrow refunded to the poster: {_fmt(refund)}")
        print(f"  verify: {'all rounds verified' if all(v.ok for v in verdicts) else 'MISMATCH'}; "
              f"done in {time.monotonic() - started:.0f} s")
        return 0 if all(v.ok for v in verdicts) else 1


def _run_job(admin: Chain, as_: dict[str, Chain], w3: Any, store: KuboStore, kubo: KuboDaemon, local: LocalChain,
             poster: Any, coordinator: Any, providers: list[Any], spec: JobSpec, state: Path, deployment_file: Path,
             job_holder: dict[str, int]) -> tuple[int, list[Any], dict[str, int], int]:
    reward, rounds = 10 * E18, spec.training.rounds
    spec_cid = store.put(spec.to_bytes())
    now = int(w3.eth.get_block("latest")["timestamp"])
    params = JobParams(spec_cid, admin.token.address, reward * rounds * 3 + 5 * E18, reward, rounds, 3, 3,
                       50 * E18, now + 3600, 900, coordinator.address)
    job_id = as_[poster.address].market.post_job(params)
    job_holder["id"] = job_id
    print(f"4. job {job_id} posted (spec {spec_cid[:24]}… on IPFS, budget {_fmt(params.budget)} in escrow); "
          "training with Flower:")
    for p in providers:
        as_[p.address].market.join_job(job_id)
    as_[coordinator.address].market.start_job(job_id)

    outboxes = [Outbox(state / f"outbox-{i}", as_[p.address], store) for i, p in enumerate(providers)]
    done = threading.Event()

    def submit_loop(outbox: Outbox) -> None:
        while not done.is_set():
            outbox.submit_pending(job_id)
            done.wait(0.1)

    threads = [threading.Thread(target=submit_loop, args=(o,), daemon=True) for o in outboxes]
    federation = Federation(state / "flwr", superlink_env={"OPENDPG_PRIVATE_KEY": coordinator.key.hex()})
    with federation:
        for i, p in enumerate(providers):
            federation.start_supernode(p.address, {"provider": p.address, "share-index": i, "share-count": 3,
                                                   "outbox": str(outboxes[i].root)})
        for t in threads:
            t.start()
        try:
            federation.run({"spec": spec.to_bytes().decode(), "job-id": job_id, "out-dir": str(state / "models"),
                            "gate": "opendpg.coordinator.gate:ChainGate", "rpc-url": local.rpc_url,
                            "deployment-file": str(deployment_file), "state-dir": str(state / "coordinator"),
                            "ipfs-api": kubo.api_url})
        finally:
            done.set()
            for t in threads:
                t.join()
    verdicts = verify_job(Chain.reader(w3, admin.deployment), store, job_id)
    as_[poster.address].market.finalize_job(job_id)
    earned = {p.address: as_[p.address].market.claim(job_id) for p in providers}
    refund = as_[poster.address].market.claim_refund(job_id)
    return job_id, verdicts, earned, refund
