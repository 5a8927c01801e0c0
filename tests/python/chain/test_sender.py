"""The transaction sender: nonces under concurrency, no gaps after failures, resync, receipts."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from opendpg.chain import TxSender
from opendpg.errors import TransactionError
from tests.python.conftest import E18


def test_twenty_concurrent_senders_share_one_account(w3, admin, accounts):
    sender = TxSender(w3, accounts[20])
    token = admin.as_account(sender).token
    admin.token.transfer(sender.address, 1_000 * E18)
    start = w3.eth.get_transaction_count(sender.address)
    recipient = accounts[21].address
    before = admin.token.balance_of(recipient)

    def send_five(_: int) -> list[int]:
        return [token.transfer(recipient, 1)["status"] for _ in range(5)]

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = [s for batch in pool.map(send_five, range(20)) for s in batch]

    assert statuses == [1] * 100
    assert w3.eth.get_transaction_count(sender.address) == start + 100
    assert admin.token.balance_of(recipient) - before == 100


def test_twenty_concurrent_accounts(w3, admin, accounts):
    senders = [TxSender(w3, a) for a in accounts[20:40]]

    def ping(sender: TxSender) -> int:
        return sender.wait(sender.send_tx({"to": sender.address, "value": 1}))["status"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert list(pool.map(ping, senders)) == [1] * 20


def test_a_refused_send_leaves_no_nonce_gap(w3, accounts):
    sender = TxSender(w3, accounts[22])
    with pytest.raises(TransactionError, match="refused"):
        sender.send_tx({"to": sender.address, "value": 0}, gas=1_000)  # below intrinsic gas: the node refuses
    receipt = sender.wait(sender.send_tx({"to": sender.address, "value": 0}))
    assert receipt["status"] == 1


def test_nonce_resyncs_when_another_process_used_the_account(w3, accounts):
    ours, theirs = TxSender(w3, accounts[23]), TxSender(w3, accounts[23])
    start = w3.eth.get_transaction_count(ours.address)
    ours.wait(ours.send_tx({"to": ours.address, "value": 0}))
    theirs.wait(theirs.send_tx({"to": ours.address, "value": 0}))  # our cached nonce is now stale

    receipt = ours.wait(ours.send_tx({"to": ours.address, "value": 0}))

    assert receipt["status"] == 1
    assert w3.eth.get_transaction_count(ours.address) == start + 3


def test_signing_uses_coincurve():
    from eth_keys.backends import get_backend

    assert type(get_backend()).__name__ == "CoinCurveECCBackend"


def test_a_view_call_is_one_request_once_the_chain_id_is_known(anvil, monkeypatch):
    # Prepare: a fresh client (connect reads the chain ID), counting the HTTP requests it makes
    import requests

    from opendpg.chain import connect

    w3 = connect(anvil.rpc_url)
    posts = []
    post = requests.Session.post

    def counted(self, *args, **kwargs):
        posts.append(kwargs["data"])
        return post(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "post", counted)

    # Execute: three eth_calls (web3's validation middleware asks for the chain ID before each)
    for _ in range(3):
        w3.eth.call({"to": "0x0000000000000000000000000000000000000001", "data": "0x"})

    # Assert: no eth_chainId request went out
    assert len(posts) == 3 and all(b'"eth_call"' in body for body in posts)
