"""Federated-training benchmarks (``make bench``): overhead, round time, reaction, quality, scale.

Everything runs on real components started here: anvil, kubo, the contracts, Flower's Deployment Engine, and
the OpenDPG daemons as separate processes.

- **overhead**: the same Flower app, data, model and rounds (a) as a plain Flower deployment (SuperLink,
  SuperNodes, ``flwr run``, over TLS; no chain, no IPFS: the ServerApp's gate accepts every well-formed update),
  with Flower's stock processes and with OpenDPG's Flower engine (warm ClientApps, held pulls), and (b) as an
  OpenDPG job (coordinator + provider agents; from the ``postJob`` receipt to ``JobFinalized``). Target: (b) /
  (a, stock Flower) <= 1.05; (b) / (a, the same engine) is reported too.
- **round time**: where each round's seconds go in (b): Flower orchestration, client training, vetting
  (SHA-256 + the on-chain hash check), aggregation, evaluation (federated + held-out), IPFS, chain; and the
  SuperLink's HTTP requests per round.
- **quality**: the final held-out accuracy of (b) against the same model trained centrally on the union of
  the providers' data with the same budget of epochs (rounds x local epochs). Target >= 0.95 of centralized.
- **reaction**: ``JobPosted`` to the agent's join transaction mined (seen on a websocket log subscription),
  p50 / p95 over 50 jobs. Target p50 <= 50 ms.
- **scale**: OpenDPG jobs with 3, 10 and 20 provider agents, before (Flower's stock SuperLink and SuperNodes: a
  ClientApp process per message, a 3 s idle poll, the ServerApp polling every 0.5 s) and after (warm ClientApp
  workers, held pulls): seconds per round and its split, gas per round. Targets (after): orchestration <= 2 s per
  round at 3 providers; 20 providers <= 3x the 3-provider round.
- **idle**: CPU of a SuperLink and N idle SuperNodes (polling for work), stock vs OpenDPG.

``--smoke`` runs a tiny version (used by the test suite so the benchmark keeps working).
Flower 1.41 over TLS; OpenDPG's engine: :mod:`opendpg.fl.superlink`, :mod:`opendpg.fl.supernode`,
:mod:`opendpg.fl.worker`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from opendpg.chain import (
    Capabilities,
    Chain,
    JobParams,
    JobState,
    LocalChain,
    SuiteParams,
    TxSender,
    connect,
    deploy_suite,
)
from opendpg.content import KuboDaemon, KuboStore
from opendpg.fl.data import load_dataset, provider_data
from opendpg.fl.federation import Federation
from opendpg.fl.models import build_model, get_weights
from opendpg.fl.tls import ensure_tls
from opendpg.fl.train import evaluate, train_local
from opendpg.node.flower import coordinator_metadata
from opendpg.node.launch import launch_daemon, write_config, write_key
from opendpg.process import free_port, stop_process_group
from opendpg.spec import JobSpec, parse_spec

E18 = 10**18
#: every provider of a benchmark shares this machine: each trains on one CPU thread, as it would have its host's
#: cores to itself (torch's default, a thread per core in every provider, oversubscribes the cores many times)
THREADS = 1


def quality_spec(rounds: int, providers: int) -> JobSpec:
    return parse_spec({
        "name": "digits, label-skewed (benchmark)", "model": {"name": "mlp", "hidden_units": 64},
        "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits", "partition": "label-skew",
                    "labels_per_provider": 4},
        "training": {"rounds": rounds, "local_epochs": 1, "batch_size": 32, "learning_rate": 0.2},
        "providers": {"min": providers, "max": providers}})


def _records(folder: Path, rounds: int) -> list[dict[str, Any]]:
    return [json.loads((folder / f"round-{r}.json").read_text()) for r in range(1, rounds + 1)]


class World:
    """anvil + kubo; a fresh deployment per scenario so agents see only that scenario's jobs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.local = LocalChain(accounts=60, log_file=root / "chain.log").start()
        self.kubo = KuboDaemon(root / "ipfs").start()
        self.w3 = connect(self.local.rpc_url)
        self.accounts = self.local.dev_accounts()
        self.store = KuboStore(self.kubo.api_url)

    def close(self) -> None:
        self.kubo.stop()
        self.local.stop()

    def deploy(self, name: str) -> tuple[Chain, Path]:
        deployer = self.accounts[0]
        chain = Chain(self.w3, deploy_suite(TxSender(self.w3, deployer), SuiteParams(checkers=[deployer.address])),
                      TxSender(self.w3, deployer))
        path = self.root / name / "deployment.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        chain.deployment.save(path)
        return chain, path

    def chain_section(self, deployment_file: Path) -> dict[str, Any]:
        return {"rpc_url": self.local.rpc_url, "ws_url": self.local.ws_url, "deployment_file": str(deployment_file),
                "ipfs_api": self.kubo.api_url, "poll_interval": 0.2}


