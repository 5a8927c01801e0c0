"""Post a job from the web app and watch it train to the end with the real daemons: a coordinator and two
provider agents (Flower, PyTorch) as processes on a chain of the module's own, kubo, and the gateway serving the
app and evaluating every committed model. The test checks the chain: finished, both providers paid."""

from __future__ import annotations

import pytest

from opendpg.chain import Chain, LocalChain, SuiteParams, TxSender, connect, deploy_suite
from opendpg.content import KuboDaemon
from opendpg.process import stop_process_group
from tests.python.frontend.browser import SCREENSHOTS, run_browser
from tests.python.gateway.conftest import start_gateway
from tests.python.integration.stack import E18, Stack

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-in-browser")
    with LocalChain(kind="anvil", accounts=8) as local, KuboDaemon(root / "ipfs") as kubo:
        w3 = connect(local.rpc_url)
        accounts = local.dev_accounts()
        deployment = deploy_suite(TxSender(w3, accounts[0]), SuiteParams(checkers=[accounts[0].address]))
        deployment.save(root / "deployment.json")
        stack = Stack(local.rpc_url, local.ws_url, deployment, root / "deployment.json", kubo,
                      Chain(w3, deployment, TxSender(w3, accounts[0])), root)
        env = {"OPENDPG_RPC_URL": local.rpc_url, "OPENDPG_DEPLOYMENT_FILE": str(root / "deployment.json"),
               "OPENDPG_IPFS_API": kubo.api_url, "OPENDPG_PRIVATE_KEY": accounts[0].key.hex()}
        proc, url = start_gateway(root / "gateway", f"sqlite:///{root / 'gateway.db'}", env)
        try:
            yield {"stack": stack, "local": local, "accounts": accounts, "url": url}
        finally:
            stop_process_group(proc)
            stack.stop_all()


@pytest.mark.timeout(900)
def test_a_job_posted_in_the_browser_trains_and_pays(live):
    # Prepare: a coordinator and two agents running; the poster's wallet in the browser
    stack, accounts = live["stack"], live["accounts"]
    coordinator, providers, poster = accounts[1], accounts[2:4], accounts[4]
    stack.start_daemons(coordinator, providers, poster)

    # Execute
    seen = run_browser("train.mjs", f"{live['url']}/app/", live["local"].rpc_url, poster.address, str(SCREENSHOTS),
                    coordinator.address)

    # Assert: on-chain, then what the page showed
    market = stack.admin.market
    job = market.get_job(seen["jobId"])
    assert job.state.name == "FINISHED" and job.committed_rounds == 2 and job.poster == poster.address
    paid = market.contract.events.RewardClaimed().get_logs(from_block=stack.deployment.start_block,
                                                           argument_filters={"jobId": seen["jobId"]})
    assert {log["args"]["provider"] for log in paid} == {p.address for p in providers}
    assert all(log["args"]["amount"] == 2 * (E18 - E18 // 100) for log in paid)  # 2 rounds of 1 DPG, 1 % fee
    assert "finished: 2 of 2 rounds committed" in seen["summary"]
    assert seen["updates"] == 4 and seen["curvePoints"] == 4  # 2 rounds x (loss, accuracy)
    assert seen["payments"].count("reward") == 2
    assert seen["audit"] == "All 2 round(s) verified."
    last = market.contract.events.RoundCommitted().get_logs(from_block=stack.deployment.start_block,
                                                            argument_filters={"jobId": seen["jobId"]})[-1]
    assert seen["model"]["status"] == 200 and seen["model"]["round"] == "2" and seen["model"]["bytes"] > 0
    assert seen["model"]["sha256"] == bytes(last["args"]["globalHash"]).hex()
