"""The canonical byte format of a model update (and of an aggregated model), and its SHA-256 hash.

Format ``ODPGUPD1``: the 8 magic bytes, a 4-byte big-endian header length, a UTF-8 JSON header
(sorted keys, no spaces) ``{"meta": {...}, "tensors": [{"name", "dtype": "float32", "shape"}, ...]}``,
then each tensor's values, little-endian float32, C order, in header order. The provider and the
coordinator both hash exactly these bytes, so the hash on-chain names one update and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from opendpg.errors import OpenDPGValueError

__all__ = ["MAGIC", "ModelUpdate", "UpdateFormatError", "decode_update", "encode_update", "update_hash"]

MAGIC = b"ODPGUPD1"
MAX_HEADER = 1 << 20


class UpdateFormatError(OpenDPGValueError):
    """Bytes that are not a well-formed update, or an update of the wrong shape for the job's model."""


@dataclass
class ModelUpdate:
    tensors: OrderedDict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return encode_update(self.tensors, self.meta)

    def check_shapes(self, expected: Mapping[str, tuple[int, ...]]) -> None:
        """Refuse an update whose tensors differ from the model's (names, order, shapes)."""
        got = [(n, tuple(t.shape)) for n, t in self.tensors.items()]
        want = [(n, tuple(s)) for n, s in expected.items()]
        if got != want:
            raise UpdateFormatError(f"update has tensors {got}, the job's model expects {want}")


def encode_update(tensors: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None) -> bytes:
    header = {
        "meta": dict(meta or {}),
        "tensors": [{"name": n, "dtype": "float32", "shape": list(np.shape(t))} for n, t in tensors.items()],
    }
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    body = b"".join(np.ascontiguousarray(t, dtype="<f4").tobytes() for t in tensors.values())
    return MAGIC + struct.pack(">I", len(head)) + head + body


def decode_update(data: bytes) -> ModelUpdate:
    if data[:8] != MAGIC:
        raise UpdateFormatError("not an OpenDPG update (bad magic bytes)")
    if len(data) < 12:
        raise UpdateFormatError("truncated update header")
    (length,) = struct.unpack(">I", data[8:12])
    if length > MAX_HEADER or 12 + length > len(data):
        raise UpdateFormatError("truncated or oversized update header")
    try:
        header = json.loads(data[12:12 + length])
        specs = [(t["name"], tuple(int(d) for d in t["shape"]), t["dtype"]) for t in header["tensors"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise UpdateFormatError(f"malformed update header: {exc}") from None
    tensors: OrderedDict[str, np.ndarray] = OrderedDict()
    pos = 12 + length
    for name, shape, dtype in specs:
        if dtype != "float32":
            raise UpdateFormatError(f"tensor {name}: dtype {dtype}, only float32 is allowed")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        end = pos + 4 * count
        if end > len(data):
            raise UpdateFormatError(f"tensor {name}: truncated values")
        tensors[name] = np.frombuffer(data[pos:end], dtype="<f4").reshape(shape).astype(np.float32)
        pos = end
    if pos != len(data):
        raise UpdateFormatError(f"{len(data) - pos} trailing bytes after the last tensor")
    return ModelUpdate(tensors, dict(header.get("meta", {})))


def update_hash(data: bytes) -> bytes:
    """SHA-256 of the canonical bytes: the hash that goes on-chain."""
    return hashlib.sha256(data).digest()
