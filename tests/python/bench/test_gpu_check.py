"""The GPU check keeps working where there is no GPU: its smallest size fine-tunes on the CPU, full and with LoRA,
through the training path jobs use, and reports speed, memory and what each mode trains and ships."""

import json

import pytest

from tests.python.bench.runner import run_bench


@pytest.mark.timeout(600)
def test_gpu_check_smoke_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    result = run_bench("gpu_check.py", "--sizes", "small", "--cpu-steps", "1", "--batch", "4", "--out", str(out),
                       timeout=500)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {row["mode"]: row for row in json.loads(out.read_text()) if row["device"].startswith("cpu")}
    assert set(rows) == {"full", "lora"}
    assert all(row["samples_per_s"] > 0 and row["peak_memory_mib"] > 0 for row in rows.values())
    assert rows["lora"]["trainable_parameters"] * 10 < rows["full"]["trainable_parameters"]
    assert rows["lora"]["update_mib"] * 10 < rows["full"]["update_mib"]
