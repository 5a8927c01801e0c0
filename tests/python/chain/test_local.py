"""Local chains start, answer, and stop by PID."""

import os

import pytest
import requests

from opendpg.chain import LocalChain
from opendpg.errors import LocalChainError


@pytest.mark.parametrize("kind", ["anvil", "ganache"])
def test_start_answer_stop(kind):
    chain = LocalChain(kind=kind, accounts=3)

    chain.start()
    pid = chain.pid
    reply = requests.post(chain.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_accounts", "params": []})
    chain.stop()

    assert [a.lower() for a in reply.json()["result"]] == [a.address.lower() for a in chain.dev_accounts()]
    assert chain.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_port_in_use_is_a_clear_error(anvil):
    with pytest.raises(LocalChainError, match=r"port .* is in use"):
        LocalChain(kind="anvil", port=anvil.port).start(timeout=10)


def test_unknown_kind_is_refused():
    with pytest.raises(LocalChainError, match="unknown local chain"):
        LocalChain(kind="hardhat").start()  # type: ignore[arg-type]


def test_time_travel(anvil, w3):
    before = w3.eth.get_block("latest")["timestamp"]
    anvil.increase_time(3600)
    assert w3.eth.get_block("latest")["timestamp"] >= before + 3600
