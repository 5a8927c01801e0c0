"""The benchmark of training on holders' own files keeps working: its smoke version runs every job (tabular and
image from files, DP-SGD at two noise levels, the simulation for comparison, full and LoRA fine-tuning of a base
model) on Flower and writes its report."""

import json

import pytest

from tests.python.bench.runner import run_bench

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes


@pytest.mark.timeout(1200)  # above run_bench's own limit: it stops what it started first
def test_data_bench_smoke(tmp_path):
    out = tmp_path / "data.json"
    result = run_bench("bench_data.py", "--smoke", "--out", str(out), "--work", str(tmp_path / "work"), timeout=900)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    for case in ("tabular", "image"):
        quality = report["quality"][case]
        assert 0 < quality["federated"] <= 1 and 0 < quality["centralized"] <= 1
        assert quality["ratio"] == pytest.approx(quality["federated"] / quality["centralized"])
        assert sum(quality["records"]) > 0
    noisier = report["dp"][1]
    assert [d["noise_multiplier"] for d in report["dp"]] == [0.8, 1.5]
    assert 0 < noisier["epsilon"] < report["dp"][0]["epsilon"]  # more noise, less privacy spent
    assert report["round_time"]["own_files"] > 0 and report["round_time"]["simulation"] > 0
    # fine-tuning the same base model: LoRA ships several times fewer bytes than full fine-tuning
    full, lora = report["quality"]["finetune_full"], report["quality"]["finetune_lora"]
    assert 0 < lora["update_bytes"] * 4 < full["update_bytes"]
    assert report["finetune"]["bytes_ratio_full_vs_lora"] == pytest.approx(full["update_bytes"] / lora["update_bytes"])
    assert all(0 < q["federated"] <= 1 and q["s_per_round"] > 0 for q in (full, lora))
