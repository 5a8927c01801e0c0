"""The gateway benchmark keeps working: its smoke version posts jobs under concurrent load on real components
(anvil, kubo, the gateway process), waiting for each job and with 202 answers, and its accounting matches every
2xx with exactly one on-chain job."""

import json

import pytest

from tests.python.bench.runner import run_bench

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes


@pytest.mark.timeout(1200)  # above run_bench's own limit: it stops what it started first
def test_gateway_bench_smoke(tmp_path):
    out = tmp_path / "gateway.json"

    result = run_bench("bench_gateway.py", "--smoke", "--out", str(out), "--work", str(tmp_path / "work"), timeout=900)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["raw"]["tx_per_s"] > 0
    for mode in ("sync", "async"):  # waiting for the job, and answered 202 then followed
        run = report[mode]
        assert run["posted"] > 0 and run["jobs_per_s"] > 0
        accounting = run["accounting"]
        assert accounting["ok"] and accounting["answered_2xx"] == accounting["on_chain"] == run["posted"]
        assert run["reads"]["list"]["requests"] > 0
