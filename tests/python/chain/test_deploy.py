"""Deployment: wiring and roles, the deployment file, and the chain check."""

import pytest

from opendpg.chain import Deployment
from opendpg.chain.deploy import role_id
from opendpg.errors import DeploymentError


def test_every_contract_is_deployed_and_wired(admin, deployment, accounts):
    market = deployment.contract(admin.w3, "JobMarket").functions
    registry = deployment.contract(admin.w3, "NodeRegistry").functions
    timelock = deployment.address("OpenDPGTimelock")

    assert market.nodeRegistry().call() == deployment.address("NodeRegistry")
    assert registry.hasRole(role_id("STAKE_MANAGER_ROLE"), deployment.address("JobMarket")).call()
    assert registry.treasury().call() == timelock
    ledger = deployment.contract(admin.w3, "DataLedger").functions
    assert market.dataLedger().call() == deployment.address("DataLedger")
    assert ledger.hasRole(role_id("DATA_SPENDER_ROLE"), deployment.address("JobMarket")).call()
    for name in ("NodeRegistry", "JobMarket", "DPGRegistry", "DataLedger"):
        fns = deployment.contract(admin.w3, name).functions
        assert fns.hasRole(role_id("DEFAULT_ADMIN_ROLE"), timelock).call()
        assert not fns.hasRole(role_id("DEFAULT_ADMIN_ROLE"), accounts[0].address).call()
    assert deployment.start_block > 0 and deployment.chain_id == 31337


def test_file_round_trip(deployment, tmp_path):
    path = tmp_path / "d" / "deployment.json"
    deployment.save(path)
    loaded = Deployment.load(path)
    assert loaded == deployment


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(DeploymentError, match="run `opendpg deploy` first"):
        Deployment.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DeploymentError, match="not valid JSON"):
        Deployment.load(tmp_path / "bad.json")
    (tmp_path / "old.json").write_text('{"format": "v0"}')
    with pytest.raises(DeploymentError, match="format"):
        Deployment.load(tmp_path / "old.json")


def test_deployment_refuses_another_chain(deployment, w3):
    other = Deployment(chain_id=1, start_block=0, contracts=deployment.contracts)
    with pytest.raises(DeploymentError, match="chain 1 but the RPC endpoint is chain 31337"):
        other.check_chain(w3)
    with pytest.raises(DeploymentError, match="'Nope' is not in the deployment"):
        deployment.address("Nope")
