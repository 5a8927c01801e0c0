"""Jobs through the gateway against a real chain and kubo: a user without a wallet is funded (faucet), posts
a job from a spec (pinned to IPFS, escrow from the user's own address), sees it listed and in detail, and
cancels it for a full refund; bad specs and unfunded accounts get 4xx naming the field; other users see
nothing of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from opendpg.chain import Capabilities, Chain, SuiteParams, TxSender, deploy_suite
from opendpg.content import KuboDaemon, KuboStore
from opendpg.spec import parse_spec
from tests.python.gateway.conftest import Gateway, _serve

E18 = 10**18
SPEC = {"name": "digits via the gateway", "model": {"name": "mlp"}, "dataset": {"catalog_id": "sklearn/digits"},
        "training": {"rounds": 2}, "providers": {"min": 1, "max": 2}}


@pytest.fixture(scope="module")
def world(w3, accounts, tmp_path_factory) -> Iterator[dict]:
    operator, coordinator = accounts[11], accounts[12]
    deployment = deploy_suite(TxSender(w3, operator), SuiteParams(checkers=[operator.address]))
    path = tmp_path_factory.mktemp("gw-chain") / "deployment.json"
    deployment.save(path)
    admin = Chain(w3, deployment, TxSender(w3, operator))
    admin.token.transfer(coordinator.address, 1_000 * E18)
    admin.as_account(TxSender(w3, coordinator)).registry.register(
        Capabilities("CPU", 0, 2, 4096, "local", [], ""), 100 * E18)
    with KuboDaemon(tmp_path_factory.mktemp("gw-kubo") / "repo") as kubo:
        yield {"admin": admin, "path": path, "kubo": kubo, "operator": operator, "coordinator": coordinator}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gw(request, tmp_path_factory, anvil, world) -> Iterator[Gateway]:
    yield from _serve(request, tmp_path_factory, {
        "OPENDPG_RPC_URL": anvil.rpc_url, "OPENDPG_DEPLOYMENT_FILE": str(world["path"]),
        "OPENDPG_IPFS_API": world["kubo"].api_url, "OPENDPG_PRIVATE_KEY": world["operator"].key.hex()})


def _user(gw: Gateway) -> tuple[dict, dict[str, str]]:
    email = f"poster-{uuid.uuid4().hex[:8]}@example.org"
    return gw.sign_up(email), gw.login(email)


def _body(world, **overrides):
    return {"spec": SPEC, "reward_per_round": "10", "coordinator": world["coordinator"].address, **overrides}


def test_a_funded_user_posts_follows_and_cancels_a_job(gw, world):
    # Prepare: an account, funded by the development faucet
    user, auth = _user(gw)
    funded = gw.client.post("/faucet", headers=auth).json()
    assert funded["address"] == user["address"] and float(funded["tokens"]) == 1000 and float(funded["eth"]) == 1
    admin = world["admin"]

    # Execute: post a job
    response = gw.client.post("/jobs", json=_body(world), headers=auth)

    # Assert: on-chain, posted from the user's own address, escrow = 10 x 2 rounds x 2 providers, spec pinned
    assert response.status_code == 201, response.text
    job = response.json()
    on_chain = admin.market.get_job(job["id"])
    assert on_chain.poster == user["address"] and job["poster"] == user["address"]
    assert on_chain.budget == 40 * E18 and job["budget"] == "40" and job["state"] == "OPEN"
    assert admin.token.balance_of(user["address"]) == 960 * E18
    assert parse_spec(KuboStore(world["kubo"].api_url).get(job["spec_cid"])).name == SPEC["name"]
    assert [j["id"] for j in gw.client.get("/jobs", headers=auth).json()] == [job["id"]]
    detail = gw.client.get(f"/jobs/{job['id']}", headers=auth).json()
    assert detail["providers"] == [] and detail["history"] == [] and detail["payments"] == []

    # Execute + Assert: cancel gives the whole escrow back
    cancelled = gw.client.post(f"/jobs/{job['id']}/cancel", headers=auth).json()
    assert cancelled["state"] == "CANCELLED"
    assert admin.token.balance_of(user["address"]) == 1000 * E18
    payments = gw.client.get(f"/jobs/{job['id']}", headers=auth).json()["payments"]
    assert payments == [{"kind": "refund", "account": user["address"], "amount": "40"}]


def test_other_users_see_nothing_of_a_job(gw, world):
    _, owner = _user(gw)
    _, other = _user(gw)
    gw.client.post("/faucet", headers=owner)
    job_id = gw.client.post("/jobs", json=_body(world), headers=owner).json()["id"]

    assert gw.client.get("/jobs", headers=other).json() == []
    assert gw.client.get(f"/jobs/{job_id}", headers=other).status_code == 404
    assert gw.client.post(f"/jobs/{job_id}/cancel", headers=other).status_code == 404
    assert gw.client.get(f"/jobs/{job_id}").status_code == 401
    assert world["admin"].market.get_job(job_id).state.name == "OPEN"


def test_bad_jobs_are_4xx_naming_the_field(gw, world):
    _, auth = _user(gw)
    unfunded = gw.client.post("/jobs", json=_body(world), headers=auth)
    assert unfunded.status_code == 402 and unfunded.json()["detail"][0]["loc"] == ["body", "reward_per_round"]
    gw.client.post("/faucet", headers=auth)
    cases = [
        (_body(world, spec={**SPEC, "training": {"rounds": 0}}), 422, ["body", "spec", "training", "rounds"]),
        (_body(world, spec={k: v for k, v in SPEC.items() if k != "dataset"}), 422, ["body", "spec", "dataset"]),
        (_body(world, reward_per_round="-1"), 422, ["body", "reward_per_round"]),
        (_body(world, coordinator="0x1234"), 422, ["body", "coordinator"]),
        (_body(world, reward_per_round="1000"), 402, ["body", "reward_per_round"]),
        (_body(world, coordinator=world["operator"].address), 422, ["body", "coordinator"]),  # not a registered node
    ]
    for body, code, loc in cases:
        response = gw.client.post("/jobs", json=body, headers=auth)
        assert response.status_code == code, (body, response.text)
        assert loc in [d["loc"] for d in response.json()["detail"]], response.text
