"""Certified jobs on a real chain and kubo: a job that requires a certified dataset and certified compute,
what the agents' admission check says before joining, a full job taking a certified node in place of an
uncertified one, the data holder's share, an expired certification blocking the start, and the provenance
record of the finished job."""

from __future__ import annotations

import json

import pytest

from opendpg.chain import Capabilities, JobParams, job_budget
from opendpg.dpg import parse_metadata
from opendpg.dpg.certification import Certification
from opendpg.dpg.market import admission, post_job, provenance, requirements_for, start_blocker
from opendpg.errors import ContractRevert
from opendpg.spec import parse_spec
from tests.python.conftest import past_dispute_window
from tests.python.dpg.test_checker import _example

DAY = 86_400
E18 = 10**18
SPEC = {"name": "certified digits", "model": {"name": "mlp"},
        "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"},
        "training": {"rounds": 1}, "providers": {"min": 1, "max": 2},
        "publication": {"licence": "Apache-2.0", "sdgs": [3, 4]}}


def _certify(dao, owner: int, **changes) -> int:
    """Register and certify an asset owned by ``dao.accounts[owner]`` (check, 50 M votes, two approvals)."""
    cert = {i: Certification(dao.as_(dao.accounts[i]), dao.store) for i in (owner, 1, 2, 3, 5, 6)}
    asset_id = cert[owner].register(parse_metadata(json.dumps(_example(**changes))))
    cert[1].attest(asset_id, cert[1].check(asset_id))
    cert[5].vote(asset_id, True)
    cert[6].vote(asset_id, True)
    dao.travel(dao.admin.dpg.settings()["voting_period"] + 1)
    cert[5].close_vote(asset_id)
    cert[2].decide(asset_id, True)
    cert[3].decide(asset_id, True)
    assert cert[owner].state(asset_id).certified
    return asset_id


@pytest.fixture(scope="module")
def nodes(dao):
    """accounts[9] coordinates; [10] and [11] provide (holding sklearn/digits); [4] provides without it."""
    for index, datasets in ((9, []), (10, ["sklearn/digits"]), (11, ["sklearn/digits"]), (4, ["other"])):
        dao.admin.token.transfer(dao.accounts[index].address, 1_000 * E18)
        dao.as_(dao.accounts[index]).registry.register(Capabilities("CPU", 0, 2, 4096, "eu", datasets), 100 * E18)
    return {"coordinator": dao.accounts[9], "a": dao.accounts[10], "b": dao.accounts[11], "c": dao.accounts[4]}


def _post(dao, spec: dict, poster: int = 8) -> int:
    chain = dao.as_(dao.accounts[poster])
    parsed = parse_spec(spec)
    cid = dao.store.put(parsed.to_bytes())
    reward = E18
    params = JobParams(cid, chain.token.address, job_budget(reward, 1, parsed.providers.max), reward, 1,
                       parsed.providers.min, parsed.providers.max, 10 * E18, dao.now() + 30 * DAY, 3_600,
                       dao.accounts[9].address)
    dao.admin.token.transfer(chain.sender.address, params.budget)
    return post_job(chain, params, parsed)


def test_a_certified_job_from_posting_to_provenance(dao, nodes):
    # Prepare: a certified dataset (owned by accounts[8]) and a job that requires it and certified compute
    dataset = _certify(dao, 8)
    spec = SPEC | {"certification": {"dataset_asset": dataset, "certified_compute_only": True}}
    assert requirements_for(parse_spec(spec)).dataset_asset == dataset
    job_id = _post(dao, spec)
    a, b, c = (dao.as_(nodes[k]) for k in "abc")

    # Execute: admission before and after node a's compute commitment is certified
    job = a.market.get_job(job_id)
    before = admission(a, job_id, job, nodes["a"].address)
    compute = _certify(dao, 10, name="node a: 2 CPU cores in eu", kind="compute_commitment", catalog_id=None)
    after = admission(a, job_id, job, nodes["a"].address)
    not_holding = admission(c, job_id, job, nodes["c"].address)
    a.market.join_job(job_id)
    with pytest.raises(ContractRevert, match="JobMarketComputeNotCertified"):
        b.market.join_job(job_id)
    coordinator = dao.as_(nodes["coordinator"])
    coordinator.market.start_job(job_id)
    a.market.submit_update(job_id, 1, bytes.fromhex("11" * 32), "bafkreiupdateupdateupdate")
    coordinator.market.commit_round(job_id, 1, bytes.fromhex("22" * 32), "bafkreiglobalglobalglobal", [0])
    past_dispute_window(coordinator.market, job_id)
    coordinator.market.finalize_job(job_id)
    holder_before = dao.admin.token.balance_of(dao.accounts[8].address)
    share = a.market.claim_data_share(job_id)
    record = provenance(a, dao.store, job_id)

    # Assert
    assert "certified compute" in before.blockers[0]
    assert after.blockers == ()
    assert "does not declare the job's dataset" in " ".join(not_holding.blockers)
    net = E18 - E18 // 100
    assert share == net // 10 and dao.admin.token.balance_of(dao.accounts[8].address) - holder_before == share
    assert record["model"] == {"licence": "Apache-2.0", "sdgs": [3, 4], "final_cid": "bafkreiglobalglobalglobal",
                               "final_hash": "0x" + "22" * 32}
    assert [i["asset"] for i in record["certified_inputs"]] == [dataset, compute]
    assert all(i["certified_now"] and i["check_report_cid"] for i in record["certified_inputs"])
    assert record["training_history"][0]["updates"] == [
        {"provider": nodes["a"].address, "used": True, "hash": "0x" + "11" * 32}]
    assert record["job"]["requirements"] == {"dataset_asset": dataset, "certified_compute_only": True,
                                             "model_asset": None, "data_share_bps": 1000}


def test_full_job_takes_certified_compute_first(dao, nodes):
    job_id = _post(dao, SPEC | {"providers": {"min": 1, "max": 1}})
    b, a = dao.as_(nodes["b"]), dao.as_(nodes["a"])  # a's compute commitment was certified above
    b.market.join_job(job_id)
    job = a.market.get_job(job_id)

    assert admission(a, job_id, job, nodes["a"].address).outranks_lowest
    a.market.join_job(job_id)
    assert a.market.providers_of(job_id) == [nodes["a"].address]
    assert not admission(b, job_id, a.market.get_job(job_id), nodes["b"].address).outranks_lowest


def test_an_expired_dataset_certification_blocks_the_start(dao, nodes):
    dataset = _certify(dao, 8)
    dao.travel(340 * DAY)  # a job's join window is at most 30 days: post it near the end of the certification
    job_id = _post(dao, SPEC | {"certification": {"dataset_asset": dataset}})
    b = dao.as_(nodes["b"])
    b.market.join_job(job_id)
    assert start_blocker(b, job_id) is None

    dao.travel(26 * DAY)  # the certification (a year) has expired; the job is still before its start deadline

    assert "no longer DPG-certified" in start_blocker(b, job_id)
    assert "not (or no longer) DPG-certified" in admission(b, job_id, b.market.get_job(job_id),
                                                           nodes["b"].address).blockers[0]
    with pytest.raises(ContractRevert, match="JobMarketAssetNotCertified"):
        dao.as_(nodes["coordinator"]).market.start_job(job_id)
    with pytest.raises(ContractRevert, match="JobMarketAssetNotCertified"):
        _post(dao, SPEC | {"certification": {"dataset_asset": dataset}})
