"""The provider agent on a live chain: a job it joined that its coordinator never starts is cancelled once the
start deadline passed, so the stake it locked does not stay locked."""

import pytest

from opendpg.agent.config import AgentConfig
from opendpg.agent.daemon import ProviderAgent, _JobState
from opendpg.chain import JobParams, JobState
from tests.python.conftest import E18, as_account, job_parties

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes


def test_a_joined_job_never_started_is_cancelled_after_its_start_deadline(admin, anvil, deployment, tmp_path):
    # Prepare: a fresh provider joined a job whose coordinator never starts it
    provider, poster, coordinator = job_parties(admin)
    as_provider = as_account(admin, provider)
    now = int(admin.w3.eth.get_block("latest")["timestamp"])
    job_id = as_account(admin, poster).market.post_job(JobParams(
        "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", admin.token.address, 20 * E18, 10 * E18, 1,
        1, 2, 50 * E18, now + 120, 60, coordinator.address))
    as_provider.market.join_job(job_id)
    (tmp_path / "key").write_text(provider.key.hex())
    deployment.save(tmp_path / "deployment.json")
    config = AgentConfig.model_validate({
        "name": "p", "state_dir": str(tmp_path / "state"), "key_file": str(tmp_path / "key"),
        "chain": {"rpc_url": anvil.rpc_url, "deployment_file": str(tmp_path / "deployment.json")},
        "data": {"sklearn/digits": {"share_index": 0, "share_count": 1}}})
    agent = ProviderAgent(config)
    agent.jobs[job_id] = _JobState("joined")  # as its watcher records a join
    locked = as_provider.registry.stake_of(provider.address)["locked"]

    # Execute: before the start deadline nothing happens; after it, the agent cancels
    early = agent.cancel_unstarted(now=now + 100)
    anvil.increase_time(200)
    chain_now = int(admin.w3.eth.get_block("latest")["timestamp"])
    late = agent.cancel_unstarted(now=chain_now)

    # Assert
    assert early == [] and late == [job_id]
    assert locked == 50 * E18 and as_provider.registry.stake_of(provider.address)["locked"] == 0
    assert admin.market.get_job(job_id).state == JobState.CANCELLED
    assert as_provider.market.refundable(job_id) == 20 * E18  # the poster gets its escrow back
    assert agent.cancel_unstarted(now=chain_now) == []  # once
