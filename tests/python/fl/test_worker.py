"""The warm ClientApp worker: as a process it ends with its SuperNode (when the SuperNode dies while the worker is
reconnecting to its Runtime API, it exits within seconds instead of retrying as an orphan); inside the SuperNode it
makes the Runtime API's calls on the SuperNode's state, checked by task token as over HTTP."""

import subprocess
import sys
import time

import pytest

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


def test_in_process_calls_need_the_token_of_a_task_the_supernode_handed_out():
    # Prepare: a SuperNode's state with no task claimed
    from flwr.proto.runtime_pb2 import AcquireTaskRequest, PullTaskInputRequest
    from flwr.supercore.constant import TaskType
    from flwr.supercore.error import FlowerError
    from flwr.supercore.object_store import ObjectStoreFactory
    from flwr.supernode.nodestate import NodeStateFactory

    from opendpg.fl.worker import LocalRuntime

    runtime = LocalRuntime(NodeStateFactory(ObjectStoreFactory()))

    # Execute / Assert: nothing to acquire; a made-up token and no token are refused as the HTTP API refuses them
    acquired = runtime(None).AcquireTask(AcquireTaskRequest(supported_task_types=[TaskType.CLIENT_APP]))
    assert not acquired.HasField("task") and not acquired.token
    for token in ("made-up", None):
        with pytest.raises(FlowerError, match="task-token authentication failed"):
            runtime(token).PullTaskInput(PullTaskInputRequest())
