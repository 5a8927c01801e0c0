"""The agent's datasets on a live chain: its own files are checked against the dataset asset's schema (from the
asset's metadata by CID) and declared in the data ledger with a privacy budget; before joining a job on them it
checks the job's schema, its records, and what DP-SGD would spend against the spec, the on-chain terms and what
is left of the budget. A second job that would overrun the budget is refused, with the reason."""

import json

import pytest
from eth_account import Account

from opendpg.agent import JobWatcher
from opendpg.agent.config import AgentConfig
from opendpg.agent.holdings import DataHoldings
from opendpg.chain import DELTA_UNIT, EPSILON_UNIT, Capabilities, DataTerms, JobParams
from opendpg.content import EmbeddedStore
from opendpg.data import sample_schema, write_sample
from opendpg.dpg.market import data_terms_for, post_job
from opendpg.dpg.metadata import AssetMetadata
from opendpg.fl.privacy import job_epsilon
from opendpg.spec import parse_spec
from tests.python.conftest import E18, as_account

SCHEMA = sample_schema("breast-cancer")


def _fresh(admin):
    account = Account.create()
    admin.sender.wait(admin.sender.send_tx({"to": account.address, "value": E18, "data": b""}))
    admin.token.transfer(account.address, 1_000 * E18)
    return account


@pytest.fixture(scope="module")
def world(admin, tmp_path_factory):
    root = tmp_path_factory.mktemp("holdings")
    store = EmbeddedStore(root / "content")
    holder, poster, coordinator = (as_account(admin, _fresh(admin)) for _ in range(3))
    metadata = AssetMetadata(name="Breast cancer records of three hospitals", kind="dataset",
                             licence="LicenseRef-consortium-terms", dataset_schema=SCHEMA)
    asset = poster.dpg.register_asset(0, store.put(metadata.to_bytes()), "LicenseRef-consortium-terms")
    bare = poster.dpg.register_asset(0, store.put(AssetMetadata(name="no schema", kind="dataset",
                                                                licence="MIT").to_bytes()), "MIT")
    for node in (holder, coordinator):
        node.registry.register(Capabilities("CPU", 0, 2, 1024, "x", [], ""), 100 * E18)
    files = write_sample("breast-cancer", root / "data", 2)
    bad = root / "bad"
    bad.mkdir()
    (bad / "records.csv").write_text((files.holders[1] / "records.csv").read_text().replace("mean_area", "area", 1))
    return {"store": store, "holder": holder, "poster": poster, "coordinator": coordinator, "asset": asset,
            "bare": bare, "files": files, "bad": bad, "root": root}


def _sections(world, budget=4.0, requires_dp=True, path=None):
    config = AgentConfig.model_validate({
        "name": "h", "state_dir": str(world["root"] / "state"), "chain": {"rpc_url": "http://x", "deployment_file":
                                                                          str(world["root"])},
        "data": {str(world["asset"]): {"path": str(path or world["files"].holders[0]), "privacy_budget": budget,
                                       "requires_dp": requires_dp},
                 str(world["bare"]): {"path": str(world["files"].holders[0]), "privacy_budget": 1.0}}})
    return config.assets


def _spec(world, epsilon=None, dp=True, schema=SCHEMA, rounds=2):
    privacy = {"dp_sgd": {"noise_multiplier": 1.0, "max_grad_norm": 1.0, "epsilon": epsilon}} if dp else {}
    return parse_spec({"name": "h", "model": {"name": "mlp"}, "training": {"rounds": rounds, "batch_size": 16},
                       "dataset": {"asset": world["asset"], "data_schema": schema.model_dump(mode="json")},
                       "providers": {"min": 1, "max": 2}, "privacy": privacy})


def test_held_data_is_checked_and_declared_once(world, tmp_path):
    holder, asset = world["holder"], world["asset"]
    holdings = DataHoldings(holder, world["store"], _sections(world), tmp_path / "holdings.json")

    status = holdings.declare_all()
    nonce = holder.w3.eth.get_transaction_count(holder.sender.address)
    DataHoldings(holder, world["store"], _sections(world), tmp_path / "again.json").declare_all()

    on_chain = holder.ledger.holding_of(holder.sender.address, asset)
    assert status[asset].declared and status[asset].records == world["files"].records[0]
    assert (on_chain.schema, on_chain.records, on_chain.budget, on_chain.delta, on_chain.requires_dp) == (
        SCHEMA.fingerprint(), world["files"].records[0], 4 * EPSILON_UNIT, round(1e-5 * DELTA_UNIT), True)
    assert holder.w3.eth.get_transaction_count(holder.sender.address) == nonce  # nothing changed: nothing sent
    assert not status[world["bare"]].declared and "no dataset_schema" in status[world["bare"]].reason
    persisted = json.loads((tmp_path / "holdings.json").read_text())
    assert persisted[str(asset)]["declared"] is True and persisted[str(world["bare"])]["declared"] is False


