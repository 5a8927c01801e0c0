"""The gateway benchmark keeps working: its smoke version posts jobs under concurrent load on real components
(anvil, kubo, the gateway process), waiting for each job and with 202 answers, and its accounting matches every
2xx with exactly one on-chain job."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_gateway_bench_smoke(tmp_path):
    out = tmp_path / "gateway.json"

    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_gateway.py"), "--smoke", "--out", str(out),
                             "--work", str(tmp_path / "work")], capture_output=True, text=True, timeout=600)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["raw"]["tx_per_s"] > 0
    for mode in ("sync", "async"):  # waiting for the job, and answered 202 then followed
        run = report[mode]
        assert run["posted"] > 0 and run["jobs_per_s"] > 0
        accounting = run["accounting"]
        assert accounting["ok"] and accounting["answered_2xx"] == accounting["on_chain"] == run["posted"]
        assert run["reads"]["list"]["requests"] > 0
