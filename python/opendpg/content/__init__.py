"""Content by CID: the ContentStore interface, the kubo backend, the embedded backend with identical
CIDs, and kubo daemon control. Knows nothing of the chain or of federated learning."""

from __future__ import annotations

from pathlib import Path

from opendpg.content.daemon import KUBO_VERSION, KuboDaemon, kubo_binary
from opendpg.content.embedded import EmbeddedStore
from opendpg.content.kubo import KuboStore
from opendpg.content.store import ContentStore, verify
from opendpg.content.unixfs import Cid, build_dag, cid_of

__all__ = [
    "KUBO_VERSION",
    "Cid",
    "ContentStore",
    "EmbeddedStore",
    "KuboDaemon",
    "KuboStore",
    "build_dag",
    "cid_of",
    "kubo_binary",
    "open_store",
    "verify",
]


def open_store(ipfs_api: str | None, state_dir: Path) -> ContentStore:
    """kubo when an RPC address is configured (``OPENDPG_IPFS_API``), else the embedded store."""
    if ipfs_api:
        return KuboStore(ipfs_api)
    return EmbeddedStore(state_dir / "content")
