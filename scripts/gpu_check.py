"""GPU check (``scripts/gpu_check.sh``): fine-tune a ViT for a fixed number of steps through OpenDPG's own training
path (``opendpg.fl.train.train_local``: the batch on the device, bf16 autocast on CUDA, pinned-memory loading),
full and with LoRA, on CUDA when present and on the CPU, and print samples per second and peak memory.

Each device runs in its own process (the CPU one with ``CUDA_VISIBLE_DEVICES=""``, since the training path picks
CUDA whenever it sees one). The records are random: the check measures speed and memory, not accuracy. Nothing is
downloaded; the model is built from its configuration.

Sizes: ``small`` (a 4-layer ViT, 32x32 images: seconds on a CPU) and ``base`` (ViT-Base/16 at 224x224, 86 M
parameters: the size of an open image model a consortium would fine-tune; slow on a CPU, so fewer CPU steps)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

SIZES: dict[str, dict[str, Any]] = {
    "small": {"image": 32, "config": {"hidden_size": 192, "num_hidden_layers": 4, "num_attention_heads": 3,
                                      "intermediate_size": 768, "patch_size": 4}},
    "base": {"image": 224, "config": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                                      "intermediate_size": 3072, "patch_size": 16}},
}
LORA = {"rank": 8, "alpha": 16, "target_modules": ["q_proj", "v_proj"], "modules_to_save": ["classifier"]}
CLASSES = 10


def _spec(size: str, lora: bool, batch: int) -> Any:
    from opendpg.spec import parse_spec

    image = SIZES[size]["image"]
    model: dict[str, Any] = {"name": "transformers/vit", "config": SIZES[size]["config"]}
    if lora:
        model["lora"] = LORA
    return parse_spec({
        "name": "gpu check", "model": model, "providers": {"min": 1, "max": 1},
        "dataset": {"asset": 1, "data_schema": {"modality": "image", "formats": ["image-folder"],
                                                "image": {"width": image, "height": image, "channels": 3},
                                                "label": {"classes": [str(c) for c in range(CLASSES)]}}},
        "training": {"rounds": 1, "local_epochs": 1, "batch_size": batch, "learning_rate": 0.01}})


def measure(size: str, lora: bool, steps: int, batch: int) -> dict[str, Any]:
    """One fine-tuning run in this process: a warm-up step, then ``steps`` steps of ``batch`` records."""
    import numpy as np
    import torch

    from opendpg.fl.models import build_model, device, get_weights
    from opendpg.fl.train import train_local

    spec = _spec(size, lora, batch)
    image = SIZES[size]["image"]
    model = build_model(spec.model, (3, image, image), CLASSES, seed=0)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    rng = np.random.default_rng(0)
    records = steps * batch
    x = rng.random((records, 3, image, image), dtype=np.float32)
    y = rng.integers(0, CLASSES, records)
    dev = device()
    weights = get_weights(model)
    train_local(model, weights, x[:batch], y[:batch], spec, seed=0)  # warm-up: kernels, allocator, lazy imports
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    _, loss = train_local(model, weights, x, y, spec, seed=1)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak = (torch.cuda.max_memory_allocated() if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    update_bytes = sum(v.nbytes for v in get_weights(model).values())
    return {"device": torch.cuda.get_device_name() if dev.type == "cuda" else f"cpu ({os.cpu_count()} cores)",
            "size": size, "mode": "lora" if lora else "full", "steps": steps, "batch": batch,
            "samples_per_s": records / seconds, "seconds": seconds, "peak_memory_mib": peak / 2**20,
            "peak_memory_kind": "CUDA allocated" if dev.type == "cuda" else "process RSS",
            "trainable_parameters": trainable, "parameters": total, "update_mib": update_bytes / 2**20,
            "loss": loss}


def _run(device: str, size: str, lora: bool, steps: int, batch: int) -> dict[str, Any]:
    env = dict(os.environ)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    out = subprocess.run([sys.executable, __file__, "--one", size, "lora" if lora else "full", str(steps),
                          str(batch)], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{device} {size} {'lora' if lora else 'full'} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        size, mode, steps, batch = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        print(json.dumps(measure(size, mode == "lora", steps, batch)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="small,base", help="model sizes to run (small, base)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps on CUDA")
    parser.add_argument("--cpu-steps", type=int, default=3, help="timed steps on the CPU")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out", default="", help="also write the results as JSON here")
    args = parser.parse_args()
    import torch

    devices = (["cuda"] if torch.cuda.is_available() else []) + ["cpu"]
    if devices == ["cpu"]:
        print("no CUDA device here: CPU only")
    results = []
    for size in args.sizes.split(","):
        if size not in SIZES:
            parser.error(f"--sizes: {size!r} is not one of {sorted(SIZES)}")
        for device in devices:
            for lora in (False, True):
                steps = args.steps if device == "cuda" else args.cpu_steps
                row = _run(device, size, lora, steps, args.batch)
                results.append(row)
                print(f"{row['device']:>28} | {size:5} | {row['mode']:4} | {row['samples_per_s']:9.1f} samples/s | "
                      f"peak {row['peak_memory_mib']:8.0f} MiB ({row['peak_memory_kind']}) | trains "
                      f"{row['trainable_parameters']:,} of {row['parameters']:,} parameters | update "
                      f"{row['update_mib']:.2f} MiB", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
