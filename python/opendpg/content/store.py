"""The content-store interface, and verified reads with retries shared by every backend."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from opendpg.content.unixfs import Cid, cid_of
from opendpg.errors import ContentIntegrityError, ContentNotFoundError, OpenDPGValueError

__all__ = ["ContentStore", "parse_cid", "verify"]


def parse_cid(cid: str) -> Cid:
    try:
        return Cid.parse(cid)
    except ValueError as exc:
        raise OpenDPGValueError(f"cid: {exc}") from None


def verify(cid: str, data: bytes) -> bytes:
    """Return ``data`` if it is exactly the content of ``cid`` (recomputed with the pinned settings)."""
    actual = cid_of(data)
    if actual != cid:
        raise ContentIntegrityError(
            f"content for {cid} hashes to {actual} ({len(data)} bytes): tampered, truncated, or not added with "
            "OpenDPG's settings (CIDv1, raw leaves, 256 KiB chunks); it was not used"
        )
    return data


class ContentStore(ABC):
    """Bytes by CID. ``get`` always verifies; missing content is retried with backoff, then reported."""

    retries: int = 4
    backoff: float = 0.25

    @abstractmethod
    def put(self, data: bytes) -> str:
        """Store (and pin) ``data``; return its CID."""

    def put_many(self, items: list[bytes]) -> list[str]:
        """Store (and pin) several contents at once; their CIDs in the same order. Backends override this
        when they can do it in fewer round trips than one ``put`` each."""
        return [self.put(data) for data in items]

    @abstractmethod
    def _fetch(self, cid: str) -> bytes | None:
        """The stored bytes, or None if this store does not have them (yet)."""

    @abstractmethod
    def has(self, cid: str) -> bool: ...

    def get(self, cid: str) -> bytes:
        parse_cid(cid)
        delay = self.backoff
        for attempt in range(self.retries + 1):
            data = self._fetch(cid)
            if data is not None:
                return verify(cid, data)
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise ContentNotFoundError(
            f"{cid} not found in {self} after {self.retries + 1} attempts: is the content pinned on a reachable node?"
        )
