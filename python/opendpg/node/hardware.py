"""What this machine has to offer, read from the machine itself: its GPU (model and memory, from the NVIDIA
driver's ``nvidia-smi``) so that the capabilities a node registers, and the join policy's check of a job's
``resources.gpu_memory_mib``, rest on the hardware rather than on what a config file claims."""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass

__all__ = ["Gpu", "detect_gpu", "parse_nvidia_smi"]

QUERY = ["--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]


@dataclass(frozen=True)
class Gpu:
    """The machine's GPUs: the first one's model and memory (what one training process gets) and how many."""

    model: str
    memory_mib: int
    count: int


def parse_nvidia_smi(output: str) -> Gpu | None:
    """The GPUs in ``nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`` output (one
    ``name, MiB`` line per GPU); None for no line."""
    rows = []
    for line in output.strip().splitlines():
        name, _, memory = line.rpartition(",")
        if name.strip() and memory.strip().isdigit():
            rows.append((name.strip(), int(memory.strip())))
    if not rows:
        return None
    return Gpu(model=rows[0][0], memory_mib=rows[0][1], count=len(rows))


@functools.cache
def detect_gpu() -> Gpu | None:
    """This machine's NVIDIA GPUs as the driver reports them; None without a driver or a GPU (read once)."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        done = subprocess.run([tool, *QUERY], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_nvidia_smi(done.stdout) if done.returncode == 0 else None
