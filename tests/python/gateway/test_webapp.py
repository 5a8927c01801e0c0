"""What the web app needs from the gateway: the deployment, spec pinning for wallet users (validated: only job
specs, standard documents), the standard's versions, and the built app itself at /app."""

from __future__ import annotations

import json

from opendpg.content import KuboStore
from opendpg.dpg import shipped_standard
from opendpg.spec import parse_spec


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
    spec = {"name": "from a wallet", "model": {"name": "mlp"}, "dataset": {"catalog_id": "sklearn/digits"},
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
