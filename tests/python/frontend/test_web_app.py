"""The web app in a real browser (headless Debian Chromium, driven by Playwright from frontend/e2e/app.mjs) against
a live stack: anvil, kubo, the contracts, and the gateway serving the built app. A test wallet is injected into
the page (EIP-6963 + EIP-1193, anvil's development keys sign). The page shows the wrong network and switches,
shows a decoded revert before anything is signed, and posts a job with escrow from the form; the test checks the
job on-chain and its spec on IPFS, not only the page. Screenshots land in build/screenshots/web-app/."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from opendpg.chain import Capabilities, Chain, SuiteParams, TxSender, deploy_suite
from opendpg.config import project_root
from opendpg.content import KuboDaemon, KuboStore
from opendpg.process import stop_process_group
from opendpg.spec import parse_spec
from tests.python.gateway.conftest import start_gateway

E18 = 10**18
ROOT = project_root()
SCREENSHOTS = ROOT / "build" / "screenshots" / "web-app"


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
               "OPENDPG_IPFS_API": kubo.api_url, "OPENDPG_PRIVATE_KEY": operator.key.hex()}
        proc, url = start_gateway(state, f"sqlite:///{state / 'gateway.db'}", env)
        try:
            yield {"admin": admin, "url": url, "user": user, "coordinator": coordinator, "kubo": kubo}
        finally:
            stop_process_group(proc)


def test_post_a_job_from_the_browser(stack, anvil):
    # Prepare: the built app is served by the gateway
    assert (ROOT / "frontend" / "dist" / "index.html").is_file(), "build the web app first: make frontend"
    admin, user = stack["admin"], stack["user"]
    jobs_before = admin.market.job_count()
    balance_before = admin.token.balance_of(user.address)

    # Execute: the browser run
    run = subprocess.run(["node", "e2e/app.mjs", f"{stack['url']}/app/", anvil.rpc_url, user.address,
                          str(SCREENSHOTS)], cwd=ROOT / "frontend", capture_output=True, text=True, timeout=240)

    # Assert: what the page showed, and what the chain and IPFS hold
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert "Wrong network" in seen["wrongNetwork"] and "chain 1" in seen["wrongNetwork"]
    assert "JobMarketInvalidParams(rewardPerRound)" in seen["refused"]
    job_id = seen["jobId"]
    assert job_id == jobs_before + 1 == admin.market.job_count()
    job = admin.market.get_job(job_id)
    assert job.poster == user.address and job.coordinator == stack["coordinator"].address
    assert job.budget == 2 * 3 * 2 * E18 and job.reward_per_round == 2 * E18 and job.rounds == 3
    assert admin.token.balance_of(user.address) == balance_before - job.budget
    posted = admin.market.contract.events.JobPosted().get_logs(from_block=admin.deployment.start_block,
                                                               argument_filters={"jobId": job_id})[0]
    spec = parse_spec(KuboStore(stack["kubo"].api_url).get(posted["args"]["params"]["specCid"]))
    assert spec.name == "Digits from the browser" and spec.training.rounds == 3
    assert f"Job {job_id} posted: 12 DPG in escrow" in seen["posted"] and "mined in block" in seen["status"]
    assert "open" in seen["myJobs"] and "Version 1 is in force" in seen["governance"]
    assert stack["coordinator"].address[:8] in seen["providers"]
    assert {Path(p).name for p in seen["screenshots"]} == {"wrong-network.png", "job-refused.png", "jobs.png",
                                                           "providers.png", "governance.png", "catalog.png"}
