"""``opendpg jobs …`` against a running gateway on a real chain: post from a spec file, list, show, watch,
verify, download, cancel; every failure is a one-line message naming the fix (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from tests.python.gateway.conftest import Gateway, _serve, chain_env

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes

SPEC = {"name": "digits from the command line", "model": {"name": "mlp"},
        "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"},
        "training": {"rounds": 2}, "providers": {"min": 1, "max": 2}}


@pytest.fixture(scope="module")
def gw(request, tmp_path_factory, anvil, world) -> Iterator[Gateway]:
    yield from _serve(request, tmp_path_factory, chain_env(anvil, world), kind="sqlite")


def _cli(gw: Gateway, key: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDPG_")}
    env["OPENDPG_GATEWAY_URL"] = gw.url
    if key:
        env["OPENDPG_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "opendpg.cli.main", "jobs", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_jobs_from_the_command_line(gw, world, tmp_path):
    # Prepare: a funded user with an API key; a spec file
    email = f"cli-{uuid.uuid4().hex[:8]}@example.org"
    gw.sign_up(email)
    auth = gw.login(email)
    gw.client.post("/faucet", headers=auth)
    key = gw.client.post("/api-keys", json={"name": "cli"}, headers=auth).json()["key"]
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    coordinator = world["coordinator"].address

    # Execute + Assert: post, list, show
    posted = _cli(gw, key, "post", str(spec), "--reward", "10", "--coordinator", coordinator)
    assert posted.returncode == 0, posted.stderr
    job_id = int(posted.stdout.split()[1])
    assert world["admin"].market.get_job(job_id).state.name == "OPEN"
    listed = _cli(gw, key, "list")
    assert f"{job_id:>6}  OPEN" in listed.stdout and "0/2" in listed.stdout
    assert f"job {job_id}: OPEN" in _cli(gw, key, "show", str(job_id)).stdout
    # nothing committed: verify has nothing wrong, download says why there is nothing
    assert _cli(gw, key, "verify", str(job_id)).returncode == 0
    download = _cli(gw, key, "download", str(job_id))
    assert download.returncode == 2 and "no round committed yet" in download.stderr
    # cancel, then watch replays the history and ends with the job
    cancelled = _cli(gw, key, "cancel", str(job_id))
    assert cancelled.returncode == 0 and "CANCELLED" in cancelled.stdout
    watched = _cli(gw, key, "watch", str(job_id))
    assert watched.returncode == 0 and watched.stdout.splitlines()[-1] == "JobCancelled"


def test_command_line_failures_name_the_fix(gw, world, tmp_path):
    email = f"cli-{uuid.uuid4().hex[:8]}@example.org"
    gw.sign_up(email)
    key = gw.client.post("/api-keys", json={"name": "cli"}, headers=gw.login(email)).json()["key"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**SPEC, "training": {"rounds": 0}}))
    coordinator = world["coordinator"].address
    cases = [
        ((None, "list"), "OPENDPG_API_KEY"),
        ((key, "post", str(tmp_path / "missing.json"), "--reward", "1", "--coordinator", coordinator),
         "missing.json does not exist"),
        ((key, "post", str(bad), "--reward", "1", "--coordinator", coordinator), "body.spec.training.rounds"),
        ((key, "post", str(bad.with_name("spec.json")), "--reward", "1", "--coordinator", coordinator),
         "does not exist"),
        ((key, "show", "999999"), "no such job"),
    ]
    for (api_key, *args), expected in cases:
        result = _cli(gw, api_key, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr
