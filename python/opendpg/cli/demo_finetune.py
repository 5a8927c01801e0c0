"""``opendpg demo-finetune``: federated LoRA fine-tuning of an open base model the DPG registry certified, end to
end, on components the demo starts itself.

Nothing can be downloaded here, so the base model is made first, the way its publisher would: a small Vision
Transformer (Hugging Face transformers' ViT) trained centrally on public images, scikit-learn's handwritten digits
0-4, and written as safetensors with its card. Its publisher registers it in the DPG registry as a model asset
with those files (pinned to IPFS; a pickle checkpoint would be refused), and it goes through the certification
pipeline (automated check of its files and metadata, token holders' vote, expert committee).

Three providers hold images of the other digits, 5-9, as PNG class folders of their own, declared under a dataset
asset whose schema they follow. A user without a wallet signs up at the gateway and posts a job that names the
base model asset, requires it certified (on-chain, at posting, joining and starting), and fine-tunes it with LoRA:
low-rank adapters on the attention and MLP layers and a new 5-class head. The gateway fills in the base model's
files CID; the agents fetch the files by that CID (the store checks every byte) and check them before joining;
the providers train only the adapters and the head, so only those travel, are hashed on-chain, aggregated and
audited. The demo prints the held-out accuracy of the base model before fine-tuning and of each round's global
model, the bytes each provider sent per round against what full fine-tuning of the same base would send, verifies
the job, and downloads the result through the gateway as a ready-to-load checkpoint (adapters merged into the
base), which it loads and evaluates again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from opendpg.audit import verify_job
from opendpg.chain import (
    Chain,
    ChainEvent,
    EventStream,
    LocalChain,
    TxSender,
    WebsocketHeads,
)
from opendpg.cli.demo import (
    certify_asset,
    daemon_configs,
    deploy_demo_chain,
    fmt,
    fresh_state,
    gateway_user,
    start_gateway,
    wait_declared,
    wait_registered,
)
from opendpg.content import KuboDaemon, KuboStore
from opendpg.data import pack_held_out, read_local, sample_schema, write_sample
from opendpg.dpg import parse_metadata
from opendpg.dpg.certification import Certification
from opendpg.dpg.metadata import AssetMetadata
from opendpg.errors import OpenDPGError
from opendpg.fl.pretrain import VIT, pretrain_vit_base
from opendpg.node.launch import launch_daemon
from opendpg.process import free_port, stop_process_group
from opendpg.spec import JobSpec, parse_spec

__all__ = ["JOB_CLASSES", "LORA", "register"]

JOB_CLASSES = [5, 6, 7, 8, 9]  # the providers' own images
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "fc1", "fc2"]  # every attention and MLP projection
LORA = {"rank": 8, "alpha": 16, "dropout": 0.0, "target_modules": LORA_TARGETS, "modules_to_save": ["classifier"]}
TRAINING = {"local_epochs": 3, "batch_size": 16, "learning_rate": 0.1}
SHOWN = ["JobPosted", "ProviderJoined", "JobStarted", "UpdateSubmitted", "RoundCommitted", "JobFinalized",
         "RewardClaimed"]


def register(commands: Any) -> None:
    demo = commands.add_parser("demo-finetune", help="fine-tune a certified open base model with federated LoRA, "
                                                     "end to end on local components")
    demo.add_argument("--rounds", type=int, default=4)
    demo.add_argument("--pretrain-epochs", type=int, default=10, help="epochs of the base model's central training")
    demo.add_argument("--state-dir", type=Path, default=Path(".opendpg/demo-finetune"))
    demo.set_defaults(run=lambda args: asyncio.run(run_demo(args)))


def _model_metadata(pretrain_accuracy: float) -> AssetMetadata:
    return parse_metadata(json.dumps({
        "schema": "opendpg-asset/2", "name": "Digits ViT base (transformers ViT, 2 layers, 8x8 greyscale)",
        "kind": "model", "licence": "Apache-2.0", "version": "1.0",
        "description": "A small Vision Transformer pre-trained on the public handwritten digits 0-4 "
                       f"(held-out accuracy {pretrain_accuracy:.3f}); weights in safetensors with their card.",
        "owner": {"name": "OpenDPG demo publisher", "contact": "models@opendpg.local",
                  "evidence": "Trained from scratch on scikit-learn's bundled digits; no third-party weights."},
        "sdgs": [{"goal": 4, "evidence": "An open starting point for teaching and digitising handwritten records."},
                 {"goal": 9, "evidence": "Lets institutions fine-tune a shared model where their data lives."}],
        "documentation": "model.safetensors holds the weights, opendpg-model.json the architecture (name and "
                         "configuration as a job spec names them), input shape, outputs, output layer and the data it "
                         "was trained on. Fine-tune it with an OpenDPG job naming this asset as model.base.",
        "data": {"formats": ["safetensors"], "extraction": "the files are on IPFS under this asset's files_cid",
                 "contains_personal_data": False},
        "privacy": {"statement": "Trained on anonymous digit images only.", "laws": ["GDPR"],
                    "collects_personal_data": False},
        "standards": ["safetensors", "Hugging Face transformers ViT configuration"],
        "do_no_harm": {"data_privacy_security": "No personal data in the training set or the weights.",
                       "inappropriate_content": "Classifies digits only.",
                       "protection_from_harassment": "A model file: no user interaction or contributions."},
    }))


def _dataset_metadata() -> AssetMetadata:
    return parse_metadata(json.dumps({
        "schema": "opendpg-asset/2", "name": "Handwritten digits 5-9, held by three archives",
        "kind": "dataset", "licence": "CC-BY-4.0", "version": "1.0",
        "description": "8x8 greyscale scans of handwritten digits 5-9; each archive keeps its own as PNG files in "
                       "class folders. Only model updates leave.",
        "owner": {"name": "UCI Machine Learning Repository", "contact": "https://archive.ics.uci.edu/dataset/80"},
        "data": {"formats": ["png"], "contains_personal_data": False},
        "dataset_schema": sample_schema("digits", classes=JOB_CLASSES).model_dump(mode="json"),
    }))


def _base_figures(spec: JobSpec, store: KuboStore, cache: Path, held_out: Path) -> tuple[float, int]:
    """The job's model before any round (the base fetched by its CID, a new head, adapters that change nothing
    yet): its held-out accuracy; and the bytes of one update of full fine-tuning of the same base (every tensor)."""
    from opendpg.dpg.basemodels import fetch_base_model
    from opendpg.fl.models import build_model, get_weights
    from opendpg.fl.update import encode_update

    assert spec.model.base is not None
    folder = fetch_base_model(store, spec.model.base, cache)
    shape, classes = (1, 8, 8), len(JOB_CLASSES)
    before = _held_out_accuracy(build_model(spec.model, shape, classes, seed=spec.training.seed, base=folder),
                                held_out)
    full = build_model(spec.model.model_copy(update={"lora": None}), shape, classes, base=folder)
    return before, len(encode_update(get_weights(full)))


def _held_out_accuracy(model: Any, folder: Path) -> float:
    from opendpg.fl.models import get_weights
    from opendpg.fl.train import evaluate

    records = read_local(sample_schema("digits", classes=JOB_CLASSES), folder, any_format=True)
    return float(evaluate(model, get_weights(model), records.x, records.y)["accuracy"])


class _Progress:
    """Prints the job's events and remembers each round's update sizes and the rewards."""

    def __init__(self, store: KuboStore, rounds_dir: Path) -> None:
        self.store, self.rounds_dir = store, rounds_dir
        self.job_id = 0
        self.sizes: dict[int, list[int]] = {}
        self.accuracy: dict[int, float] = {}
        self.earned: dict[str, int] = {}
        self.finalized = asyncio.Event()

    async def __call__(self, event: ChainEvent) -> None:
        if int(event.args["jobId"]) != self.job_id:
            return
        await asyncio.to_thread(self._show, event)
        if event.name in ("JobFinalized", "JobAborted", "JobCancelled"):
            self.finalized.set()

    def _show(self, event: ChainEvent) -> None:
        a = event.args
        if event.name == "UpdateSubmitted":
            size = len(self.store.get(str(a["updateCid"])))
            self.sizes.setdefault(int(a["round"]), []).append(size)
            print(f"  round {a['round']}: provider {a['provider'][:10]}… sent its adapters and head, {size:,} bytes "
                  f"(hash {a['updateHash'].hex()[:16]}… on-chain)")
        elif event.name == "RoundCommitted":
            path = self.rounds_dir / f"job-{self.job_id}" / f"round-{a['round']}.json"
            for _ in range(40):
                if path.exists():
                    break
                time.sleep(0.05)
            metrics = json.loads(path.read_text())["metrics"] if path.exists() else {}
            self.accuracy[int(a["round"])] = float(metrics.get("accuracy", float("nan")))
            print(f"  round {a['round']} committed: global {a['globalHash'].hex()[:16]}…, {a['usedCount']} updates, "
                  f"held-out accuracy {metrics.get('accuracy', float('nan')):.3f}, providers' validation accuracy "
                  f"{metrics.get('federated_accuracy', float('nan')):.3f}")
        elif event.name == "RewardClaimed":
            self.earned[str(a["provider"])] = int(a["amount"])
            print(f"  RewardClaimed: {str(a['provider'])[:10]}… {fmt(a['amount'])}")
        else:
            print(f"  {event.name} (job {a['jobId']})")


async def run_demo(args: argparse.Namespace) -> int:
    from opendpg.fl.basemodel import load_model

    started = time.monotonic()
    state: Path = args.state_dir.resolve()
    fresh_state(state)
    shutil.rmtree(state / "base-model", ignore_errors=True)
    shutil.rmtree(state / "finetuned", ignore_errors=True)
    print(f"1. the base model's publisher trains {VIT['name']} {VIT['config']} on the public digits 0-4 "
          f"({args.pretrain_epochs} epochs, on this machine: nothing is downloaded)")
    base, pretrain_accuracy = await asyncio.to_thread(pretrain_vit_base, state / "base-model", args.pretrain_epochs)
    print(f"   accuracy on public digits it did not train on: {pretrain_accuracy:.3f}; written to {base} "
          "(model.safetensors, opendpg-model.json, LICENSE, README.md)")
    files = write_sample("digits", state / "data", 3, classes=JOB_CLASSES)
    with LocalChain(log_file=state / "chain.log") as local, KuboDaemon(state / "ipfs") as kubo:
        demo = deploy_demo_chain(local, state)
        w3, admin, deployment_file, deployer = demo.w3, demo.admin, demo.deployment_file, demo.deployer
        coordinator, providers, publisher = demo.coordinator, demo.providers, demo.owner
        store = KuboStore(kubo.api_url)
        print(f"2. anvil at {local.rpc_url}, kubo at {kubo.api_url}, contracts deployed; the publisher registers the "
              "base model as a DPG model asset with its files and asks for certification:")
        model_asset = certify_asset(local, admin, store, publisher, _model_metadata(pretrain_accuracy),
                                    "open weights in safetensors with a card; trained on open data", files=base)
        dataset_asset = Certification(admin.as_account(TxSender(w3, publisher)), store).register(
            _dataset_metadata(), certify=False)
        print(f"   dataset asset {dataset_asset} registered: the schema of the providers' images of digits 5-9")
        for i, (folder, count) in enumerate(zip(files.holders, files.records, strict=True)):
            print(f"   provider {i} keeps {count} images of digits 5-9 as PNG files in {folder}")

        procs: dict[str, Any] = {}
        gateway_url = f"http://127.0.0.1:{free_port()}"
        procs["gateway"] = start_gateway(state, local, kubo, deployment_file, deployer, gateway_url)
        for name, kind, config in daemon_configs(state, local, kubo, deployment_file, coordinator, providers,
                                                 dataset_asset, files.holders, {"privacy_budget": 0}):
            procs[name] = launch_daemon(kind, config, state / f"{name}.out")  # type: ignore[arg-type]
        try:
            await asyncio.to_thread(wait_registered, admin, [coordinator.address, *[p.address for p in providers]],
                                    procs)
            await asyncio.to_thread(wait_declared, admin, [p.address for p in providers], dataset_asset, procs)
            print(f"3. the coordinator and three provider agents are up, registered and staked; each checked its "
                  f"files against dataset asset {dataset_asset}'s schema and declared them on-chain")
            gateway = httpx.Client(base_url=gateway_url, timeout=120)
            key = await asyncio.to_thread(gateway_user, gateway)
            auth = {"Authorization": f"Bearer {key}"}
            held_out_cid = store.put(pack_held_out(sample_schema("digits", classes=JOB_CLASSES), files.held_out))
            spec = {
                "name": "Digits 5-9: a certified open ViT fine-tuned with LoRA where the images are",
                "model": {**VIT, "base": {"asset": model_asset}, "lora": LORA},
                "dataset": {"asset": dataset_asset, "validation_fraction": 0.2},
                "training": {"rounds": args.rounds, **TRAINING}, "strategy": {"name": "fedavg"},
                "providers": {"min": 3, "max": 3}, "held_out_cid": held_out_cid,
                "certification": {"model_asset": model_asset},
                "publication": {"licence": "Apache-2.0", "sdgs": [4, 9]},
            }
            progress = _Progress(store, state / "coordinator" / "rounds")
            stream = EventStream(w3, admin.deployment, ["JobMarket"], events=SHOWN,
                                 heads=await WebsocketHeads(local.ws_url).start(),
                                 start_block=int(w3.eth.block_number) + 1)
            stop = asyncio.Event()
            follower = asyncio.create_task(stream.run(progress, stop))
            body = {"spec": spec, "reward_per_round": "10", "coordinator": coordinator.address,
                    "required_stake": "50", "join_window_s": 3600, "round_timeout_s": 900}
            posted = await asyncio.to_thread(gateway.post, "/jobs", json=body, headers=auth)
            if posted.status_code != 201:
                raise OpenDPGError(f"the gateway refused the job: {posted.status_code} {posted.text}")
            job = posted.json()
            progress.job_id = job_id = int(job["id"])
            posted_spec = parse_spec(store.get(job["spec_cid"]))
            assert posted_spec.model.base is not None
            before, full = await asyncio.to_thread(_base_figures, posted_spec, store, state / "base-models",
                                                   files.held_out)
            print(f"4. a gateway user posted job {job_id}: fine-tune base model asset {model_asset} (required "
                  f"certified, on-chain) with LoRA rank {LORA['rank']} on {', '.join(LORA_TARGETS)} and a "
                  f"new head for digits 5-9; the gateway filled in the base's files "
                  f"{posted_spec.model.base.files_cid[:24]}…; {job['budget']} DPG in escrow")
            print(f"   before fine-tuning (the base with its new head): held-out accuracy {before:.3f}")
            try:
                await asyncio.wait_for(progress.finalized.wait(), timeout=args.rounds * 180 + 300)
                deadline = time.monotonic() + 60
                while len(progress.earned) < len(providers) and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
            finally:
                stop.set()
                await follower
                await stream.heads.close()
            verdicts = await asyncio.to_thread(verify_job, Chain.reader(w3, admin.deployment), store, job_id)
            print("5. verify: every adapter update fetched by its on-chain CID and hash, every aggregate recomputed: "
                  + ", ".join(f"round {v.round} {'OK' if v.ok else 'MISMATCH ' + '; '.join(v.problems)}"
                              for v in verdicts))
            out = state / "finetuned"
            downloaded = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "opendpg.cli.main", "jobs", "download", str(job_id),
                                 "--checkpoint", str(out)],
                env={**os.environ, "OPENDPG_GATEWAY_URL": gateway_url, "OPENDPG_API_KEY": key},
                capture_output=True, text=True, timeout=600)
            if downloaded.returncode != 0:
                raise OpenDPGError(f"opendpg jobs download --checkpoint failed: {downloaded.stderr.strip()}")
            after = await asyncio.to_thread(_held_out_accuracy, load_model(out), files.held_out)
            print(f"6. `opendpg jobs download {job_id} --checkpoint {out}`: {downloaded.stdout.splitlines()[0]}")
            print(f"   loaded as a plain {VIT['name']} (adapters merged): held-out accuracy {after:.3f}")
        finally:
            for proc in procs.values():
                stop_process_group(proc, timeout=20)
        sizes = [size for round_sizes in progress.sizes.values() for size in round_sizes]
        lora_bytes = sum(sizes) / max(len(sizes), 1)
        final = admin.market.get_job(job_id)
        print("7. summary")
        print(f"  held-out accuracy on digits 5-9: {before:.3f} before fine-tuning, "
              + ", ".join(f"{progress.accuracy[r]:.3f}" for r in sorted(progress.accuracy))
              + f" after rounds 1-{len(progress.accuracy)}; the downloaded checkpoint {after:.3f}")
        print(f"  each provider sent {lora_bytes:,.0f} bytes per round (LoRA adapters and head); full fine-tuning of "
              f"the same base would send {full:,} bytes: {full / max(lora_bytes, 1):.1f}x more")
        for p in providers:
            print(f"  provider {p.address[:10]}… earned {fmt(progress.earned.get(p.address, 0))}")
        ok = bool(verdicts) and all(v.ok for v in verdicts) and final.committed_rounds == args.rounds
        print(f"  job {job_id}: {final.state.name}, {final.committed_rounds} rounds; verify: "
              f"{'all rounds verified' if ok else 'MISMATCH'}; done in {time.monotonic() - started:.0f} s")
        return 0 if ok else 1
