"""``opendpg jobs post`` signing with the user's own keystore, straight to the chain (no gateway): the spec is
pinned, the escrow comes from the keystore's address; a wrong password, a bad spec or a short balance is one
line naming the fix (exit 2) and posts nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from eth_account import Account

from opendpg.chain import Capabilities
from opendpg.content import EmbeddedStore
from opendpg.spec import parse_spec
from tests.python.conftest import E18, as_account

SPEC = {"name": "digits from a terminal", "model": {"name": "mlp"},
        "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"},
        "training": {"rounds": 2}, "providers": {"min": 1, "max": 2}}


def test_post_from_a_keystore(anvil, admin, accounts, tmp_path):
    # Prepare: an encrypted keystore for a funded account, a registered coordinator, a spec file
    poster, coordinator = accounts[34], accounts[38]
    admin.token.transfer(poster.address, 100 * E18)
    if not admin.registry.is_registered(coordinator.address):
        admin.token.transfer(coordinator.address, 200 * E18)
        as_account(admin, coordinator).registry.register(Capabilities("CPU", 0, 1, 1024, "x", [], ""), 100 * E18)
    keystore = tmp_path / "poster.json"
    keystore.write_text(json.dumps(Account.encrypt(poster.key, "open sesame")))
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(SPEC))
    deployment_file = tmp_path / "deployment.json"
    admin.deployment.save(deployment_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDPG_")}
    env.update({"OPENDPG_RPC_URL": anvil.rpc_url, "OPENDPG_DEPLOYMENT_FILE": str(deployment_file),
                "OPENDPG_STATE_DIR": str(tmp_path / "state"), "OPENDPG_KEYSTORE_PASSWORD": "open sesame"})

    def post(*extra: str, password: str = "open sesame") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "opendpg.cli.main", "jobs", "post", str(spec_file),
                               "--keystore", str(keystore), "--coordinator", coordinator.address, *extra],
                              capture_output=True, text=True, timeout=120,
                              env={**env, "OPENDPG_KEYSTORE_PASSWORD": password})

    jobs_before = admin.market.job_count()

    # Execute + Assert: refusals first, nothing posted
    wrong = post("--reward", "1", password="not it")
    assert wrong.returncode == 2 and "--keystore: wrong password" in wrong.stderr
    short = post("--reward", "1000")
    assert short.returncode == 2 and "--reward: the escrow needs 4000" in short.stderr
    spec_file.write_text(json.dumps({**SPEC, "training": {"rounds": 0}}))
    bad = post("--reward", "1")
    assert bad.returncode == 2 and "training.rounds" in bad.stderr
    assert admin.market.job_count() == jobs_before

    # Execute: a good post
    spec_file.write_text(json.dumps(SPEC))
    posted = post("--reward", "2.5")

    # Assert: on-chain from the keystore's address, escrow 2.5 x 2 rounds x 2 providers, spec pinned
    assert posted.returncode == 0, posted.stderr
    job_id = admin.market.job_count()
    job = admin.market.get_job(job_id)
    assert job.poster == poster.address and job.budget == 10 * E18 and job.coordinator == coordinator.address
    assert admin.token.balance_of(poster.address) == 90 * E18
    cid = admin.market.job_logs("JobPosted", job_id)[0]["args"]["params"]["specCid"]
    assert parse_spec(EmbeddedStore(tmp_path / "state" / "content").get(cid)).name == SPEC["name"]
    assert f"job {job_id} posted" in posted.stdout
