"""A daemon's connection to the world: its chain account, the content store, registration and stake, an
event stream from a file checkpoint, and a way to keep working through RPC or IPFS outages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import requests

from opendpg.chain import (
    Capabilities,
    Chain,
    ChainEvent,
    Deployment,
    EventStream,
    FileCheckpoint,
    PollingHeads,
    TxSender,
    WebsocketHeads,
    connect,
)
from opendpg.content import open_store
from opendpg.errors import ChainUnavailableError, ContentUnavailableError
from opendpg.node.config import DaemonConfig, tokens

__all__ = ["NodeRuntime", "handler_with_retries", "run_until_stopped", "sleep_or_stop", "supervise",
           "transient"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: errors that mean "a service is away for now": retried, never turned into a decision
TRANSIENT: tuple[type[BaseException], ...] = (ChainUnavailableError, ContentUnavailableError, ConnectionError,
                                              TimeoutError, requests.ConnectionError, requests.Timeout)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)


class NodeRuntime:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.w3 = connect(config.chain.rpc_url)
        deployment = Deployment.load(config.chain.deployment_file)
        self.chain = Chain(self.w3, deployment, TxSender(self.w3, config.private_key()))
        self.store = open_store(config.chain.ipfs_api, config.state_dir)
        self.address = self.chain.sender.address

    def ensure_registered(self, datasets: Iterable[str], metadata: dict[str, Any] | None = None) -> None:
        """Register with this node's capabilities and stake, or top the stake up and refresh the capabilities
        (datasets, metadata document) when they changed. Safe to repeat."""
        section = self.config.node
        metadata_cid = self.store.put(json.dumps(metadata, sort_keys=True).encode()) if metadata else ""
        gpu_model, gpu_memory = section.gpu()
        caps = Capabilities(gpu_model, gpu_memory, section.cpu_cores, section.ram_mib,
                            section.region, sorted(datasets), metadata_cid)
        registry, stake = self.chain.registry, tokens(section.stake)
        if not registry.is_registered(self.address):
            registry.register(caps, stake)
            log.info("registered", extra={"node": self.address, "stake": stake, "metadata_cid": metadata_cid})
            return
        current = registry.stake_of(self.address)
        staked_now = current["staked"] - current["unbonding"]
        if staked_now < stake:
            registry.add_stake(stake - staked_now)
            log.info("stake topped up", extra={"node": self.address, "added": stake - staked_now})
        on_chain = registry.contract.functions.capabilitiesOf(self.address).call()
        if tuple(on_chain) != caps.as_tuple():
            registry.update_capabilities(caps)
            log.info("capabilities updated", extra={"node": self.address, "metadata_cid": metadata_cid})

    async def stream(self, contracts: list[str], events: list[str], checkpoint: str) -> EventStream:
        """The node's events, read when the websocket says a block holds one of them (else polled)."""
        stream = EventStream(self.w3, self.chain.deployment, contracts, events=events,
                             checkpoint=FileCheckpoint(self.config.state_dir / checkpoint),
                             heads=PollingHeads(self.config.chain.poll_interval))
        if self.config.chain.ws_url:
            stream.heads = await WebsocketHeads(self.config.chain.ws_url, self.config.chain.poll_interval,
                                                logs=stream.log_filter).start()
        return stream

    async def retrying(self, what: str, call: Callable[[], T], stop: asyncio.Event) -> T | None:
        """Run a blocking ``call`` in a thread, retrying with backoff while the chain or IPFS is away;
        ``None`` if stopped first. Other errors propagate."""
        return await retry_transient(what, lambda: asyncio.to_thread(call), stop)


async def retry_transient(what: str, attempt: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
    """``await attempt()`` until it succeeds, retrying with backoff (0.2 s doubling to 5 s) while a service is
    away (``transient`` errors); ``None`` if ``stop`` is set first. Other errors propagate."""
    backoff = 0.2
    while not stop.is_set():
        try:
            return await attempt()
        except Exception as exc:
            if not transient(exc):
                raise
            log.warning("service unavailable; retrying", extra={"action": what, "error": str(exc)[:200],
                                                                "retry_in": backoff})
            await sleep_or_stop(stop, backoff)
            backoff = min(backoff * 2, 5.0)
    return None


async def supervise(tasks: list[asyncio.Task[Any]], stop: asyncio.Event) -> None:
    """Wait until ``stop`` is set or one of ``tasks`` fails (its error is raised); either way set ``stop``, then
    cancel and await every task."""
    waiter = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not waiter and (error := task.exception()) is not None:
                raise error
    finally:
        stop.set()
        waiter.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_until_stopped(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)``; SIGTERM and SIGINT set ``stop`` so it can shut down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await main(stop)


def handler_with_retries(handle: Callable[[ChainEvent], Awaitable[None]],
                         stop: asyncio.Event) -> Callable[[ChainEvent], Awaitable[None]]:
    """Wrap an event handler so an outage while handling retries the event (it is not checkpointed until
    handled)."""

    async def wrapped(event: ChainEvent) -> None:
        async def attempt() -> bool:
            await handle(event)
            return True

        if await retry_transient(f"handle {event.name}", attempt, stop) is None:
            raise asyncio.CancelledError  # stopped mid-event: leave it unhandled (not checkpointed)

    return wrapped
