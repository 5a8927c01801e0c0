"""Send transactions: local nonces safe under concurrent callers, fast signing, gas estimation, receipts,
and reverts decoded into typed exceptions.

Signing goes through eth-account, whose eth-keys backend uses ``coincurve`` when it is installed (it is a
dependency), about ten times faster than the pure-Python backend.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import RPCEndpoint, TxReceipt

from opendpg.chain.reverts import RevertDecoder, revert_data
from opendpg.errors import ChainUnavailableError, ContractRevert, TransactionError

__all__ = ["TxSender", "connect"]

FEE_CACHE_SECONDS = 1.0
DEFAULT_TIP = 10**9  # 1 gwei


def connect(rpc_url: str, timeout: float = 30.0) -> Web3:
    """A web3 client over HTTP; fails with a clear error if the endpoint does not answer.

    The chain ID is cached once read (per thread, web3's request cache): web3's validation middleware reads it
    before every ``eth_call`` and ``eth_estimateGas``, which would otherwise cost each view call a second round
    trip. An endpoint's chain ID does not change."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, cache_allowed_requests=True,
                                cacheable_requests={RPCEndpoint("eth_chainId")}))
    try:
        w3.eth.chain_id  # noqa: B018  (probe)
    except Exception as exc:
        raise ChainUnavailableError(f"cannot reach the chain at {rpc_url}: {exc}") from exc
    return w3


@dataclass
class _Fees:
    max_fee: int
    tip: int
    at: float


