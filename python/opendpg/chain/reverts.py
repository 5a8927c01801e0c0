"""Decode revert data into typed exceptions that name the custom error and its arguments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from opendpg.errors import ContractRevert

__all__ = ["PANIC_CODES", "RevertDecoder", "revert_data", "revert_type"]

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "bad storage byte array",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an invalid internal function",
}

_TYPES: dict[str, type[ContractRevert]] = {}


def revert_type(name: str) -> type[ContractRevert]:
    """The exception class for custom error ``name`` (created on first use; always the same class)."""
    if name not in _TYPES:
        _TYPES[name] = type(name, (ContractRevert,), {"__module__": __name__})
    return _TYPES[name]


def _canonical_type(param: dict[str, Any]) -> str:
    t: str = param["type"]
    if t.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){t[5:]}"
    return t


class RevertDecoder:
    """Knows every error declared in a set of ABIs, by selector."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]] = ()) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            self.add_abi(abi)

    def add_abi(self, abi: list[dict[str, Any]]) -> None:
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [_canonical_type(p) for p in item["inputs"]]
            names = [p["name"] or f"arg{i}" for i, p in enumerate(item["inputs"])]
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            self._errors[selector] = (item["name"], types, names)

    def decode(self, data: bytes | str | None, tx_hash: str | None = None) -> ContractRevert:
        raw = _to_bytes(data)
        selector, body = raw[:4], raw[4:]
        if not raw:
            return ContractRevert("EmptyRevert", {}, data=raw, tx_hash=tx_hash)
        try:
            if selector == ERROR_SELECTOR:
                (message,) = abi_decode(["string"], body)
                return revert_type("Error")("Error", {"message": message}, data=raw, tx_hash=tx_hash)
            if selector == PANIC_SELECTOR:
                (code,) = abi_decode(["uint256"], body)
                meaning = PANIC_CODES.get(code, "unknown panic")
                return revert_type("Panic")("Panic", {"code": code, "meaning": meaning}, data=raw, tx_hash=tx_hash)
            if selector in self._errors:
                name, types, names = self._errors[selector]
                values = [to_checksum_address(v) if t == "address" else v
                          for t, v in zip(types, abi_decode(types, body), strict=True)]
                return revert_type(name)(name, dict(zip(names, values, strict=True)), data=raw, tx_hash=tx_hash)
        except Exception:  # undecodable body: report the raw data rather than fail while reporting
            pass
        return ContractRevert("UnknownError", {"selector": "0x" + selector.hex()}, data=raw, tx_hash=tx_hash)


def _to_bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    text = data[2:] if data.startswith("0x") else data
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


def revert_data(exc: BaseException) -> bytes | None:
    """The revert data carried by a web3 exception (ContractLogicError and friends, or an RPC error)."""
    data = getattr(exc, "data", None)
    if isinstance(data, (bytes, str)):
        return _to_bytes(data)
    if isinstance(data, dict) and isinstance(data.get("data"), str):
        return _to_bytes(data["data"])
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, dict):
            inner = arg.get("data")
            if isinstance(inner, str):
                return _to_bytes(inner)
            if isinstance(inner, dict) and isinstance(inner.get("data"), str):
                return _to_bytes(inner["data"])
    return None
