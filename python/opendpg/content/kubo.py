"""The kubo backend: a content store on a kubo daemon's RPC API, through ipfshttpclient.

ipfshttpclient 0.7's ``connect()`` refuses kubo newer than 0.8, so we build ``Client`` directly (it skips
that check); its ``add``/``cat``/``block.stat`` calls work with kubo 0.38 (checked by the tests). Every add
uses the pinned settings (CIDv1, raw leaves, 256 KiB chunks) so kubo and the embedded store agree.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from opendpg.content.store import ContentStore, parse_cid
from opendpg.errors import ContentUnavailableError

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
