"""`opendpg verify` against real chain + kubo: an honest round passes; a wrong aggregate or a swapped
update is caught and the command exits non-zero."""

import hashlib
import os
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

from opendpg.audit import verify_job
from opendpg.chain import Capabilities, Chain, JobParams
from opendpg.content import KuboStore
from opendpg.fl import Contribution, aggregate, decode_update, encode_update
from opendpg.spec import parse_spec
from tests.python.conftest import E18, as_account

SPEC = parse_spec({"name": "audit", "model": {"name": "mlp", "hidden_units": 4},
                   "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"}, "training": {"rounds": 2},
                   "providers": {"min": 2, "max": 2}})


def _update(job_id, round_, provider, seed):
    rng = np.random.default_rng(seed)
    tensors = OrderedDict([("w", rng.standard_normal((3, 2)).astype(np.float32))])
    return encode_update(tensors, {"job": job_id, "round": round_, "provider": provider, "num_examples": seed + 1})


@pytest.fixture(scope="module")
def audited_job(admin, accounts, kubo):
    """Round 1 committed honestly; round 2 committed with a wrong aggregate."""
    store = KuboStore(kubo.api_url)
    providers, coordinator, poster = accounts[24:26], accounts[26], accounts[27]
    for acct in [*providers, coordinator, poster]:
        admin.token.transfer(acct.address, 1_000 * E18)
    for node in [*providers, coordinator]:
        as_account(admin, node).registry.register(Capabilities("CPU", 0, 1, 1024, "x", [], ""), 100 * E18)
    now = admin.w3.eth.get_block("latest")["timestamp"]
    job_id = as_account(admin, poster).market.post_job(JobParams(
        store.put(SPEC.to_bytes()), admin.token.address, 40 * E18, 10 * E18, 2, 2, 2, 0, now + 3600, 600,
        coordinator.address))
    for p in providers:
        as_account(admin, p).market.join_job(job_id)
    coord = as_account(admin, coordinator).market
    coord.start_job(job_id)
    for round_ in (1, 2):
        contributions = []
        for i, p in enumerate(providers):
            data = _update(job_id, round_, p.address, 10 * round_ + i)
            as_account(admin, p).market.submit_update(job_id, round_, hashlib.sha256(data).digest(), store.put(data))
            u = decode_update(data)
            contributions.append(Contribution(p.address, int(u.meta["num_examples"]), u.tensors))
        tensors = aggregate(contributions)
        used = sorted((p.address for p in providers), key=str.lower)
        if round_ == 2:  # a dishonest coordinator: scales the model
            tensors = OrderedDict((k, v * 2) for k, v in tensors.items())
        global_model = encode_update(tensors, {"job": job_id, "round": round_, "kind": "global", "used": used,
                                                "rule": "fedavg"})
        coord.commit_round(job_id, round_, hashlib.sha256(global_model).digest(), store.put(global_model), [0, 1])
    return job_id


def test_verify_passes_honest_rounds_and_catches_a_wrong_aggregate(admin, audited_job, kubo):
    verdicts = verify_job(Chain.reader(admin.w3, admin.deployment), KuboStore(kubo.api_url), audited_job)
    assert [(v.round, v.ok) for v in verdicts] == [(1, True), (2, False)]
    assert "not the aggregate of the used updates" in verdicts[1].problems[0]


def test_verify_command_exits_non_zero_on_mismatch(anvil, admin, audited_job, kubo, tmp_path):
    admin.deployment.save(tmp_path / "deployment.json")
    result = subprocess.run(
        [sys.executable, "-m", "opendpg.cli.main", "verify", str(audited_job), "--deployment",
         str(tmp_path / "deployment.json"), "--ipfs-api", kubo.api_url],
        capture_output=True, text=True, env={**os.environ, "OPENDPG_RPC_URL": anvil.rpc_url}, timeout=120)
    assert result.returncode == 1, result.stderr
    assert f"job {audited_job} round 1: OK" in result.stdout
    assert f"job {audited_job} round 2: MISMATCH" in result.stdout
