"""``opendpg dpg`` and ``opendpg gov`` as a person at a terminal uses them, on a chain of their own: an offline
check, register → check --attest → vote → close → decide → status, and a standard change proposed, voted,
queued and executed; mistakes are one line naming the fix (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opendpg.dpg import shipped_standard
from tests.python.dpg.test_checker import EXAMPLE, _example

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes

DAY = 86_400


def _cli(dao, tmp_path: Path):  # type: ignore[no-untyped-def]
    deployment = tmp_path / "deployment.json"
    dao.deployment.save(deployment)
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENDPG_")}
    base.update({"OPENDPG_RPC_URL": dao.local.rpc_url, "OPENDPG_DEPLOYMENT_FILE": str(deployment),
                 "OPENDPG_STATE_DIR": str(tmp_path / "state"), "OPENDPG_IPFS_API": dao.store.api_url})

    def run(*args: str, account: int | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(base)
        if account is not None:
            env["OPENDPG_PRIVATE_KEY"] = dao.accounts[account].key.hex()
        return subprocess.run([sys.executable, "-m", "opendpg.cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=120)
    return run


def test_offline_check(tmp_path, dao):
    run = _cli(dao, tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_example(licence="CC-BY-NC-4.0")))

    good_run, bad_run, json_run = (run("dpg", "check", str(EXAMPLE)), run("dpg", "check", str(bad)),
                                   run("dpg", "check", str(EXAMPLE), "--json"))

    assert good_run.returncode == 0 and "PASSED: 7 pass, 2 for human review, 0 fail" in good_run.stdout
    assert bad_run.returncode == 1 and "Use of approved open licences" in bad_run.stdout
    assert "NonCommercial: not an open licence" in bad_run.stdout
    assert json.loads(json_run.stdout)["passed"] is True
    missing = run("dpg", "check", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "No such file" in missing.stderr
    both = run("dpg", "check", str(EXAMPLE), "--asset", "1")
    assert both.returncode == 2 and "not both" in both.stderr


def test_certify_from_the_terminal(tmp_path, dao):
    run = _cli(dao, tmp_path)

    registered = run("dpg", "register", str(EXAMPLE), account=8)
    asset = registered.stdout.split()[2]
    attested = run("dpg", "check", "--asset", asset, "--attest", account=1)
    not_checker = run("dpg", "check", "--asset", asset, "--attest", account=8)
    votes = [run("dpg", "vote", asset, "for", account=i) for i in (5, 6)]
    early = run("dpg", "close", asset, account=7)
    dao.travel(3 * DAY + 1)
    closed = run("dpg", "close", asset, account=7)
    reject_without_reason = run("dpg", "decide", asset, "reject", account=2)
    decisions = [run("dpg", "decide", asset, "approve", account=i) for i in (2, 3)]
    status = run("dpg", "status", asset, "--json")

    assert registered.returncode == 0, registered.stderr
    assert attested.returncode == 0 and f"attested asset {asset}: passed" in attested.stdout
    assert not_checker.returncode == 2 and "AccessControlUnauthorizedAccount" in not_checker.stderr
    assert all(v.returncode == 0 for v in votes)
    assert early.returncode == 2 and "DPGRegistryVotingStillOpen" in early.stderr
    assert closed.returncode == 0 and "committee_review" in closed.stdout
    assert reject_without_reason.returncode == 2 and "needs a reason" in reject_without_reason.stderr
    assert [d.returncode for d in decisions] == [0, 0] and "certified" in decisions[1].stdout
    state = json.loads(status.stdout)
    assert state["stage"] == "certified" and state["certified"] and state["report"]["passed"]


def test_change_the_standard_from_the_terminal(tmp_path, dao):
    run = _cli(dao, tmp_path)
    _, data, _ = shipped_standard()
    document = json.loads(data)
    document["version"] = dao.admin.dpg.standard()[0] + 1
    new = tmp_path / "standard-next.json"
    new.write_text(json.dumps(document))

    no_votes = run("gov", "propose", "--description", "x", "--param", "dpg.quorum_bps", account=5)
    proposed = run("gov", "propose", "--description", "Publish the next DPG Standard", "--standard", str(new),
                   "--param", "dpg.approval_bps=6000", account=5)
    proposal = proposed.stdout.split()[1]
    dao.pass_voting_delay()
    voted = [run("gov", "vote", proposal, "for", account=i) for i in (5, 6)]
    dao.pass_voting_period()
    queued = run("gov", "queue", proposal, account=7)
    too_early = run("gov", "execute", proposal, account=7)
    dao.travel(2 * DAY + 1)
    executed = run("gov", "execute", proposal, account=7)
    listed, status, standard = run("gov", "list"), run("gov", "status", proposal), run("dpg", "standard")

    assert no_votes.returncode == 2 and "NAME=VALUE" in no_votes.stderr
    assert proposed.returncode == 0, proposed.stderr
    assert f"publish DPG Standard v{document['version']}" in proposed.stdout
    assert all(v.returncode == 0 for v in voted) and queued.returncode == 0
    assert too_early.returncode == 2 and "TimelockUnexpectedOperationState" in too_early.stderr
    assert executed.returncode == 0 and "executed" in executed.stdout
    assert f"{proposal}  executed" in listed.stdout and "executed" in status.stdout
    assert f"v{document['version']}" in standard.stdout
    assert dao.admin.dpg.settings()["approval_bps"] == 6000


def test_an_owner_withdraws_a_review_nobody_checks(tmp_path, dao):
    # Prepare: a registered asset whose review no checker attests
    run = _cli(dao, tmp_path)
    registered = run("dpg", "register", str(EXAMPLE), account=8)
    asset = registered.stdout.split()[2]

    # Execute: too early, then after the review timeout (30 days)
    early = run("dpg", "withdraw", asset, account=8)
    dao.travel(30 * DAY + 1)
    not_owner = run("dpg", "withdraw", asset, account=5)
    withdrawn = run("dpg", "withdraw", asset, account=8)

    # Assert
    assert registered.returncode == 0, registered.stderr
    assert early.returncode == 2 and "DPGRegistryReviewNotStuck" in early.stderr
    assert not_owner.returncode == 2 and "DPGRegistryNotOwner" in not_owner.stderr
    assert withdrawn.returncode == 0 and f"asset {asset}: review withdrawn, now registered" in withdrawn.stdout
