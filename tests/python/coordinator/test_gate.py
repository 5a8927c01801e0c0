"""The coordinator's round gate on a live chain: an update is accepted once its provider's hash for the round is
on-chain, however the submission falls between the gate's reads, and refused when the provider recorded another."""

import hashlib

import numpy as np
import pytest

from opendpg.chain import JobParams
from opendpg.coordinator.gate import ChainGate
from opendpg.fl.update import encode_update
from tests.python.conftest import E18, as_account, job_parties

CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


@pytest.fixture()
def running_job(admin, anvil, deployment, tmp_path, monkeypatch):
    """A started one-provider job; the gate of its coordinator; the provider's chain client."""
    provider, poster, coordinator = job_parties(admin)
    as_provider, as_coordinator = as_account(admin, provider), as_account(admin, coordinator)
    now = int(admin.w3.eth.get_block("latest")["timestamp"])
    job_id = as_account(admin, poster).market.post_job(JobParams(
        CID, admin.token.address, 20 * E18, 10 * E18, 2, 1, 1, 50 * E18, now + 600, 600, coordinator.address))
    as_provider.market.join_job(job_id)
    as_coordinator.market.start_job(job_id)
    deployment.save(tmp_path / "deployment.json")
    monkeypatch.setenv("OPENDPG_PRIVATE_KEY", coordinator.key.hex())
    gate = ChainGate({"rpc-url": anvil.rpc_url, "deployment-file": str(tmp_path / "deployment.json"),
                      "job-id": job_id, "state-dir": str(tmp_path / "gate"), "hash-wait": 20.0})
    return job_id, gate, as_provider, provider.address


def _update(provider: str, salt: int = 0) -> bytes:
    return encode_update({"w": np.full(3, salt, dtype=np.float32)}, {"provider": provider, "round": 1})


def test_a_hash_mined_between_the_gates_reads_is_accepted(running_job):
    # Prepare: the provider's submission lands right after the gate's first look for the hash
    job_id, gate, as_provider, provider = running_job
    update = _update(provider)
    market = gate.chain.market
    look_up = market.submitter_of
    looks = []

    def submitter_then_submission(*args):
        found = look_up(*args)
        looks.append(found)
        if len(looks) == 1:
            as_provider.market.submit_update(job_id, 1, hashlib.sha256(update).digest(), CID)
        return found

    market.submitter_of = submitter_then_submission

    # Execute
    accepted = gate.accept(provider, 1, update)

    # Assert: the first look found nothing, a later one found the provider's submission
    assert accepted and int(looks[0], 16) == 0 and len(looks) >= 2


def test_an_update_whose_hash_the_provider_did_not_record_is_refused(running_job):
    job_id, gate, as_provider, provider = running_job
    as_provider.market.submit_update(job_id, 1, hashlib.sha256(_update(provider, salt=1)).digest(), CID)
    assert not gate.accept(provider, 1, _update(provider, salt=2))
    assert gate.accept(provider, 1, _update(provider, salt=1))
