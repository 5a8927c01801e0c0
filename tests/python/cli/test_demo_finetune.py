"""`opendpg demo-finetune` as a user runs it: a base model certified as a DPG asset, fine-tuned with federated
LoRA by three provider agents on their own PNG files through a gateway-posted job, verified and downloaded as a
merged checkpoint."""

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes


@pytest.mark.timeout(1500)
def test_the_finetuning_demo_improves_the_base_model_and_ships_only_adapters(tmp_path):
    # Execute
    result = subprocess.run([sys.executable, "-m", "opendpg.cli.main", "demo-finetune", "--rounds", "2",
                             "--state-dir", str(tmp_path / "demo")],
                            capture_output=True, text=True, timeout=1400)

    # Assert: it finished and verified; fine-tuning beat the base's fresh head by far; the downloaded checkpoint
    # scores as the last round's model; LoRA updates are several times smaller than the full model's
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert "certified until" in out and "job 1: FINISHED, 2 rounds; verify: all rounds verified" in out
    summary = re.search(r"held-out accuracy on digits 5-9: ([\d.]+) before fine-tuning, ([\d.]+), ([\d.]+) after "
                        r"rounds 1-2; the downloaded checkpoint ([\d.]+)", out)
    assert summary is not None, out[-3000:]
    before, _, last, checkpoint = (float(v) for v in summary.groups())
    assert before < 0.35 and last > before + 0.25
    assert abs(checkpoint - last) <= 0.012  # merged weights round differently: at most two of ~180 images flip
    sizes = re.search(r"each provider sent ([\d,]+) bytes per round .* would send ([\d,]+) bytes", out)
    assert sizes is not None
    lora, full = (int(v.replace(",", "")) for v in sizes.groups())
    assert full > 4 * lora
    assert (tmp_path / "demo" / "finetuned" / "model.safetensors").is_file()
