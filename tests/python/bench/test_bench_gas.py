"""The gas benchmark keeps working: its smoke version runs, meets the targets, and writes its JSON."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_gas_bench_smoke(tmp_path):
    out = tmp_path / "gas.json"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_gas.py"), "--smoke", "--out", str(out)],
                            capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    actions = {row["action"]: row for row in report["actions"]}
    for action in ("postJob", "joinJob", "submitUpdate", "claim", "commitRound"):
        assert actions[action]["ok"] and actions[action]["max"] <= report["targets"][action]
    assert report["commit_round_spread"] <= 1_000
    assert "all targets met" in result.stdout
