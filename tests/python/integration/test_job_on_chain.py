"""A job end to end on real components: anvil, kubo, the contracts, Flower's Deployment Engine.

Providers' updates are pinned and their hashes submitted on-chain from the outbox; the coordinator's gate
aggregates only updates whose hash is on-chain, pins each global model and commits it; then the job is
finalized and the providers are paid.
"""

import hashlib
import json
import threading

import pytest

from opendpg.agent import Outbox
from opendpg.audit import verify_job
from opendpg.chain import Capabilities, Chain, JobParams, JobState
from opendpg.content import KuboDaemon, KuboStore
from opendpg.fl.federation import Federation
from opendpg.spec import parse_spec
from tests.python.conftest import E18, as_account

ROUNDS = 2


@pytest.fixture(scope="module")
def kubo(tmp_path_factory):
    with KuboDaemon(tmp_path_factory.mktemp("kubo") / "repo") as daemon:
        yield daemon


def test_job_trains_federatedly_with_every_hash_on_chain(anvil, admin, deployment, accounts, kubo, tmp_path):
    # Prepare: three staked providers, a staked coordinator, a poster with a budget, the spec on IPFS
    providers, coordinator, poster = accounts[35:38], accounts[38], accounts[39]
    store = KuboStore(kubo.api_url)
    for acct in [*providers, coordinator, poster]:
        admin.token.transfer(acct.address, 1_000 * E18)
    for node in [*providers, coordinator]:
        as_account(admin, node).registry.register(
            Capabilities("CPU", 0, 2, 4096, "local", ["sklearn/digits"], ""), 100 * E18)
    spec = parse_spec({
        "name": "digits, label-skewed", "model": {"name": "mlp", "hidden_units": 32},
        "dataset": {"catalog_id": "sklearn/digits", "partition": "label-skew", "labels_per_provider": 4},
        "training": {"rounds": ROUNDS, "local_epochs": 2, "batch_size": 32, "learning_rate": 0.1},
        "providers": {"min": 3, "max": 3},
    })
    spec_cid = store.put(spec.to_bytes())
    now = admin.w3.eth.get_block("latest")["timestamp"]
    job_id = as_account(admin, poster).market.post_job(JobParams(
        spec_cid, admin.token.address, 10 * E18 * ROUNDS * 3, 10 * E18, ROUNDS, 3, 3, 10 * E18, now + 3600, 600,
        coordinator.address))
    for p in providers:
        as_account(admin, p).market.join_job(job_id)
    as_account(admin, coordinator).market.start_job(job_id)
    deployment_file = tmp_path / "deployment.json"
    deployment.save(deployment_file)

    outboxes = [Outbox(tmp_path / f"outbox-{i}", as_account(admin, p), store) for i, p in enumerate(providers)]
    stop = threading.Event()

    def submit_loop(outbox: Outbox) -> None:
        while not stop.is_set():
            outbox.submit_pending(job_id)
            stop.wait(0.1)

    threads = [threading.Thread(target=submit_loop, args=(o,), daemon=True) for o in outboxes]

    # Execute: the federation runs the job; the providers' outboxes submit as updates appear
    federation = Federation(tmp_path / "flwr", superlink_env={"OPENDPG_PRIVATE_KEY": coordinator.key.hex()})
    with federation:
        for i, p in enumerate(providers):
            federation.start_supernode(p.address, {"provider": p.address, "share-index": i, "share-count": 3,
                                                   "outbox": str(outboxes[i].root)})
        for t in threads:
            t.start()
        federation.run({"spec": spec.to_bytes().decode(), "job-id": job_id, "out-dir": str(tmp_path / "out"),
                        "gate": "opendpg.coordinator.gate:ChainGate", "rpc-url": anvil.rpc_url,
                        "deployment-file": str(deployment_file), "state-dir": str(tmp_path / "coordinator"),
                        "ipfs-api": kubo.api_url})
    stop.set()
    for t in threads:
        t.join()

    # Assert: every update and every round is on-chain, matches the bytes, and is retrievable from IPFS
    job = admin.market.get_job(job_id)
    assert job.committed_rounds == ROUNDS
    for r in range(1, ROUNDS + 1):
        for i, p in enumerate(providers):
            update = (outboxes[i].root / str(job_id) / f"round-{r}.update").read_bytes()
            assert admin.market.update_hash_of(job_id, r, p.address) == hashlib.sha256(update).digest()
        global_model = (tmp_path / "out" / f"round-{r}.global").read_bytes()
        global_hash, used = admin.market.round_of(job_id, r)
        assert global_hash == hashlib.sha256(global_model).digest() and used == 0b111
        record = json.loads((tmp_path / "coordinator" / f"job-{job_id}" / f"round-{r}.json").read_text())
        assert store.get(record["cid"]) == global_model

    verdicts = verify_job(Chain.reader(admin.w3, deployment), store, job_id)
    assert [(v.round, v.ok) for v in verdicts] == [(r, True) for r in range(1, ROUNDS + 1)]

    as_account(admin, poster).market.finalize_job(job_id)
    earned = [as_account(admin, p).market.claim(job_id) for p in providers]
    assert earned == [ROUNDS * 10 * E18 * 99 // 100] * 3
    assert admin.market.get_job(job_id).state == JobState.FINISHED
