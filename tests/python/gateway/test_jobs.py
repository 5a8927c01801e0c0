"""Jobs through the gateway against a real chain and kubo: a user without a wallet is funded (faucet), posts
a job from a spec (pinned to IPFS, escrow from the user's own address), sees it listed and in detail, and
cancels it for a full refund; bad specs and unfunded accounts get 4xx naming the field; other users see
nothing of it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import uuid
from collections import OrderedDict

import numpy as np
import pytest

from opendpg.audit import evaluate_global
from opendpg.chain import Capabilities, TxSender
from opendpg.content import KuboStore
from opendpg.fl import Contribution, aggregate, decode_update, encode_update
from opendpg.fl.models import build_model, get_weights
from opendpg.spec import parse_spec
from tests.python.conftest import past_dispute_window
from tests.python.gateway.conftest import Gateway, _serve
from tests.python.integration.stack import wait_for

E18 = 10**18
SPEC = {"name": "digits via the gateway", "model": {"name": "mlp"},
        "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"},
        "training": {"rounds": 2}, "providers": {"min": 1, "max": 2}}


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


def _update(job_id: int, round_: int, provider: str, scale: float) -> bytes:
    """The spec's model with its weights nudged: a well-formed update the gateway can evaluate."""
    model = build_model(parse_spec(SPEC).model, (64,), 10, seed=0)
    tensors = OrderedDict((name, (w + scale * 0.01).astype(np.float32)) for name, w in get_weights(model).items())
    return encode_update(tensors, {"job": job_id, "round": round_, "provider": provider, "num_examples": 10})


