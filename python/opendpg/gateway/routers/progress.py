"""Live job progress as server-sent events: the job's contract events from the start (history first), then as
they happen, until the job ends or the client goes away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from hexbytes import HexBytes

from opendpg.chain import EventStream, PollingHeads
from opendpg.gateway.deps import ChainDep, CurrentUser
from opendpg.gateway.routers.jobs import _own

router = APIRouter(prefix="/jobs", tags=["jobs"])

ENDED = {"JobFinalized", "JobCancelled", "JobAborted"}
SAFE_INT = 2**53


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | HexBytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= SAFE_INT:
        return str(value)  # token amounts: exact as strings (JSON numbers lose precision past 2^53)
    if isinstance(value, Mapping):  # dicts and web3's AttributeDict (the JobParams struct)
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@router.get("/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}})
async def job_events(job_id: int, request: Request, user: CurrentUser, chain: ChainDep) -> StreamingResponse:
    """Server-sent events, one per contract event of the job (``event:`` its name, ``data:`` its arguments,
    block and transaction as JSON)."""
    with request.app.state.sessions() as session:  # a stream can last hours: it holds no database connection
        _own(session, user, job_id)
    stream = EventStream(chain.reader.w3, chain.reader.deployment, ["JobMarket"], heads=PollingHeads(0.5))

    async def frames() -> AsyncIterator[str]:
        stop = asyncio.Event()
        async for event in stream.events(stop):
            stream.commit(event.position)
            if await request.is_disconnected():
                return
            if int(event.args.get("jobId", -1)) != job_id:
                continue
            data = {"args": _jsonable(event.args), "block": event.block_number, "tx": event.tx_hash}
            yield f"event: {event.name}\ndata: {json.dumps(data)}\n\n"
            if event.name in ENDED:
                return

    return StreamingResponse(frames(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
