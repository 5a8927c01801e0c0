"""The federated-training benchmark keeps working: its smoke version runs every scenario end to end on real
components (anvil, kubo, Flower, the daemons) and writes its report."""

import json

import pytest

from tests.python.bench.runner import run_bench


@pytest.mark.timeout(1500)  # above run_bench's own limit: it stops what it started first
def test_fl_bench_smoke(tmp_path):
    out = tmp_path / "fl.json"
    result = run_bench("bench_fl.py", "--smoke", "--out", str(out), "--work", str(tmp_path / "work"), timeout=1200)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    overhead = report["overhead"]
    assert overhead["plain"]["wall_s"] > 0 and overhead["opendpg"]["wall_s"] > 0
    assert set(overhead["opendpg"]["split"]) >= {"flower_orchestration", "client_training", "ipfs", "chain"}
    assert report["reaction"]["jobs"] == 3 and report["reaction"]["p50_ms"] > 0
    assert report["scale"][0]["providers"] == 3 and report["scale"][0]["gas_per_round"] > 0
    assert 0 < report["quality"]["federated"] <= 1 and 0 < report["quality"]["centralized"] <= 1
