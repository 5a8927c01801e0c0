"""CIDs for bytes, computed exactly as kubo's ``ipfs add --cid-version=1`` computes them.

Pinned settings (kubo's defaults for CIDv1): chunker ``size-262144`` (256 KiB), **raw leaves**, balanced
DAG layout with at most 174 links per node, SHA2-256 multihashes, base32 (``b…``) CID strings. A file of
at most one chunk is a single raw block (codec ``raw``, ``bafkrei…``); a larger file is a tree of
``dag-pb`` nodes carrying UnixFS ``File`` data (``bafybei…``) over raw leaves.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

__all__ = [
    "CHUNK_SIZE",
    "LINKS_PER_NODE",
    "Block",
    "Cid",
    "build_dag",
    "cid_of",
    "decode_dag_pb",
    "directory_block",
    "single_block",
]

CHUNK_SIZE = 262_144
LINKS_PER_NODE = 174
RAW = 0x55
DAG_PB = 0x70
SHA2_256 = 0x12


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


@dataclass(frozen=True)
class Cid:
    """A CIDv1 with a SHA2-256 multihash."""

    codec: int
    digest: bytes

    def __bytes__(self) -> bytes:
        return _varint(1) + _varint(self.codec) + bytes([SHA2_256, len(self.digest)]) + self.digest

    def __str__(self) -> str:
        return "b" + base64.b32encode(bytes(self)).decode().lower().rstrip("=")

    @classmethod
    def of_block(cls, codec: int, block: bytes) -> Cid:
        return cls(codec, hashlib.sha256(block).digest())

    @classmethod
    def parse(cls, text: str) -> Cid:
        """Parse a base32 CIDv1 string; raise ValueError if it is anything else."""
        if not text.startswith("b"):
            raise ValueError(f"{text!r} is not a base32 CIDv1 (it must start with 'b')")
        body = text[1:].upper()
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
        version, pos = _read_varint(raw, 0)
        codec, pos = _read_varint(raw, pos)
        if version != 1:
            raise ValueError(f"{text!r}: CID version {version}, expected 1")
        if codec not in (RAW, DAG_PB):
            raise ValueError(f"{text!r}: codec {codec:#x} is neither raw nor dag-pb")
        if raw[pos:pos + 2] != bytes([SHA2_256, 32]) or len(raw) != pos + 34:
            raise ValueError(f"{text!r}: only sha2-256 multihashes are supported")
        return cls(codec, raw[pos + 2:])

    def matches(self, block: bytes) -> bool:
        return hashlib.sha256(block).digest() == self.digest


@dataclass(frozen=True)
class Block:
    cid: Cid
    data: bytes


# ---------------------------------------------------------------------- protobuf (dag-pb + UnixFS)

def _field(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes_field(number: int, value: bytes) -> bytes:
    return _field(number, 2) + _varint(len(value)) + value


def _unixfs_file(filesize: int, blocksizes: list[int]) -> bytes:
    """UnixFS ``Data`` message: Type=File (2), filesize, blocksizes (proto2, not packed)."""
    out = _field(1, 0) + _varint(2) + _field(3, 0) + _varint(filesize)
    for size in blocksizes:
        out += _field(4, 0) + _varint(size)
    return out


def _dag_pb_node(links: list[tuple[Cid, int]], data: bytes, names: list[str] | None = None) -> bytes:
    """PBNode: Links (field 2) first, then Data (field 1); each PBLink has Hash, Name ("" in files) and Tsize."""
    out = b""
    for i, (cid, tsize) in enumerate(links):
        name = names[i].encode() if names else b""
        link = _bytes_field(1, bytes(cid)) + _bytes_field(2, name) + _field(3, 0) + _varint(tsize)
        out += _bytes_field(2, link)
    return out + _bytes_field(1, data)


def directory_block(entries: dict[str, tuple[Cid, int]]) -> Block:
    """A UnixFS directory (Type=Directory) linking ``name -> (cid, tsize)``, links sorted by name."""
    names = sorted(entries)
    node = _dag_pb_node([entries[n] for n in names], _field(1, 0) + _varint(1), names)
    return Block(Cid.of_block(DAG_PB, node), node)


def decode_dag_pb(block: bytes) -> tuple[list[tuple[bytes, int]], bytes]:
    """Links (CID bytes, Tsize) and Data of a dag-pb node."""
    links: list[tuple[bytes, int]] = []
    data = b""
    pos = 0
    while pos < len(block):
        key, pos = _read_varint(block, pos)
        if key & 7 != 2:
            raise ValueError("unexpected wire type in dag-pb node")
        length, pos = _read_varint(block, pos)
        value, pos = block[pos:pos + length], pos + length
        if key >> 3 == 2:
            link_hash, tsize, lpos = b"", 0, 0
            while lpos < len(value):
                lkey, lpos = _read_varint(value, lpos)
                if lkey & 7 == 2:
                    llen, lpos = _read_varint(value, lpos)
                    if lkey >> 3 == 1:
                        link_hash = value[lpos:lpos + llen]
                    lpos += llen
                else:
                    number, lpos = _read_varint(value, lpos)
                    if lkey >> 3 == 3:
                        tsize = number
            links.append((link_hash, tsize))
        elif key >> 3 == 1:
            data = value
    return links, data


# ---------------------------------------------------------------------- the DAG

@dataclass(frozen=True)
class _Node:
    cid: Cid
    tsize: int  # cumulative size of the subtree's blocks
    filesize: int  # bytes of file data under it


def build_dag(data: bytes) -> tuple[Cid, list[Block]]:
    """The root CID of ``data`` and every block of its DAG (leaves first, root last)."""
    blocks: list[Block] = []
    chunks = [data[i:i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)] or [b""]
    level: list[_Node] = []
    for chunk in chunks:
        cid = Cid.of_block(RAW, chunk)
        blocks.append(Block(cid, chunk))
        level.append(_Node(cid, len(chunk), len(chunk)))
    if len(level) == 1:
        return level[0].cid, blocks
    while len(level) > 1:
        parents: list[_Node] = []
        for i in range(0, len(level), LINKS_PER_NODE):
            group = level[i:i + LINKS_PER_NODE]
            filesize = sum(n.filesize for n in group)
            node = _dag_pb_node([(n.cid, n.tsize) for n in group], _unixfs_file(filesize, [n.filesize for n in group]))
            cid = Cid.of_block(DAG_PB, node)
            blocks.append(Block(cid, node))
            parents.append(_Node(cid, len(node) + sum(n.tsize for n in group), filesize))
        level = parents
    return level[0].cid, blocks


def single_block(data: bytes) -> Block | None:
    """``data`` as its one raw block when it fits in one chunk (its CID is then the file's CID), else None."""
    return Block(Cid.of_block(RAW, data), data) if len(data) <= CHUNK_SIZE else None


def cid_of(data: bytes) -> str:
    """The CID string kubo gives ``data`` under the pinned settings."""
    return str(build_dag(data)[0])
