"""The warm ClientApp worker ends with its SuperNode: when the SuperNode dies while the worker is reconnecting to
its Runtime API (Flower's retry loop), the worker exits within seconds instead of retrying as an orphan."""

import subprocess
import sys
import time

from opendpg.process import free_port


def test_a_worker_ends_when_its_supernode_is_gone(tmp_path):
    # Prepare: a stand-in parent process and a worker whose Runtime API is not there (it keeps reconnecting)
    parent = subprocess.Popen(["sleep", "600"])
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "opendpg.fl.worker", "--runtime-api-address",
                                   f"127.0.0.1:{free_port()}", "--parent-pid", str(parent.pid)],
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while b"Connection attempt failed" not in log.read_bytes():
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)

        # Execute: the parent dies
        parent.kill()
        parent.wait()

        # Assert: the worker is gone within seconds (its SIGINT, or the exit after the grace period)
        assert worker.wait(timeout=30) == 0
    finally:
        for proc in (worker, parent):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
