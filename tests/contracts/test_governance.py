"""Governor + Timelock: the DAO changes the DPG Standard and protocol parameters; nothing bypasses it."""

import pytest
from brownie import chain, web3
from deploy import SuiteParams, deploy_suite

from conftest import E18, reverts, tick

NEW_CID = "bafkreinewstandardnewstandardnewstandardnewstandardnewstan"
PENDING, ACTIVE, CANCELED, DEFEATED, SUCCEEDED, QUEUED, EXPIRED, EXECUTED = range(8)
AGAINST, FOR, ABSTAIN = 0, 1, 2


@pytest.fixture(scope="module")
def dao(deployer, accounts):
    """A suite governed by its timelock, as in production; accounts[1..3] hold delegated votes."""
    contracts = deploy_suite(deployer, SuiteParams())
    token = contracts["CommonsToken"]
    for i, amount in ((1, 30_000_000), (2, 20_000_000), (3, 5_000_000)):
        token.transfer(accounts[i], amount * E18, {"from": deployer})
        token.delegate(accounts[i], {"from": accounts[i]})
    tick()
    return contracts


def _proposal(dao, description):
    dpg = dao["DPGRegistry"]
    registry = dao["NodeRegistry"]
    targets = [dpg.address, registry.address]
    values = [0, 0]
    calldatas = [dpg.setStandard.encode_input(2, NEW_CID), registry.setMinStake.encode_input(500 * E18)]
    return targets, values, calldatas, web3.keccak(text=description)


def _propose_and_vote(dao, proposer, votes, description):
    governor = dao["OpenDPGGovernor"]
    targets, values, calldatas, desc_hash = _proposal(dao, description)
    tx = governor.propose(targets, values, calldatas, description, {"from": proposer})
    proposal_id = tx.return_value
    assert governor.state(proposal_id) == PENDING
    chain.sleep(86_400 + 1)  # the voting delay: a day
    chain.mine()
    assert governor.state(proposal_id) == ACTIVE
    for voter, support in votes:
        governor.castVote(proposal_id, support, {"from": voter})
    chain.sleep(7 * 86_400 + 1)  # the voting period: a week
    chain.mine()
    return proposal_id, (targets, values, calldatas, desc_hash)


def test_standard_change_full_lifecycle(dao, accounts):
    names = ("OpenDPGGovernor", "OpenDPGTimelock", "DPGRegistry", "NodeRegistry")
    governor, timelock, dpg, registry = (dao[n] for n in names)
    votes = [(accounts[1], FOR), (accounts[2], FOR), (accounts[3], AGAINST)]
    proposal_id, args = _propose_and_vote(dao, accounts[1], votes, "Publish DPG Standard v2 and raise min stake")
    assert governor.state(proposal_id) == SUCCEEDED
    with reverts("TimelockUnexpectedOperationState"):  # not queued yet
        timelock.executeBatch(args[0], args[1], args[2], "0x" + "00" * 32, args[3], {"from": accounts[5]})

    governor.queue(*args, {"from": accounts[5]})
    assert governor.state(proposal_id) == QUEUED
    with reverts("TimelockUnexpectedOperationState"):  # delay not over
        governor.execute(*args, {"from": accounts[5]})
    chain.sleep(2 * 86_400 + 1)
    chain.mine()
    tx = governor.execute(*args, {"from": accounts[5]})

    assert governor.state(proposal_id) == EXECUTED
    version, cid = dpg.standard()
    assert (int(version), cid) == (2, NEW_CID)
    assert registry.minStake() == 500 * E18
    assert "StandardSet" in tx.events and "MinStakeSet" in tx.events


