"""What the web app needs from the gateway: the deployment, spec pinning for wallet users (validated: only job
specs), and the built app itself at /app."""

from __future__ import annotations

from opendpg.content import KuboStore
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