# ---------------------------------------------------------------------- (a) plain Flower

def plain_flower(world: World, spec: JobSpec, providers: int, stock: bool) -> dict[str, Any]:
    home = world.root / ("plain-stock" if stock else "plain")
    with Federation(home / "flwr", stock=stock, threads=THREADS) as fed:
        for i in range(providers):
            name = f"0x{i + 1:040x}"
            fed.start_supernode(name, {"provider": name, "share-index": i, "share-count": providers,
                                       "outbox": str(home / f"outbox-{i}")}, spec=spec.to_bytes())
        started = time.monotonic()
        fed.run({"spec": spec.to_bytes().decode(), "job-id": 1, "out-dir": str(home / "out"),
                 "min-nodes-wait": 120.0})
        wall = time.monotonic() - started
    rounds = _records(home / "out", spec.training.rounds)
    return {"wall_s": wall, "round_s": [r["timing"]["seconds"] for r in rounds],
            "final_accuracy": rounds[-1]["metrics"]["accuracy"],
            "orchestration_s": statistics.fmean(r["timing"]["flower_and_training"] - r["timing"]["client_training_max"]
                                                for r in rounds)}


# ---------------------------------------------------------------------- (b) an OpenDPG job

def opendpg_job(world: World, spec: JobSpec, providers: int, name: str, stock: bool = False) -> dict[str, Any]:
    chain, deployment_file = world.deploy(name)
    root = world.root / name
    coordinator, poster, nodes = world.accounts[1], world.accounts[2], world.accounts[3:3 + providers]
    for acct in [coordinator, poster, *nodes]:
        chain.token.transfer(acct.address, 10_000 * E18)
    section = world.chain_section(deployment_file)
    procs = [launch_daemon("coordinator", write_config(root / "coordinator.toml", {
        "name": "coordinator", "state_dir": str(root / "coordinator"),
        "key_file": str(write_key(root / "keys" / "coordinator", coordinator.key.hex())), "chain": section,
        "flower": {"port": free_port(), "stock": stock}, "jobs": {"join_grace": 1.0}}), root / "coordinator.out")]
    for i, node in enumerate(nodes):
        procs.append(launch_daemon("agent", write_config(root / f"agent-{i}.toml", {
            "name": f"agent-{i}", "state_dir": str(root / f"agent-{i}"),
            "key_file": str(write_key(root / "keys" / f"agent-{i}", node.key.hex())), "chain": section,
            "data": {"sklearn/digits": {"share_index": i, "share_count": providers}},
            "flower": {"stock": stock, "threads": THREADS}}), root / f"agent-{i}.out"))
    try:
        _wait(lambda: all(chain.registry.is_registered(a.address) for a in [coordinator, *nodes])
              and chain.registry.metadata_cid_of(coordinator.address), 300, "daemons to register", procs)
        rounds, reward = spec.training.rounds, 10 * E18
        now = int(world.w3.eth.get_block("latest")["timestamp"])
        poster_chain = chain.as_account(TxSender(world.w3, poster))
        spec_cid = world.store.put(spec.to_bytes())
        posted = time.monotonic()
        job_id = poster_chain.market.post_job(JobParams(
            spec_cid, chain.token.address, reward * rounds * providers, reward, rounds, providers, providers,
            10 * E18, now + 3600, 600, coordinator.address))
        records = root / "coordinator" / "models" / f"job-{job_id}"
        roles: dict[str, list[Any]] = {"coordinator": procs[:1], "providers": procs[1:],
                                       "chain_ipfs": [world.local, world.kubo]}
        _wait(lambda: (records / "round-1.json").exists(), 600, "round 1", procs)
        first = (time.monotonic(), _cpu_by_role(roles), _cpu_by_kind(roles))
        _wait(lambda: (records / f"round-{rounds}.json").exists(), rounds * 300, "the last round", procs)
        last = (time.monotonic(), _cpu_by_role(roles), _cpu_by_kind(roles))
        _wait(lambda: chain.market.get_job(job_id).state == JobState.FINISHED, 300, "the job to finish", procs)
        wall = time.monotonic() - posted
    finally:
        for proc in procs:
            stop_process_group(proc, timeout=20)
    server = _records(root / "coordinator" / "models" / f"job-{job_id}", rounds)
    gate = _records(root / "coordinator" / "rounds" / f"job-{job_id}", rounds)
    stats = root / "coordinator" / "flwr" / "superlink-stats.json"
    requests = sum(e["requests"] for e in json.loads(stats.read_text()).values()) if stats.exists() else None
    worked = [r["timing"]["seconds"] - r["timing"]["waiting_for_nodes"] for r in server]
    return {"wall_s": wall, "round_s": [r["timing"]["seconds"] for r in server], "worked_s": worked,
            "node_wait_s": [r["timing"]["waiting_for_nodes"] for r in server], "split": _split(server, gate),
            "gas_per_round": _gas_per_round(chain, job_id, rounds),
            "final_accuracy": gate[-1]["metrics"]["accuracy"],
            "cpu_s_per_later_round": None if rounds < 2 else
            {role: (last[1][role] - first[1][role]) / (rounds - 1) for role in roles},
            "cpu_s_per_later_round_by_process": None if rounds < 2 else
            {kind: (last[2][kind] - first[2].get(kind, 0.0)) / (rounds - 1) for kind in last[2]},
            "superlink_requests_per_round": None if requests is None else requests / rounds}


