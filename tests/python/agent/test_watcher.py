"""The agent's JobPosted watcher on a live chain: joins what it can serve, once, across restarts; refuses
with reasons; retries a spec it cannot fetch yet instead of dropping the job."""

import asyncio

import pytest

from opendpg.agent import JobWatcher, ProviderProfile
from opendpg.chain import Capabilities, EventStream, JobParams
from opendpg.content import EmbeddedStore, cid_of
from opendpg.spec import parse_spec
from tests.python.conftest import E18, as_account


def _spec(catalog="sklearn/digits", rounds=2):
    return parse_spec({"name": "w", "model": {"name": "mlp"}, "dataset": {"mode": "simulate", "catalog_id": catalog},
                       "training": {"rounds": rounds}, "providers": {"min": 1, "max": 2}})


PROFILE = ProviderProfile(datasets=frozenset({"sklearn/digits"}), gpu_memory_mib=0, cpu_cores=4)


@pytest.fixture(scope="module")
def setup(admin, accounts):
    provider, poster, coordinator = accounts[16], accounts[17], accounts[18]
    for acct in (provider, poster, coordinator):
        admin.token.transfer(acct.address, 1_000 * E18)
    as_account(admin, provider).registry.register(Capabilities("CPU", 0, 4, 1024, "x", ["sklearn/digits"], ""),
                                                  100 * E18)
    return as_account(admin, provider), as_account(admin, poster), coordinator


def _post(poster, coordinator, cid, rounds=2):
    now = poster.w3.eth.get_block("latest")["timestamp"]
    return poster.market.post_job(JobParams(cid, poster.token.address, 20 * E18 * rounds, 10 * E18, rounds, 1, 2,
                                            10 * E18, now + 3600, 600, coordinator.address))


def _follow(watcher, chain, start, jobs_expected):
    """Run the watcher on the event stream until it decided about `jobs_expected` jobs."""
    stream = EventStream(chain.w3, chain.deployment, ["JobMarket"], events=["JobPosted"], start_block=start)
    stop = asyncio.Event()

    async def handle(event):
        await watcher.handle(event)
        if len(watcher.decisions) >= jobs_expected:
            stop.set()

    asyncio.run(asyncio.wait_for(stream.run(handle, stop), 20))


def test_watcher_joins_refuses_and_retries(setup, tmp_path):
    provider, poster, coordinator = setup
    store = EmbeddedStore(tmp_path / "content")
    start = provider.w3.eth.block_number + 1
    good = _post(poster, coordinator, store.put(_spec().to_bytes()))
    other_data = _post(poster, coordinator, store.put(_spec("hospital/xrays").to_bytes()))
    later_spec = _spec(rounds=3).to_bytes()
    not_yet = _post(poster, coordinator, cid_of(later_spec), rounds=3)  # spec not pinned anywhere yet
    broken = _post(poster, coordinator, store.put(b'{"name": "no fields"}'))
    store.retries, store.backoff = 0, 0.01
    watcher = JobWatcher(provider, store, PROFILE, tmp_path / "decisions.json", retry_interval=0.0)

    _follow(watcher, provider, start, 4)

    me = provider.sender.address
    assert provider.market.participant_of(good, me).slot == 1
    assert watcher.decisions[str(good)]["join"] is True
    assert "dataset 'hospital/xrays' is not held here" in watcher.decisions[str(other_data)]["reasons"][0]
    assert provider.market.participant_of(other_data, me).slot == 0
    assert "invalid spec" in watcher.decisions[str(broken)]["reasons"][0]
    assert watcher.decisions[str(not_yet)]["retry"] is True

    # the spec appears; the next event makes the watcher retry the pending job and join it
    store.put(later_spec)
    trigger = _post(poster, coordinator, store.put(_spec().to_bytes()))
    _follow(watcher, provider, provider.w3.eth.block_number, 5)
    assert provider.market.participant_of(not_yet, me).slot == 1
    assert provider.market.participant_of(trigger, me).slot == 1


def test_restart_does_not_join_twice(setup, tmp_path):
    provider, poster, coordinator = setup
    store = EmbeddedStore(tmp_path / "content")
    job = _post(poster, coordinator, store.put(_spec().to_bytes()))
    first = JobWatcher(provider, store, PROFILE, tmp_path / "decisions.json")
    assert first.consider(job, cid_of(_spec().to_bytes())).join
    nonce = provider.w3.eth.get_transaction_count(provider.sender.address)

    again = JobWatcher(provider, store, PROFILE, tmp_path / "decisions.json")  # a restarted agent
    assert again.consider(job, cid_of(_spec().to_bytes())).join

    assert provider.w3.eth.get_transaction_count(provider.sender.address) == nonce
