"""CommonsToken: fixed supply, permit, vote delegation and checkpoints."""

from brownie import chain

from conftest import E18, tick


def test_supply_is_minted_once_to_the_holder(token, deployer):
    assert token.totalSupply() == 1_000_000_000 * E18
    assert token.name() == "OpenDPG Commons" and token.symbol() == "DPG" and token.decimals() == 18


def test_votes_follow_delegation_and_are_checkpointed(token, providers):
    holder = providers[0]
    assert token.getVotes(holder) == 0
    delegated = token.delegate(holder, {"from": holder}).timestamp
    tick()
    assert token.getVotes(holder) == 10_000 * E18
    token.transfer(providers[1], 4_000 * E18, {"from": holder})
    tick()
    assert token.getVotes(holder) == 6_000 * E18
    assert token.getPastVotes(holder, delegated) == 10_000 * E18
    assert token.getPastVotes(holder, delegated - 1) == 0
    assert token.CLOCK_MODE() == "mode=timestamp" and token.clock() == chain[-1].timestamp


def test_total_delegated_counts_only_votes_that_can_be_cast(token, providers, deployer):
    # Prepare: nobody has delegated; two holders delegate, one of them to the other
    assert token.totalDelegated() == 0
    tx = token.delegate(providers[0], {"from": providers[0]})
    first = tx.timestamp
    assert [int(v) for v in tx.events["TotalDelegatedChanged"].values()] == [0, 10_000 * E18]
    tick()
    token.delegate(providers[0], {"from": providers[1]})
    tick()
    assert token.totalDelegated() == 20_000 * E18

    # Execute: tokens move from a delegating holder to one that never delegated, and back in from the deployer
    token.transfer(providers[2], 3_000 * E18, {"from": providers[1]})
    token.transfer(providers[1], 500 * E18, {"from": deployer})
    moved = token.delegate(providers[3], {"from": providers[0]}).timestamp  # a change of delegate: no change
    tick()

    # Assert
    assert token.totalDelegated() == 17_500 * E18
    assert token.getPastTotalDelegated(first) == 10_000 * E18
    assert token.getPastTotalDelegated(moved) == 17_500 * E18
    assert token.getPastTotalSupply(moved) == token.totalSupply()


def test_nonces_shared_by_permit_and_votes(token, providers):
    assert token.nonces(providers[0]) == 0