def _split(server: list[dict[str, Any]], gate: list[dict[str, Any]]) -> dict[str, float]:
    parts: dict[str, list[float]] = {k: [] for k in ("flower_orchestration", "client_training", "vetting_hash_check",
                                                      "aggregation", "evaluation", "ipfs", "chain", "total")}
    for s, g in zip(server, gate, strict=True):
        t = s["timing"]
        parts["client_training"].append(t["client_training_max"])
        parts["flower_orchestration"].append(t["flower_and_training"] - t["client_training_max"])
        parts["vetting_hash_check"].append(t["vetting"])
        parts["aggregation"].append(t["aggregation"])
        parts["evaluation"].append(t["evaluation"])
        parts["ipfs"].append(g["timing"]["ipfs_put"])
        parts["chain"].append(g["timing"]["chain_commit"])
        parts["total"].append(t["seconds"])
    return {k: statistics.fmean(v) for k, v in parts.items()}


def _gas_per_round(chain: Chain, job_id: int, rounds: int) -> float:
    market = chain.market.contract
    logs = [*market.events.UpdateSubmitted().get_logs(from_block=chain.deployment.start_block,
                                                      argument_filters={"jobId": job_id}),
            *market.events.RoundCommitted().get_logs(from_block=chain.deployment.start_block,
                                                     argument_filters={"jobId": job_id})]
    gas = sum(int(chain.w3.eth.get_transaction_receipt(e["transactionHash"])["gasUsed"]) for e in logs)
    return gas / rounds


def _wait(condition: Any, timeout: float, what: str, procs: list[Any]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise SystemExit(f"a daemon exited ({dead[0].args}) while waiting for {what}")
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


# ---------------------------------------------------------------------- quality

def centralized_accuracy(spec: JobSpec, providers: int) -> float:
    """The same model and hyperparameters trained on the union of the providers' training records (their shares
    less their validation splits) for rounds x local epochs, evaluated on the same held-out set."""
    data = load_dataset(str(spec.dataset.catalog_id))
    shares = [provider_data(spec.dataset, share_index=i, share_count=providers) for i in range(providers)]
    x, y = np.concatenate([s.x_train for s in shares]), np.concatenate([s.y_train for s in shares])
    epochs = spec.training.rounds * spec.training.local_epochs
    central = spec.model_copy(update={"training": spec.training.model_copy(update={"local_epochs": epochs})})
    model = build_model(spec.model, data.input_shape, data.classes, seed=spec.training.seed)
    weights, _ = train_local(model, get_weights(model), x, y, central, seed=1)
    return evaluate(model, OrderedDict(weights), data.x_test, data.y_test)["accuracy"]


# ---------------------------------------------------------------------- reaction

def reaction(world: World, jobs: int) -> dict[str, Any]:
    chain, deployment_file = world.deploy("reaction")
    root = world.root / "reaction"
    agent, coordinator, poster = world.accounts[40], world.accounts[41], world.accounts[42]
    for acct in (agent, coordinator, poster):
        chain.token.transfer(acct.address, 100_000 * E18)
    tls = ensure_tls(root / "coordinator-tls", ["127.0.0.1"])  # what a coordinator publishes: agents check it
    metadata = coordinator_metadata(f"127.0.0.1:{free_port()}", tls.ca_pem())
    chain.as_account(TxSender(world.w3, coordinator)).registry.register(
        Capabilities("CPU", 0, 1, 1024, "local", [], world.store.put(json.dumps(metadata).encode())), 100 * E18)
    proc = launch_daemon("agent", write_config(root / "agent.toml", {
        "name": "agent", "state_dir": str(root / "agent"),
        "key_file": str(write_key(root / "keys" / "agent", agent.key.hex())),
        "chain": world.chain_section(deployment_file), "data": {"sklearn/digits": {}}}), root / "agent.out")
    seen: dict[int, float] = {}
    stop = threading.Event()
    listener = threading.Thread(target=_listen_joins, args=(world, chain, seen, stop), daemon=True)
    listener.start()
    try:
        _wait(lambda: chain.registry.is_registered(agent.address), 120, "the agent to register", [proc])
        time.sleep(1.0)  # its event stream is up
        poster_chain = chain.as_account(TxSender(world.w3, poster))
        spec_cid = world.store.put(quality_spec(1, 1).to_bytes())
        poster_chain.token.approve(chain.market.address, 10 * E18 * jobs)
        posted: dict[int, float] = {}
        for _ in range(jobs):
            now = int(world.w3.eth.get_block("latest")["timestamp"])
            params = JobParams(spec_cid, chain.token.address, 10 * E18, 10 * E18, 1, 1, 1, 0, now + 3600, 600,
                               coordinator.address)
            tx = poster_chain.sender.send(poster_chain.market.contract.functions.postJob(params.as_tuple()))
            sent = time.monotonic()
            receipt = poster_chain.sender.wait(tx)
            job_id = int(poster_chain.market.events(receipt, "JobPosted")[0]["jobId"])
            posted[job_id] = sent  # anvil mines on receipt of the transaction: sending is when it is posted
            _wait(lambda j=job_id: j in seen, 30, f"the agent to join job {job_id}", [proc])
            time.sleep(0.05)
    finally:
        stop.set()
        stop_process_group(proc, timeout=20)
    ms = sorted((seen[j] - posted[j]) * 1000 for j in posted)
    return {"jobs": len(ms), "p50_ms": statistics.median(ms), "p95_ms": ms[max(0, int(len(ms) * 0.95) - 1)],
            "max_ms": ms[-1]}


def _listen_joins(world: World, chain: Chain, seen: dict[int, float], stop: threading.Event) -> None:
    from eth_utils import event_abi_to_log_topic
    from websockets.sync.client import connect as ws_connect

    topic = "0x" + event_abi_to_log_topic(chain.market.contract.events.ProviderJoined().abi).hex()
    with ws_connect(world.local.ws_url) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe",
                            "params": ["logs", {"address": chain.market.address, "topics": [topic]}]}))
        ws.recv()
        while not stop.is_set():
            try:
                message = json.loads(ws.recv(timeout=0.5))
            except TimeoutError:
                continue
            arrived = time.monotonic()
            log = message.get("params", {}).get("result", {})
            if log.get("topics"):
                seen[int(log["topics"][1], 16)] = arrived


