"""Event streams: checkpointed resume without duplicates, confirmations, websocket and polling heads."""

import asyncio
import time

import pytest

from opendpg.chain import ChainEvent, EventStream, FileCheckpoint, PollingHeads, WebsocketHeads
from opendpg.errors import OpenDPGValueError


def _stream(w3, deployment, checkpoint, **kwargs):
    return EventStream(w3, deployment, ["CommonsToken"], events=["Transfer"], checkpoint=checkpoint, **kwargs)


async def _collect(stream, count, *, timeout=10.0, fail_on=None):
    """Run the stream until `count` events were handled (or `fail_on` raises)."""
    seen: list[ChainEvent] = []
    stop = asyncio.Event()

    async def handle(event: ChainEvent) -> None:
        if fail_on is not None and len(seen) == fail_on:
            raise RuntimeError("handler crashed")
        seen.append(event)
        if len(seen) == count:
            stop.set()

    await asyncio.wait_for(stream.run(handle, stop), timeout)
    return seen


def _transfers(admin, to, amounts):
    return [admin.token.transfer(to, a)["blockNumber"] for a in amounts]


def test_resume_after_restart_handles_each_event_once(w3, deployment, admin, accounts, tmp_path):
    checkpoint = FileCheckpoint(tmp_path / "cp.json")
    start = w3.eth.block_number + 1
    _transfers(admin, accounts[11].address, [1, 2, 3])

    first = asyncio.run(_collect(_stream(w3, deployment, checkpoint, start_block=start), 3))
    _transfers(admin, accounts[11].address, [4, 5])
    # a restart: a new stream from the same checkpoint file
    second = asyncio.run(_collect(_stream(w3, deployment, checkpoint, start_block=start), 2))

    assert [e.args["value"] for e in first] == [1, 2, 3]
    assert [e.args["value"] for e in second] == [4, 5]
    assert checkpoint.load() == second[-1].position


def test_crash_in_handler_redelivers_only_the_unhandled_event(w3, deployment, admin, accounts, tmp_path):
    checkpoint = FileCheckpoint(tmp_path / "cp.json")
    start = w3.eth.block_number + 1
    _transfers(admin, accounts[12].address, [10, 20, 30])

    with pytest.raises(RuntimeError, match="handler crashed"):
        asyncio.run(_collect(_stream(w3, deployment, checkpoint, start_block=start), 3, fail_on=1))
    after_restart = asyncio.run(_collect(_stream(w3, deployment, checkpoint, start_block=start), 2))

    assert [e.args["value"] for e in after_restart] == [20, 30]


def test_confirmations_hold_events_back(anvil, w3, deployment, admin, accounts):
    stream = _stream(w3, deployment, None, confirmations=2, start_block=w3.eth.block_number + 1,
                     heads=PollingHeads(0.05))
    _transfers(admin, accounts[13].address, [7])

    with pytest.raises(TimeoutError):
        asyncio.run(_collect(stream, 1, timeout=0.5))
    anvil.mine(2)
    events = asyncio.run(_collect(stream, 1))

    assert events[0].args["value"] == 7


def test_websocket_heads_deliver_quickly(anvil, w3, deployment, admin, accounts):
    async def scenario() -> float:
        heads = await WebsocketHeads(anvil.ws_url).start()
        stream = _stream(w3, deployment, None, start_block=w3.eth.block_number + 1, heads=heads)
        task = asyncio.create_task(_collect(stream, 1))
        await asyncio.sleep(0.3)  # subscribed and idle
        assert heads.connected
        sent = time.monotonic()
        await asyncio.to_thread(admin.token.transfer, accounts[14].address, 99)
        await task
        await heads.close()
        return time.monotonic() - sent

    latency = asyncio.run(scenario())
    assert latency < 0.3  # polling every 0.5 s could not do this reliably


def test_a_logs_subscription_wakes_the_stream_only_for_its_events(anvil, w3, deployment, admin, accounts):
    async def scenario() -> tuple[int, int, float]:
        stream = _stream(w3, deployment, None, start_block=w3.eth.block_number + 1)
        heads = await WebsocketHeads(anvil.ws_url, logs=stream.log_filter).start()
        stream.heads = heads
        task = asyncio.create_task(_collect(stream, 1))
        await asyncio.sleep(0.3)  # subscribed and idle
        assert heads.connected
        await asyncio.to_thread(anvil.mine, 3)  # empty blocks
        await asyncio.to_thread(admin.token.approve, accounts[16].address, 1)  # a block with another event
        await asyncio.sleep(0.3)
        quiet = heads.announced
        sent = time.monotonic()
        await asyncio.to_thread(admin.token.transfer, accounts[16].address, 42)
        events = await task
        await heads.close()
        return quiet, events[0].args["value"], time.monotonic() - sent

    quiet, value, latency = asyncio.run(scenario())
    assert quiet == 0
    assert value == 42 and latency < 0.3


def test_polling_fallback_when_websocket_is_down(w3, deployment, admin, accounts):
    async def scenario() -> list[ChainEvent]:
        heads = await WebsocketHeads("ws://127.0.0.1:9", fallback_interval=0.05).start()
        stream = _stream(w3, deployment, None, start_block=w3.eth.block_number + 1, heads=heads)
        task = asyncio.create_task(_collect(stream, 1))
        await asyncio.to_thread(admin.token.transfer, accounts[15].address, 5)
        events = await task
        assert not heads.connected
        await heads.close()
        return events

    assert asyncio.run(scenario())[0].args["value"] == 5


def test_unknown_contract_or_event_is_refused(w3, deployment):
    with pytest.raises(OpenDPGValueError, match="contracts"):
        EventStream(w3, deployment, ["Nope"])
    with pytest.raises(OpenDPGValueError, match="events"):
        EventStream(w3, deployment, ["JobMarket"], events=["Transfer"])
