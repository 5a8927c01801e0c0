"""Accounts and API keys over HTTP, on SQLite and PostgreSQL: sign-up gives an on-chain address whose key is
stored only encrypted; login and API keys authenticate; keys are listed without secrets and revoked; one user
can neither see nor revoke another's keys; bad input is a 4xx naming the field."""

from __future__ import annotations

import subprocess
import uuid

from eth_account import Account
from sqlalchemy import create_engine, text
from web3 import Web3

from opendpg.gateway.security import KeyVault
from tests.python.gateway.conftest import SECRET, start_gateway


def _email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.org"


def test_health_names_the_database(gateway):
    body = gateway.client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] in {"sqlite", "postgresql"} and body["database"] in gateway.db_url


def test_sign_up_gives_an_address_whose_key_is_only_stored_encrypted(gateway):
    # Execute
    user = gateway.sign_up(email := _email())

    # Assert: a checksummed address, and nothing secret in the answer
    assert user["email"] == email and user["role"] == "user"
    assert Web3.is_checksum_address(user["address"])
    assert set(user) == {"id", "email", "role", "address", "created_at"}
    # the row holds the key encrypted: it decrypts (with the gateway secret) to the key of that address
    with create_engine(gateway.db_url).connect() as conn:
        blob, password_hash = conn.execute(text("SELECT encrypted_key, password_hash FROM users WHERE email = :e"),
                                           {"e": email}).one()
    key = KeyVault(SECRET).decrypt(bytes(blob))
    assert Account.from_key(key).address == user["address"]
    assert key.encode() not in bytes(blob) and key[2:].encode() not in bytes(blob)
    assert password_hash.startswith("$argon2id$") and "correct horse" not in password_hash


def test_login_and_api_keys(gateway):
    # Prepare
    email = _email()
    gateway.sign_up(email)
    auth = gateway.login(email)

    # Execute + Assert: /me with the login key; a named key is shown once, listed without secrets, revocable
    assert gateway.client.get("/me", headers=auth).json()["email"] == email
    created = gateway.client.post("/api-keys", json={"name": "ci"}, headers=auth)
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("odpg_")
    mine = {"Authorization": f"Bearer {key}"}
    assert gateway.client.get("/me", headers=mine).status_code == 200
    listed = gateway.client.get("/api-keys", headers=auth).json()
    assert [k["name"] for k in listed] == ["login", "ci"]
    assert all("key" not in k and "key_hash" not in k for k in listed)
    assert gateway.client.delete(f"/api-keys/{created.json()['id']}", headers=auth).json()["revoked_at"]
    assert gateway.client.get("/me", headers=mine).status_code == 401


def test_one_user_cannot_see_or_revoke_anothers_keys(gateway):
    alice, bob = _email(), _email()
    gateway.sign_up(alice)
    gateway.sign_up(bob)
    alice_auth, bob_auth = gateway.login(alice), gateway.login(bob)
    key_id = gateway.client.post("/api-keys", json={"name": "alice's"}, headers=alice_auth).json()["id"]

    assert all(k["name"] != "alice's" for k in gateway.client.get("/api-keys", headers=bob_auth).json())
    response = gateway.client.delete(f"/api-keys/{key_id}", headers=bob_auth)
    assert response.status_code == 404  # as unknown as a key that does not exist
    assert all(k["revoked_at"] is None for k in gateway.client.get("/api-keys", headers=alice_auth).json())


def test_bad_input_and_bad_credentials_are_4xx_naming_the_field(gateway):
    email = _email()
    gateway.sign_up(email)
    cases = [
        ({"email": "not-an-email", "password": "long enough password"}, 422, ["body", "email"]),
        ({"email": _email(), "password": "short"}, 422, ["body", "password"]),
        ({"email": _email(), "password": "long enough password", "role": "operator"}, 422, ["body", "role"]),
        ({"email": email, "password": "another long password"}, 409, ["body", "email"]),
    ]
    for body, code, loc in cases:
        response = gateway.client.post("/accounts", json=body)
        assert response.status_code == code, (body, response.text)
        assert loc in [d["loc"] for d in response.json()["detail"]], response.text
    assert gateway.client.post("/auth/login", json={"email": email, "password": "wrong one"}).status_code == 401
    assert gateway.client.get("/me").status_code == 401
    assert gateway.client.get("/me", headers={"Authorization": "Bearer odpg_forged"}).status_code == 401
    assert gateway.client.delete("/api-keys/not-a-number", headers=gateway.login(email)).status_code == 422


def test_production_refuses_to_start_without_a_secret(tmp_path):
    proc, _ = start_gateway(tmp_path, f"sqlite:///{tmp_path / 'g.db'}",
                              {"OPENDPG_ENVIRONMENT": "production", "OPENDPG_GATEWAY_SECRET": ""}, wait=False)
    try:
        code = proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert code == 2
    assert "OPENDPG_GATEWAY_SECRET" in (tmp_path / "gateway.log").read_text()
