"""Flower links as providers meet them: TLS to a SuperLink whose certificate they check, SuperNodes admitted by
registered node keys only, the Control API out of their reach, and a warm ClientApp worker process (``worker =
"process"``) replaced when it dies mid-task. Real processes: the OpenDPG SuperLink, SuperNodes with warm worker
processes, ``flwr run``."""

import datetime
import json
import os
import signal
import ssl
import threading
import time

import httpx
import psutil
import pytest

from opendpg.fl.federation import Federation, SuperNodeLink, start_supernode
from opendpg.fl.nodekeys import derive_node_key, load_or_create_node_key, public_key_text, write_node_key
from opendpg.fl.tls import TlsError, check_endpoint, ensure_tls
from opendpg.spec import parse_spec

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes

PROVIDERS = [f"0x{i + 1:040x}" for i in range(3)]
A, B, C = PROVIDERS
ROUNDS = 3


def _worker_pids(supernode: psutil.Process) -> list[int]:
    return [p.pid for p in supernode.children() if "opendpg.fl.worker" in " ".join(p.cmdline())]


def _wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("links")
    spec = parse_spec({
        "name": "digits", "model": {"name": "mlp", "hidden_units": 64},
        "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"},
        "training": {"rounds": ROUNDS, "local_epochs": 3, "batch_size": 16, "learning_rate": 0.05},
        "providers": {"min": 1, "max": 3}})
    seen = {"workers": {}, "intruder_exit": None, "wrong_ca_alive": None}
    with Federation(root / "flwr", node_auth=True, threads=1, worker="process") as fed:
        control = fed.control()
        node_ids = {}
        for i, provider in enumerate(PROVIDERS):
            long_term = load_or_create_node_key(root / "keys" / f"{i}.key")
            label = b"job-5"  # what the coordinator derives from the chain; any bytes here
            public = public_key_text(derive_node_key(long_term, label))
            node_ids[provider] = control.register(public, provider)
            fed.start_supernode(provider, {"provider": provider, "share-index": i, "share-count": 3,
                                           "outbox": str(root / f"outbox-{i}")},
                                node_key=write_node_key(root / "keys" / f"{i}-job-5.key",
                                                        derive_node_key(long_term, label)))
        intruder = fed.start_supernode("intruder", {"provider": "0xbad", "outbox": str(root / "outbox-x")},
                                       node_key=write_node_key(root / "keys" / "x.key",
                                                               load_or_create_node_key(root / "keys" / "x0.key")))
        other_ca = ensure_tls(root / "other-tls", ["127.0.0.1"], subject="someone else")
        wrong_ca = start_supernode(fed.home, fed.address, "wrong-ca", {"provider": "0xca", "outbox": str(root)},
                                   SuperNodeLink(other_ca.ca_cert, root / "keys" / "0-job-5.key"))
        supernode_a = psutil.Process(fed.supernodes[A].pid)
        _wait_for(lambda: _worker_pids(supernode_a), 30, "A's worker")
        # the spec needs one provider: the round starts with whoever is connected, so all three connect first
        _wait_for(lambda: {n.name for n in control.nodes() if n.status == "online"} >= set(PROVIDERS), 300,
                  "the three providers' SuperNodes online")
        seen["workers"]["before"] = _worker_pids(supernode_a)

        def interfere():
            out = root / "out"
            _wait_for(lambda: (out / "round-1.json").exists(), 300, "round 1")
            control.unregister(node_ids[C])  # C leaves the job: the SuperLink refuses it from now on
            task = fed.home / f"supernode-{A}" / "task.json"
            _wait_for(task.exists, 300, "A's worker to take its round-2 task")
            os.kill(seen["workers"]["before"][0], signal.SIGKILL)  # A's worker dies mid-task
            seen["killed_at"] = datetime.datetime.now()

        helper = threading.Thread(target=interfere)
        helper.start()
        fed.run({"spec": spec.to_bytes().decode(), "job-id": 5, "out-dir": str(root / "out"),
                 "round-timeout": 120.0})
        helper.join()
        seen["workers"]["after"] = _worker_pids(supernode_a)
        seen["intruder_exit"] = intruder.poll()
        seen["wrong_ca_alive"] = wrong_ca.poll() is None
        seen["nodes"] = {n.name: n.status for n in control.nodes()}
        trust = ssl.create_default_context(cafile=str(fed.root_ca))
        seen["fleet"] = {path: httpx.post(f"https://{fed.address}{path}", verify=trust, content=b"")
                         .status_code for path in ("/v1/control/list-nodes", "/v1/runtime/get-nodes",
                                                   "/v1/control/register-node")}
        with pytest.raises(TlsError) as refused:
            check_endpoint(fed.address, other_ca.ca_pem())
        seen["check_other_ca"] = str(refused.value)
        check_endpoint(fed.address, fed.root_ca.read_text())  # the right CA: no error
        wrong_ca.kill()
    records = [json.loads((root / "out" / f"round-{r}.json").read_text()) for r in range(1, ROUNDS + 1)]
    return root, records, seen


def test_registered_providers_train_and_a_removed_one_is_refused(run):
    _, records, seen = run
    assert records[0]["used"] == PROVIDERS
    assert C not in records[1]["used"] and C not in records[2]["used"]
    assert seen["nodes"][C] == "unregistered"


def test_a_worker_that_dies_mid_task_is_replaced_and_trains_the_round_again(run):
    root, records, seen = run
    assert records[1]["used"] == [A, B]  # A's round-2 message was answered "crashed" and sent to the fresh worker
    assert records[2]["used"] == [A, B]
    assert seen["workers"]["after"] and seen["workers"]["after"] != seen["workers"]["before"]
    log = (root / "flwr" / f"supernode-{A}.log").read_text().splitlines()
    answered = [line for line in log if 'its message is answered "ClientApp crashed"' in line]
    assert len(answered) == 1
    # at once, not after the minute Flower waits for a task's heartbeat to lapse
    at = datetime.datetime.strptime(answered[0][:23], "%Y-%m-%d %H:%M:%S,%f")
    assert (at - seen["killed_at"]).total_seconds() < 10


def test_one_worker_process_serves_every_message(run):
    root, _, _ = run
    lines = (root / "flwr" / f"supernode-{B}" / "worker.log").read_text().splitlines()
    done = [line for line in lines if "task done" in line]
    assert len(done) == 2 * ROUNDS  # a train and an evaluate message per round
    assert sum("worker ready" in line for line in lines) == 1  # started once, for all of them


def test_an_unregistered_key_is_refused(run):
    root, records, seen = run
    assert seen["intruder_exit"] is not None  # it gave up
    assert "Failed to activate SuperNode" in (root / "flwr" / "supernode-intruder.log").read_text()
    assert all("0xbad" not in r["used"] for r in records)
    assert "intruder" not in seen["nodes"]


def test_a_supernode_trusting_another_ca_refuses_the_superlink(run):
    root, records, seen = run
    assert all("0xca" not in r["used"] for r in records)
    assert "certificate verify failed" in (root / "flwr" / "supernode-wrong-ca.log").read_text()
    assert not seen["wrong_ca_alive"]
    assert "presented a certificate the published CA does not vouch for" in seen["check_other_ca"]


def test_the_fleet_listener_serves_nothing_but_the_fleet_api(run):
    _, _, seen = run
    assert seen["fleet"] == {"/v1/control/list-nodes": 404, "/v1/runtime/get-nodes": 404,
                             "/v1/control/register-node": 404}
