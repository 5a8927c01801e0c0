"""Benchmarks of training on providers' own files (``make bench``): quality, the cost of DP, round time.

Every job runs on Flower's Deployment Engine (a SuperLink, one SuperNode per holder, ``flwr run`` of the OpenDPG
app), each SuperNode reading its holder's files; no chain or IPFS (their cost is in ``bench_fl.py``).

- **quality**: federated / centralized accuracy on the poster's held-out set, for the tabular case (breast
  cancer: three hospitals' CSV, Parquet and JSON Lines files) and the image case (digits as PNG files in class
  folders at three holders), at the spec's non-DP settings. Centralized: the same model and hyperparameters
  trained on the union of the holders' training records for rounds x local epochs. Target >= 0.95.
- **dp**: the tabular job with DP-SGD at two noise multipliers: the epsilon each holder spends (Opacus's RDP
  accountant, for the smallest holder) and the held-out accuracy, against the non-DP job.
- **round time**: seconds per round of the image job read from the holders' files against the same job in
  simulation mode (the bundled digits, sliced), in the same run.
- **fine-tuning**: the fine-tuning demo's base model (a ViT pre-trained here on the public digits 0-4) fine-tuned
  on the holders' PNG files of digits 5-9, every weight (full) and with LoRA (adapters and a new head): seconds
  per round, bytes of each holder's update per round, and federated / centralized accuracy of each (target >= 0.95).

Jobs on the same holders run in turn on one federation (a SuperLink and a SuperNode per holder).

``--smoke`` runs a tiny version (used by the test suite so the benchmark keeps working).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from opendpg.cli.demo_finetune import JOB_CLASSES, LORA, TRAINING
from opendpg.content import cid_of
from opendpg.data import pack_held_out, read_held_out, sample_schema, write_sample
from opendpg.dpg.basemodels import pack_model_files
from opendpg.fl.data import input_of, load_dataset, provider_data
from opendpg.fl.federation import Federation
from opendpg.fl.flower_app.client import outbox_path
from opendpg.fl.models import build_model, get_weights
from opendpg.fl.pretrain import VIT, pretrain_vit_base
from opendpg.fl.privacy import job_epsilon
from opendpg.fl.train import evaluate, train_local
from opendpg.spec import JobSpec, parse_spec

HOLDERS = 3
#: (sample, model, local epochs, batch size, learning rate)
CASES = {"tabular": ("breast-cancer", {"name": "mlp", "hidden_units": 32}, 2, 16, 0.1),
         "image": ("digits", {"name": "cnn", "hidden_units": 64}, 2, 32, 0.1)}
NOISE = (0.8, 1.5)  # the DP-SGD noise multipliers compared
SECTIONS = {"tabular", "image", "finetune"}  # tabular: quality and DP; image: quality and round time


def _spec(case: str, rounds: int, dp: float | None = None) -> JobSpec:
    name, model, epochs, batch, lr = CASES[case]
    privacy = {"dp_sgd": {"noise_multiplier": dp, "max_grad_norm": 1.0, "epsilon": 1000.0}} if dp else {}
    return parse_spec({"name": f"bench {case}", "model": model, "providers": {"min": HOLDERS, "max": HOLDERS},
                       "dataset": {"asset": 1, "data_schema": sample_schema(name).model_dump(mode="json")},
                       "training": {"rounds": rounds, "local_epochs": epochs, "batch_size": batch,
                                    "learning_rate": lr}, "privacy": privacy})


def _simulated(spec: JobSpec) -> JobSpec:
    """The same job on the bundled digits, sliced among the holders (simulation mode)."""
    dataset = {"mode": "simulate", "catalog_id": "sklearn/digits-8x8", "partition": "iid",
               "validation_fraction": spec.dataset.validation_fraction}
    return parse_spec({**spec.model_dump(mode="json", exclude={"certification", "publication"}), "dataset": dataset})


@contextlib.contextmanager
def _holders(work: Path, nodes: list[dict[str, Any]]) -> Iterator[Callable[..., dict[str, Any]]]:
    """A federation with one SuperNode per holder (``nodes``: each one's node config), on which jobs run in
    turn: yields ``run(name, spec, held_out, **run_config)``, giving a job's per-round records, wall time and the
    bytes of the update the first holder sent in the last round."""
    shutil.rmtree(work, ignore_errors=True)
    with Federation(work / "flwr") as federation:
        for i, node in enumerate(nodes):
            federation.start_supernode(f"holder-{i}", {"provider": f"0x{i + 1:040x}", "outbox": str(work / f"out-{i}"),
                                                       "dp-seed": 1000 + i, **node})

        def run(name: str, spec: JobSpec, held_out: Path | None, **extra: Any) -> dict[str, Any]:
            out = work / name
            started = time.monotonic()
            config = {"spec": spec.to_bytes().decode(), "job-id": 1, "out-dir": str(out / "models"),
                      "eval-timeout": 300.0, "round-timeout": 600.0, **extra}
            if held_out is not None:
                config["held-out-path"] = str(held_out)
            federation.run(config)
            wall = time.monotonic() - started
            last = spec.training.rounds
            rounds = [json.loads((out / "models" / f"round-{r}.json").read_text()) for r in range(1, last + 1)]
            return {"wall_s": wall, "s_per_round": float(np.mean([r["timing"]["seconds"] for r in rounds])),
                    "final": rounds[-1]["metrics"], "model": (out / "models" / f"round-{last}.global"),
                    "update_bytes": outbox_path(str(work / "out-0"), 1, last).stat().st_size}

        yield run


def _centralized(spec: JobSpec, holders: list[Path], held_out: tuple[np.ndarray, np.ndarray],
                 base: Path | None = None) -> float:
    shares = [provider_data(spec.dataset, path=str(h)) for h in holders]
    x, y = np.concatenate([s.x_train for s in shares]), np.concatenate([s.y_train for s in shares])
    epochs = spec.training.rounds * spec.training.local_epochs
    central = spec.model_copy(update={"training": spec.training.model_copy(update={"local_epochs": epochs})})
    model = build_model(spec.model, *input_of(spec.dataset, spec.model), seed=spec.training.seed, base=base)
    weights, _ = train_local(model, get_weights(model), x, y, central, seed=1)
    return float(evaluate(model, OrderedDict(weights), held_out[0], held_out[1])["accuracy"])


def _quality(report: dict[str, Any], case: str, run: dict[str, Any], central: float, records: list[int]) -> None:
    federated = float(run["final"]["accuracy"])
    report["quality"][case] = {"federated": federated, "centralized": central, "ratio": federated / central,
                               "federated_validation_accuracy": run["final"].get("federated_accuracy"),
                               "s_per_round": run["s_per_round"], "update_bytes": run["update_bytes"],
                               "records": records}
    print(f"quality {case}: federated {federated:.3f} / centralized {central:.3f} = {federated / central:.3f}; "
          f"{run['s_per_round']:.1f} s per round, {run['update_bytes']:,} bytes per update", flush=True)


def _prepare(work: Path, case: str, sample: str, classes: list[int] | None = None) -> tuple[Any, Path, Any]:
    """A sample written as the holders' files, and the poster's held-out archive and records."""
    files = write_sample(sample, work / "data" / case, HOLDERS, formats=["csv", "parquet", "jsonl"], classes=classes)
    schema = sample_schema(sample, classes=classes)
    archive = work / "data" / f"{case}-held-out"
    archive.write_bytes(pack_held_out(schema, files.held_out))
    records = read_held_out(schema, archive.read_bytes())
    return files, archive, (records.x, records.y)


def _finetune_spec(rounds: int, base: Path, lora: bool) -> JobSpec:
    """The fine-tuning demo's job on its base model: LoRA (adapters and head) or every weight."""
    model: dict[str, Any] = {**VIT, "base": {"asset": 1, "files_cid": cid_of(pack_model_files(base))}}
    if lora:
        model["lora"] = LORA
    training = {**TRAINING, "local_epochs": 2} if lora else {**TRAINING, "local_epochs": 2, "learning_rate": 0.05}
    return parse_spec({"name": f"bench fine-tuning ({'LoRA' if lora else 'full'})", "model": model,
                       "providers": {"min": HOLDERS, "max": HOLDERS},
                       "dataset": {"asset": 2, "data_schema": sample_schema("digits", classes=JOB_CLASSES).model_dump(
                           mode="json")},
                       "training": {**training, "rounds": rounds}})


def bench(work: Path, rounds: int, pretrain_epochs: int, only: set[str] = SECTIONS) -> dict[str, Any]:
    report: dict[str, Any] = {"quality": {}, "dp": [], "round_time": {}, "finetune": {}, "rounds": rounds,
                              "holders": HOLDERS}
    if "tabular" in only:
        _tabular(work, rounds, report)
    if "image" in only:
        _image(work, rounds, report)
    if "finetune" in only:
        _finetune(work, rounds, pretrain_epochs, report)
    return report


def _tabular(work: Path, rounds: int, report: dict[str, Any]) -> None:
    files, archive, held_out = _prepare(work, "tabular", "breast-cancer")
    with _holders(work / "tabular", [{"data-path": str(h)} for h in files.holders]) as run:
        spec = _spec("tabular", rounds)
        _quality(report, "tabular", run("plain", spec, archive), _centralized(spec, files.holders, held_out),
                 files.records)
        smallest = min(files.records) - round(min(files.records) * 0.2)
        for noise in NOISE:
            spec = _spec("tabular", rounds, noise)
            accuracy = float(run(f"dp-{noise}", spec, archive)["final"]["accuracy"])
            epsilon = job_epsilon(spec, smallest)
            report["dp"].append({"noise_multiplier": noise, "epsilon": epsilon, "delta": 1e-5, "accuracy": accuracy,
                                 "accuracy_cost": report["quality"]["tabular"]["federated"] - accuracy})
            print(f"dp-sgd noise {noise}: epsilon {epsilon:.2f} per holder, held-out accuracy {accuracy:.3f}",
                  flush=True)


def _image(work: Path, rounds: int, report: dict[str, Any]) -> None:
    files, archive, held_out = _prepare(work, "image", "digits")
    image_spec = _spec("image", rounds)
    # each SuperNode serves both jobs: its holder's files (local) and its slice of the bundled set (simulate)
    nodes = [{"data-path": str(h), "share-index": i, "share-count": HOLDERS} for i, h in enumerate(files.holders)]
    with _holders(work / "image", nodes) as run:
        image = run("plain", image_spec, archive)
        simulated = run("simulation", _simulated(image_spec), None)
    _quality(report, "image", image, _centralized(image_spec, files.holders, held_out), files.records)
    report["round_time"]["own_files"] = image["s_per_round"]
    report["round_time"]["simulation"] = simulated["s_per_round"]
    print(f"round time, image job: own files {report['round_time']['own_files']:.1f} s, simulation "
          f"{simulated['s_per_round']:.1f} s", flush=True)
    digits = load_dataset("sklearn/digits-8x8")
    report["round_time"]["simulation_records"] = len(digits.y_train)


def _finetune(work: Path, rounds: int, pretrain_epochs: int, report: dict[str, Any]) -> None:
    base, pretrained = pretrain_vit_base(work / "base-model", pretrain_epochs)
    print(f"fine-tuning: base {VIT['name']} pre-trained on digits 0-4 ({pretrain_epochs} epochs, accuracy "
          f"{pretrained:.3f}); the holders fine-tune it on digits 5-9", flush=True)
    files, archive, held_out = _prepare(work, "finetune", "digits", JOB_CLASSES)
    nodes = [{"data-path": str(h), "base-model-path": str(base)} for h in files.holders]
    with _holders(work / "finetune", nodes) as run:
        for lora in (False, True):
            case = "finetune_lora" if lora else "finetune_full"
            spec = _finetune_spec(rounds, base, lora)
            result = run(case, spec, archive, **{"base-model-path": str(base)})
            _quality(report, case, result, _centralized(spec, files.holders, held_out, base), files.records)
    full, adapted = report["quality"]["finetune_full"], report["quality"]["finetune_lora"]
    report["finetune"] = {"base_accuracy_on_its_classes": pretrained,
                          "bytes_ratio_full_vs_lora": full["update_bytes"] / adapted["update_bytes"],
                          "round_time_ratio_full_vs_lora": full["s_per_round"] / adapted["s_per_round"]}
    print(f"fine-tuning, full vs LoRA: {full['update_bytes']:,} vs {adapted['update_bytes']:,} bytes per update "
          f"({report['finetune']['bytes_ratio_full_vs_lora']:.1f}x), {full['s_per_round']:.1f} vs "
          f"{adapted['s_per_round']:.1f} s per round", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a tiny version for the test suite")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("bench-results/data.json"))
    parser.add_argument("--work", type=Path, default=Path(".opendpg/bench-data"))
    parser.add_argument("--only", default=",".join(sorted(SECTIONS)),
                        help=f"sections to run (comma-separated, of {', '.join(sorted(SECTIONS))})")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if not only or only - SECTIONS:
        parser.error(f"--only: sections of {sorted(SECTIONS)}, got {args.only!r}")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))  # stop children on TERM
    rounds = 1 if args.smoke else args.rounds
    shutil.rmtree(args.work, ignore_errors=True)
    report = bench(args.work, rounds, 2 if args.smoke else 10, only)
    report["targets"] = {"quality_ratio": 0.95}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    missed = [case for case, q in report["quality"].items() if q["ratio"] < 0.95]
    if missed and not args.smoke:
        print(f"target missed: federated / centralized accuracy below 0.95 for {missed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
