"""The `opendpg` command: deploy, its errors, and the demo, as a user runs them."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from opendpg.chain import Deployment

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes


def _opendpg(*args, env=None, timeout=120):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "opendpg.cli.main", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def test_deploy_writes_a_deployment_file(anvil, accounts, tmp_path):
    out = tmp_path / "deployment.json"
    result = _opendpg("deploy", "--out", str(out), env={"OPENDPG_RPC_URL": anvil.rpc_url,
                                                        "OPENDPG_PRIVATE_KEY": accounts[30].key.hex()})
    assert result.returncode == 0, result.stderr
    assert Deployment.load(out).chain_id == 31337
    assert "JobMarket" in result.stdout


def test_deploy_without_chain_or_key_says_how_to_fix(anvil, tmp_path):
    no_rpc = _opendpg("deploy", env={"OPENDPG_RPC_URL": ""})
    no_key = _opendpg("deploy", env={"OPENDPG_RPC_URL": anvil.rpc_url, "OPENDPG_PRIVATE_KEY": ""})
    unreachable = _opendpg("deploy", env={"OPENDPG_RPC_URL": "http://127.0.0.1:9",
                                          "OPENDPG_PRIVATE_KEY": "0x" + "1" * 64})

    assert no_rpc.returncode == 2 and "set OPENDPG_RPC_URL" in no_rpc.stderr
    assert no_key.returncode == 2 and "OPENDPG_PRIVATE_KEY" in no_key.stderr
    assert unreachable.returncode == 2 and "cannot reach the chain" in unreachable.stderr
    assert "Traceback" not in no_rpc.stderr + no_key.stderr + unreachable.stderr


def test_demo_runs_end_to_end_and_its_url_shows_the_job(tmp_path):
    # Prepare / Execute: the demo, kept running after its summary so its web app can be opened
    import re
    import signal

    from tests.python.frontend.browser import ROOT, run_browser

    demo = subprocess.Popen([sys.executable, "-m", "opendpg.cli.main", "demo", "--rounds", "2", "--state-dir",
                             str(tmp_path / "demo"), "--keep-running"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        for line in demo.stdout:
            lines.append(line)
            if "everything keeps running" in line:
                break
        stdout = "".join(lines)
        assert "everything keeps running" in stdout, stdout[-5000:]
        app_url = re.search(r"open (http://\S+/app/) ", stdout).group(1)
        seen = run_browser("nowallet.mjs", app_url, str(ROOT / "build" / "screenshots" / "demo"), "1")
    finally:
        demo.send_signal(signal.SIGTERM)  # unwinds like Ctrl-C: the demo stops its chain, kubo and daemons
        code = demo.wait(120)

    # Assert: the demo's run, its clean stop, and the job in the browser without a wallet
    assert "round 2 committed" in stdout and "held-out accuracy" in stdout
    assert "job 1: FINISHED, 2 rounds" in stdout
    assert "verify: all rounds verified" in stdout
    assert stdout.count("RewardClaimed") == 3
    assert "posted through the gateway from the user's own address" in stdout
    assert "API key odpg_" in stdout
    assert code == 130
    assert seen["summary"].startswith("finished: 2 of 2 rounds committed, 3 of 3 providers")


def test_malformed_key_names_the_variable(anvil):
    result = _opendpg("deploy", env={"OPENDPG_RPC_URL": anvil.rpc_url, "OPENDPG_PRIVATE_KEY": "0x1234"})
    assert result.returncode == 2
    assert "OPENDPG_PRIVATE_KEY: Value error, must be 64 hex digits" in result.stderr


def _chain_is_gone(output: str) -> bool:
    """Whether the anvil that ``chain start`` reported (its PID) has exited. By PID, not by port: with the suite in
    two processes, the other may take the freed port at once."""
    pid = int(re.search(r"anvil running at .*, pid (\d+)", output).group(1))  # type: ignore[union-attr]
    return not Path(f"/proc/{pid}").exists()


def test_chain_start_runs_until_sigterm_and_stops_its_chain(tmp_path):
    import signal
    import time

    from opendpg.process import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "opendpg.cli.main", "chain", "start", "--port", str(port),
                             "--out", str(tmp_path / "d.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Ctrl-C stops the chain" in line:
            break
    assert Deployment.load(tmp_path / "d.json").chain_id == 31337

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, "".join(lines) + proc.stderr.read()
    assert _chain_is_gone("".join(lines))


def test_chain_start_stops_cleanly_on_a_sigterm_sent_as_soon_as_it_says_it_runs(tmp_path, monkeypatch, capsys):
    # Prepare: SIGTERM this very process the moment the ready line is printed (what a supervisor that waits for
    # the line does on a busy machine, where the signal can arrive before anything else runs)
    import os
    import signal

    import opendpg.cli.chain as chain_cli
    from opendpg.cli.main import main
    from opendpg.process import free_port

    def print_then_terminate(*args, **kwargs):  # type: ignore[no-untyped-def]
        print(*args, **kwargs)
        if args and "Ctrl-C stops the chain" in str(args[0]):
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(chain_cli, "print", print_then_terminate, raising=False)
    previous = signal.getsignal(signal.SIGTERM)
    port = free_port()
    try:
        # Execute
        code = main(["chain", "start", "--port", str(port), "--out", str(tmp_path / "d.json")])
    finally:
        signal.signal(signal.SIGTERM, previous)

    # Assert: a clean stop (0, not 130), its chain gone
    assert code == 0
    assert _chain_is_gone(capsys.readouterr().out)


def test_chain_start_on_a_busy_port_is_a_clear_error(anvil):
    result = _opendpg("chain", "start", "--port", str(anvil.port))
    assert result.returncode == 2
    assert f"port {anvil.port} is in use" in result.stderr
