"""``opendpg demo``: one federated training job, end to end, on components the demo starts itself.

Starts anvil and a private kubo daemon and deploys the contracts. Three hospitals each get their own breast-cancer
records, written to their own folders before anything starts (scikit-learn's Wisconsin diagnostic set, split: CSV
at the first, Parquet at the second, JSON Lines at the third); the poster gets a held-out share of its own. Then
it launches the real daemons as separate processes: one coordinator (``opendpg coordinator run``, which runs the
Flower SuperLink) and three provider agents (``opendpg agent run``), each configured with nothing but the dataset
asset's id, the path of its files and its privacy budget. The agents check their files against the asset's
schema and declare their holdings (record count, schema fingerprint, budget) on-chain; the daemons register and
stake themselves. It also starts the gateway (``opendpg gateway run``); a user without a wallet signs up there,
is funded by the development faucet, pins its held-out set and posts a 5-round FedAvg job with DP-SGD that names
the dataset asset (the gateway fills in the asset's schema, pins the spec and posts the job with escrow from the
user's own address); from there everything is the daemons' doing: the agents check the job against their data
and budget and join (the chain records each one's privacy spend), the coordinator starts the job and trains with
Flower (a SuperNode per provider, reading that provider's files), the agents pin their updates and put the
hashes on-chain, the coordinator aggregates only updates whose hash is on-chain, has the providers evaluate each
round's model on their validation splits and evaluates it on the poster's held-out set (it holds no training
data), commits every round, and finalizes; the agents claim their rewards. The demo follows it all from the
chain's events, claims the poster's refund through the gateway, then posts the same job again: it would overrun
the hospitals' privacy budgets, so every agent refuses it, the chain refuses a join anyway, and its poster
cancels it. It runs ``verify`` and prints a summary.

Before the job, the trust layer runs once for real: the dataset asset (its metadata carries the schema every
holder's records follow) is registered by its owner, checked by the automated DPG checker (report pinned,
attestation on-chain), voted by token holders, approved by the expert committee and certified; the DAO then
publishes DPG Standard v2 through the Governor and Timelock. The job requires the certified dataset, its owner
earns the data share, and the finished job's provenance record (certified inputs, model licence and SDGs,
on-chain history) is pinned to IPFS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from opendpg.audit import verify_job
from opendpg.chain import (
    EPSILON_UNIT,
    Chain,
    ChainEvent,
    EventStream,
    LocalChain,
    SuiteParams,
    TxSender,
    WebsocketHeads,
    connect,
    deploy_suite,
)
from opendpg.content import KuboDaemon, KuboStore
from opendpg.data import pack_held_out, sample_schema, write_sample
from opendpg.dpg import parse_metadata, shipped_standard
from opendpg.dpg.certification import Certification
from opendpg.dpg.datasets import EXAMPLE_HELD_DATASET
from opendpg.dpg.market import provenance, provenance_bytes
from opendpg.dpg.metadata import AssetMetadata
from opendpg.errors import ContractRevert, OpenDPGError
from opendpg.fl.privacy import job_epsilon
from opendpg.governance import SUPPORT, Proposal, publish_standard
from opendpg.node.flower import CA_SHA256, FLEET, node_metadata
from opendpg.node.launch import launch_daemon, launch_gateway, wait_healthy, write_config, write_key
from opendpg.process import free_port, stop_process_group
from opendpg.spec import parse_spec

__all__ = ["DemoChain", "certify_asset", "daemon_configs", "deploy_demo_chain", "fmt", "fresh_state", "gateway_user",
           "register", "start_gateway", "wait_declared", "wait_registered"]

E18 = 10**18
HOSPITAL_FORMATS: list[Literal["csv", "parquet", "jsonl", "hf-datasets"]] = ["csv", "parquet", "jsonl"]
DP = {"noise_multiplier": 1.5, "max_grad_norm": 1.0, "delta": 1e-5}
TRAINING = {"local_epochs": 2, "batch_size": 16, "learning_rate": 0.1}
SHOWN = ["JobPosted", "ProviderJoined", "JobStarted", "UpdateSubmitted", "RoundCommitted", "JobFinalized",
         "RewardClaimed", "RefundClaimed"]


def register(commands: Any) -> None:
    demo = commands.add_parser("demo", help="run one federated training job end to end on local components")
    demo.add_argument("--rounds", type=int, default=5)
    demo.add_argument("--state-dir", type=Path, default=Path(".opendpg/demo"))
    demo.add_argument("--keep-running", action="store_true",
                      help="keep the chain, kubo, gateway and daemons up after the summary (Ctrl-C stops them), "
                           "to look at the web app and the gateway")
    demo.set_defaults(run=lambda args: asyncio.run(run_demo(args)))


def fmt(amount: int) -> str:
    return f"{amount / E18:,.2f} DPG"


def _spec(rounds: int, dataset_asset: int, held_out_cid: str, epsilon: float) -> dict[str, Any]:
    """The job as the poster writes it: it names the dataset asset (the gateway fills in its schema)."""
    return {
        "name": "Breast cancer diagnosis, trained where three hospitals keep their records",
        "model": {"name": "mlp", "hidden_units": 32},
        "dataset": {"asset": dataset_asset, "validation_fraction": 0.2},
        "training": {"rounds": rounds, **TRAINING},
        "strategy": {"name": "fedavg"},
        "providers": {"min": 3, "max": 3},
        "privacy": {"dp_sgd": {**DP, "epsilon": epsilon}},
        "held_out_cid": held_out_cid,
        "certification": {"dataset_asset": dataset_asset},
        "publication": {"licence": "Apache-2.0", "sdgs": [3, 9]},
    }


def _declared_epsilon(rounds: int, records: list[int]) -> float:
    """What the job declares each hospital spends: DP-SGD's epsilon for the smallest holder (the largest spend),
    rounded up to a tenth."""
    smallest = min(records) - round(min(records) * 0.2)  # less its validation split
    spec = parse_spec({"name": "e", "model": {"name": "mlp"}, "providers": {"min": 1, "max": 1},
                       "dataset": {"asset": 1, "data_schema": sample_schema("breast-cancer").model_dump(mode="json")},
                       "training": {"rounds": rounds, **TRAINING}, "privacy": {"dp_sgd": {**DP, "epsilon": 1.0}}})
    spent = job_epsilon(spec, smallest)
    assert spent is not None
    return math.ceil(spent * 10) / 10


def certify_asset(local: LocalChain, admin: Chain, store: KuboStore, owner: Any, meta: AssetMetadata, reason: str,
                  files: Path | None = None) -> int:
    """An asset through the whole DPG pipeline: its owner registers it (with its files, pinned, when given), the
    checker runs the automated check and attests it, token holders vote (the deployer's delegated votes), the
    voting period passes (time travel), the committee (the deployer, in development) approves with ``reason``.
    Reviewers claim their reward."""
    holder = Certification(admin.as_account(TxSender(admin.w3, owner)), store)
    asset_id = holder.register(meta, files=files)
    review = Certification(admin, store)  # checker, voter and committee in development
    report = review.check(asset_id)
    report_cid = review.attest(asset_id, report)
    counts = report.counts()
    print(f"   automated check against DPG Standard v{report.standard['version']}: {counts['pass']} pass, "
          f"{counts['review']} for human review, {counts['fail']} fail; report {report_cid[:24]}… attested")
    review.vote(asset_id, True)
    local.increase_time(admin.dpg.settings()["voting_period"] + 1)
    review.close_vote(asset_id)
    review.decide(asset_id, True, reason)
    state = review.state(asset_id)
    paid = review.claim_reward(asset_id)
    print(f"   community vote passed, committee approved: asset {asset_id} {state.stage} until unix time "
          f"{state.asset['certified_until']}; reviewer reward {fmt(paid['voter'] + paid['committee'])}")
    return asset_id


def _change_standard(local: LocalChain, admin: Chain, store: KuboStore) -> int:
    """DPG Standard v2 through the real Governor and Timelock: propose, vote, queue, wait out the delay,
    execute. v2 asks every asset for a statement on its environmental impact as well."""
    _, data, _ = shipped_standard()
    document = json.loads(data)
    document["version"] = 2
    harm = next(i for i in document["indicators"] if i["key"] == "do_no_harm")
    harm["params"]["statements"].append("environmental_impact")
    proposal = Proposal([publish_standard(admin, store, json.dumps(document, indent=1).encode())],
                        "DPG Standard v2: assets also state their environmental impact (do no harm)")
    proposal_id = proposal.submit(admin)
    local.increase_time(SuiteParams().voting_delay + 1)
    admin.governor.cast_vote(proposal_id, SUPPORT["for"], "the compute commons should account for energy")
    local.increase_time(SuiteParams().voting_period + 1)
    admin.governor.queue(proposal.targets, proposal.values, proposal.calldatas, proposal.description_hash)
    local.increase_time(SuiteParams().timelock_delay + 1)
    admin.governor.execute(proposal.targets, proposal.values, proposal.calldatas, proposal.description_hash)
    version, cid = admin.dpg.standard()
    print(f"   proposal {str(proposal_id)[:12]}… proposed, voted, queued in the timelock and executed: DPG Standard "
          f"v{version} is current ({cid[:24]}…); new reviews are checked against it")
    return version


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
                accuracy = (f", held-out accuracy {metrics['accuracy']:.3f}, loss {metrics['loss']:.3f}; "
                            f"hospitals' validation accuracy {metrics.get('federated_accuracy', float('nan')):.3f}")
                break
            time.sleep(0.05)
        print(f"  round {a['round']} committed: global {a['globalHash'].hex()[:16]}…, {a['usedCount']} updates"
              f"{accuracy}")
    elif event.name in ("RewardClaimed", "RefundClaimed"):
        who = str(a.get("provider") or a.get("poster"))
        print(f"  {event.name}: {who[:10]}… {fmt(a['amount'])}")
    else:
        print(f"  {event.name} (job {a['jobId']})")


class _Progress:
    """Prints the job's events as they arrive and remembers what the summary needs."""

    def __init__(self, rounds_dir: Path) -> None:
        self.rounds_dir = rounds_dir
        self.job_id = 0
        self.earned: dict[str, int] = {}
        self.finalized = asyncio.Event()

    async def __call__(self, event: ChainEvent) -> None:
        if int(event.args["jobId"]) != self.job_id:
            return
        await asyncio.to_thread(_show, event, self.rounds_dir / f"job-{self.job_id}")
        if event.name == "RewardClaimed":
            self.earned[str(event.args["provider"])] = int(event.args["amount"])
        if event.name in ("JobFinalized", "JobAborted", "JobCancelled"):
            self.finalized.set()


def daemon_configs(state: Path, local: LocalChain, kubo: KuboDaemon, deployment_file: Path, coordinator: Any,
                   providers: list[Any], asset: int, holders: list[Path],
                   holding: dict[str, Any]) -> list[tuple[str, str, Path]]:
    """The config files of the demo's coordinator and provider agents: provider ``i`` holds dataset ``asset`` in
    ``holders[i]`` under the ``holding`` terms (its privacy budget, whether it requires DP). Name, kind, file."""
    chain = {"rpc_url": local.rpc_url, "ws_url": local.ws_url, "deployment_file": str(deployment_file),
             "ipfs_api": kubo.api_url}
    daemons = [("coordinator", "coordinator", write_config(state / "coordinator.toml", {
        "name": "coordinator", "state_dir": str(state / "coordinator"),
        "key_file": str(write_key(state / "keys" / "coordinator.key", coordinator.key.hex())),
        "chain": chain, "node": {"stake": "200"},
        "flower": {"host": "127.0.0.1", "port": free_port()}, "jobs": {"join_grace": 2.0}}))]
    for i, p in enumerate(providers):
        daemons.append((f"provider-{i}", "agent", write_config(state / f"provider-{i}.toml", {
            "name": f"provider-{i}", "state_dir": str(state / f"provider-{i}"),
            "key_file": str(write_key(state / "keys" / f"provider-{i}.key", p.key.hex())),
            "chain": chain, "node": {"stake": "200", "cpu_cores": 2, "ram_mib": 8192},
            "data": {str(asset): {"path": str(holders[i]), **holding}},
            "policy": {"min_reward_per_round": "1"},
            "flower": {"threads": 1}})))  # three providers on one machine: a training thread each
    return daemons


@dataclass(frozen=True)
class DemoChain:
    """The suite on a demo's chain: the deployer checks, votes and sits on the committee (development); the
    coordinator, three providers and an asset owner are funded."""

    w3: Any
    admin: Chain
    deployment_file: Path
    deployer: Any
    coordinator: Any
    providers: list[Any]
    owner: Any


def deploy_demo_chain(local: LocalChain, state: Path) -> DemoChain:
    """Deploy the suite on ``local``, write its deployment file under ``state``, fund the participants (stakes,
    review fees) and delegate the deployer's votes."""
    w3 = connect(local.rpc_url)
    accounts = local.dev_accounts()
    deployer, coordinator, providers, owner = accounts[0], accounts[2], accounts[3:6], accounts[6]
    admin = Chain(w3, deploy_suite(TxSender(w3, deployer), SuiteParams(checkers=[deployer.address])),
                  TxSender(w3, deployer))
    deployment_file = state / "deployment.json"
    admin.deployment.save(deployment_file)
    for acct in [coordinator, *providers, owner]:  # stakes; the asset owner pays its review fee
        admin.token.transfer(acct.address, 10_000 * E18)
    admin.token.delegate(deployer.address)  # the foundation's tokens vote in development
    local.increase_time(1)  # votes count from the second after they were delegated (the token's clock)
    return DemoChain(w3, admin, deployment_file, deployer, coordinator, providers, owner)


def fresh_state(state: Path) -> None:
    """Each demo runs on a fresh chain, so what a previous run left (event checkpoints at block numbers of a
    chain that is gone, decisions, the gateway's accounts) would only mislead the daemons: remove it."""
    state.mkdir(parents=True, exist_ok=True)
    for child in state.iterdir():
        if child.name in {"coordinator", "gateway", "ipfs", "keys", "flwr", "data"} \
                or child.name.startswith("provider-"):
            shutil.rmtree(child, ignore_errors=True)
        elif child.suffix in {".toml", ".out", ".log", ".json"}:
            child.unlink()


def start_gateway(state: Path, local: LocalChain, kubo: KuboDaemon, deployment_file: Path, operator: Any,
                   url: str) -> Any:
    """``opendpg gateway run`` on the demo chain; the deployer is its operator (it funds the faucet)."""
    env = {"OPENDPG_RPC_URL": local.rpc_url, "OPENDPG_DEPLOYMENT_FILE": str(deployment_file),
           "OPENDPG_IPFS_API": kubo.api_url, "OPENDPG_PRIVATE_KEY": operator.key.hex(),
           "OPENDPG_STATE_DIR": str(state / "gateway"), "OPENDPG_ENVIRONMENT": "development",
           "OPENDPG_GATEWAY_PUBLIC_RPC_URL": local.rpc_url}  # the web app reads the demo chain without a wallet
    (state / "gateway").mkdir(parents=True, exist_ok=True)
    proc = launch_gateway(int(url.rsplit(":", 1)[1]), env, state / "gateway.out")
    wait_healthy(url, proc, state / "gateway.out")
    return proc


def gateway_user(gateway: httpx.Client) -> str:
    """Sign up (or log in again on a re-run) the demo user, fund it from the faucet, return an API key."""
    credentials = {"email": "demo@opendpg.local", "password": secrets.token_urlsafe(16)}
    gateway.post("/accounts", json=credentials)
    token = gateway.post("/auth/login", json=credentials)
    if token.status_code != 200:
        raise OpenDPGError(f"gateway login failed: {token.status_code} {token.text}")
    auth = {"Authorization": f"Bearer {token.json()['token']}"}
    key = gateway.post("/api-keys", json={"name": "demo"}, headers=auth).json()["key"]
    funded = gateway.post("/faucet", headers=auth)
    if funded.status_code != 200:
        raise OpenDPGError(f"the faucet refused: {funded.status_code} {funded.text}")
    return str(key)


def _plot(gateway_url: str, key: str, job_id: int, out: Path, timeout: float = 120.0) -> Path:
    """``opendpg jobs plot`` once the gateway has evaluated every committed round."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as gateway:
        while any(r["accuracy"] is None and r["metrics_error"] is None
                  for r in gateway.get(f"/jobs/{job_id}").json()["history"]):
            if time.monotonic() > deadline:
                raise OpenDPGError(f"the gateway did not evaluate job {job_id}'s rounds within {timeout:.0f} s")
            time.sleep(1.0)
    plotted = subprocess.run([sys.executable, "-m", "opendpg.cli.main", "jobs", "plot", str(job_id), "--out", str(out)],
                             env={**os.environ, "OPENDPG_GATEWAY_URL": gateway_url, "OPENDPG_API_KEY": key},
                             capture_output=True, text=True, timeout=120)
    if plotted.returncode != 0:
        raise OpenDPGError(f"opendpg jobs plot failed: {plotted.stderr.strip()}")
    return out


def wait_registered(admin: Chain, nodes: list[Any], procs: dict[str, Any], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise OpenDPGError(f"{name} exited with code {proc.returncode}; see its log in the state folder")
        if all(admin.registry.is_registered(n) for n in nodes) and admin.registry.metadata_cid_of(nodes[0]):
            return  # the coordinator (first) has also published its SuperLink address
        time.sleep(0.3)
    raise OpenDPGError(f"the daemons did not register within {timeout:.0f} s")


async def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    state: Path = args.state_dir.resolve()
    fresh_state(state)
    with LocalChain(log_file=state / "chain.log") as local, KuboDaemon(state / "ipfs") as kubo:
        print(f"1. anvil at {local.rpc_url} (pid {local.pid}); kubo at {kubo.api_url} (pid {kubo.pid})")
        demo = deploy_demo_chain(local, state)
        w3, admin, deployment_file, deployer = demo.w3, demo.admin, demo.deployment_file, demo.deployer
        coordinator, providers, data_holder = demo.coordinator, demo.providers, demo.owner
        print(f"2. contracts deployed ({deployment_file}); coordinator and providers funded")
        store = KuboStore(kubo.api_url)
        print("   DPG certification of the breast-cancer dataset asset, whose metadata carries the schema of its "
              "records (check -> community vote -> expert committee):")
        dataset_asset = certify_asset(
            local, admin, store, data_holder, parse_metadata(EXAMPLE_HELD_DATASET.read_bytes()),
            "no identifiers, records stay with their holders, jobs train with DP-SGD")
        print("   the DAO changes the DPG Standard:")
        _change_standard(local, admin, store)
        files = write_sample("breast-cancer", state / "data", len(providers), formats=HOSPITAL_FORMATS)
        epsilon = _declared_epsilon(args.rounds, files.records)
        budget = round(1.6 * epsilon, 1)  # room for one such job, not two
        for i, (folder, count) in enumerate(zip(files.holders, files.records, strict=True)):
            print(f"   hospital {i} keeps {count} records in its own files: {folder} ({HOSPITAL_FORMATS[i]}); "
                  f"its privacy budget on the dataset: epsilon {budget:g}")

        procs: dict[str, Any] = {}
        gateway_url = f"http://127.0.0.1:{free_port()}"
        procs["gateway"] = start_gateway(state, local, kubo, deployment_file, deployer, gateway_url)
        for name, kind, config in daemon_configs(state, local, kubo, deployment_file, coordinator, providers,
                                                 dataset_asset, files.holders,
                                                 {"privacy_budget": budget, "requires_dp": True}):
            procs[name] = launch_daemon(kind, config, state / f"{name}.out")  # type: ignore[arg-type]
        try:
            nodes = [coordinator.address, *[p.address for p in providers]]
            await asyncio.to_thread(wait_registered, admin, nodes, procs)
            await asyncio.to_thread(wait_declared, admin, [p.address for p in providers], dataset_asset, procs)
            print(f"3. daemons up: coordinator (pid {procs['coordinator'].pid}) and three provider agents (pids "
                  f"{', '.join(str(procs[f'provider-{i}'].pid) for i in range(3))}) registered and staked "
                  "200 DPG each; JSON logs in " f"{state}/*/*.log")
            published = node_metadata(admin, store, coordinator.address)
            print(f"   the coordinator's SuperLink serves TLS at {published[FLEET]} (its CA, SHA-256 "
                  f"{str(published[CA_SHA256])[:16]}…, is in its node metadata, by the CID on-chain); each hospital "
                  "published a Flower node key, and the SuperLink admits a hospital's SuperNode only while the chain "
                  "says it is in the job")
            for i, p in enumerate(providers):
                held = admin.ledger.holding_of(p.address, dataset_asset)
                print(f"   hospital {i}'s agent checked its files against the asset's schema and declared on-chain: "
                      f"{held.records} records, schema {held.schema.hex()[:12]}…, budget epsilon "
                      f"{held.budget / EPSILON_UNIT:g} (DP required)")
            held_out = pack_held_out(sample_schema("breast-cancer"), files.held_out)
            code = await _post_and_follow(args, state, w3, local.ws_url, admin, kubo, gateway_url, coordinator,
                                          providers, started, dataset_asset, store.put(held_out), epsilon)
            if args.keep_running:
                print(f"everything keeps running: open {gateway_url}/app/ (the job at {gateway_url}/app/#job/1, "
                      f"readable without a wallet; a wallet on chain {w3.eth.chain_id} at {local.rpc_url} can post "
                      "and vote). Ctrl-C stops it all.")
                while True:
                    await asyncio.sleep(3600)
            return code
        finally:
            for proc in procs.values():
                stop_process_group(proc, timeout=20)


def wait_declared(admin: Chain, providers: list[str], asset: int, procs: dict[str, Any],
                   timeout: float = 180.0) -> None:
    """Until every agent declared its holding of ``asset`` (it checks its files against the schema first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise OpenDPGError(f"{name} exited with code {proc.returncode}; see its log in the state folder")
        if all(admin.ledger.holding_of(p, asset).held for p in providers):
            return
        time.sleep(0.3)
    raise OpenDPGError(f"the agents did not declare their data within {timeout:.0f} s: see provider-*/holdings.json")


def _refusals(state: Path, job_id: int, agents: int, timeout: float = 120.0) -> list[str]:
    """Each agent's recorded reason to refuse ``job_id`` (its persisted join decision)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        decisions = []
        for i in range(agents):
            path = state / f"provider-{i}" / "decisions.json"
            decision = json.loads(path.read_text()).get(str(job_id)) if path.exists() else None
            if decision is not None and not decision.get("retry"):
                decisions.append(decision)
        if len(decisions) == agents:
            return ["; ".join(d["reasons"]) or "joined" for d in decisions]
        time.sleep(0.3)
    raise OpenDPGError(f"the agents did not decide about job {job_id} within {timeout:.0f} s")


def _over_budget(args: argparse.Namespace, state: Path, admin: Chain, gateway: httpx.Client, auth: dict[str, str],
                 body: dict[str, Any], providers: list[Any]) -> None:
    """A second job with the same privacy spend: every agent refuses it (its budget would run out), the chain
    refuses a join all the same, and its poster cancels it (the escrow comes back)."""
    posted = gateway.post("/jobs", json=body, headers=auth)
    if posted.status_code != 201:
        raise OpenDPGError(f"the gateway refused the second job: {posted.status_code} {posted.text}")
    job_id = int(posted.json()["id"])
    for i, reason in enumerate(_refusals(state, job_id, len(providers))):
        print(f"   job {job_id} (the same spend again), hospital {i}'s agent: {reason}")
    try:
        admin.as_account(TxSender(admin.w3, providers[0])).market.join_job(job_id)
        raise OpenDPGError(f"the chain let hospital 0 join job {job_id} beyond its privacy budget")
    except ContractRevert as exc:
        print(f"   joining anyway is refused by the chain: {exc}")
    cancelled = gateway.post(f"/jobs/{job_id}/cancel", headers=auth)
    if cancelled.status_code != 200:
        raise OpenDPGError(f"cancelling job {job_id} failed: {cancelled.status_code} {cancelled.text}")
    print(f"   job {job_id} cancelled by its poster through the gateway; its escrow came back")


async def _post_and_follow(args: argparse.Namespace, state: Path, w3: Any, ws_url: str, admin: Chain,
                           kubo: KuboDaemon, gateway_url: str, coordinator: Any, providers: list[Any],
                           started: float, dataset_asset: int, held_out_cid: str, epsilon: float) -> int:
    store = KuboStore(kubo.api_url)
    gateway = httpx.Client(base_url=gateway_url, timeout=60)
    key = await asyncio.to_thread(gateway_user, gateway)
    auth = {"Authorization": f"Bearer {key}"}
    progress = _Progress(state / "coordinator" / "rounds")
    stream = EventStream(w3, admin.deployment, ["JobMarket"], events=SHOWN,
                         heads=await WebsocketHeads(ws_url).start(), start_block=int(w3.eth.block_number) + 1)
    stop = asyncio.Event()
    follower = asyncio.create_task(stream.run(progress, stop))
    spec = _spec(args.rounds, dataset_asset, held_out_cid, epsilon)
    body = {"spec": spec, "reward_per_round": "10", "coordinator": coordinator.address,
            "required_stake": "50", "join_window_s": 3600, "round_timeout_s": 900}
    posted = await asyncio.to_thread(gateway.post, "/jobs", json=body, headers=auth)
    if posted.status_code != 201:
        raise OpenDPGError(f"the gateway refused the job: {posted.status_code} {posted.text}")
    job = posted.json()
    progress.job_id = job_id = int(job["id"])
    print(f"4. gateway at {gateway_url} (docs at {gateway_url}/docs, web app at {gateway_url}/app/): user "
          f"demo@opendpg.local, API key {key}")
    print(f"   the poster's held-out records pinned: {held_out_cid[:24]}…")
    print(f"   job {job_id} posted through the gateway from the user's own address {job['poster']} (spec "
          f"{job['spec_cid'][:24]}… on IPFS, {job['budget']} DPG in escrow); it trains on the certified dataset "
          f"asset {dataset_asset} where the hospitals keep it, with DP-SGD spending epsilon {epsilon:g} of each "
          f"hospital's budget; the asset's owner earns {admin.market.data_share_bps() / 100:g} % of every reward; "
          "the daemons take it from here:")
    try:
        await asyncio.wait_for(progress.finalized.wait(), timeout=args.rounds * 120 + 300)
        deadline = time.monotonic() + 60
        while len(progress.earned) < len(providers) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        before = admin.token.balance_of(job["poster"])
        if admin.market.refundable(job_id) > 0:  # every used provider paid every round: nothing comes back
            refunded = await asyncio.to_thread(gateway.post, f"/jobs/{job_id}/refund", headers=auth)
            if refunded.status_code != 200:
                raise OpenDPGError(f"refund through the gateway failed: {refunded.status_code} {refunded.text}")
        refund = admin.token.balance_of(job["poster"]) - before
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await follower
        await stream.heads.close()
    print("5. the hospitals' privacy budgets: a second job with the same DP-SGD spend")
    await asyncio.to_thread(_over_budget, args, state, admin, gateway, auth, body, providers)
    verdicts = await asyncio.to_thread(verify_job, Chain.reader(w3, admin.deployment), store, job_id)
    print("6. verify: every update fetched from IPFS by its on-chain CID and hash, every aggregate recomputed")
    for v in verdicts:
        print(f"  round {v.round}: {'OK' if v.ok else 'MISMATCH ' + '; '.join(v.problems)}")
    job = admin.market.get_job(job_id)
    round_record = state / "coordinator" / "rounds" / f"job-{job_id}" / f"round-{job.committed_rounds}.json"
    final = json.loads(round_record.read_text())["metrics"]
    curve = await asyncio.to_thread(_plot, gateway_url, key, job_id, state / f"job-{job_id}-curve.png")
    print(f"7. training curve (the gateway's own evaluation of each committed model): `opendpg jobs plot {job_id}` "
          f"wrote {curve}; in the web app: {gateway_url}/app/#job/{job_id}")
    holder_share = admin.market.claim_data_share(job_id)
    record = provenance_bytes(provenance(Chain.reader(w3, admin.deployment), store, job_id))
    record_cid = store.put(record)
    (state / f"job-{job_id}-provenance.json").write_bytes(record)
    print(f"8. provenance record (certified inputs, model licence and SDGs, on-chain history): {record_cid} "
          f"(also {state / f'job-{job_id}-provenance.json'})")
    print("9. summary")
    print(f"  job {job_id}: {job.state.name}, {job.committed_rounds} rounds committed, final accuracy on the "
          f"poster's held-out set {final['accuracy']:.3f}, on the hospitals' validation splits "
          f"{final['federated_accuracy']:.3f} ({int(final['federated_examples'])} records, never seen by the "
          "coordinator)")
    for p in providers:
        print(f"  provider {p.address[:10]}… earned {fmt(progress.earned.get(p.address, 0))}")
    print(f"  the dataset asset's owner earned the data share, {fmt(holder_share)}")
    print(f"  escrow refunded to the poster (through the gateway): {fmt(refund)}")
    ok = bool(verdicts) and all(v.ok for v in verdicts) and job.committed_rounds == args.rounds
    print(f"  verify: {'all rounds verified' if ok else 'MISMATCH'}; done in {time.monotonic() - started:.0f} s")
    return 0 if ok else 1
