"""Deploy the contract suite from Python (``opendpg deploy``): the same wiring as ``scripts/deploy.py``."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from web3 import Web3
from web3.contract import Contract

from opendpg.chain.compiler import Artifact, compile_suite
from opendpg.chain.contracts import ZERO_ADDRESS
from opendpg.chain.deployment import ContractRecord, Deployment
from opendpg.chain.reverts import RevertDecoder
from opendpg.chain.sender import TxSender
from opendpg.chain.suite import CONTRACTS, SuiteParams

__all__ = ["deploy_suite", "role_id"]

log = logging.getLogger(__name__)
DEFAULT_ADMIN_ROLE = b"\x00" * 32


def role_id(name: str) -> bytes:
    return DEFAULT_ADMIN_ROLE if name == "DEFAULT_ADMIN_ROLE" else bytes(Web3.keccak(text=name))


def deploy_suite(sender: TxSender, params: SuiteParams | None = None,
                 artifacts: dict[str, Artifact] | None = None) -> Deployment:
    """Deploy and wire the suite from ``sender``'s account; the deployer keeps no role afterwards."""
    params = params or SuiteParams()
    artifacts = artifacts or compile_suite()
    sender.decoder = RevertDecoder([artifacts[name].abi for name in CONTRACTS])
    w3 = sender.w3
    deployer = sender.address
    start_block = int(w3.eth.block_number) + 1
    deployed: dict[str, Contract] = {}

    def deploy(name: str, *args: Any) -> Contract:
        artifact = artifacts[name]
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = sender.wait(sender.send(factory.constructor(*args)))
        contract: Contract = w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)  # type: ignore[assignment]
        log.info("deployed %s at %s (gas %d)", name, contract.address, receipt["gasUsed"])
        deployed[name] = contract
        return contract

    token = deploy("CommonsToken", "OpenDPG Commons", "DPG", deployer, params.token_supply)
    timelock = deploy("OpenDPGTimelock", params.timelock_delay, [], [ZERO_ADDRESS], deployer)
    governor = deploy("OpenDPGGovernor", token.address, timelock.address, params.voting_delay,
                      params.voting_period, params.proposal_threshold, params.quorum_percent)
    sender.transact(timelock.functions.grantRole(role_id("PROPOSER_ROLE"), governor.address))
    sender.transact(timelock.functions.grantRole(role_id("CANCELLER_ROLE"), governor.address))

    registry = deploy("NodeRegistry", token.address, deployer, timelock.address, params.min_stake,
                      params.unbonding_period)
    market = deploy("JobMarket", registry.address, deployer, params.protocol_fee_bps, params.market_limits())
    committee = params.committee or [deployer]
    dpg = deploy("DPGRegistry", token.address, deployer, (
        params.dpg_voting_period, params.dpg_quorum_bps, params.dpg_approval_bps, params.certification_period,
        params.review_timeout, params.standard_version, params.standard_cid, committee, params.committee_threshold))
    sender.transact(market.functions.setDpgRegistry(dpg.address))
    sender.transact(market.functions.setDataShareBps(params.data_share_bps))
    rewards = deploy("ReviewRewards", token.address, dpg.address, deployer, params.review_committee_reward)
    sender.transact(dpg.functions.setFeeRecipient(rewards.address))
    sender.transact(dpg.functions.setReviewFee(params.review_fee))
    if params.review_pool_funding:
        sender.transact(token.functions.approve(rewards.address, params.review_pool_funding))
        sender.transact(rewards.functions.fund(params.review_pool_funding))
    disputes = deploy("JobDisputes", market.address, dpg.address, deployer, params.dispute_bond,
                      params.dispute_penalty, params.dispute_decision_period)
    sender.transact(market.functions.grantRole(role_id("DISPUTES_ROLE"), disputes.address))
    ledger = deploy("DataLedger", registry.address, dpg.address, deployer)
    sender.transact(market.functions.setDataLedger(ledger.address))
    sender.transact(ledger.functions.grantRole(role_id("DATA_SPENDER_ROLE"), market.address))
    sender.transact(registry.functions.grantRole(role_id("STAKE_MANAGER_ROLE"), market.address))
    for checker in params.checkers:
        sender.transact(dpg.functions.grantRole(role_id("CHECKER_ROLE"), checker))

    governance = params.governance or timelock.address
    for contract in (registry, market, dpg, rewards, disputes):
        sender.transact(contract.functions.grantRole(role_id("GOVERNANCE_ROLE"), governance))
        sender.transact(contract.functions.grantRole(DEFAULT_ADMIN_ROLE, timelock.address))
        if governance != deployer:
            sender.transact(contract.functions.renounceRole(role_id("GOVERNANCE_ROLE"), deployer))
        sender.transact(contract.functions.renounceRole(DEFAULT_ADMIN_ROLE, deployer))
    sender.transact(ledger.functions.grantRole(DEFAULT_ADMIN_ROLE, timelock.address))  # no parameters to govern
    sender.transact(ledger.functions.renounceRole(DEFAULT_ADMIN_ROLE, deployer))
    sender.transact(timelock.functions.renounceRole(DEFAULT_ADMIN_ROLE, deployer))

    return Deployment(
        chain_id=sender.chain_id,
        start_block=start_block,
        contracts={n: ContractRecord(address=c.address, abi=artifacts[n].abi) for n, c in deployed.items()},
        params=asdict(params),
    )
