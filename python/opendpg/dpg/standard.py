"""The DPG Standard as a versioned indicator document: what the automated checker reads.

The document lives on IPFS; the DPG registry holds the current version and its CID, changed only by DAO vote.
A change to the document (approved licence families, open formats, required statements, thresholds) changes
what the checker demands. Version 1 ships with opendpg so that a new deployment can point at it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from opendpg.content import ContentStore, cid_of
from opendpg.errors import OpenDPGValueError

__all__ = ["ASSET_KINDS", "INDICATOR_KEYS", "Indicator", "Standard", "StandardError", "load_standard",
           "parse_standard", "read_standard_file", "shipped_standard", "standard_bytes"]

#: Asset kinds in the order of ``IDPGRegistry.AssetKind``.
ASSET_KINDS = ("dataset", "model", "software", "compute_commitment")
INDICATOR_KEYS = ("sdg_relevance", "open_licence", "clear_ownership", "platform_independence", "documentation",
                  "data_extraction", "privacy_and_law", "standards", "do_no_harm")
_SHIPPED = Path(__file__).parent / "data" / "standard-v1.json"
AssetKind = Literal["dataset", "model", "software", "compute_commitment"]


class StandardError(OpenDPGValueError):
    """A standard document that is unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Indicator(_Strict):
    id: str
    key: Literal["sdg_relevance", "open_licence", "clear_ownership", "platform_independence", "documentation",
                 "data_extraction", "privacy_and_law", "standards", "do_no_harm"]
    title: str
    requirement: str
    params: dict[str, Any] = Field(default_factory=dict)
    human_review: bool = Field(description="a pass by the tool still needs a human's judgement")


class Standard(_Strict):
    standard: str
    version: Annotated[int, Field(ge=1)]
    based_on: str = ""
    approved_licences: dict[AssetKind, list[str]]
    open_formats: list[str]
    personal_data_fields: list[str] = Field(default_factory=list)
    min_documentation_chars: Annotated[int, Field(ge=0)] = 200
    indicators: list[Indicator]

    def indicator(self, key: str) -> Indicator | None:
        return next((i for i in self.indicators if i.key == key), None)

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), indent=1).encode() + b"\n"


def parse_standard(data: bytes | str) -> Standard:
    try:
        return Standard.model_validate_json(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(document)'}: {e['msg']}" for e in exc.errors())
        raise StandardError(f"invalid DPG Standard document: {problems}") from None


@cache
def _shipped() -> tuple[bytes, str]:
    data = _SHIPPED.read_bytes()
    return data, cid_of(data)


def shipped_standard() -> tuple[Standard, bytes, str]:
    """Version 1 as shipped: the document, its bytes and its CID (what a new deployment points at)."""
    data, cid = _shipped()
    return parse_standard(data), data, cid


def standard_bytes(cid: str, store: ContentStore | None) -> bytes:
    """The bytes of the standard document with ``cid``: the shipped copy when it is that document (same bytes,
    same CID), else fetched from ``store`` (verified against the CID)."""
    data, shipped_cid = _shipped()
    if cid != shipped_cid:
        if store is None:
            raise StandardError(f"the standard {cid} is not the shipped version 1 and no content store is "
                                "configured to fetch it (set OPENDPG_IPFS_API)")
        data = store.get(cid)
    return data


def load_standard(cid: str, store: ContentStore | None) -> Standard:
    """The standard document with ``cid`` (see :func:`standard_bytes`), parsed."""
    return parse_standard(standard_bytes(cid, store))


def read_standard_file(path: Path) -> Standard:
    try:
        return parse_standard(path.read_bytes())
    except OSError as exc:
        raise StandardError(f"cannot read the standard document {path}: {exc.strerror}") from None
