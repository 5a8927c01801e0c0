"""The kubo backend: a content store on a kubo daemon's RPC API, through ipfshttpclient.

ipfshttpclient 0.7's ``connect()`` refuses kubo newer than 0.8, so we build ``Client`` directly (it skips
that check); its ``add``/``cat``/``block.stat`` calls work with kubo 0.38 (checked by the tests). Every add
uses the pinned settings (CIDv1, raw leaves, 256 KiB chunks) so kubo and the embedded store agree.

``put_many`` talks to the documented RPC API directly (``/api/v0/block/put`` with many files in one request,
``/api/v0/pin/add``), which ipfshttpclient 0.7 cannot do: pinning is what costs in kubo (~1 ms a pin here), so
a batch of small contents is stored as raw blocks and pinned through one UnixFS directory that links them all.
"""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

import httpx

from opendpg.content.store import ContentStore, parse_cid
from opendpg.content.unixfs import Block, directory_block, single_block
from opendpg.errors import ContentIntegrityError, ContentUnavailableError

__all__ = ["KuboStore"]

ADD_OPTIONS = {"cid_version": 1, "raw_leaves": True, "chunker": "size-262144", "pin": True}


def _client(api_url: str, timeout: float) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ipfshttpclient warns about urllib3 arguments it still passes
        import ipfshttpclient

        host, port = api_url.removeprefix("http://").rsplit(":", 1)
        return ipfshttpclient.Client(f"/ip4/{host}/tcp/{port}/http", timeout=timeout)


class KuboStore(ContentStore):
    def __init__(self, api_url: str, timeout: float = 30.0) -> None:
        self.api_url = api_url
        self.timeout = timeout
        self._ipfs = _client(api_url, timeout)
        self._http = httpx.Client(base_url=f"{api_url}/api/v0/", timeout=timeout)  # one pool: no per-call set-up

    def __str__(self) -> str:
        return f"kubo at {self.api_url}"

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import ipfshttpclient.exceptions as ipfs_errors

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn(*args, **kwargs)
        except ipfs_errors.ConnectionError as exc:
            raise ContentUnavailableError(f"cannot reach kubo at {self.api_url}: is the daemon running?") from exc
        except ipfs_errors.TimeoutError as exc:
            raise ContentUnavailableError(f"kubo at {self.api_url} did not answer in {self.timeout} s") from exc

    def put(self, data: bytes) -> str:
        result = self._call(self._ipfs.add, io.BytesIO(data), **ADD_OPTIONS)
        return str(result["Hash"])

    def put_many(self, items: list[bytes]) -> list[str]:
        blocks = [single_block(data) for data in items]
        small = {str(b.cid): b for b in blocks if b is not None}
        if len(small) < 2:
            return super().put_many(items)
        directory = directory_block({cid: (b.cid, len(b.data)) for cid, b in small.items()})
        self._rpc("block/put", {"cid-codec": "raw", "mhtype": "sha2-256", "pin": "false"}, list(small.values()))
        self._rpc("block/put", {"cid-codec": "dag-pb", "mhtype": "sha2-256", "pin": "false"}, [directory])
        self._rpc("pin/add", [("arg", str(directory.cid)), ("recursive", "true")], [])
        return [str(b.cid) if b is not None else self.put(data) for b, data in zip(blocks, items, strict=True)]

    def _rpc(self, path: str, params: Any, blocks: list[Block]) -> list[dict[str, Any]]:
        files = [("file", (f"b{i}", b.data, "application/octet-stream")) for i, b in enumerate(blocks)]
        try:
            response = self._http.post(path, params=params, files=files or None)
        except httpx.HTTPError as exc:
            raise ContentUnavailableError(f"cannot reach kubo at {self.api_url}: {exc}") from exc
        if response.status_code != 200:
            raise ContentUnavailableError(f"kubo {path} answered {response.status_code}: {response.text[:200]}")
        answers = [json.loads(line) for line in response.text.splitlines() if line.strip()]
        for block, answer in zip(blocks, answers, strict=False):
            if answer.get("Key") != str(block.cid):
                raise ContentIntegrityError(f"kubo stored a block as {answer.get('Key')}, expected {block.cid}")
        return answers

    def has(self, cid: str) -> bool:
        import ipfshttpclient.exceptions as ipfs_errors

        parse_cid(cid)
        try:
            self._call(self._ipfs.block.stat, cid, offline=True)
            return True
        except ipfs_errors.ErrorResponse:
            return False

    def _fetch(self, cid: str) -> bytes | None:
        import ipfshttpclient.exceptions as ipfs_errors

        try:
            return bytes(self._call(self._ipfs.cat, cid, offline=True))
        except ipfs_errors.ErrorResponse as exc:
            if "not found" in str(exc).lower() or "offline" in str(exc).lower():
                return None
            raise
