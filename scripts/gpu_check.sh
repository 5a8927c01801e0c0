#!/usr/bin/env bash
# A short, self-contained GPU benchmark: fine-tune a ViT through OpenDPG's training path, full and with LoRA, on
# CUDA (when present) and on the CPU; prints samples/s and peak memory (see scripts/gpu_check.py). Needs only the
# project's virtual environment (make setup); nothing is downloaded. Extra arguments go to the script, e.g.
#   scripts/gpu_check.sh --sizes small --steps 50
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || { echo "no $PYTHON: run 'make setup' first (or set PYTHON)" >&2; exit 2; }
HF_HUB_OFFLINE=1 exec "$PYTHON" scripts/gpu_check.py "$@"
