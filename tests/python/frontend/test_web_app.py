"""The web app in a real browser (headless Debian Chromium, driven by Playwright from frontend/e2e/app.mjs) against
a live stack: anvil, kubo, the contracts, and the gateway serving the built app. A test wallet is injected into
the page (EIP-6963 + EIP-1193, anvil's development keys sign). The page shows the wrong network and switches,
shows a bad amount and a decoded revert before anything is signed, and posts jobs with escrow from the form (by a
signed EIP-2612 permit: one transaction; by approving first: two); the test checks the jobs on-chain and the spec
on IPFS, not only the page. Screenshots land in build/screenshots/web-app/."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from opendpg.chain import Capabilities, Chain, DataTerms, JobParams, SuiteParams, TxSender, dataset_id, deploy_suite
from opendpg.content import KuboDaemon, KuboStore
from opendpg.dpg import parse_metadata, shipped_standard
from opendpg.dpg.certification import STAGES, Certification
from opendpg.dpg.datasets import EXAMPLE_HELD_DATASET
from opendpg.process import stop_process_group
from opendpg.spec import BaseModelSpec, parse_spec
from tests.python.conftest import past_dispute_window
from tests.python.dpg.test_checker import EXAMPLE
from tests.python.frontend.browser import SCREENSHOTS, run_browser
from tests.python.gateway.conftest import start_gateway

pytestmark = pytest.mark.timeout(900)  # browser scenarios on a busy machine (run_browser: 600 s)

E18 = 10**18


@pytest.fixture(scope="module")
def stack(anvil, w3, accounts, tmp_path_factory):
    operator, coordinator, user = accounts[13], accounts[14], accounts[15]
    deployment = deploy_suite(TxSender(w3, operator), SuiteParams(checkers=[operator.address]))
    admin = Chain(w3, deployment, TxSender(w3, operator))
    admin.token.transfer(coordinator.address, 1_000 * E18)
    admin.as_account(TxSender(w3, coordinator)).registry.register(Capabilities("CPU", 0, 2, 4096, "eu", []),
                                                                  100 * E18)
    admin.token.transfer(user.address, 500 * E18)
    state = tmp_path_factory.mktemp("web-app")
    deployment.save(state / "deployment.json")
    with KuboDaemon(state / "ipfs") as kubo:
        env = {"OPENDPG_RPC_URL": anvil.rpc_url, "OPENDPG_DEPLOYMENT_FILE": str(state / "deployment.json"),
               "OPENDPG_IPFS_API": kubo.api_url, "OPENDPG_PRIVATE_KEY": operator.key.hex(),
               "OPENDPG_GATEWAY_PUBLIC_RPC_URL": anvil.rpc_url}
        proc, url = start_gateway(state, f"sqlite:///{state / 'gateway.db'}", env)
        try:
            yield {"admin": admin, "url": url, "user": user, "coordinator": coordinator, "kubo": kubo}
        finally:
            stop_process_group(proc)


def _base_model(admin: Chain, store: KuboStore, folder: Path) -> tuple[int, str]:
    """An MLP base model for the bundled digits, registered (not certified) as a model asset with its files."""
    from opendpg.fl.basemodel import ModelCard, save_base_model
    from opendpg.fl.models import build_model
    from opendpg.spec import ModelSpec

    network = build_model(ModelSpec(name="mlp", hidden_units=16), (64,), 10, seed=3)
    files = save_base_model(network, ModelCard(name="mlp", hidden_units=16, input_shape=[64], outputs=10,
                                               head=["3.weight", "3.bias"]), folder / "mlp-base")
    meta = json.loads(EXAMPLE.read_text()) | {"name": "digits MLP base", "kind": "model", "licence": "Apache-2.0",
                                              "catalog_id": None}
    asset = Certification(admin, store).register(parse_metadata(json.dumps(meta)), files=files, certify=False)
    files_cid = json.loads(store.get(admin.dpg.get_asset(asset)["metadata_cid"]))["files_cid"]
    return asset, files_cid


def test_post_a_job_from_the_browser(stack, anvil, tmp_path):
    # Prepare
    admin, user = stack["admin"], stack["user"]
    jobs_before = admin.market.job_count()
    balance_before = admin.token.balance_of(user.address)
    sent_before = admin.w3.eth.get_transaction_count(user.address)
    permits_before = admin.token.contract.functions.nonces(user.address).call()
    base_asset, files_cid = _base_model(admin, KuboStore(stack["kubo"].api_url), tmp_path)

    # Execute: the browser run
    seen = run_browser("app.mjs", f"{stack['url']}/app/", anvil.rpc_url, user.address, str(SCREENSHOTS),
                       str(base_asset))

    # Assert: what the page showed, and what the chain and IPFS hold
    assert "Wrong network" in seen["wrongNetwork"] and "chain 1" in seen["wrongNetwork"]
    assert "Post the job: reverted: JobMarketInvalidParams(rewardPerRound)" in seen["refused"]
    assert 'Reward per provider and round: "2x" is not an amount of DPG' in seen["badAmount"]
    job_id, approved_id = seen["jobId"], seen["approvedJobId"]
    assert (job_id, approved_id) == (jobs_before + 1, jobs_before + 2) and admin.market.job_count() == approved_id
    job, approved = admin.market.get_job(job_id), admin.market.get_job(approved_id)
    assert job.poster == user.address and job.coordinator == stack["coordinator"].address
    assert job.budget == 2 * 3 * 2 * E18 and job.reward_per_round == 2 * E18 and job.rounds == 3
    assert approved.poster == user.address and approved.budget == 2 * 1 * 2 * E18
    assert admin.token.balance_of(user.address) == balance_before - job.budget - approved.budget
    # the permit path sent one transaction and used one permit; approving first sent two; nothing left approved
    assert admin.token.contract.functions.nonces(user.address).call() == permits_before + 1
    assert admin.w3.eth.get_transaction_count(user.address) == sent_before + 1 + 2
    assert admin.token.allowance(user.address, admin.market.address) == 0
    posted = admin.market.contract.events.JobPosted().get_logs(from_block=admin.deployment.start_block,
                                                               argument_filters={"jobId": job_id})[0]
    spec = parse_spec(KuboStore(stack["kubo"].api_url).get(posted["args"]["params"]["specCid"]))
    assert spec.name == "Digits from the browser" and spec.training.rounds == 3 and spec.model.lora is None
    approved_posted = admin.market.contract.events.JobPosted().get_logs(from_block=admin.deployment.start_block,
                                                                        argument_filters={"jobId": approved_id})[0]
    model = parse_spec(KuboStore(stack["kubo"].api_url).get(approved_posted["args"]["params"]["specCid"])).model
    assert (model.name, model.hidden_units, model.base) == ("mlp", 16, BaseModelSpec(asset=base_asset,
                                                                                    files_cid=files_cid))
    lora = model.lora  # the architecture came from the base's card; the adapters from the form
    assert lora is not None and (lora.rank, lora.alpha, lora.target_modules, lora.modules_to_save) == (4, 16, ["1"],
                                                                                                      ["3"])
    assert f"Job {job_id} posted: 12 DPG in escrow" in seen["posted"]
    assert seen["status"].startswith("Post the job with the permit: mined in block")
    assert "open" in seen["myJobs"] and "Version 1 is in force" in seen["governance"]
    assert stack["coordinator"].address[:8] in seen["providers"]
    assert {Path(p).name for p in seen["screenshots"]} == {"wrong-network.png", "job-refused.png", "jobs.png",
                                                           "providers.png", "governance.png", "catalog.png"}


def test_a_provider_registers_stakes_and_claims_from_the_browser(stack, anvil, accounts):
    # Prepare: a funded wallet that is not a node yet
    admin, coordinator, provider = stack["admin"], stack["coordinator"], accounts[16]
    admin.token.transfer(provider.address, 500 * E18)
    app = (f"{stack['url']}/app/", anvil.rpc_url, provider.address, str(SCREENSHOTS))

    # Execute: register and stake in the page; a job runs for it (the chain's side, as its agent would); claim
    registered = run_browser("provider.mjs", *app, "register")
    node = admin.as_account(TxSender(admin.w3, provider))
    chief = admin.as_account(TxSender(admin.w3, coordinator))
    now = int(admin.w3.eth.get_block("latest")["timestamp"])
    job_id = admin.market.post_job(JobParams("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
                                             admin.token.address, 2 * E18, 2 * E18, 1, 1, 1, 10 * E18, now + 3600,
                                             600, coordinator.address))
    node.market.join_job(job_id)
    chief.market.start_job(job_id)
    node.market.submit_update(job_id, 1, bytes.fromhex("11" * 32), "bafkreiupdate")
    chief.market.commit_round(job_id, 1, bytes.fromhex("22" * 32), "bafkreiglobal", [0])
    past_dispute_window(chief.market, job_id)
    chief.market.finalize_job(job_id)
    before = admin.token.balance_of(provider.address)
    claimed = run_browser("provider.mjs", *app, "claim")

    # Assert: on-chain stake, capabilities and payment, and what the page said
    stake = admin.registry.stake_of(provider.address)
    assert stake["staked"] == 150 * E18 and stake["locked"] == 0
    assert admin.registry.holds_dataset(provider.address, "sklearn/digits")
    assert "150" in registered["stake"]
    net = 2 * E18 - 2 * E18 // 100  # 1 % protocol fee
    assert admin.token.balance_of(provider.address) - before == net
    assert claimed["offer"] == "Claim 1.98 DPG" and claimed["earnings"] == "Earnings: 1.98 DPG"
    assert admin.market.claimable(job_id, provider.address) == 0


def test_a_provider_unbonds_and_withdraws_from_the_browser(stack, anvil, accounts):
    # Prepare: the node of the previous test, 150 DPG staked and nothing locked (the minimum stake is 100 DPG)
    admin, provider = stack["admin"], accounts[16]
    assert admin.registry.stake_of(provider.address)["staked"] == 150 * E18
    before = admin.token.balance_of(provider.address)

    # Execute: unbond in the page, try to withdraw early, wait out the unbonding period, withdraw
    seen = run_browser("provider.mjs", f"{stack['url']}/app/", anvil.rpc_url, provider.address, str(SCREENSHOTS),
                       "unbond")

    # Assert: the stake and the balance on-chain, and the reasons the page gave
    stake = admin.registry.stake_of(provider.address)
    assert stake["staked"] == 120 * E18 and stake["unbonding"] == 0
    assert admin.token.balance_of(provider.address) - before == 30 * E18
    assert seen["belowMinimum"] == (f"Unbond: reverted: NodeRegistryStakeBelowMinimum({90 * E18}, {100 * E18})")
    assert "Withdraw: reverted: NodeRegistryUnbondingNotReady(" in seen["early"]
    assert seen["unbonding"][:3] == ["120", "0", "30"] and seen["unbonding"][3] != "-"  # staked, locked, unbonding
    assert seen["withdrawn"].startswith("Withdraw: mined in block") and seen["after"][:4] == ["120", "0", "0", "-"]


def test_certify_reject_and_change_the_standard_from_the_browser(stack, anvil, tmp_path):
    # Prepare: the operator's wallet (1 G DPG, the expert committee in development, the checker) in the browser;
    # two assets registered by someone else and attested by the checker after the operator's votes were delegated
    admin, owner = stack["admin"], stack["user"]
    operator = admin.sender.address
    admin.token.delegate(operator)
    anvil.increase_time(1)  # votes count from the second after they were delegated
    store = KuboStore(stack["kubo"].api_url)
    checker = Certification(admin, store)
    asset_id, rejected_id = (Certification(admin.as_account(TxSender(admin.w3, owner)), store).register(
        parse_metadata(EXAMPLE.read_bytes())) for _ in range(2))
    for asset in (asset_id, rejected_id):
        checker.attest(asset, checker.check(asset))
    _, data, _ = shipped_standard()
    document = json.loads(data) | {"version": 2}
    standard_file = tmp_path / "standard-v2.json"
    standard_file.write_text(json.dumps(document))

    # Execute
    seen = run_browser("governance.mjs", f"{stack['url']}/app/", anvil.rpc_url, operator, str(SCREENSHOTS),
                       str(standard_file), str(asset_id), str(rejected_id))

    # Assert: the chain, then the page
    assert admin.dpg.is_certified(asset_id)
    review = admin.dpg.get_review(asset_id, 1)
    assert review["for_votes"] > 0 and review["approvals"] == 1
    assert not admin.dpg.is_certified(rejected_id) and STAGES[admin.dpg.get_asset(rejected_id)["stage"]] == "rejected"
    assert admin.dpg.get_review(rejected_id, 1)["rejections"] == 1
    [decision] = admin.dpg.contract.events.CommitteeDecision().get_logs(
        from_block=admin.deployment.start_block, argument_filters={"assetId": rejected_id})
    assert store.get(decision["args"]["reasonCid"]) == (
        b"The privacy statement does not cover the consent of the people in the data.")
    version, cid = admin.dpg.standard()
    assert version == 2 and json.loads(store.get(cid)) == document
    assert seen["afterClose"] == "committee review" and "passed: 7 pass, 2 for review, 0 fail" in seen["queued"]
    assert seen["rejectWithoutReason"] == "a rejection needs a reason"
    assert "No asset is under review." in seen["queueAfter"]
    assert "Version 2 is in force" in seen["standard"] and "executed" in seen["proposals"]
    assert "Version 2in force" in seen["versions"] and "DAO proposal" in seen["versions"]
    assert "Version 1replaced" in seen["versions"] and "at deployment" in seen["versions"]
    assert seen["versionLink"] == f"{stack['url']}/standards/2"
    assert httpx.get(seen["versionLink"]).json() == document


def test_post_a_job_that_requires_a_certified_dataset(stack, anvil):
    # Prepare: a dataset certified for real (registered, checked and attested, voted, the vote closed after its
    # period, approved by the committee: the operator in development)
    admin, user = stack["admin"], stack["user"]
    admin.token.delegate(admin.sender.address)
    anvil.increase_time(1)  # votes count from the second after they were delegated
    store = KuboStore(stack["kubo"].api_url)
    review = Certification(admin, store)
    asset_id = Certification(admin.as_account(TxSender(admin.w3, user)), store).register(
        parse_metadata(EXAMPLE.read_bytes()))
    review.attest(asset_id, review.check(asset_id))
    review.vote(asset_id, True)
    anvil.increase_time(admin.dpg.settings()["voting_period"] + 1)
    review.close_vote(asset_id)
    review.decide(asset_id, True)
    assert admin.dpg.is_certified(asset_id)
    balance_before = admin.token.balance_of(user.address)

    # Execute
    seen = run_browser("require.mjs", f"{stack['url']}/app/", anvil.rpc_url, user.address, str(SCREENSHOTS),
                       str(asset_id))

    # Assert: the requirements on-chain and in the pinned spec; the escrow
    assert str(asset_id) in seen["offered"] and seen["offered"][0] == "", seen["page"]
    assert seen["status"].startswith("Post the job with its requirements: mined in block")
    job_id = seen["jobId"]
    [required] = admin.market.job_logs("JobRequirementsSet", job_id)
    assert required["args"]["datasetAsset"] == asset_id and not required["args"]["certifiedComputeOnly"]
    assert required["args"]["datasetId"] == dataset_id("sklearn/digits")
    assert required["args"]["dataShareBps"] == 1000
    [posted] = admin.market.job_logs("JobPosted", job_id)
    spec = parse_spec(store.get(posted["args"]["params"]["specCid"]))
    assert spec.certification is not None and spec.certification.dataset_asset == asset_id
    assert admin.token.balance_of(user.address) == balance_before - admin.market.get_job(job_id).budget


def test_post_a_job_on_data_its_providers_hold(stack, anvil):
    # Prepare: a dataset asset whose metadata carries the schema of its holders' records (not certified: private)
    admin, user = stack["admin"], stack["user"]
    store = KuboStore(stack["kubo"].api_url)
    metadata = EXAMPLE_HELD_DATASET.read_bytes()
    asset_id = admin.as_account(TxSender(admin.w3, user)).dpg.register_asset(0, store.put(metadata), "CC-BY-4.0")
    schema = parse_metadata(metadata).dataset_schema
    balance_before = admin.token.balance_of(user.address)

    # Execute
    seen = run_browser("heldata.mjs", f"{stack['url']}/app/", anvil.rpc_url, user.address, str(SCREENSHOTS),
                       str(asset_id))

    # Assert: the data terms on-chain, the pinned spec with the asset's schema filled in, the escrow
    assert f"asset:{asset_id}" in seen["offered"] and seen["offered"][0] == "simulate:sklearn/digits"
    assert seen["status"].startswith("Post the job on the providers' data: mined in block")
    job_id = seen["jobId"]
    terms = admin.market.data_terms_of(job_id)
    assert terms == DataTerms(asset_id, schema.fingerprint(), 6_500_000, 10**13)
    [posted] = admin.market.job_logs("JobPosted", job_id)
    spec = parse_spec(store.get(posted["args"]["params"]["specCid"]))
    assert spec.dataset.mode == "local" and spec.dataset.asset == asset_id
    assert spec.dataset.data_schema == schema and spec.privacy.dp_sgd.noise_multiplier == 1.2
    assert admin.token.balance_of(user.address) == balance_before - admin.market.get_job(job_id).budget


def test_without_a_wallet_the_app_still_reads_the_chain(stack):
    # Prepare: a job on the chain
    admin = stack["admin"]
    now = int(admin.w3.eth.get_block("latest")["timestamp"])
    job_id = admin.market.post_job(JobParams("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
                                             admin.token.address, 4 * E18, 2 * E18, 1, 1, 2, 0, now + 3600, 600,
                                             stack["coordinator"].address))
    assert httpx.get(f"{stack['url']}/chain/jobs/{job_id}").status_code == 200  # indexed (the lists read the index)

    # Execute
    seen = run_browser("nowallet.mjs", f"{stack['url']}/app/", str(SCREENSHOTS), str(job_id))

    # Assert
    assert "No browser wallet found" in seen["noWallet"] and "Connect a wallet to post jobs." in seen["jobs"]
    assert seen["summary"].startswith("open: 0 of 1 rounds committed, 0 of 2 providers, 4 DPG escrowed")


def test_a_wallet_that_is_not_connected(stack, anvil):
    # Prepare: a wallet in the browser whose user refuses to connect it
    user = stack["user"]

    # Execute
    seen = run_browser("unconnected.mjs", f"{stack['url']}/app/", anvil.rpc_url, user.address, str(SCREENSHOTS))

    # Assert: every page asks for a connection and still shows what it can read; the refusal is named
    assert seen["walletArea"] == "Connect OpenDPG Test Wallet"
    assert "Connect a wallet to post jobs." in seen["jobs"] and "Recent jobs" in seen["jobs"]
    assert "Connect a wallet to register a node, stake and claim rewards." in seen["providers"]
    assert stack["coordinator"].address[:8] in seen["providers"]
    assert "Connect a wallet to delegate your votes, vote and propose." in seen["governance"]
    assert seen["refused"] == "refused in the wallet"
