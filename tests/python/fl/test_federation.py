"""The OpenDPG Flower app on the real Deployment Engine: SuperLink, three SuperNodes, `flwr run`."""

import json
import os

import pytest

from opendpg.fl import Contribution, aggregate, decode_update, encode_update
from opendpg.fl.federation import Federation
from opendpg.spec import parse_spec

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes

PROVIDERS = [f"0x{i + 1:040x}" for i in range(3)]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("federation")
    spec = parse_spec({
        "name": "digits, label-skewed", "model": {"name": "mlp", "hidden_units": 32},
        "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits", "partition": "label-skew",
                    "labels_per_provider": 4},
        "training": {"rounds": 2, "local_epochs": 2, "batch_size": 32, "learning_rate": 0.1},
        "providers": {"min": 3, "max": 3},
    })
    with Federation(root / "flwr", threads=1) as federation:
        for i, provider in enumerate(PROVIDERS):
            federation.start_supernode(provider, {"provider": provider, "share-index": i, "share-count": 3,
                                                  "outbox": str(root / f"outbox-{i}")}, spec=spec.to_bytes())
        pids = [federation.superlink.pid, *(p.pid for p in federation.supernodes.values())]
        federation.run({"spec": spec.to_bytes().decode(), "job-id": 7, "out-dir": str(root / "out")})
    return root, pids


def test_every_provider_trained_every_round(finished_run):
    root, _ = finished_run
    for r in (1, 2):
        summary = json.loads((root / "out" / f"round-{r}.json").read_text())
        assert summary["used"] == PROVIDERS and summary["rejected"] == {}
        for i, provider in enumerate(PROVIDERS):
            update = decode_update((root / f"outbox-{i}" / "7" / f"round-{r}.update").read_bytes())
            assert update.meta == {"job": 7, "round": r, "provider": provider,
                                   "num_examples": update.meta["num_examples"]}
    first, second = (json.loads((root / "out" / f"round-{r}.json").read_text())["metrics"] for r in (1, 2))
    assert second["loss"] < first["loss"]


def test_global_models_are_recomputable_bit_for_bit_from_the_updates(finished_run):
    root, _ = finished_run
    for r in (1, 2):
        updates = [decode_update((root / f"outbox-{i}" / "7" / f"round-{r}.update").read_bytes()) for i in range(3)]
        stored = (root / "out" / f"round-{r}.global").read_bytes()
        tensors = aggregate([Contribution(u.meta["provider"], u.meta["num_examples"], u.tensors) for u in updates])
        assert encode_update(tensors, decode_update(stored).meta) == stored


def test_each_provider_trained_inside_its_supernode_on_the_threads_it_was_given(finished_run):
    root, _ = finished_run
    for provider in PROVIDERS:
        log = (root / "flwr" / f"supernode-{provider}.log").read_text()
        assert log.count("warm ClientApp ready in this SuperNode's process") == 1
        assert "1 torch threads" in log
        # the job's records were read once, before the SuperNode connected: no message waited for them
        assert log.count("read this provider's records for the job") == 1
        assert log.index("job's model and records loaded before its first message") < log.index("SuperNode ID")
        assert log.count("task done: train message") == 2 and log.count("task done: evaluate message") == 2
        assert "FAILED" not in log
        assert not (root / "flwr" / f"supernode-{provider}" / "worker.log").exists()  # no worker process


def test_all_flower_processes_are_stopped(finished_run):
    _, pids = finished_run
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
