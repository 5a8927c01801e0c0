"""Follow contract events: resume from a persisted checkpoint, wait for confirmations, never hand an
event to the handler twice after a restart.

How it works: a *head source* says when the chain grew (a websocket ``newHeads`` subscription, or HTTP
polling as the fallback); the stream then reads logs with ``eth_getLogs`` over the contiguous range from
its checkpoint up to ``head - confirmations``, decodes them, and hands them to the handler one at a time
in chain order. After each handled event the checkpoint (block, log index) is written atomically, so a
restart continues right after the last event handled. Because the log ranges are contiguous, a dropped
websocket or a node restart can delay events but never lose them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from eth_utils.abi import collapse_if_tuple, event_abi_to_log_topic
from hexbytes import HexBytes
from web3 import Web3

from opendpg.chain.deployment import Deployment
from opendpg.errors import ChainUnavailableError, OpenDPGValueError
from opendpg.files import write_atomic

__all__ = [
    "ChainEvent",
    "Checkpoint",
    "EventStream",
    "FileCheckpoint",
    "HeadSource",
    "MemoryCheckpoint",
    "PollingHeads",
    "Position",
    "WebsocketHeads",
]

log = logging.getLogger(__name__)
MAX_RANGE = 2_000  # blocks per eth_getLogs request


@dataclass(frozen=True, order=True)
class Position:
    """The last event handled: block number and log index within the block (-1: nothing in that block)."""

    block: int
    log_index: int = -1


@dataclass(frozen=True)
class ChainEvent:
    contract: str
    name: str
    args: dict[str, Any]
    block_number: int
    log_index: int
    tx_hash: str
    address: str

    @property
    def position(self) -> Position:
        return Position(self.block_number, self.log_index)


# ---------------------------------------------------------------------- checkpoints

class Checkpoint(Protocol):
    def load(self) -> Position | None: ...

    def save(self, position: Position) -> None: ...


class FileCheckpoint:
    """A JSON file written atomically (write, fsync, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Position | None:
        try:
            raw = json.loads(self.path.read_text())
            return Position(int(raw["block"]), int(raw["log_index"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise OpenDPGValueError(
                f"checkpoint {self.path} is corrupt ({exc}): delete it to replay from the start"
            ) from None

    def save(self, position: Position) -> None:
        write_atomic(self.path, json.dumps({"block": position.block, "log_index": position.log_index}), fsync=True)


class MemoryCheckpoint:
    def __init__(self, position: Position | None = None) -> None:
        self.position = position

    def load(self) -> Position | None:
        return self.position

    def save(self, position: Position) -> None:
        self.position = position


# ---------------------------------------------------------------------- head sources

class HeadSource(Protocol):
    """Tells the stream that the chain may have grown."""

    async def wait(self, timeout: float) -> None:
        """Return when a new block is announced, or after ``timeout`` seconds."""

    async def close(self) -> None: ...


class PollingHeads:
    """No push channel: just sleep ``interval`` between reads."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval

    async def wait(self, timeout: float) -> None:
        await asyncio.sleep(min(self.interval, timeout))

    async def close(self) -> None:
        return None


class WebsocketHeads:
    """``eth_subscribe("newHeads")`` over a websocket, or with ``logs`` (an ``eth_getLogs``-style filter:
    ``address``, ``topics``) ``eth_subscribe("logs", logs)``: the stream is woken only by a block holding an event
    it reads, not by every block (a busy job mines a block per update, and every node reading every block costs
    each of them CPU in proportion to the others' traffic). Reconnects in the background, and while it is down the
    stream still polls every ``fallback_interval`` seconds."""

    def __init__(self, ws_url: str, fallback_interval: float = 0.5, logs: dict[str, Any] | None = None) -> None:
        self.ws_url = ws_url
        self.fallback_interval = fallback_interval
        self.subscription: list[Any] = ["logs", logs] if logs is not None else ["newHeads"]
        self.announced = 0  # notifications received (blocks, or matching logs)
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    async def start(self) -> WebsocketHeads:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        from websockets.asyncio.client import connect

        delay = 0.1
        while True:
            try:
                async with connect(self.ws_url, open_timeout=5, max_size=2**24) as ws:
                    await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe",
                                              "params": self.subscription}))
                    reply = json.loads(await ws.recv())
                    if "error" in reply:
                        raise ConnectionError(f"eth_subscribe refused: {reply['error']}")
                    self.connected, delay = True, 0.1
                    self._event.set()  # catch up on whatever happened while disconnected
                    async for message in ws:
                        if json.loads(message).get("method") == "eth_subscription":
                            self.announced += 1
                            self._event.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connected:
                    log.warning("websocket %s lost (%s); polling until it is back", self.ws_url, exc)
                self.connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def wait(self, timeout: float) -> None:
        limit = timeout if self.connected else min(timeout, self.fallback_interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), limit)
        self._event.clear()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# ---------------------------------------------------------------------- the stream

class EventStream:
    """Decoded events of chosen contracts of a deployment, in chain order, from a checkpoint."""

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        contracts: Iterable[str],
        *,
        events: Iterable[str] | None = None,
        checkpoint: Checkpoint | None = None,
        heads: HeadSource | None = None,
        confirmations: int = 0,
        start_block: int | None = None,
    ) -> None:
        if confirmations < 0:
            raise OpenDPGValueError("confirmations: must be 0 or more")
        self.w3 = w3
        self.checkpoint = checkpoint or MemoryCheckpoint()
        self.heads = heads or PollingHeads()
        self.confirmations = confirmations
        wanted = set(events) if events is not None else None
        self._decoders: dict[bytes, tuple[str, dict[str, Any]]] = {}
        self._addresses: dict[str, str] = {}
        for name in contracts:
            record = deployment.contracts.get(name)
            if record is None:
                raise OpenDPGValueError(f"contracts: {name!r} is not in the deployment")
            self._addresses[Web3.to_checksum_address(record.address)] = name
            for item in record.abi:
                if item.get("type") == "event" and (wanted is None or item["name"] in wanted):
                    self._decoders[event_abi_to_log_topic(item)] = (name, item)  # type: ignore[arg-type]
        if wanted is not None:
            missing = wanted - {abi["name"] for _, abi in self._decoders.values()}
            if missing:
                raise OpenDPGValueError(f"events: {sorted(missing)} not emitted by {sorted(self._addresses.values())}")
        self._layouts = {topic: _Layout.of(abi) for topic, (_, abi) in self._decoders.items()}
        #: the ``address``/``topics`` filter of the events this stream reads (``eth_getLogs``, a logs subscription)
        self.log_filter: dict[str, Any] = {"address": list(self._addresses),
                                           "topics": [["0x" + topic.hex() for topic in self._decoders]]}
        saved = self.checkpoint.load()
        first = deployment.start_block if start_block is None else start_block
        self.position = saved if saved is not None else Position(first - 1)

    async def run(self, handler: Callable[[ChainEvent], Awaitable[None]], stop: asyncio.Event | None = None) -> None:
        """Hand each event to ``handler``; checkpoint after each one returns. Ends when ``stop`` is set."""
        async for event in self.events(stop):
            await handler(event)
            self.commit(event.position)

    async def events(self, stop: asyncio.Event | None = None) -> AsyncIterator[ChainEvent]:
        """Yield events; the caller must ``commit(event.position)`` after handling each (``run`` does)."""
        stop = stop or asyncio.Event()
        backoff = 0.1
        while not stop.is_set():
            try:
                batch = await asyncio.to_thread(self.read_new)
                backoff = 0.1
            except ChainUnavailableError as exc:
                log.warning("chain unavailable (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            fresh = [event for event in batch if event.position > self.position]
            for event in fresh:
                if stop.is_set():
                    return
                if event.position > self.position:
                    yield event
            if fresh:
                continue  # more may have arrived while handling (a re-read of the last block is not news)
            await self.heads.wait(timeout=5.0)

    def commit(self, position: Position) -> None:
        if position > self.position:
            self.position = position
            self.checkpoint.save(position)

    def rewind(self, position: Position) -> None:
        """Go back to ``position`` (after a reorg); ``commit`` only ever moves forward."""
        self.position = position
        self.checkpoint.save(position)

    def read_new(self) -> list[ChainEvent]:
        """One synchronous read: decoded events from the checkpoint's block up to the safe head, in chain order
        (the checkpoint's own block is read again: callers skip positions they already handled)."""
        try:
            head = int(self.w3.eth.block_number)
        except Exception as exc:
            raise ChainUnavailableError(str(exc)) from exc
        safe = head - self.confirmations
        first = self.position.block if self.position.log_index >= 0 else self.position.block + 1
        if safe < first:
            return []
        events: list[ChainEvent] = []
        for start in range(first, safe + 1, MAX_RANGE):
            end = min(start + MAX_RANGE - 1, safe)
            try:  # raw: web3's log formatting costs more than the request (decoding is ours, below)
                response = self.w3.provider.make_request("eth_getLogs", [{  # type: ignore[arg-type]
                    "fromBlock": hex(start), "toBlock": hex(end), **self.log_filter}])
            except Exception as exc:
                raise ChainUnavailableError(str(exc)) from exc
            if "error" in response:
                raise ChainUnavailableError(f"eth_getLogs: {response['error']}")
            events.extend(self._decode(entry) for entry in response["result"])
        if not events and safe > self.position.block:
            self.commit(Position(safe, -1))  # nothing up to `safe`: these blocks are done
        events.sort(key=lambda e: e.position)
        return events

    def _decode(self, entry: dict[str, Any]) -> ChainEvent:
        """A raw log to a ChainEvent: indexed arguments from the topics (dynamic ones stay as their hash), the
        rest from the data; tuples become dicts by component name, addresses are checksummed (as web3 gives)."""
        topics = [HexBytes(topic) for topic in entry["topics"]]
        contract, abi = self._decoders[bytes(topics[0])]
        layout = self._layouts[bytes(topics[0])]
        codec = self.w3.codec
        args: dict[str, Any] = {}
        for (item, kind, dynamic), topic in zip(layout.indexed, topics[1:], strict=False):
            args[item["name"]] = bytes(topic) if dynamic else _shaped(item, codec.decode([kind], topic)[0])
        values = codec.decode(layout.data_types, HexBytes(entry["data"]))
        for item, value in zip(layout.data, values, strict=True):
            args[item["name"]] = _shaped(item, value)
        return ChainEvent(
            contract=contract,
            name=abi["name"],
            args=args,
            block_number=int(entry["blockNumber"], 16),
            log_index=int(entry["logIndex"], 16),
            tx_hash=str(entry["transactionHash"]),
            address=Web3.to_checksum_address(entry["address"]),
        )


@dataclass(frozen=True)
class _Layout:
    """Where an event's arguments are, worked out once per event type: indexed ones (ABI item, type, whether
    only its hash is in the topic) and the data part (ABI items and their types)."""

    indexed: list[tuple[dict[str, Any], str, bool]]
    data: list[dict[str, Any]]
    data_types: list[str]

    @classmethod
    def of(cls, abi: dict[str, Any]) -> _Layout:
        indexed = []
        for item in (i for i in abi["inputs"] if i.get("indexed")):
            kind = collapse_if_tuple(dict(item))
            indexed.append((item, kind, kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("(")))
        data = [i for i in abi["inputs"] if not i.get("indexed")]
        return cls(indexed, data, [collapse_if_tuple(dict(i)) for i in data])


def _shaped(item: dict[str, Any], value: Any) -> Any:
    """eth_abi's plain values shaped as web3 shapes event arguments."""
    kind = item["type"]
    if kind.startswith("tuple"):
        if kind.endswith("]"):
            element = {**item, "type": kind[:kind.rindex("[")]}
            return [_shaped(element, v) for v in value]
        return {c["name"]: _shaped(c, v) for c, v in zip(item["components"], value, strict=True)}
    if kind == "address":
        return Web3.to_checksum_address(value)
    if kind.startswith("address["):
        return [Web3.to_checksum_address(v) for v in value]
    return value