# ---------------------------------------------------------------------- main

def _overhead(world: World, rounds: int) -> dict[str, Any]:
    spec = quality_spec(rounds, 3)
    print(f"overhead + round time + quality: {rounds} rounds, 3 providers, label-skewed digits")
    stock = plain_flower(world, spec, 3, stock=True)
    print(f"  (a) plain Flower, stock processes: {stock['wall_s']:.1f} s, {statistics.fmean(stock['round_s']):.2f} "
          "s/round")
    plain = plain_flower(world, spec, 3, stock=False)
    print(f"  (a') plain Flower, OpenDPG's engine: {plain['wall_s']:.1f} s, "
          f"{statistics.fmean(plain['round_s']):.2f} s/round")
    job = opendpg_job(world, spec, 3, "overhead")
    print(f"  (b) OpenDPG job: {job['wall_s']:.1f} s, {statistics.fmean(job['round_s']):.2f} s/round "
          "(post to finalized)")
    ratio, same_engine = job["wall_s"] / stock["wall_s"], job["wall_s"] / plain["wall_s"]
    added = statistics.fmean(job["round_s"]) - statistics.fmean(plain["round_s"])
    print(f"  ratio (b)/(a) = {ratio:.3f} (target <= 1.05); (b)/(a') = {same_engine:.3f}, added per round "
          f"{added:+.2f} s")
    print("  round split (mean s): " + ", ".join(f"{k} {v:.2f}" for k, v in job["split"].items()))
    central = centralized_accuracy(spec, 3)
    quality = job["final_accuracy"] / central
    print(f"  quality: federated {job['final_accuracy']:.3f} vs centralized {central:.3f} = {quality:.3f} "
          "(target >= 0.95)")
    return {"overhead": {"plain_stock": stock, "plain": plain, "opendpg": job, "ratio": ratio,
                         "ratio_same_engine": same_engine, "added_per_round_s": added},
            "quality": {"federated": job["final_accuracy"], "centralized": central, "ratio": quality}}


def _cpu_by_role(roles: dict[str, list[Any]]) -> dict[str, float]:
    """CPU seconds so far of each role's processes (anything with a ``pid``) and their descendants."""
    return {role: sum(_cpu(psutil.Process(p.pid)) for p in procs if p.pid is not None) for role, procs in roles.items()}


#: what a process of a job is, by a word of its command line (the first that matches)
PROCESS_KINDS = (("opendpg.fl.superlink", "superlink"), ("flwr-serverapp", "serverapp"),
                 ("opendpg.fl.supernode", "supernodes"), ("opendpg.fl.worker", "workers"),
                 ("flower-supernode", "supernodes"), ("flwr-clientapp", "workers"), (" agent ", "agents"),
                 (" coordinator ", "coordinator daemon"), ("anvil", "chain"), ("ipfs", "ipfs"))


def _cpu_by_kind(roles: dict[str, list[Any]]) -> dict[str, float]:
    """CPU seconds so far by kind of process (:data:`PROCESS_KINDS`; "other" for the rest), each process with the
    exited children it reaped."""
    totals: dict[str, float] = {}
    for procs in roles.values():
        for root in procs:
            if root.pid is None:
                continue
            try:
                tree = [psutil.Process(root.pid), *psutil.Process(root.pid).children(recursive=True)]
            except psutil.Error:
                continue
            for p in tree:
                try:
                    command, t = f" {' '.join(p.cmdline())} ", p.cpu_times()
                except psutil.Error:
                    continue
                kind = next((k for word, k in PROCESS_KINDS if word in command), "other")
                totals[kind] = totals.get(kind, 0.0) + t.user + t.system + t.children_user + t.children_system
    return totals


