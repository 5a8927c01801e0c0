"""The chain's time as a daemon should read it: deadlines on-chain are in block time, which on a development chain
can run ahead of the wall clock (it was moved forward) and on an idle chain is only sampled when a block is mined."""

from __future__ import annotations

import time

from web3 import Web3

__all__ = ["ChainClock"]


class ChainClock:
    """A lower bound on the chain's current time: the newest block's timestamp plus the wall time since this clock
    first saw that block. It is never ahead of the chain (a block's time is at most the chain's time when it is
    seen), follows a chain whose clock was moved forward, and keeps counting while an idle chain mines nothing."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self._seen: tuple[int, float] | None = None  # (block timestamp, wall time when first seen)

    def now(self) -> float:
        timestamp = int(self.w3.eth.get_block("latest")["timestamp"])
        wall = time.time()
        if self._seen is None or timestamp > self._seen[0]:
            self._seen = (timestamp, wall)
        return self._seen[0] + (wall - self._seen[1])
