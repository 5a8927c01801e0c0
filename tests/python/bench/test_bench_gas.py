"""The gas benchmark keeps working: its smoke version runs, meets the targets, and writes its JSON."""

import json

import pytest

from tests.python.bench.runner import run_bench


@pytest.mark.timeout(900)  # above run_bench's own limit: it stops what it started first
def test_gas_bench_smoke(tmp_path):
    out = tmp_path / "gas.json"
    result = run_bench("bench_gas.py", "--smoke", "--out", str(out), timeout=600)

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    actions = {row["action"]: row for row in report["actions"]}
    for action in ("postJob", "joinJob", "submitUpdate", "claim", "commitRound"):
        assert actions[action]["ok"] and actions[action]["max"] <= report["targets"][action]
    assert report["commit_round_spread"] <= 1_000
    assert "all targets met" in result.stdout
