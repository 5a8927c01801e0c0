"""The federated-training benchmark keeps working: its smoke version runs every scenario end to end on real
components (anvil, kubo, Flower, the daemons) and writes its report. Stock Flower runs once, for the overhead
ratio; the scale and idle scenarios run OpenDPG's engine only."""

import json

import pytest

from tests.python.bench.runner import run_bench

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes


@pytest.mark.timeout(1500)  # above run_bench's own limit: it stops what it started first
def test_fl_bench_smoke(tmp_path):
    out = tmp_path / "fl.json"
    result = run_bench("bench_fl.py", "--smoke", "--out", str(out), "--work", str(tmp_path / "work"), timeout=1200)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    overhead = report["overhead"]
    assert min(overhead[k]["wall_s"] for k in ("plain_stock", "plain", "opendpg")) > 0
    assert set(overhead["opendpg"]["split"]) >= {"flower_orchestration", "client_training", "evaluation", "ipfs",
                                                 "chain"}
    assert overhead["opendpg"]["superlink_requests_per_round"] > 0
    assert report["reaction"]["jobs"] == 3 and report["reaction"]["p50_ms"] > 0
    assert [(r["providers"], r["engine"]) for r in report["scale"]] == [(3, "opendpg")]  # stock: in the overhead
    assert all(r["gas_per_round"] > 0 for r in report["scale"])
    assert [r["nodes"] for r in report["idle"]] == [3] and all(r["superlink_pct"] > 0 for r in report["idle"])
    assert 0 < report["quality"]["federated"] <= 1 and 0 < report["quality"]["centralized"] <= 1
