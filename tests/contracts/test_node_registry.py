"""NodeRegistry: registration, stake, unbonding, locks, slashing, reputation, parameters."""

from brownie import ZERO_ADDRESS, chain, web3

from conftest import CID, DAY, E18, capabilities, job_params, post, register, reverts


def test_register_stakes_and_records_capabilities(registry, token, providers):
    node = providers[0]
    before = token.balanceOf(node)

    tx = register(registry, token, node, stake=150 * E18, datasets=("digits", "mnist"))

    assert registry.isRegistered(node)
    assert registry.stakeOf(node)["staked"] == 150 * E18
    assert token.balanceOf(node) == before - 150 * E18
    caps = registry.capabilitiesOf(node)
    assert caps["gpuModel"] == "NVIDIA H100" and caps["cpuCores"] == 16 and caps["metadataCid"] == CID
    assert registry.holdsDataset(node, web3.keccak(text="mnist"))
    assert not registry.holdsDataset(node, web3.keccak(text="cifar"))
    assert registry.nodeCount() == 1 and registry.nodeAt(0) == node
    assert "NodeRegistered" in tx.events and tx.events["StakeAdded"]["staked"] == 150 * E18


def test_register_reverts(registry, token, providers):
    token.approve(registry, 10**24, {"from": providers[0]})
    with reverts("NodeRegistryStakeBelowMinimum", 99 * E18, 100 * E18):
        registry.register(capabilities(), 99 * E18, {"from": providers[0]})
    bad = list(capabilities())
    bad[2] = 0
    with reverts("NodeRegistryInvalidCapabilities", "cpuCores"):
        registry.register(bad, 100 * E18, {"from": providers[0]})
    bad = list(capabilities())
    bad[4] = "x" * 33
    with reverts("NodeRegistryInvalidCapabilities", "region"):
        registry.register(bad, 100 * E18, {"from": providers[0]})
    registry.register(capabilities(), 100 * E18, {"from": providers[0]})
    with reverts("NodeRegistryAlreadyRegistered", providers[0].address):
        registry.register(capabilities(), 100 * E18, {"from": providers[0]})


def test_update_capabilities_replaces_datasets(registry, token, providers):
    register(registry, token, providers[0], datasets=("digits",))
    tx = registry.updateCapabilities(capabilities(datasets=("mnist",), gpu="RTX 4090"), {"from": providers[0]})
    assert not registry.holdsDataset(providers[0], web3.keccak(text="digits"))
    assert registry.holdsDataset(providers[0], web3.keccak(text="mnist"))
    assert registry.capabilitiesOf(providers[0])["gpuModel"] == "RTX 4090"
    assert "CapabilitiesUpdated" in tx.events
    with reverts("NodeRegistryNotRegistered", providers[1].address):
        registry.updateCapabilities(capabilities(), {"from": providers[1]})


def test_add_stake(registry, token, providers):
    register(registry, token, providers[0])
    token.approve(registry, 50 * E18, {"from": providers[0]})
    registry.addStake(50 * E18, {"from": providers[0]})
    assert registry.stakeOf(providers[0])["staked"] == 250 * E18
    with reverts("NodeRegistryZeroAmount"):
        registry.addStake(0, {"from": providers[0]})
    with reverts("NodeRegistryNotRegistered"):
        registry.addStake(1, {"from": providers[1]})


def test_unbond_and_withdraw_after_period(registry, token, providers):
    node = providers[0]
    register(registry, token, node)
    before = token.balanceOf(node)

    tx = registry.requestUnbonding(100 * E18, {"from": node})
    ready = tx.events["UnbondingRequested"]["readyAt"]
    with reverts("NodeRegistryUnbondingNotReady"):
        registry.withdrawUnbonded({"from": node})
    chain.sleep(7 * DAY + 1)
    chain.mine()
    registry.withdrawUnbonded({"from": node})

    assert ready == tx.timestamp + 7 * DAY
    assert token.balanceOf(node) - before == 100 * E18
    assert registry.stakeOf(node)["staked"] == 100 * E18
    assert registry.stakeOf(node)["unbonding"] == 0
    with reverts("NodeRegistryNothingUnbonding", node.address):
        registry.withdrawUnbonded({"from": node})


