"""Writing state files so that a crash never leaves half of one: write beside it, then rename over it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: bytes | str, *, fsync: bool = False) -> None:
    """Replace ``path`` with ``data`` in one rename (creating its folder). The temporary name is private to this
    process and thread, so concurrent writers of the same file never mix their bytes. ``fsync``: flush to disk
    before the rename (checkpoints that must survive a power cut)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
