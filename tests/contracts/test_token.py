"""CommonsToken: fixed supply, permit, vote delegation and checkpoints."""

from brownie import chain

from conftest import E18


def test_supply_is_minted_once_to_the_holder(token, deployer):
    assert token.totalSupply() == 1_000_000_000 * E18
    assert token.name() == "OpenDPG Commons" and token.symbol() == "DPG" and token.decimals() == 18


def test_votes_follow_delegation_and_are_checkpointed(token, providers):
    holder = providers[0]
    assert token.getVotes(holder) == 0
    token.delegate(holder, {"from": holder})
    block = chain.height
    chain.mine()
    assert token.getVotes(holder) == 10_000 * E18
    token.transfer(providers[1], 4_000 * E18, {"from": holder})
    chain.mine()
    assert token.getVotes(holder) == 6_000 * E18
    assert token.getPastVotes(holder, block) == 10_000 * E18
    assert token.clock() == chain.height


def test_nonces_shared_by_permit_and_votes(token, providers):
    assert token.nonces(providers[0]) == 0
