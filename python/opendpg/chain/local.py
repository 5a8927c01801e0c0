"""Start and stop a local development chain (anvil by default, or ganache 7) for the demo and the tests."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount

from opendpg.config import project_root
from opendpg.errors import LocalChainError
from opendpg.process import find_executable, free_port, port_is_free, stop_process_group, wait_ready

__all__ = ["DEV_MNEMONIC", "LocalChain", "dev_accounts", "start_local_chain"]

#: The well-known development mnemonic (anvil's default). Never use these keys on a real network.
DEV_MNEMONIC = "test test test test test test test test test test test junk"

Account.enable_unaudited_hdwallet_features()

ChainKind = Literal["anvil", "ganache"]


def dev_accounts(count: int, mnemonic: str = DEV_MNEMONIC) -> list[LocalAccount]:
    """The first ``count`` accounts of ``mnemonic`` (BIP-44 path m/44'/60'/0'/0/i)."""
    return [Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)]


def _binary(name: str) -> str:
    found = find_executable(project_root() / "node_modules" / ".bin" / name, name)
    if found is None:
        raise LocalChainError(f"{name} not found in node_modules/.bin or on PATH: run `make setup` (npm install)")
    return found


@dataclass
class LocalChain:
    """A chain process owned by this Python process; stopped by PID."""

    kind: ChainKind = "anvil"
    port: int = field(default_factory=free_port)
    accounts: int = 20
    block_time: float | None = None
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    chain_id: int = 31337
    #: the address it listens on (loopback unless other hosts must reach it)
    host: str = "127.0.0.1"
    #: a command it is started under, e.g. ``["ip", "netns", "exec", "chain-host"]``
    wrapper: list[str] = field(default_factory=list)

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        n, balance = str(self.accounts), "1000000"
        if self.kind == "anvil":
            cmd = [*self.wrapper, _binary("anvil"), "--host", self.host, "--port", str(self.port),
                   "--mnemonic", DEV_MNEMONIC, "--accounts", n, "--balance", balance, "--chain-id", str(self.chain_id),
                   "--gas-limit", "30000000",
                   # past states in memory only: by default anvil writes each state past its in-memory window to
                   # ~/.foundry/anvil/tmp and leaves them behind when stopped (tens of GB after a few runs)
                   "--prune-history", "256"]
            if self.block_time:
                cmd += ["--block-time", str(self.block_time)]
            return cmd
        if self.kind == "ganache":
            cmd = [*self.wrapper, _binary("ganache"), "--server.host", self.host, "--server.port", str(self.port),
                   "--wallet.mnemonic", DEV_MNEMONIC, "--wallet.totalAccounts", n, "--wallet.defaultBalance", balance,
                   "--chain.chainId", str(self.chain_id), "--chain.hardfork", "shanghai",
                   "--miner.blockGasLimit", "30000000", "--logging.quiet"]
            if self.block_time:
                cmd += ["--miner.blockTime", str(self.block_time)]
            return cmd
        raise LocalChainError(f"unknown local chain {self.kind!r}: use 'anvil' or 'ganache'")

    def start(self, timeout: float = 60.0) -> LocalChain:
        if self.process is not None:
            raise LocalChainError(f"{self.kind} already running (pid {self.pid})")
        if not self.wrapper and not port_is_free(self.port):
            raise LocalChainError(f"port {self.port} is in use: stop what runs there or pick another port")
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = wait_ready(self.process, self._responds, timeout, interval=0.05)
        except TimeoutError:
            self.stop()
            raise LocalChainError(f"{self.kind} did not answer on {self.rpc_url} within {timeout:.0f} s") from None
        if code is not None:
            self.process = None
            raise LocalChainError(f"{self.kind} exited with code {code} while starting on port {self.port}")
        return self

    def _responds(self) -> bool:
        try:
            r = requests.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                              timeout=1)
            return r.ok and "result" in r.json()
        except (requests.RequestException, ValueError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the chain by PID (its whole process group: ganache runs under node)."""
        proc, self.process = self.process, None
        stop_process_group(proc, timeout)

    def __enter__(self) -> LocalChain:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ development helpers

    def rpc(self, method: str, *params: object) -> object:
        r = requests.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                          timeout=30)
        body = r.json()
        if "error" in body:
            raise LocalChainError(f"{method} failed: {body['error']}")
        return body.get("result")

    def increase_time(self, seconds: int) -> None:
        """Move the clock forward and mine a block with the new time."""
        self.rpc("evm_increaseTime", seconds)
        self.rpc("evm_mine")

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def set_balance(self, address: str, wei: int) -> None:
        method = "anvil_setBalance" if self.kind == "anvil" else "evm_setAccountBalance"
        self.rpc(method, address, hex(wei))

    def dev_accounts(self) -> list[LocalAccount]:
        return dev_accounts(self.accounts)


@contextlib.contextmanager
def start_local_chain(kind: ChainKind = "anvil", **kwargs: object) -> Iterator[LocalChain]:
    chain = LocalChain(kind=kind, **kwargs)  # type: ignore[arg-type]
    chain.start()
    try:
        yield chain
    finally:
        chain.stop()
