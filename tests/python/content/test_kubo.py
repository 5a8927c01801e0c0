"""A real kubo daemon: same CIDs as the embedded store for edge-size files; verified reads; stop by PID."""

import os

import pytest

from opendpg.content import EmbeddedStore, KuboDaemon, KuboStore, cid_of
from opendpg.content.unixfs import CHUNK_SIZE
from opendpg.errors import ContentNotFoundError, ContentUnavailableError

SIZES = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 5 * 1024 * 1024 + 7]


@pytest.fixture(scope="module")
def kubo(tmp_path_factory):
    daemon = KuboDaemon(tmp_path_factory.mktemp("kubo") / "repo")
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.mark.parametrize("size", SIZES)
def test_kubo_and_embedded_give_the_same_cid(kubo, tmp_path, size):
    data = os.urandom(size)
    kubo_cid = KuboStore(kubo.api_url).put(data)
    embedded_cid = EmbeddedStore(tmp_path).put(data)
    assert kubo_cid == embedded_cid
    assert KuboStore(kubo.api_url).get(kubo_cid) == data


def test_put_many_stores_pins_and_agrees_with_the_embedded_store(kubo, tmp_path):
    items = [b'{"spec": %d}' % i for i in range(20)] + [b'{"spec": 3}', os.urandom(CHUNK_SIZE + 5)]
    store = KuboStore(kubo.api_url)

    cids = store.put_many(items)

    assert cids == [EmbeddedStore(tmp_path).put(data) for data in items]
    assert [store.get(cid) for cid in cids] == items
    kinds = {cid: store._ipfs.pin.ls(cid)["Keys"][cid]["Type"] for cid in cids}
    assert kinds[cids[-1]] == "recursive"  # too big for one block: an ordinary add
    assert all(kind.startswith("indirect") for cid, kind in kinds.items() if cid != cids[-1])  # via the batch folder


def test_missing_content_is_reported_after_retries(kubo):
    store = KuboStore(kubo.api_url)
    store.retries, store.backoff = 1, 0.01
    with pytest.raises(ContentNotFoundError, match="after 2 attempts"):
        store.get(cid_of(b"never added anywhere"))


def test_daemon_stops_by_pid_and_unreachable_is_clear(tmp_path):
    daemon = KuboDaemon(tmp_path / "repo").start()
    pid, url = daemon.pid, daemon.api_url
    daemon.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ContentUnavailableError, match="is the daemon running"):
        KuboStore(url).put(b"x")
