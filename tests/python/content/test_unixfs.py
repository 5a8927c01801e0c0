"""CIDs and the embedded store: known CIDs, verified reads, tampering and absence."""

import pytest

from opendpg.content.embedded import EmbeddedStore
from opendpg.content.unixfs import CHUNK_SIZE, Cid, build_dag, cid_of, decode_dag_pb
from opendpg.errors import ContentIntegrityError, ContentNotFoundError, OpenDPGValueError


def test_well_known_cids():
    assert cid_of(b"") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert cid_of(b"hello") == "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"


def test_multi_chunk_dag_structure():
    data = bytes(range(256)) * (CHUNK_SIZE // 256) + b"x"
    root, blocks = build_dag(data)
    links, unixfs = decode_dag_pb(blocks[-1].data)
    assert str(root).startswith("bafybei")
    assert len(links) == 2 and [t for _, t in links] == [CHUNK_SIZE, 1]
    assert unixfs.startswith(b"\x08\x02")  # UnixFS Type = File
    assert all(b.cid.matches(b.data) for b in blocks)


def test_parse_round_trip_and_refusals():
    cid = cid_of(b"abc")
    assert str(Cid.parse(cid)) == cid
    with pytest.raises(ValueError, match="base32 CIDv1"):
        Cid.parse("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")


def test_embedded_store_round_trip(tmp_path):
    store = EmbeddedStore(tmp_path)
    data = b"model update" * 1000
    cid = store.put(data)
    assert cid == cid_of(data) and store.has(cid)
    assert store.get(cid) == data


def test_tampered_and_truncated_content_is_refused(tmp_path):
    store = EmbeddedStore(tmp_path)
    cid = store.put(b"honest bytes")
    (tmp_path / cid).write_bytes(b"evil bytes!!")
    with pytest.raises(ContentIntegrityError, match="was not used"):
        store.get(cid)
    (tmp_path / cid).write_bytes(b"honest")
    with pytest.raises(ContentIntegrityError):
        store.get(cid)


def test_missing_content_is_retried_then_reported(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.retries, store.backoff = 2, 0.01
    with pytest.raises(ContentNotFoundError, match="after 3 attempts"):
        store.get(cid_of(b"never stored"))
    with pytest.raises(OpenDPGValueError, match="cid:"):
        store.get("not-a-cid")