def _cpu(proc: psutil.Process) -> float:
    """CPU seconds of a process and its descendants, the exited ones its tree has reaped included."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def _wait_online(fed: Federation, nodes: int, timeout: float) -> None:
    """Until the SuperLink sees ``nodes`` SuperNodes online."""
    control = fed.control()
    try:
        deadline = time.monotonic() + timeout
        while sum(n.status == "online" for n in control.nodes()) < nodes:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {nodes} SuperNodes online after {timeout:.0f} s")
            time.sleep(0.5)
    finally:
        control.close()


def idle(world: World, nodes: int, stock: bool, warmup: float, window: float) -> dict[str, Any]:
    """CPU (% of one core) of a SuperLink and ``nodes`` connected SuperNodes with nothing to do."""
    home = world.root / f"idle-{'stock' if stock else 'opendpg'}"
    with Federation(home / "flwr", stock=stock) as fed:
        for i in range(nodes):
            fed.start_supernode(f"n{i}", {"provider": f"0x{i + 1:040x}", "outbox": str(home / "outbox")})
        _wait_online(fed, nodes, timeout=600)  # each SuperNode connects once its worker has loaded torch
        time.sleep(warmup)  # settled
        assert fed.superlink is not None
        link = psutil.Process(fed.superlink.pid)
        supernodes = [psutil.Process(p.pid) for p in fed.supernodes.values()]
        before = (_cpu(link), sum(_cpu(p) for p in supernodes))
        time.sleep(window)
        after = (_cpu(link), sum(_cpu(p) for p in supernodes))
    return {"nodes": nodes, "superlink_pct": 100 * (after[0] - before[0]) / window,
            "supernodes_pct": 100 * (after[1] - before[1]) / window}


def _scale(world: World, counts: list[int], rounds: int, engines: tuple[bool, ...],
           done: dict[tuple[int, int, bool], dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the scale table; a job ``done`` already measured (by providers, rounds and engine: the overhead's
    job when it has the same shape, as in the smoke run) is read, not run again."""
    rows = []
    for n in counts:
        for stock in engines:
            label = "before (stock Flower)" if stock else "after (OpenDPG engine)"
            result = done.get((n, rounds, stock)) or opendpg_job(world, quality_spec(rounds, n), n,
                                                                 f"scale-{n}-{'stock' if stock else 'warm'}", stock)
            worked = result["worked_s"]
            row = {"providers": n, "engine": "stock" if stock else "opendpg",
                   "round_s": statistics.fmean(worked), "first_round_s": worked[0],
                   "later_rounds_s": statistics.fmean(worked[1:]) if len(worked) > 1 else None,
                   "start_wait_s": result["node_wait_s"][0], "gas_per_round": result["gas_per_round"],
                   "wall_s": result["wall_s"], "split": result["split"],
                   "superlink_requests_per_round": result["superlink_requests_per_round"],
                   "cpu_s_per_later_round": result["cpu_s_per_later_round"],
                   "cpu_s_per_later_round_by_process": result["cpu_s_per_later_round_by_process"]}
            cpu = row["cpu_s_per_later_round"]
            if cpu is not None:  # the round can go no faster than its CPU seconds spread over every core
                row["cpu_floor_s"] = sum(cpu.values()) / (psutil.cpu_count() or 1)
            rows.append(row)
            split = row["split"]
            later = "" if row["later_rounds_s"] is None else f", later rounds {row['later_rounds_s']:.1f}"
            print(f"scale: {n} providers, {label}: {row['round_s']:.1f} s/round (first {row['first_round_s']:.1f}"
                  f"{later}; {row['start_wait_s']:.1f} s waiting for SuperNodes before round 1); split: orchestration "
                  f"{split['flower_orchestration']:.2f}, training {split['client_training']:.2f}, evaluation "
                  f"{split['evaluation']:.2f}, vetting {split['vetting_hash_check']:.2f}, ipfs {split['ipfs']:.2f}, "
                  f"chain {split['chain']:.2f}; {row['gas_per_round']:,.0f} gas/round")
            if cpu is not None:
                print("  CPU s per later round: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
                      + f"; floor on {psutil.cpu_count()} cores {row['cpu_floor_s']:.1f} s; by process: "
                      + ", ".join(f"{k} {v:.2f}" for k, v in sorted(row["cpu_s_per_later_round_by_process"].items(),
                                                                     key=lambda kv: -kv[1])))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a tiny version for the test suite")
    parser.add_argument("--rounds", type=int, default=20, help="rounds of the overhead/quality job")
    parser.add_argument("--jobs", type=int, default=50, help="jobs for the reaction benchmark")
    parser.add_argument("--scale", default="3,10,20", help="provider counts for the scale benchmark")
    parser.add_argument("--only", default="overhead,reaction,scale,idle", help="scenarios to run (comma-separated)")
    parser.add_argument("--engines", default="stock,opendpg",
                        help="engines for the scale and idle scenarios: stock Flower (before), OpenDPG's (after)")
    parser.add_argument("--out", type=Path, default=Path("bench-results/fl.json"))
    parser.add_argument("--work", type=Path, default=Path(".opendpg/bench-fl"))
    args = parser.parse_args()
    names = args.engines.split(",")
    if not names or set(names) - {"stock", "opendpg"}:
        parser.error(f"--engines: expected stock and/or opendpg, got {args.engines!r}")
    engines = tuple(name == "stock" for name in names)  # True: stock Flower
    if args.smoke:  # every scenario once; stock Flower only where the overhead ratio needs it
        args.rounds, args.jobs, args.scale, engines = 1, 3, "3", (False,)
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    world = World(args.work.resolve())
    report: dict[str, Any] = {"smoke": args.smoke}
    only = set(args.only.split(","))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))  # stop children on TERM
    try:
        done: dict[tuple[int, int, bool], dict[str, Any]] = {}  # (providers, rounds, stock) -> an OpenDPG job run
        if "overhead" in only:
            report.update(_overhead(world, args.rounds))
            done[(3, args.rounds, False)] = report["overhead"]["opendpg"]
        if "reaction" in only:
            print(f"reaction: JobPosted -> join mined, {args.jobs} jobs")
            react = reaction(world, args.jobs)
            print(f"  p50 {react['p50_ms']:.1f} ms, p95 {react['p95_ms']:.1f} ms, max {react['max_ms']:.1f} ms "
                  "(target p50 <= 50 ms)")
            report["reaction"] = react
        if "scale" in only:
            report["scale"] = _scale(world, [int(x) for x in args.scale.split(",")], 1 if args.smoke else 3, engines,
                                     done)
        if "idle" in only:
            nodes = 3 if args.smoke else 20
            report["idle"] = [idle(world, nodes, stock, 10 if args.smoke else 60, 5 if args.smoke else 30)
                              for stock in engines]
            for stock, row in zip(engines, report["idle"], strict=True):
                print(f"idle: {nodes} SuperNodes, {'stock' if stock else 'OpenDPG'}: SuperLink "
                      f"{row['superlink_pct']:.1f} % of a core, SuperNodes {row['supernodes_pct']:.1f} %")
    finally:
        world.close()
    targets = {}
    if "overhead" in report:
        targets.update({"overhead_ratio": report["overhead"]["ratio"] <= 1.05,
                        "quality": report["quality"]["ratio"] >= 0.95})
    after = {row["providers"]: row for row in report.get("scale", []) if row["engine"] == "opendpg"}
    if 3 in after:
        targets["orchestration_3"] = after[3]["split"]["flower_orchestration"] <= 2.0
    if 3 in after and 20 in after:
        targets["scale_20_vs_3"] = after[20]["round_s"] <= 3 * after[3]["round_s"]
    if "reaction" in report:
        targets["reaction_p50"] = report["reaction"]["p50_ms"] <= 50
    report["targets_met"] = targets
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"targets: {targets}; report in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