def test_unbond_reverts(registry, token, providers, market, poster, coordinator):
    node = providers[0]
    register(registry, token, node)
    with reverts("NodeRegistryZeroAmount"):
        registry.requestUnbonding(0, {"from": node})
    with reverts("NodeRegistryStakeBelowMinimum", 50 * E18, 100 * E18):
        registry.requestUnbonding(150 * E18, {"from": node})
    with reverts("NodeRegistryInsufficientFreeStake", node.address, 201 * E18, 200 * E18):
        registry.requestUnbonding(201 * E18, {"from": node})
    registry.requestUnbonding(200 * E18, {"from": node})  # full exit is allowed
    assert registry.freeStake(node) == 0


def test_locked_stake_cannot_be_unbonded(registry, token, market, providers, poster, coordinator):
    node = providers[0]
    register(registry, token, node)
    job_id, _ = post(market, token, poster, job_params(token, coordinator, stake=150 * E18))
    market.joinJob(job_id, {"from": node})

    with reverts("NodeRegistryInsufficientFreeStake", node.address, 51 * E18, 50 * E18):
        registry.requestUnbonding(51 * E18, {"from": node})
    assert registry.freeStake(node) == 50 * E18
    assert registry.stakeOf(node)["locked"] == 150 * E18


def test_stake_manager_functions_are_restricted(registry, token, providers, accounts):
    node = providers[0]
    register(registry, token, node)
    with reverts("AccessControlUnauthorizedAccount"):
        registry.lockStake(node, 1, {"from": accounts[0]})
    with reverts("AccessControlUnauthorizedAccount"):
        registry.settleJob(node, 0, 0, 0, False, {"from": accounts[0]})
    with reverts("AccessControlUnauthorizedAccount"):
        registry.slashLocked(node, 1, "0x" + "00" * 32, {"from": accounts[0]})


def test_governance_slash_takes_free_then_unbonding(registry, token, providers, gov):
    node = providers[0]
    register(registry, token, node)
    registry.requestUnbonding(50 * E18, {"from": node})
    treasury_before = token.balanceOf(registry.treasury())
    reason = web3.keccak(text="ipfs://fraud-report")

    tx = registry.slash(node, 180 * E18, reason, {"from": gov})

    s = registry.stakeOf(node)
    assert (s["staked"], s["unbonding"]) == (0, 20 * E18)
    assert token.balanceOf(registry.treasury()) - treasury_before == 180 * E18
    assert tx.events["Slashed"]["reason"] == reason.to_0x_hex()
    assert registry.reputationOf(node)["slashes"] == 1
    with reverts("NodeRegistryInsufficientFreeStake", node.address, 21 * E18, 20 * E18):
        registry.slash(node, 21 * E18, reason, {"from": gov})
    with reverts("AccessControlUnauthorizedAccount"):
        registry.slash(node, 1, reason, {"from": providers[1]})
    with reverts("NodeRegistryZeroAmount"):
        registry.slash(node, 0, reason, {"from": gov})


def test_parameter_setters(registry, gov, providers):
    for fn, value, event, old in (
        (registry.setMinStake, 5 * E18, "MinStakeSet", 100 * E18),
        (registry.setUnbondingPeriod, DAY, "UnbondingPeriodSet", 7 * DAY),
        (registry.setTreasury, providers[4].address, "TreasurySet", registry.treasury()),
    ):
        with reverts("AccessControlUnauthorizedAccount"):
            fn(value, {"from": providers[0]})
        tx = fn(value, {"from": gov})
        ev = tx.events[event]
        assert list(ev.values()) == [old, value]
    assert registry.minStake() == 5 * E18 and registry.unbondingPeriod() == DAY
    assert registry.treasury() == providers[4]
    with reverts("NodeRegistryZeroAmount"):
        registry.setMinStake(0, {"from": gov})
    with reverts("NodeRegistryZeroAddress", "treasury"):
        registry.setTreasury(ZERO_ADDRESS, {"from": gov})


def test_deployer_keeps_no_roles(registry, market, dpg, deployer, suite):
    timelock = suite["OpenDPGTimelock"]
    for contract in (registry, market, dpg):
        assert not contract.hasRole("0x" + "00" * 32, deployer)
        assert contract.hasRole("0x" + "00" * 32, timelock)
    assert registry.hasRole(web3.keccak(text="STAKE_MANAGER_ROLE"), market)