class TxSender:
    """Signs and sends transactions from one account.

    Thread-safe: concurrent callers get consecutive nonces from a local counter (initialised from the
    node's pending count). A nonce whose send fails is never left as a gap: it is handed back when it
    was the last one taken, otherwise filled with a zero-value self-transfer.
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount | str,
        decoder: RevertDecoder | None = None,
        *,
        gas_multiplier: float = 1.2,
        gas_headroom: int = 50_000,
        receipt_timeout: float = 120.0,
    ) -> None:
        self.w3 = w3
        self.account: LocalAccount = Account.from_key(account) if isinstance(account, str) else account
        self.decoder = decoder or RevertDecoder()
        self.gas_multiplier = gas_multiplier
        self.gas_headroom = gas_headroom
        self.receipt_timeout = receipt_timeout
        self._lock = threading.Lock()
        self._next_nonce: int | None = None
        self._chain_id: int | None = None
        self._fees: _Fees | None = None

    @property
    def address(self) -> str:
        return str(self.account.address)

    # ------------------------------------------------------------------ public API

    def transact(self, fn: ContractFunction, *, value: int = 0, gas: int | None = None) -> TxReceipt:
        """Send a contract call as a transaction and wait until it is mined; raise ContractRevert on revert."""
        return self.wait(self.send(fn, value=value, gas=gas))

    def send(self, fn: ContractFunction | ContractConstructor, *, value: int = 0, gas: int | None = None) -> HexBytes:
        """Estimate, sign and send; return the hash without waiting for the receipt."""
        tx: dict[str, Any] = {"from": self.address, "value": value}
        if isinstance(fn, ContractConstructor):
            tx["data"] = fn.data_in_transaction
        else:
            tx["to"] = fn.address
            tx["data"] = fn._encode_transaction_data()
        return self.send_tx(tx, gas=gas)

    def send_tx(self, tx: dict[str, Any], *, gas: int | None = None) -> HexBytes:
        """Send a raw transaction dict (``to``, ``data``, ``value``); nonce, gas, fees and chain id are filled."""
        tx = dict(tx)
        tx["from"] = self.address
        tx["gas"] = gas if gas is not None else self.estimate(tx)
        tx["chainId"] = self.chain_id
        fees = self._current_fees()
        tx["maxFeePerGas"], tx["maxPriorityFeePerGas"] = fees.max_fee, fees.tip
        attempts = 3
        for _ in range(attempts):
            nonce = self._take_nonce()
            tx["nonce"] = nonce
            signed = self.account.sign_transaction(tx)
            try:
                return HexBytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))
            except Web3RPCError as exc:
                message = str(exc).lower()
                if "already known" in message or "already imported" in message:
                    return HexBytes(signed.hash)
                if "nonce too low" in message or "nonce is too low" in message:
                    self._resync_nonce()
                    continue
                self._release_nonce(nonce)
                raise TransactionError(f"the node refused the transaction: {exc}") from exc
            except Exception as exc:
                self._release_nonce(nonce)
                raise ChainUnavailableError(f"sending the transaction failed: {exc}") from exc
        raise TransactionError(f"could not find a usable nonce for {self.address} after {attempts} attempts")

    def wait(self, tx_hash: HexBytes) -> TxReceipt:
        """Wait for the receipt; a reverted transaction raises its decoded ContractRevert."""
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout, poll_latency=0.02)
        except TimeExhausted as exc:
            raise TransactionError(f"transaction {tx_hash.to_0x_hex()} not mined in {self.receipt_timeout} s") from exc
        if receipt["status"] != 1:
            raise self._replay_revert(receipt)
        return receipt

    def call(self, fn: ContractFunction, block: int | str = "latest") -> Any:
        """Call a view (or simulate a transaction) from this account; reverts are decoded."""
        try:
            return fn.call({"from": self.address}, block_identifier=block)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise self.decoder.decode(revert_data(exc)) from None

    def estimate(self, tx: dict[str, Any]) -> int:
        """Gas for ``tx`` times the safety multiplier, plus a fixed headroom: the token's vote checkpoints are keyed
        by timestamp, so a transaction estimated in one second and mined in the next can write new checkpoint slots
        the estimate updated in place (two fresh slots: ~45k more); a revert is raised as its ContractRevert."""
        try:
            estimate = self.w3.eth.estimate_gas({k: v for k, v in tx.items() if k != "gas"})  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise self.decoder.decode(revert_data(exc)) from None
        except Web3RPCError as exc:
            data = revert_data(exc)
            if data is not None:
                raise self.decoder.decode(data) from None
            raise TransactionError(f"gas estimation failed: {exc}") from exc
        return int(estimate * self.gas_multiplier) + self.gas_headroom

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    # ------------------------------------------------------------------ nonces

    def _take_nonce(self) -> int:
        with self._lock:
            if self._next_nonce is None:
                self._next_nonce = int(self.w3.eth.get_transaction_count(self.account.address, "pending"))
            nonce = self._next_nonce
            self._next_nonce += 1
            return nonce

    def _resync_nonce(self) -> None:
        with self._lock:
            self._next_nonce = None

    def _release_nonce(self, nonce: int) -> None:
        """Hand back a nonce whose transaction never reached the node."""
        with self._lock:
            if self._next_nonce == nonce + 1:
                self._next_nonce = nonce
                return
        self._fill_gap(nonce)

    def _fill_gap(self, nonce: int) -> None:
        fees = self._current_fees()
        filler = {"from": self.address, "to": self.address, "value": 0, "gas": 21_000, "nonce": nonce,
                  "chainId": self.chain_id, "maxFeePerGas": fees.max_fee, "maxPriorityFeePerGas": fees.tip}
        try:
            self.w3.eth.send_raw_transaction(self.account.sign_transaction(filler).raw_transaction)  # type: ignore[arg-type]
        except Exception:
            self._resync_nonce()  # the node is unreachable or refused it: start over from its view

    # ------------------------------------------------------------------ fees and reverts

    def _current_fees(self) -> _Fees:
        now = time.monotonic()
        fees = self._fees
        if fees is None or now - fees.at > FEE_CACHE_SECONDS:
            block = self.w3.eth.get_block("latest")
            base = int(block.get("baseFeePerGas", 0) or 0)
            tip = DEFAULT_TIP if base else 0
            fees = _Fees(max_fee=2 * base + tip if base else int(self.w3.eth.gas_price), tip=tip, at=now)
            self._fees = fees
        return fees

    def _replay_revert(self, receipt: TxReceipt) -> ContractRevert:
        """Re-run a mined, reverted transaction as a call to recover its revert data."""
        tx = self.w3.eth.get_transaction(receipt["transactionHash"])
        call = {"from": tx["from"], "to": tx.get("to"), "data": tx["input"], "value": tx["value"], "gas": tx["gas"]}
        tx_hash = receipt["transactionHash"].to_0x_hex()
        try:
            self.w3.eth.call(call, block_identifier=receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except (ContractLogicError, Web3RPCError) as exc:
            return self.decoder.decode(revert_data(exc), tx_hash=tx_hash)
        return ContractRevert("RevertedOnChain", {"gasUsed": receipt["gasUsed"]}, tx_hash=tx_hash)

