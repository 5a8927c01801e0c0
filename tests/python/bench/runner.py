"""Running a benchmark script from a test so that nothing it started outlives it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from opendpg.process import stop_process_group

__all__ = ["run_bench"]

ROOT = Path(__file__).resolve().parents[3]


def run_bench(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/<script>`` in a session of its own. If it outlives ``timeout``, or the test is interrupted
    (pytest's own timeout, Ctrl-C), it gets SIGTERM, on which it stops every chain, kubo and daemon it started,
    and SIGKILL a minute later if it is still there; then the error goes on."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        stop_process_group(proc, timeout=60)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
