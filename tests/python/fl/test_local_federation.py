"""The OpenDPG Flower app on providers' own files: three holders keep breast-cancer records in CSV, Parquet and
JSON Lines; the ServerApp reads none of them. Each round the providers train (with DP-SGD), then evaluate the new
global model on their validation splits, and the ServerApp aggregates those metrics weighted by examples beside
its own evaluation on the poster's held-out set."""

import json
from collections import OrderedDict

import pytest

from opendpg.data import pack_held_out, read_held_out, sample_schema, write_sample
from opendpg.fl import decode_update
from opendpg.fl.data import input_of, provider_data
from opendpg.fl.federation import Federation
from opendpg.fl.models import build_model
from opendpg.fl.train import evaluate
from opendpg.spec import parse_spec

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes

PROVIDERS = [f"0x{i + 1:040x}" for i in range(3)]
SCHEMA = sample_schema("breast-cancer")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("local-federation")
    files = write_sample("breast-cancer", root / "data", 3, formats=["csv", "parquet", "jsonl"])
    held_out = root / "held-out.parquet"
    held_out.write_bytes(pack_held_out(SCHEMA, files.held_out))
    spec = parse_spec({
        "name": "breast cancer, three hospitals", "model": {"name": "mlp", "hidden_units": 16},
        "dataset": {"asset": 4, "data_schema": SCHEMA.model_dump(mode="json"), "validation_fraction": 0.25},
        "training": {"rounds": 2, "local_epochs": 2, "batch_size": 16, "learning_rate": 0.1},
        "providers": {"min": 3, "max": 3},
        "privacy": {"dp_sgd": {"noise_multiplier": 1.0, "max_grad_norm": 2.0, "epsilon": 20.0}},
    })
    with Federation(root / "flwr", threads=1) as federation:
        for i, provider in enumerate(PROVIDERS):
            federation.start_supernode(provider, {"provider": provider, "data-path": str(files.holders[i]),
                                                  "outbox": str(root / f"outbox-{i}"), "dp-seed": 100 + i})
        federation.run({"spec": spec.to_bytes().decode(), "job-id": 3, "out-dir": str(root / "out"),
                        "held-out-path": str(held_out), "eval-timeout": 120.0})
    return root, spec, files


def test_providers_train_on_their_own_files(finished_run):
    root, _spec, files = finished_run
    for r in (1, 2):
        summary = json.loads((root / "out" / f"round-{r}.json").read_text())
        assert summary["used"] == PROVIDERS and summary["rejected"] == {}
        for i in range(3):
            update = decode_update((root / f"outbox-{i}" / "3" / f"round-{r}.update").read_bytes())
            # 75 % of each holder's records train; the rest are its validation split
            assert update.meta["num_examples"] == files.records[i] - round(files.records[i] * 0.25)


def test_federated_metrics_are_the_providers_validation_metrics_weighted_by_examples(finished_run):
    root, spec, files = finished_run
    model = build_model(spec.model, *input_of(spec.dataset, spec.model), seed=spec.training.seed)
    for r in (1, 2):
        metrics = json.loads((root / "out" / f"round-{r}.json").read_text())["metrics"]
        stored = decode_update((root / "out" / f"round-{r}.global").read_bytes())
        weights = OrderedDict(zip(model.state_dict().keys(), stored.tensors.values(), strict=True))
        mine = [evaluate(model, weights, d.x_val, d.y_val) for d in
                (provider_data(spec.dataset, path=str(h)) for h in files.holders)]
        total = sum(m["examples"] for m in mine)

        assert metrics["federated_examples"] == total and metrics["federated_providers"] == 3
        for name in ("accuracy", "macro_f1", "loss"):
            expected = sum(m[name] * m["examples"] for m in mine) / total
            assert metrics[f"federated_{name}"] == pytest.approx(expected, rel=1e-5)


def test_the_held_out_set_is_the_posters(finished_run):
    root, spec, _files = finished_run
    metrics = json.loads((root / "out" / "round-2.json").read_text())["metrics"]
    held_out = read_held_out(SCHEMA, (root / "held-out.parquet").read_bytes())
    model = build_model(spec.model, *input_of(spec.dataset, spec.model), seed=spec.training.seed)
    stored = decode_update((root / "out" / "round-2.global").read_bytes())
    weights = OrderedDict(zip(model.state_dict().keys(), stored.tensors.values(), strict=True))

    assert metrics["examples"] == len(held_out)
    assert metrics["accuracy"] == pytest.approx(evaluate(model, weights, held_out.x, held_out.y)["accuracy"])
    assert metrics["accuracy"] > 0.8  # DP-SGD on ~340 training records still separates the classes
