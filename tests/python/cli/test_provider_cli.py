"""``opendpg provider …`` on a live chain: register with capabilities and stake, stake more, earn in a job,
claim, see status and earnings, unbond; failures are one line naming the fix (exit 2)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from opendpg.chain import Capabilities, JobParams
from tests.python.conftest import E18, as_account, past_dispute_window

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes

CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


def _cli(anvil, deployment_file, key_file, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDPG_")}
    env.update({"OPENDPG_RPC_URL": anvil.rpc_url, "OPENDPG_DEPLOYMENT_FILE": str(deployment_file)})
    extra = ["--key-file", str(key_file)] if key_file else []
    return subprocess.run([sys.executable, "-m", "opendpg.cli.main", "provider", *extra, *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_a_provider_from_the_command_line(anvil, admin, accounts, tmp_path):
    # Prepare: a funded account with its key in a file; a coordinator and a poster
    node, coordinator, poster = accounts[19], accounts[28], accounts[29]
    for acct in (node, coordinator, poster):
        admin.token.transfer(acct.address, 1_000 * E18)
    key_file = tmp_path / "node.key"
    key_file.write_text(node.key.hex())
    deployment_file = tmp_path / "deployment.json"
    admin.deployment.save(deployment_file)
    run = lambda *args: _cli(anvil, deployment_file, key_file, *args)  # noqa: E731

    # Execute + Assert: register and stake
    registered = run("register", "--stake", "150", "--cpu-cores", "4", "--dataset", "sklearn/digits")
    assert registered.returncode == 0, registered.stderr
    assert admin.registry.holds_dataset(node.address, "sklearn/digits")
    assert run("stake", "50").returncode == 0
    assert admin.registry.stake_of(node.address)["staked"] == 200 * E18

    # ... earn one round in a job, then claim it
    as_account(admin, coordinator).registry.register(Capabilities("CPU", 0, 1, 1024, "x", [], ""), 100 * E18)
    now = admin.w3.eth.get_block("latest")["timestamp"]
    job_id = as_account(admin, poster).market.post_job(JobParams(
        CID, admin.token.address, 10 * E18, 10 * E18, 1, 1, 1, 10 * E18, now + 3600, 600, coordinator.address))
    as_account(admin, node).market.join_job(job_id)
    coord = as_account(admin, coordinator).market
    coord.start_job(job_id)
    as_account(admin, node).market.submit_update(job_id, 1, hashlib.sha256(b"u").digest(), CID)
    coord.commit_round(job_id, 1, hashlib.sha256(b"g").digest(), CID, [0])
    past_dispute_window(coord, job_id)
    coord.finalize_job(job_id)
    before = admin.token.balance_of(node.address)
    status = run("status")
    assert "claimable now 9.9000 over 1 job(s)" in status.stdout, status.stdout
    claimed = run("claim")
    assert claimed.returncode == 0 and f"job {job_id}: claimed 9.9000" in claimed.stdout
    assert admin.token.balance_of(node.address) - before == 99 * E18 // 10
    status = run("status")
    assert "earned (claimed) 9.9000; claimable now 0.0000" in status.stdout
    assert "1 jobs, 1 rounds delivered, 0 missed, 0 slashes" in status.stdout
    assert "nothing to claim now" in run("claim").stdout

    # ... unbond; withdrawing before the unbonding period is a decoded revert, not a trace
    assert run("unbond", "20").returncode == 0
    early = run("withdraw")
    assert early.returncode == 2 and "NodeRegistry" in early.stderr and "Traceback" not in early.stderr


def test_provider_command_failures_name_the_fix(anvil, admin, tmp_path):
    deployment_file = tmp_path / "deployment.json"
    admin.deployment.save(deployment_file)
    no_key = _cli(anvil, deployment_file, None, "stake", "1")
    assert no_key.returncode == 2 and "OPENDPG_PRIVATE_KEY" in no_key.stderr
    bad_file = tmp_path / "bad.key"
    bad_file.write_text("not a key")
    assert "64 hex digits" in _cli(anvil, deployment_file, bad_file, "stake", "1").stderr
    key_file = tmp_path / "k.key"
    key_file.write_text("11" * 32)
    bad_amount = _cli(anvil, deployment_file, key_file, "stake", "lots")
    assert bad_amount.returncode == 2 and "not a number of tokens" in bad_amount.stderr
    stranger = _cli(anvil, deployment_file, None, "status", "0x" + "ab" * 20)
    assert stranger.returncode == 0 and "is not a registered node" in stranger.stdout
    nonsense = _cli(anvil, deployment_file, None, "status", "0x1234")
    assert nonsense.returncode == 2 and "is not an address" in nonsense.stderr
