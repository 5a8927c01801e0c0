"""The gateway over real HTTP (uvicorn in a child process) on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from opendpg.chain import Capabilities, Chain, SuiteParams, TxSender, deploy_suite
from opendpg.content import KuboDaemon
from opendpg.node.launch import launch_gateway, wait_healthy
from opendpg.process import free_port, stop_process_group

SECRET = "test-gateway-secret-not-for-production"


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not versions:
        pytest.fail("PostgreSQL is not installed: `make setup` installs Debian's postgresql package")
    return versions[-1].parent


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` system user then."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="opendpg-pg-"))  # not under pytest's root-only tmp: postgres must reach it
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "opendpg",
                                 "--no-sync"]), check=True, capture_output=True)
    port = free_port()
    log = open(root / "postgres.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(_as_postgres([str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-h",
                                          "127.0.0.1", "-k", str(root), "-F"]),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(f"postgresql://opendpg@127.0.0.1:{port}/postgres", autocommit=True) as conn:
                conn.execute("CREATE DATABASE gateway")
            break
        except psycopg.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"postgres did not start: {(root / 'postgres.log').read_text()[-2000:]}") from None
            time.sleep(0.2)
    yield f"postgresql+psycopg://opendpg@127.0.0.1:{port}/gateway"
    stop_process_group(proc)
    shutil.rmtree(root, ignore_errors=True)


class Gateway:
    def __init__(self, url: str, db_url: str, proc: subprocess.Popen[bytes], log: Path | None = None) -> None:
        self.url = url
        self.db_url = db_url
        self.proc = proc
        self.log = log
        self.client = httpx.Client(base_url=url, timeout=30)

    def sign_up(self, email: str, password: str = "correct horse battery") -> dict:
        response = self.client.post("/accounts", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        return response.json()

    def login(self, email: str, password: str = "correct horse battery") -> dict[str, str]:
        response = self.client.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}


def start_gateway(state: Path, db_url: str, env: dict[str, str] | None = None,
                  wait: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    """Start it and (unless told not to) wait until it is healthy."""
    port = free_port()
    proc = launch_gateway(port, {"OPENDPG_STATE_DIR": str(state), "OPENDPG_GATEWAY_DB_URL": db_url,
                                 "OPENDPG_GATEWAY_SECRET": SECRET, **(env or {})}, state / "gateway.log")
    url = f"http://127.0.0.1:{port}"
    if wait:
        wait_healthy(url, proc, state / "gateway.log")
    return proc, url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gateway(request, tmp_path_factory) -> Iterator[Gateway]:
    yield from _serve(request, tmp_path_factory, {})


def chain_env(anvil, world) -> dict[str, str]:
    """Settings for a gateway on the test chain, kubo and deployment, with the operator's key."""
    return {"OPENDPG_RPC_URL": anvil.rpc_url, "OPENDPG_DEPLOYMENT_FILE": str(world["path"]),
            "OPENDPG_IPFS_API": world["kubo"].api_url, "OPENDPG_PRIVATE_KEY": world["operator"].key.hex()}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gw(request, tmp_path_factory, anvil, world) -> Iterator[Gateway]:
    """A gateway on the chain (one per module and database)."""
    yield from _serve(request, tmp_path_factory, chain_env(anvil, world))


def _serve(request, tmp_path_factory, env: dict[str, str], kind: str | None = None) -> Iterator[Gateway]:
    kind = kind or request.param
    state = tmp_path_factory.mktemp(f"gateway-{kind}")
    if kind == "sqlite":
        db_url = f"sqlite:///{state / 'gateway.db'}"
    else:  # a database of its own on the shared server
        server = request.getfixturevalue("postgres")
        name = f"g{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        db_url = server.rsplit("/", 1)[0] + f"/{name}"
    proc, url = start_gateway(state, db_url, env)
    gateway = Gateway(url, db_url, proc, state / "gateway.log")
    yield gateway
    stop_process_group(gateway.proc)  # a test may have restarted it: stop the one running now


E18 = 10**18


@pytest.fixture(scope="module")
def world(w3, accounts, tmp_path_factory) -> Iterator[dict[str, Any]]:
    operator, coordinator = accounts[11], accounts[12]
    deployment = deploy_suite(TxSender(w3, operator), SuiteParams(checkers=[operator.address]))
    path = tmp_path_factory.mktemp("gw-chain") / "deployment.json"
    deployment.save(path)
    admin = Chain(w3, deployment, TxSender(w3, operator))
    admin.token.transfer(coordinator.address, 1_000 * E18)
    admin.as_account(TxSender(w3, coordinator)).registry.register(
        Capabilities("CPU", 0, 2, 4096, "local", [], ""), 100 * E18)
    with KuboDaemon(tmp_path_factory.mktemp("gw-kubo") / "repo") as kubo:
        yield {"admin": admin, "path": path, "kubo": kubo, "operator": operator, "coordinator": coordinator}


