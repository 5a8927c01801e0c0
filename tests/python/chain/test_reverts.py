"""Reverts come back as typed exceptions naming the custom error and its arguments."""

import pytest
from eth_abi import encode

from opendpg.chain import RevertDecoder, revert_type
from opendpg.errors import ContractRevert
from tests.python.conftest import E18, as_account


def test_custom_error_from_estimate_is_typed(admin, accounts):
    with pytest.raises(revert_type("JobMarketUnknownJob")) as info:
        as_account(admin, accounts[5]).market.join_job(77)
    assert info.value.name == "JobMarketUnknownJob"
    assert info.value.args_dict == {"jobId": 77}
    assert "JobMarketUnknownJob(jobId=77)" in str(info.value)


def test_openzeppelin_error_with_address_and_amounts(admin, accounts):
    poor = as_account(admin, accounts[6])
    with pytest.raises(ContractRevert) as info:
        poor.token.transfer(accounts[7].address, 5 * E18)
    assert info.value.name == "ERC20InsufficientBalance"
    assert info.value.args_dict["needed"] == 5 * E18
    assert info.value.args_dict["sender"] == accounts[6].address


def test_mined_revert_is_replayed_and_decoded(admin, accounts):
    market = as_account(admin, accounts[5]).market
    fn = market.contract.functions.claim(1234)
    with pytest.raises(revert_type("JobMarketUnknownJob")) as info:
        market.sender.transact(fn, gas=100_000)  # explicit gas: no estimate, the tx is mined and reverts
    assert info.value.tx_hash is not None
    receipt = market.sender.w3.eth.get_transaction_receipt(info.value.tx_hash)
    assert receipt["status"] == 0
    assert info.value.args_dict == {"jobId": 1234}


def test_view_call_reverts_are_decoded_too(admin):
    with pytest.raises(ContractRevert, match="AccessControlUnauthorizedAccount"):
        admin.sender.call(admin.registry.contract.functions.setMinStake(1))


def test_builtin_errors_and_unknown_selectors():
    decoder = RevertDecoder()
    panic = decoder.decode(bytes.fromhex("4e487b71") + encode(["uint256"], [0x11]))
    message = decoder.decode(bytes.fromhex("08c379a0") + encode(["string"], ["nope"]))
    unknown = decoder.decode("0xdeadbeef")

    assert (panic.name, panic.args_dict["meaning"]) == ("Panic", "arithmetic overflow or underflow")
    assert (message.name, message.args_dict) == ("Error", {"message": "nope"})
    assert (unknown.name, unknown.args_dict) == ("UnknownError", {"selector": "0xdeadbeef"})
    assert decoder.decode(b"").name == "EmptyRevert"
    assert revert_type("Panic") is type(panic)
