"""Deploy the OpenDPG contract suite with brownie: ``brownie run deploy [--network NAME]``.

The same wiring as ``opendpg deploy`` (python/opendpg/chain/deploy.py): token, timelock + governor,
node registry, job market, DPG registry, reviewer rewards, job disputes, data ledger; the job market may lock/slash
node stake and spend data holders' privacy budgets; the timelock ends up holding every admin and governance role
and the deployer none. Writes ``build/deployment.json`` in the deployment-file format every OpenDPG component
loads.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import asdict
from pathlib import Path

from brownie import (  # type: ignore[attr-defined]
    CommonsToken,
    DataLedger,
    DPGRegistry,
    JobDisputes,
    JobMarket,
    NodeRegistry,
    OpenDPGGovernor,
    OpenDPGTimelock,
    ReviewRewards,
    accounts,
    network,
    web3,
)

ZERO = "0x0000000000000000000000000000000000000000"
GOVERNANCE_ROLE = web3.keccak(text="GOVERNANCE_ROLE").hex()
STAKE_MANAGER_ROLE = web3.keccak(text="STAKE_MANAGER_ROLE").hex()
CHECKER_ROLE = web3.keccak(text="CHECKER_ROLE").hex()
DISPUTES_ROLE = web3.keccak(text="DISPUTES_ROLE").hex()
DATA_SPENDER_ROLE = web3.keccak(text="DATA_SPENDER_ROLE").hex()
DEFAULT_ADMIN_ROLE = "0x" + "00" * 32


def _load_suite_module():
    """python/opendpg/chain/suite.py, loaded by path: this virtualenv does not have opendpg's dependencies."""
    path = Path(__file__).resolve().parents[1] / "python" / "opendpg" / "chain" / "suite.py"
    spec = importlib.util.spec_from_file_location("opendpg_suite", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


SuiteParams = _load_suite_module().SuiteParams


def deploy_suite(deployer, params: SuiteParams) -> dict:
    """Deploy and wire the suite from ``deployer``; return the brownie contract objects by name."""
    tx = {"from": deployer}
    token = CommonsToken.deploy("OpenDPG Commons", "DPG", deployer, params.token_supply, tx)
    timelock = OpenDPGTimelock.deploy(params.timelock_delay, [], [ZERO], deployer, tx)
    governor = OpenDPGGovernor.deploy(
        token,
        timelock,
        params.voting_delay,
        params.voting_period,
        params.proposal_threshold,
        params.quorum_percent,
        tx,
    )
    timelock.grantRole(timelock.PROPOSER_ROLE(), governor, tx)
    timelock.grantRole(timelock.CANCELLER_ROLE(), governor, tx)

    registry = NodeRegistry.deploy(token, deployer, timelock, params.min_stake, params.unbonding_period, tx)
    market = JobMarket.deploy(registry, deployer, params.protocol_fee_bps, params.market_limits(), tx)
    committee = params.committee or [deployer.address]
    dpg = DPGRegistry.deploy(
        token,
        deployer,
        (
            params.dpg_voting_period,
            params.dpg_quorum_bps,
            params.dpg_approval_bps,
            params.certification_period,
            params.review_timeout,
            params.standard_version,
            params.standard_cid,
            committee,
            params.committee_threshold,
        ),
        tx,
    )
    market.setDpgRegistry(dpg, tx)
    market.setDataShareBps(params.data_share_bps, tx)
    rewards = ReviewRewards.deploy(token, dpg, deployer, params.review_committee_reward, tx)
    dpg.setFeeRecipient(rewards, tx)
    dpg.setReviewFee(params.review_fee, tx)
    if params.review_pool_funding:
        token.approve(rewards, params.review_pool_funding, tx)
        rewards.fund(params.review_pool_funding, tx)
    disputes = JobDisputes.deploy(market, dpg, deployer, params.dispute_bond, params.dispute_penalty,
                                  params.dispute_decision_period, tx)
    market.grantRole(DISPUTES_ROLE, disputes, tx)
    ledger = DataLedger.deploy(registry, dpg, deployer, tx)
    market.setDataLedger(ledger, tx)
    ledger.grantRole(DATA_SPENDER_ROLE, market, tx)
    registry.grantRole(STAKE_MANAGER_ROLE, market, tx)
    for checker in params.checkers:
        dpg.grantRole(CHECKER_ROLE, checker, tx)

    governance = params.governance or timelock.address
    for contract in (registry, market, dpg, rewards, disputes):
        contract.grantRole(GOVERNANCE_ROLE, governance, tx)
        contract.grantRole(DEFAULT_ADMIN_ROLE, timelock, tx)
        if governance != deployer.address:
            contract.renounceRole(GOVERNANCE_ROLE, deployer, tx)
        contract.renounceRole(DEFAULT_ADMIN_ROLE, deployer, tx)
    ledger.grantRole(DEFAULT_ADMIN_ROLE, timelock, tx)  # no parameters to govern
    ledger.renounceRole(DEFAULT_ADMIN_ROLE, deployer, tx)
    timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), deployer, tx)
    return {
        "CommonsToken": token,
        "OpenDPGTimelock": timelock,
        "OpenDPGGovernor": governor,
        "NodeRegistry": registry,
        "JobMarket": market,
        "DPGRegistry": dpg,
        "ReviewRewards": rewards,
        "JobDisputes": disputes,
        "DataLedger": ledger,
    }


def write_deployment(contracts: dict, params: SuiteParams, path: Path) -> None:
    """Write the deployment file (chain id, addresses, ABIs, start block, parameters)."""
    document = {
        "format": "opendpg-deployment/1",
        "chain_id": web3.eth.chain_id,
        "start_block": min(c.tx.block_number for c in contracts.values()),
        "contracts": {name: {"address": c.address, "abi": c.abi} for name, c in contracts.items()},
        "params": asdict(params),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))


def main() -> None:
    deployer = accounts[0]
    params = SuiteParams(checkers=[deployer.address])
    contracts = deploy_suite(deployer, params)
    out = Path("build") / "deployment.json"
    write_deployment(contracts, params, out)
    print(f"deployed to {network.show_active()} (chain {web3.eth.chain_id}); deployment file: {out}")
    for name, contract in contracts.items():
        print(f"  {name:16s} {contract.address}")
