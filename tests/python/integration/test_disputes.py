"""Disputes end to end on real components (anvil, kubo, Flower processes, the coordinator's gate, the agent's
disputer, the ``opendpg dispute`` command): a coordinator colluding with the poster leaves out an honest provider's
update; the provider's agent checks it and disputes; a committee member checks and upholds; the provider is paid for
the round from the escrow, gets its bond back and a penalty from the coordinator's stake. A provider whose update
really was junk disputes anyway and loses its bond to the coordinator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opendpg.agent.disputer import Disputer
from opendpg.chain import DisputeState
from opendpg.content import KuboStore
from tests.python.conftest import past_dispute_window
from tests.python.integration.stack import E18
from tests.python.integration.test_faults import _register, run_one_round

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes

NET = 10 * E18 * 99 // 100
#: The steps below run inside the window one CLI process at a time; the test ends it with past_dispute_window
DISPUTE_WINDOW = 600


def _cli(stack, key_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDPG_")}
    env.update({"OPENDPG_RPC_URL": stack.rpc_url, "OPENDPG_DEPLOYMENT_FILE": str(stack.deployment_file),
                "OPENDPG_IPFS_API": stack.kubo.api_url})
    return subprocess.run([sys.executable, "-m", "opendpg.cli.main", "dispute", "--key-file", str(key_file), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def _key(tmp_path: Path, account) -> Path:
    path = tmp_path / f"{account.address}.key"
    path.write_text(account.key.hex())
    return path


@pytest.mark.timeout(1800)
def test_an_excluded_honest_update_wins_its_dispute_and_a_junk_one_loses_its_bond(stack, accounts, tmp_path,
                                                                                  monkeypatch):
    # Prepare: three providers; provider 2's ClientApp corrupts its update (junk); the coordinator's gate colludes
    # with the poster and leaves out provider 1's good update
    providers, coordinator, poster = accounts[21:24], accounts[24], accounts[25]
    committee = accounts[10]  # the deployment's expert committee (threshold 1), not party to the job
    stack.fund(*providers, coordinator, poster)
    _register(stack, *providers, coordinator)
    store = KuboStore(stack.kubo.api_url)
    job_id = run_one_round(stack, store, providers, coordinator, poster, tmp_path, monkeypatch,
                           "tests.python.integration.colluding_gate:ExcludingGate", exclude=providers[1].address)
    market = stack.admin.market
    assert market.round_of(job_id, 1)[1] == 1  # only provider 0 used
    balances = {p.address: stack.admin.token.balance_of(p.address) for p in providers}
    coordinator_tokens = stack.admin.token.balance_of(coordinator.address)
    coordinator_stake = stack.admin.registry.stake_of(coordinator.address)["staked"]

    # Execute: each left-out provider's agent considers a dispute; the junk one's operator forces one by hand
    disputers = [Disputer(stack.as_(p), store, tmp_path / f"disputes-{i}.json", auto=True, max_bond=100 * E18)
                 for i, p in enumerate(providers)]
    unwilling = [Disputer(stack.as_(providers[1]), store, tmp_path / "off.json", auto=False, max_bond=100 * E18),
                 Disputer(stack.as_(providers[1]), store, tmp_path / "cheap.json", auto=True, max_bond=E18)]
    declined = [d.consider(job_id, 1) for d in unwilling]
    honest_dispute = disputers[1].consider(job_id, 1)
    assert disputers[2].consider(job_id, 1) is None  # the agent does not bond a junk update
    refused = _cli(stack, _key(tmp_path, providers[2]), "open", str(job_id), "1")
    forced = _cli(stack, _key(tmp_path, providers[2]), "open", str(job_id), "1", "--force")
    junk_dispute = stack.admin.disputes.dispute_of(job_id, 1, providers[2].address)
    committee_key = _key(tmp_path, committee)
    checks = {d: _cli(stack, committee_key, "check", str(d)) for d in (honest_dispute, junk_dispute)}
    votes = [_cli(stack, committee_key, "vote", str(honest_dispute), "--uphold", "--reason", "passes every check"),
             _cli(stack, committee_key, "vote", str(junk_dispute), "--deny", "--reason", "wrong tensor shapes")]
    past_dispute_window(market, job_id)
    stack.as_(poster).market.finalize_job(job_id)
    for i in (1, 2):
        if market.claimable(job_id, providers[i].address):
            stack.as_(providers[i]).market.claim(job_id)
        disputers[i].withdraw_owed()
    withdrawn = _cli(stack, _key(tmp_path, coordinator), "withdraw")

    # Assert: the honest provider is paid for the round, its bond back, plus the coordinator's whole job stake (10,
    # below the 50 penalty); the junk provider gets nothing and its bond (50) went to the coordinator
    assert declined == [None, None]  # its policy said no: auto-dispute off, or a bond above its cap
    assert "auto-dispute is off" in str(unwilling[0].decisions["1:1"]["skipped"])
    assert "above this node's max_bond" in str(unwilling[1].decisions["1:1"]["skipped"])
    assert honest_dispute is not None
    assert junk_dispute != 0, \
        f"dispute open --force: exit {forced.returncode}\n{forced.stdout[-1500:]}\n{forced.stderr[-1500:]}"
    assert disputers[1].consider(job_id, 1) == honest_dispute  # asked again (a restart): the same, not a second
    assert refused.returncode == 1 and "the job's model expects" in refused.stdout, refused.stdout + refused.stderr
    assert forced.returncode == 0, forced.stderr
    assert checks[honest_dispute].returncode == 0 and "uphold" in checks[honest_dispute].stdout
    assert checks[junk_dispute].returncode == 1 and "deny" in checks[junk_dispute].stdout
    assert all(v.returncode == 0 for v in votes), [v.stderr for v in votes]
    assert stack.admin.disputes.get(honest_dispute).state == DisputeState.UPHELD
    assert stack.admin.disputes.get(junk_dispute).state == DisputeState.DENIED
    assert stack.admin.token.balance_of(providers[1].address) - balances[providers[1].address] == NET + 10 * E18
    assert stack.admin.token.balance_of(providers[2].address) - balances[providers[2].address] == -50 * E18
    assert withdrawn.returncode == 0 and "withdrawn 50.0000" in withdrawn.stdout, withdrawn.stdout + withdrawn.stderr
    assert stack.admin.token.balance_of(coordinator.address) - coordinator_tokens == 50 * E18
    assert stack.admin.registry.stake_of(coordinator.address)["staked"] == coordinator_stake - 10 * E18
    assert market.get_job(job_id).credited == 20 * E18  # provider 0's round and provider 1's, disputed
    assert market.refundable(job_id) == 10 * E18  # only the junk update's share goes back to the poster
