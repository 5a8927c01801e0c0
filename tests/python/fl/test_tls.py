"""The coordinator's certificates: made once, reissued when the names change, checked against a CA."""

import stat
import subprocess

import pytest
from cryptography import x509

from opendpg.fl.tls import TlsError, ensure_tls, fingerprint, load_tls


def test_a_ca_and_a_server_certificate_for_the_names_given(tmp_path):
    files = ensure_tls(tmp_path, ["10.0.0.7", "coordinator.example.org"])

    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"10.0.0.7"}
    assert sans.get_values_for_type(x509.DNSName) == ["coordinator.example.org"]
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(files.ca_cert.read_bytes()))
    for key in (files.key, tmp_path / "ca.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_the_same_names_keep_the_certificate_and_new_names_reissue_it_under_the_same_ca(tmp_path):
    first = ensure_tls(tmp_path, ["127.0.0.1"])
    cert, ca = first.cert.read_bytes(), first.ca_cert.read_bytes()

    assert ensure_tls(tmp_path, ["127.0.0.1"]).cert.read_bytes() == cert
    again = ensure_tls(tmp_path, ["127.0.0.1", "10.0.0.7"])
    assert again.cert.read_bytes() != cert and again.ca_cert.read_bytes() == ca


def test_the_fingerprint_is_the_sha256_of_the_der_certificate(tmp_path):
    files = ensure_tls(tmp_path, ["127.0.0.1"])
    out = subprocess.run(["openssl", "x509", "-in", str(files.ca_cert), "-noout", "-fingerprint", "-sha256"],
                         capture_output=True, text=True, check=True).stdout
    assert fingerprint(files.ca_pem()) == out.strip().split("=")[1].replace(":", "").lower()
    with pytest.raises(TlsError, match="not a PEM certificate"):
        fingerprint("hello")


def test_an_operators_certificate_must_chain_to_its_ca(tmp_path):
    ours, theirs = ensure_tls(tmp_path / "a", ["127.0.0.1"]), ensure_tls(tmp_path / "b", ["127.0.0.1"])

    assert load_tls(ours.ca_cert, ours.cert, ours.key) == ours
    with pytest.raises(TlsError, match="is not issued by"):
        load_tls(theirs.ca_cert, ours.cert, ours.key)
    with pytest.raises(TlsError, match="cannot use the TLS files"):
        load_tls(ours.ca_cert, tmp_path / "missing.pem", ours.key)