def test_progress_model_download_and_verify(gw, world, accounts, tmp_path):
    # Prepare: a job posted through the gateway; a provider and the coordinator act on-chain (real contracts,
    # real IPFS; the updates are small hand-made tensors) while the user follows the job's event stream
    _, auth = _user(gw)
    gw.client.post("/faucet", headers=auth)
    body = _body(world, spec={**SPEC, "providers": {"min": 1, "max": 1}})
    job_id = gw.client.post("/jobs", json=body, headers=auth).json()["id"]
    events: list[str] = []

    def follow() -> None:
        with gw.client.stream("GET", f"/jobs/{job_id}/events", headers=auth, timeout=120) as response:
            for line in response.iter_lines():
                if line.startswith("event: "):
                    events.append(line.removeprefix("event: "))

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    admin, store = world["admin"], KuboStore(world["kubo"].api_url)
    provider = accounts[13]
    if not admin.registry.is_registered(provider.address):
        admin.token.transfer(provider.address, 1_000 * E18)
        admin.as_account(TxSender(admin.w3, provider)).registry.register(
            Capabilities("CPU", 0, 2, 4096, "local", ["sklearn/digits"], ""), 100 * E18)
    as_provider = admin.as_account(TxSender(admin.w3, provider)).market
    as_coordinator = admin.as_account(TxSender(admin.w3, world["coordinator"])).market
    as_provider.join_job(job_id)
    as_coordinator.start_job(job_id)
    last = b""

    # Execute: two rounds committed honestly, then finalized
    for round_ in (1, 2):
        data = _update(job_id, round_, provider.address, float(round_))
        as_provider.submit_update(job_id, round_, hashlib.sha256(data).digest(), store.put(data))
        update = decode_update(data)
        tensors = aggregate([Contribution(provider.address, 10, update.tensors)])
        last = encode_update(tensors, {"job": job_id, "round": round_, "kind": "global", "used": [provider.address],
                                       "rule": "fedavg"})
        as_coordinator.commit_round(job_id, round_, hashlib.sha256(last).digest(), store.put(last), [0])
    past_dispute_window(as_coordinator, job_id)
    as_coordinator.finalize_job(job_id)
    follower.join(60)

    # Assert: the live stream saw the whole history and ended with the job
    assert events[0] == "JobPosted" and events[-1] == "JobFinalized"
    assert events.count("RoundCommitted") == 2 and events.count("UpdateSubmitted") == 2
    # the index follows the chain within a poll: the job shows finished
    wait_for(lambda: gw.client.get(f"/jobs/{job_id}", headers=auth).json()["state"] == "FINISHED", 10,
             "the index to show the job finished")
    # the model is the last committed global model, checked against its on-chain hash
    model = gw.client.get(f"/jobs/{job_id}/model", headers=auth)
    assert model.status_code == 200 and model.content == last
    assert model.headers["X-OpenDPG-Round"] == "2"
    assert model.headers["X-OpenDPG-SHA256"] == hashlib.sha256(last).hexdigest()
    verdict = gw.client.post(f"/jobs/{job_id}/verify", headers=auth).json()
    assert verdict["ok"] and [r["round"] for r in verdict["rounds"]] == [1, 2]
    # the whole escrow went to the provider: nothing to refund, and the gateway says so
    nothing = gw.client.post(f"/jobs/{job_id}/refund", headers=auth)
    assert nothing.status_code == 409 and "nothing to refund" in nothing.text
    detail = gw.client.get(f"/jobs/{job_id}", headers=auth).json()
    assert detail["state"] == "FINISHED" and [r["used"] for r in detail["history"]] == [[provider.address]] * 2
    # each round was evaluated by the gateway itself on the held-out set, and the CLI plots the curve
    expected = evaluate_global(parse_spec(SPEC), last)
    wait_for(lambda: all(r["accuracy"] is not None for r in gw.client.get(f"/jobs/{job_id}", headers=auth).json()
                         ["history"]), 60, "the gateway's evaluation of every round")
    history = gw.client.get(f"/jobs/{job_id}", headers=auth).json()["history"]
    assert history[-1]["accuracy"] == pytest.approx(expected.accuracy) and history[-1]["loss"] == pytest.approx(
        expected.loss)
    png = tmp_path / "curve.png"
    plotted = subprocess.run([sys.executable, "-m", "opendpg.cli.main", "jobs", "plot", str(job_id), "--out", str(png)],
                             env={**os.environ, "OPENDPG_GATEWAY_URL": gw.url,
                                  "OPENDPG_API_KEY": auth["Authorization"].removeprefix("Bearer ")},
                             capture_output=True, text=True, timeout=120)
    assert plotted.returncode == 0, plotted.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "2 round(s)" in plotted.stdout
    # and the requests were counted by route template (never by raw path or key)
    metrics = gw.client.get("/metrics").text
    assert 'route="/jobs/{job_id}/model"' in metrics and "odpg_" not in metrics


def test_a_key_over_its_rate_limit_gets_429(request, tmp_path_factory):
    served = _serve(request, tmp_path_factory, {"OPENDPG_GATEWAY_RATE_LIMIT": "5"}, kind="sqlite")
    gw = next(served)
    try:
        codes = [gw.client.get("/health").status_code for _ in range(7)]
        # the fixture's readiness probe already spent one of the 5 (same client, no key)
        assert codes[:4] == [200] * 4 and set(codes[4:]) == {429}
        limited = gw.client.get("/health")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    finally:
        with contextlib.suppress(StopIteration):
            next(served)


def test_catalog_lists_providers_and_assets(gw, world):
    # Prepare: an asset registered on-chain by its owner
    _, auth = _user(gw)
    admin = world["admin"]
    cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    asset_id = admin.dpg.register_asset(0, cid, "CC-BY-4.0")

    # Execute
    providers = gw.client.get("/providers", headers=auth).json()
    assets = gw.client.get("/assets", params={"limit": 100}, headers=auth).json()

    # Assert
    coordinator = next(p for p in providers if p["address"] == world["coordinator"].address)
    assert coordinator["staked"] == "100" and coordinator["capabilities"]["cpu_cores"] == 2
    assert set(coordinator["reputation"]) == {"jobs_completed", "rounds_delivered", "rounds_missed", "slashes"}
    mine = next(a for a in assets if a["id"] == asset_id)
    assert mine == {"id": asset_id, "owner": world["operator"].address, "kind": "dataset", "stage": "registered",
                    "certified": False, "certified_until": None, "standard_version": 0,
                    "metadata_cid": cid, "licence": "CC-BY-4.0"}
    assert gw.client.get("/assets", params={"limit": 0}, headers=auth).status_code == 422
    assert gw.client.get("/providers").status_code == 401


