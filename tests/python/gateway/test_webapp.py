"""What the web app needs from the gateway: the deployment, spec pinning for wallet users (validated: only job
specs, standard documents), the standard's versions, the chain index (public), and the built app at /app."""

from __future__ import annotations

import json

from opendpg.chain import JobParams, TxSender
from opendpg.content import KuboStore
from opendpg.dpg import shipped_standard
from opendpg.spec import parse_spec

E18 = 10**18
SPEC_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


def test_app_config_names_the_contracts(gw, world):
    config = gw.client.get("/app-config")

    assert config.status_code == 200
    body = config.json()
    assert body["chain_id"] == world["admin"].deployment.chain_id
    market = body["contracts"]["JobMarket"]
    assert market["address"] == world["admin"].market.address
    assert any(item.get("name") == "postJob" for item in market["abi"])
    assert set(body["contracts"]) >= {"CommonsToken", "NodeRegistry", "DPGRegistry", "OpenDPGGovernor"}


def test_specs_are_validated_then_pinned(gw, world):
    spec = {"name": "from a wallet", "model": {"name": "mlp"},
            "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"},
            "training": {"rounds": 2}, "providers": {"min": 1, "max": 2}}

    pinned = gw.client.post("/specs", json=spec)
    bad = gw.client.post("/specs", json=spec | {"training": {"rounds": 0}})
    unknown = gw.client.post("/specs", json=spec | {"shell": "rm -rf /"})

    assert pinned.status_code == 201, pinned.text
    stored = KuboStore(world["kubo"].api_url).get(pinned.json()["cid"])
    assert stored == parse_spec(spec).to_bytes() and pinned.json()["spec"]["training"]["local_epochs"] == 1
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "training", "rounds"]
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "shell"]


def test_the_built_app_is_served(gw):
    page = gw.client.get("/app/")

    assert page.status_code == 200 and "<title>OpenDPG Compute</title>" in page.text
    script = page.text.split('src="')[1].split('"')[0]
    assert script.startswith("/app/assets/") and gw.client.get(script).status_code == 200


def test_standard_documents_are_validated_pinned_and_read_by_version(gw, world):
    # Prepare: version 1 as shipped is in force
    _, data, cid = shipped_standard()
    document = json.loads(data)

    # Execute
    pinned = gw.client.post("/standards", json=document | {"version": 2})
    not_newer = gw.client.post("/standards", json=document)
    malformed = gw.client.post("/standards", json={"version": 3})
    current = gw.client.get("/standards/1")
    unpublished = gw.client.get("/standards/2")
    zero = gw.client.get("/standards/0")

    # Assert
    assert pinned.status_code == 201 and json.loads(KuboStore(world["kubo"].api_url).get(pinned.json()["cid"])) == (
        document | {"version": 2})
    assert not_newer.status_code == 422 and not_newer.json()["detail"][0]["loc"] == ["body", "version"]
    assert "not newer than the standard in force, version 1" in not_newer.json()["detail"][0]["msg"]
    assert malformed.status_code == 422 and "invalid DPG Standard document" in malformed.json()["detail"][0]["msg"]
    [published] = world["admin"].dpg.standard_history()  # the deployment's
    assert (published["version"], published["cid"]) == (1, cid)
    assert published["block"] >= world["admin"].deployment.start_block and len(published["tx"]) == 66
    assert current.status_code == 200 and current.json() == document
    assert unpublished.status_code == 404 and unpublished.json()["detail"] == "no DPG Standard version 2 was published"
    assert zero.status_code == 422


def test_the_chain_index_is_public(gw, world, accounts):
    # Prepare: two jobs posted straight on the chain (not through the gateway) by two posters
    admin, coordinator, poster = world["admin"], world["coordinator"], accounts[24]
    now = int(admin.w3.eth.get_block("latest")["timestamp"])
    admin.token.transfer(poster.address, 2 * E18)
    other = admin.as_account(TxSender(admin.w3, poster))
    other.token.approve(admin.market.address, 2 * E18)
    first = admin.market.post_job(JobParams(SPEC_CID, admin.token.address, 6 * E18, E18, 3, 1, 2, 0, now + 3600, 600,
                                            coordinator.address))
    second = other.market.post_job(JobParams(SPEC_CID, admin.token.address, 2 * E18, E18, 1, 1, 2, 0, now + 3600, 600,
                                             coordinator.address))

    # Execute: the detail right away (the index catches up on a job the chain has), then the lists
    detail = gw.client.get(f"/chain/jobs/{second}")
    newest = gw.client.get("/chain/jobs", params={"limit": 2})
    by_poster = gw.client.get("/chain/jobs", params={"poster": admin.sender.address.lower()})
    older = gw.client.get("/chain/jobs", params={"before": second, "limit": 1})
    missing = gw.client.get(f"/chain/jobs/{second + 1}")
    bad_poster = gw.client.get("/chain/jobs", params={"poster": "0x1234"})

    # Assert
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert (body["id"], body["state"], body["poster"], body["budget"], body["max_providers"]) == (
        second, "OPEN", poster.address, "2", 2)
    assert body["history"] == [] and body["payments"] == [] and body["providers"] == []
    assert [j["id"] for j in newest.json()] == [second, first]
    assert first in [j["id"] for j in by_poster.json()] and second not in [j["id"] for j in by_poster.json()]
    assert all(j["poster"] == admin.sender.address for j in by_poster.json())
    assert [j["id"] for j in older.json()] == [first] and older.json()[0]["budget"] == "6"
    assert missing.status_code == 404 and missing.json()["detail"] == f"no job {second + 1}"
    assert bad_poster.status_code == 422 and bad_poster.json()["detail"][0]["loc"] == ["query", "poster"]