def test_defeated_proposal_cannot_be_queued(dao, accounts):
    governor, dpg = dao["OpenDPGGovernor"], dao["DPGRegistry"]
    proposal_id, args = _propose_and_vote(dao, accounts[3], [(accounts[1], AGAINST), (accounts[3], FOR)],
                                          "A proposal the DAO rejects")

    assert governor.state(proposal_id) == DEFEATED
    with reverts("GovernorUnexpectedProposalState"):
        governor.queue(*args, {"from": accounts[3]})
    assert dpg.standard()[0] == 1


def test_proposal_without_quorum_is_defeated(dao, accounts):
    governor = dao["OpenDPGGovernor"]
    # 5M of the 55M delegated is below the 10 % quorum
    proposal_id, _ = _propose_and_vote(dao, accounts[3], [(accounts[3], FOR)], "Too few votes")
    assert governor.state(proposal_id) == DEFEATED


def test_defaults_a_real_deployment_keeps(dao, accounts):
    governor, token = dao["OpenDPGGovernor"], dao["CommonsToken"]
    now = chain[-1].timestamp
    assert governor.CLOCK_MODE() == "mode=timestamp" and governor.clock() == now
    assert governor.votingDelay() == 86_400 and governor.votingPeriod() == 7 * 86_400
    assert governor.proposalThreshold() == 100_000 * E18
    # quorum: 10 % of the votes delegated (55M), not 4 % of the supply (40M, most of which cannot vote)
    assert token.getPastTotalDelegated(now - 1) == 55_000_000 * E18
    assert governor.quorum(now - 1) == 5_500_000 * E18


def test_a_proposer_below_the_threshold_is_refused(dao, accounts, deployer):
    governor, token = dao["OpenDPGGovernor"], dao["CommonsToken"]
    token.transfer(accounts[4], 99_999 * E18, {"from": deployer})
    token.delegate(accounts[4], {"from": accounts[4]})
    tick()
    targets, values, calldatas, _ = _proposal(dao, "from a small holder")
    with reverts("GovernorInsufficientProposerVotes"):
        governor.propose(targets, values, calldatas, "from a small holder", {"from": accounts[4]})


def test_nothing_bypasses_the_timelock(dao, accounts):
    governor, timelock, dpg, registry, market = (dao[n] for n in (
        "OpenDPGGovernor", "OpenDPGTimelock", "DPGRegistry", "NodeRegistry", "JobMarket"))
    attacker = accounts[1]  # the biggest token holder, acting alone
    with reverts("AccessControlUnauthorizedAccount"):
        dpg.setStandard(2, NEW_CID, {"from": attacker})
    with reverts("AccessControlUnauthorizedAccount"):
        registry.setMinStake(1, {"from": attacker})
    with reverts("AccessControlUnauthorizedAccount"):
        market.setProtocolFeeBps(0, {"from": attacker})
    with reverts("AccessControlUnauthorizedAccount"):
        dpg.grantRole(web3.keccak(text="GOVERNANCE_ROLE"), attacker, {"from": attacker})
    targets, values, calldatas, desc_hash = _proposal(dao, "bypass")
    with reverts("AccessControlUnauthorizedAccount"):
        timelock.scheduleBatch(targets, values, calldatas, "0x" + "00" * 32, desc_hash, 2 * 86_400,
                               {"from": attacker})
    # the governor's relay only serves the timelock itself
    with reverts("GovernorOnlyExecutor"):
        governor.relay(dpg, 0, dpg.setStandard.encode_input(2, NEW_CID), {"from": attacker})
    assert dpg.standard()[0] == 1


def test_timelock_roles(dao, deployer):
    timelock, governor = dao["OpenDPGTimelock"], dao["OpenDPGGovernor"]
    assert timelock.hasRole(timelock.PROPOSER_ROLE(), governor)
    assert timelock.hasRole(timelock.CANCELLER_ROLE(), governor)
    assert timelock.hasRole(timelock.EXECUTOR_ROLE(), "0x0000000000000000000000000000000000000000")
    assert not timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), deployer)
    assert timelock.getMinDelay() == 2 * 86_400
    assert governor.timelock() == timelock
