"""Every route, one table: which need a key, and what another user gets when aiming at someone else's job, key
or account (404 as if it did not exist, 403 for operator routes; nothing changes on-chain). A route added to the
app without a row here fails the first test."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text

from opendpg.gateway.security import KeyVault
from tests.python.gateway.conftest import SECRET, Gateway
from tests.python.gateway.test_jobs import _body

PUBLIC = {("GET", "/health"), ("GET", "/metrics"), ("GET", "/jobs/spec-schema"), ("POST", "/accounts"),
          ("POST", "/auth/login"), ("GET", "/app-config"), ("POST", "/specs"), ("POST", "/standards"),
          ("GET", "/standards/{version}"), ("POST", "/reasons"), ("GET", "/reports/{asset_id}"),
          ("GET", "/models/{job_id}"), ("POST", "/audits/{job_id}"), ("GET", "/chain/jobs"),
          ("GET", "/chain/jobs/{job_id}")}
NEEDS_KEY = {("GET", "/me"), ("POST", "/api-keys"), ("GET", "/api-keys"), ("DELETE", "/api-keys/{key_id}"),
             ("POST", "/faucet"), ("POST", "/accounts/{user_id}/credit"), ("POST", "/jobs"), ("GET", "/jobs"),
             ("GET", "/jobs/{job_id}"), ("POST", "/jobs/{job_id}/cancel"), ("POST", "/jobs/{job_id}/refund"),
             ("GET", "/jobs/{job_id}/model"), ("GET", "/jobs/{job_id}/checkpoint"), ("POST", "/jobs/{job_id}/verify"),
             ("GET", "/jobs/{job_id}/events"), ("GET", "/jobs/submissions/{submission_id}"), ("GET", "/providers"),
             ("GET", "/assets"), ("POST", "/assets"), ("POST", "/assets/files"),
             ("GET", "/assets/{asset_id}"), ("POST", "/assets/{asset_id}/votes"),
             ("POST", "/assets/{asset_id}/close"), ("POST", "/assets/{asset_id}/decisions"),
             ("POST", "/assets/{asset_id}/renew"), ("POST", "/assets/{asset_id}/rewards"),
             ("POST", "/governance/delegate")}
OTHERS_JOB = [("GET", "/jobs/{job_id}"), ("POST", "/jobs/{job_id}/cancel"), ("POST", "/jobs/{job_id}/refund"),
              ("GET", "/jobs/{job_id}/model"), ("GET", "/jobs/{job_id}/checkpoint"), ("POST", "/jobs/{job_id}/verify"),
              ("GET", "/jobs/{job_id}/events")]


def _account(gw: Gateway) -> tuple[dict, dict[str, str]]:
    email = f"iso-{uuid.uuid4().hex[:8]}@example.org"
    return gw.sign_up(email), gw.login(email)


def _path(template: str, **ids: int) -> str:
    return template.format(**ids)


def test_every_route_is_classified_and_keyed_routes_refuse_without_a_valid_key(gw):
    schema = gw.client.get("/openapi.json").json()
    routes = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    assert routes == PUBLIC | NEEDS_KEY, "classify the new route in this test"
    for method, template in sorted(NEEDS_KEY):
        path = _path(template, key_id=1, user_id=1, job_id=1, submission_id="0" * 32, asset_id=1)
        for headers in ({}, {"Authorization": "Bearer odpg_forged.key"}):
            response = gw.client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers, response.text)


def test_another_user_reaches_nothing_of_yours(gw, world):
    # Prepare: A with a job and a second key; B funded too
    a, a_auth = _account(gw)
    b, b_auth = _account(gw)
    for auth in (a_auth, b_auth):
        assert gw.client.post("/faucet", headers=auth).status_code == 200
    job = gw.client.post("/jobs", json=_body(world), headers=a_auth).json()
    a_key = gw.client.post("/api-keys", json={"name": "ci"}, headers=a_auth).json()
    secrets = [a_key["key"], a_auth["Authorization"].removeprefix("Bearer ")]
    seen: list[str] = []

    # Execute + Assert: B aiming at A's job: as if it did not exist; the job stays as it was
    for method, template in OTHERS_JOB:
        response = gw.client.request(method, _path(template, job_id=job["id"]), headers=b_auth)
        assert response.status_code == 404, (method, template, response.text)
        seen.append(response.text)
    assert world["admin"].market.get_job(job["id"]).state.name == "OPEN"
    # ... at A's key: unknown to B, still working for A
    response = gw.client.delete(f"/api-keys/{a_key['id']}", headers=b_auth)
    assert response.status_code == 404
    assert gw.client.get("/me", headers={"Authorization": f"Bearer {a_key['key']}"}).json()["id"] == a["id"]
    # ... at A's account: only operators credit accounts
    assert gw.client.post(f"/accounts/{a['id']}/credit", json={"tokens": "1"}, headers=b_auth).status_code == 403
    # B's own lists hold only B's things
    listed = {"jobs": gw.client.get("/jobs", headers=b_auth), "keys": gw.client.get("/api-keys", headers=b_auth),
              "me": gw.client.get("/me", headers=b_auth)}
    assert listed["jobs"].json() == [] and listed["me"].json()["address"] == b["address"]
    assert {k["id"] for k in listed["keys"].json()} & {a_key["id"]} == set()
    seen += [r.text for r in listed.values()]
    # nobody's secrets in anything B saw, and no user's private material anywhere
    for body in [*seen, gw.client.get("/me", headers=a_auth).text, gw.client.get("/api-keys", headers=a_auth).text]:
        assert not any(secret in body for secret in secrets)
        assert "encrypted_key" not in body and "password" not in body and "key_hash" not in body
    # and nothing secret in the gateway's log: no API key, no password, no private key
    log = gw.log.read_text(errors="replace")
    operator_key = world["operator"].key.hex()
    engine = create_engine(gw.db_url)
    with engine.connect() as conn:
        blobs = [row[0] for row in conn.execute(text("SELECT encrypted_key FROM users"))]
    engine.dispose()
    user_keys = [KeyVault(SECRET).decrypt(bytes(blob)) for blob in blobs]
    for secret in [*secrets, "correct horse battery", operator_key, *user_keys]:
        assert secret.removeprefix("0x") not in log
