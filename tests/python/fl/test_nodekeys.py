"""Per-job Flower node keys: the provider derives the private key, anyone the public one, and they match."""

import stat

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from opendpg.fl.nodekeys import (
    NodeKeyError,
    derive_node_key,
    derive_public_key,
    load_or_create_node_key,
    public_key_text,
)


def test_the_public_key_derived_from_the_published_key_matches_the_providers_private_key(tmp_path):
    key = load_or_create_node_key(tmp_path / "node.key")
    published = public_key_text(key)

    for job in range(20):
        label = f"chain 31337, market 0xabc, job {job}".encode()
        assert derive_public_key(published, label) == public_key_text(derive_node_key(key, label))


def test_each_job_has_its_own_key(tmp_path):
    key = load_or_create_node_key(tmp_path / "node.key")
    keys = {public_key_text(derive_node_key(key, f"job {j}".encode())) for j in range(10)}
    assert len(keys) == 10 and public_key_text(key) not in keys


def test_the_long_term_key_is_made_once_and_kept_private(tmp_path):
    path = tmp_path / "node.key"
    first = load_or_create_node_key(path)

    assert public_key_text(load_or_create_node_key(path)) == public_key_text(first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")


def test_only_p256_keys(tmp_path):
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(NodeKeyError, match="P-256"):
        derive_public_key(public_key_text(other), b"job")
    with pytest.raises(NodeKeyError, match="P-256"):
        derive_node_key(other, b"job")
    with pytest.raises(NodeKeyError, match="not an OpenSSH public key"):
        derive_public_key("ssh-rsa nonsense", b"job")
