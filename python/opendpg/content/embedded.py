"""A content store in a local directory, for machines without kubo; same CIDs as kubo."""

from __future__ import annotations

from pathlib import Path

from opendpg.content.store import ContentStore, parse_cid
from opendpg.content.unixfs import cid_of
from opendpg.files import write_atomic

__all__ = ["EmbeddedStore"]


class EmbeddedStore(ContentStore):
    """Files named by CID under ``root``; writes are atomic."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def __str__(self) -> str:
        return f"embedded store {self.root}"

    def _path(self, cid: str) -> Path:
        parse_cid(cid)
        return self.root / cid

    def put(self, data: bytes) -> str:
        cid = cid_of(data)
        path = self._path(cid)
        if not path.exists():
            write_atomic(path, data)
        return cid

    def has(self, cid: str) -> bool:
        return self._path(cid).exists()

    def _fetch(self, cid: str) -> bytes | None:
        try:
            return self._path(cid).read_bytes()
        except FileNotFoundError:
            return None