def test_data_that_breaks_the_schema_is_not_declared_and_refuses_jobs(world, tmp_path):
    holdings = DataHoldings(world["holder"], world["store"], _sections(world, path=world["bad"]),
                            tmp_path / "holdings.json")

    status = holdings.declare_all()[world["asset"]]
    spec = _spec(world, epsilon=50.0)

    assert not status.declared and "column 'mean_area' is missing" in status.reason and "records.csv" in status.reason
    assert "not usable: " in holdings.check(spec, data_terms_for(spec))[0]


def test_a_job_is_checked_against_the_schema_the_records_and_the_budget(world, tmp_path):
    holdings = DataHoldings(world["holder"], world["store"], _sections(world), tmp_path / "holdings.json")
    holdings.declare_all()
    training = world["files"].records[0] - round(world["files"].records[0] * 0.2)
    needed = job_epsilon(_spec(world, epsilon=1.0), training)
    fits = _spec(world, epsilon=round(needed + 0.01, 2))
    other_schema = SCHEMA.model_copy(update={"min_records": 5})

    assert needed is not None and needed < 4.0
    assert holdings.check(fits, data_terms_for(fits)) == []
    assert "spends" in holdings.check(_spec(world, epsilon=needed / 2), data_terms_for(_spec(world, epsilon=1.0)))[0]
    assert "requires_dp" in holdings.check(_spec(world, dp=False), data_terms_for(_spec(world, dp=False)))[0]
    mismatch = _spec(world, epsilon=50.0, schema=other_schema)
    assert "not asset" in holdings.check(mismatch, data_terms_for(mismatch))[0]
    understated = DataTerms(world["asset"], SCHEMA.fingerprint(), 1, round(1e-5 * DELTA_UNIT))
    assert "on-chain terms count epsilon" in holdings.check(fits, understated)[0]
    greedy = _spec(world, epsilon=5.0)
    assert "left of our privacy budget" in holdings.check(greedy, data_terms_for(greedy))[-1]


def test_the_watcher_joins_within_the_budget_and_refuses_the_job_that_would_overrun_it(world, tmp_path):
    holder, poster, coordinator, store = world["holder"], world["poster"], world["coordinator"], world["store"]
    training = world["files"].records[0] - round(world["files"].records[0] * 0.2)
    epsilon = round(job_epsilon(_spec(world, epsilon=1.0), training) + 0.01, 2)  # what one job spends, rounded up
    holdings = DataHoldings(holder, store, _sections(world, budget=1.5 * epsilon), tmp_path / "holdings.json")
    holdings.declare_all()
    watcher = JobWatcher(holder, store, _profile(world), tmp_path / "decisions.json", holdings=holdings)
    spec = _spec(world, epsilon=epsilon)
    cid = store.put(spec.to_bytes())
    jobs = []
    for _ in range(2):
        now = int(poster.w3.eth.get_block("latest")["timestamp"])
        params = JobParams(cid, poster.token.address, 40 * E18, 10 * E18, 2, 1, 2, 10 * E18,
                           now + 3600, 600, coordinator.sender.address)
        jobs.append(post_job(poster, params, spec))

    first = watcher.consider(jobs[0], cid)
    second = watcher.consider(jobs[1], cid)

    me = holder.sender.address
    assert first.join and holder.market.participant_of(jobs[0], me).slot == 1
    assert holder.ledger.spend_of(jobs[0], me) == (world["asset"], round(epsilon * EPSILON_UNIT))
    assert not second.join and "left of our privacy budget" in second.reasons[0]
    assert holder.ledger.remaining_budget(me, world["asset"]) == round(0.5 * epsilon * EPSILON_UNIT)
    assert holder.market.participant_of(jobs[1], me).slot == 0


def _profile(world):
    from opendpg.agent import ProviderProfile

    return ProviderProfile(datasets=frozenset(), assets=frozenset({world["asset"]}), gpu_memory_mib=0, cpu_cores=4)
