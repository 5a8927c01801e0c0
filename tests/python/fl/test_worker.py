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


def _digits_spec():
    from opendpg.spec import parse_spec

    return parse_spec({
        "name": "digits", "model": {"name": "mlp", "hidden_units": 16},
        "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"},
        "training": {"rounds": 1, "local_epochs": 1, "batch_size": 32, "learning_rate": 0.1},
        "providers": {"min": 2, "max": 2},
    })


def test_a_job_prepared_at_start_is_not_read_again_by_its_first_message(tmp_path, caplog):
    # Prepare: the job's spec as the agent writes it, and this node's config
    from opendpg.fl.flower_app import client
    from opendpg.fl.worker import prepare_job

    spec = _digits_spec()
    spec_file = tmp_path / "job-spec.json"
    spec_file.write_bytes(spec.to_bytes())
    node = {"provider": "0x1", "share-index": 1, "share-count": 2}
    node_config = 'provider="0x1" share-index=1 share-count=2'  # as the SuperNode is given it
    client._records.cache_clear()

    # Execute: prepared at start, then the first message's lookup (the run's spec text, as the coordinator sends it)
    with caplog.at_level("INFO"):
        assert prepare_job(spec_file, node_config)
        data = client._data_of(spec.to_bytes().decode(), node)

    # Assert: the records were read once, by the preparation
    assert client._records.cache_info().misses == 1 and client._records.cache_info().hits == 1
    assert caplog.text.count("read this provider's records for the job") == 1
    assert len(data.y_train) > 0


def test_a_job_that_cannot_be_prepared_is_logged_and_left_to_its_first_message(tmp_path, caplog):
    from opendpg.fl.worker import prepare_job

    spec_file = tmp_path / "job-spec.json"
    spec_file.write_bytes(_digits_spec().to_bytes())
    with caplog.at_level("INFO"):
        assert not prepare_job(spec_file, 'provider="0x1" share-index=5 share-count=2')
    assert "could not load the job's model and records before its first message" in caplog.text