def test_an_asset_is_submitted_for_certification(gw, world):
    # Prepare: a funded user
    user, auth = _user(gw)
    body = {"kind": "dataset", "name": "Regional clinic visits 2025", "licence": "CC-BY-4.0",
            "metadata": {"sdgs": [{"goal": 3, "evidence": "visit counts plan primary care capacity"}]}}
    unfunded = gw.client.post("/assets", json=body, headers=auth)
    assert unfunded.status_code == 402
    gw.client.post("/faucet", headers=auth)

    # Execute
    response = gw.client.post("/assets", json=body, headers=auth)

    # Assert: registered from the user's address, awaiting the automated check, metadata pinned
    assert response.status_code == 201, response.text
    asset = response.json()
    assert asset["owner"] == user["address"] and asset["stage"] == "awaiting-check" and asset["kind"] == "dataset"
    document = json.loads(KuboStore(world["kubo"].api_url).get(asset["metadata_cid"]))
    assert document["name"] == body["name"] and document["schema"] == "opendpg-asset/2"
    assert document["sdgs"] == body["metadata"]["sdgs"] and document["kind"] == "dataset"
    on_chain = world["admin"].dpg.get_asset(asset["id"])
    assert on_chain["owner"] == user["address"] and on_chain["licence"] == "CC-BY-4.0"
    for bad, loc in (({**body, "kind": "poem"}, ["body", "kind"]), ({**body, "licence": "not a licence!"},
                                                                   ["body", "licence"]),
                     ({**body, "metadata": {"sdgs": [{"goal": 18}]}}, ["body", "metadata", "sdgs", 0, "goal"])):
        rejected = gw.client.post("/assets", json=bad, headers=auth)
        assert rejected.status_code == 422 and loc in [d["loc"] for d in rejected.json()["detail"]]


def test_an_operator_credits_an_account(gw, world):
    # Prepare: two accounts; whoever runs the gateway makes one an operator (CLI on the gateway's database)
    operator_email = f"operator-{uuid.uuid4().hex[:8]}@example.org"
    gw.sign_up(operator_email)
    target, target_auth = _user(gw)
    granted = subprocess.run([sys.executable, "-m", "opendpg.cli.main", "gateway", "role", operator_email, "operator"],
                             env={**os.environ, "OPENDPG_GATEWAY_DB_URL": gw.db_url}, capture_output=True, text=True,
                             timeout=120)
    assert granted.returncode == 0 and "is now an operator" in granted.stdout, granted.stderr
    unknown = subprocess.run([sys.executable, "-m", "opendpg.cli.main", "gateway", "role", "nobody@example.org",
                              "operator"], env={**os.environ, "OPENDPG_GATEWAY_DB_URL": gw.db_url},
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "no account 'nobody@example.org'" in unknown.stderr
    operator_auth = gw.login(operator_email)
    admin = world["admin"]

    # Execute
    credited = gw.client.post(f"/accounts/{target['id']}/credit", json={"tokens": "25", "eth": "0.5"},
                              headers=operator_auth)

    # Assert: on-chain, to the target's own address; a plain user may not; a missing account is a 404
    assert credited.status_code == 200, credited.text
    assert admin.token.balance_of(target["address"]) == 25 * E18
    assert admin.w3.eth.get_balance(target["address"]) == E18 // 2
    assert credited.json() == {"address": target["address"], "tokens": "25", "eth": "0.5"}
    assert gw.client.post(f"/accounts/{target['id']}/credit", json={"tokens": "1"}, headers=target_auth
                          ).status_code == 403
    assert gw.client.post("/accounts/999999/credit", json={"tokens": "1"}, headers=operator_auth).status_code == 404
