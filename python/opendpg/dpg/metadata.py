"""What an asset's owner declares about it (pinned to IPFS; its CID is the asset's on-chain ``metadataCid``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from opendpg.data.schema import DatasetSchema
from opendpg.dpg.standard import AssetKind
from opendpg.errors import OpenDPGValueError

__all__ = ["METADATA_SCHEMA", "METADATA_VERSIONS", "AssetMetadata", "DataDescription", "Dependency", "MetadataError",
           "Owner", "Privacy", "SdgClaim", "parse_metadata"]

METADATA_SCHEMA = "opendpg-asset/2"
#: Versions read: 2 adds ``dataset_schema`` (a held dataset's schema); a version 1 document parses unchanged.
METADATA_VERSIONS = ("opendpg-asset/1", "opendpg-asset/2")
_Text = Annotated[str, Field(max_length=20_000)]


class MetadataError(OpenDPGValueError):
    """Asset metadata that does not parse; ``problems`` lists ``(field path, message)``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("invalid asset metadata: " + "; ".join(f"{path}: {msg}" for path, msg in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SdgClaim(_Strict):
    goal: Annotated[int, Field(ge=1, le=17)] = Field(description="UN Sustainable Development Goal number")
    evidence: _Text = Field(default="", description="how the asset serves this goal")


class Owner(_Strict):
    name: Annotated[str, Field(max_length=200)] = ""
    contact: Annotated[str, Field(max_length=200)] = Field(default="", description="an e-mail address or URL")
    evidence: _Text = Field(default="", description="copyright notice, registry entry or other proof of ownership")


class Dependency(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    licence: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="SPDX expression, or 'proprietary'")
    open_alternative: Annotated[str, Field(max_length=200)] = Field(
        default="", description="an open replacement, required for a closed dependency")


class DataDescription(_Strict):
    formats: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, description="formats the data and content can be exported in ('csv', 'json', ...)")
    extraction: _Text = Field(default="", description="how non-personal data is extracted (API, export, dump)")
    contains_personal_data: bool = False


class Privacy(_Strict):
    statement: _Text = ""
    laws: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, description="laws and regulations the asset complies with (e.g. 'GDPR')")
    collects_personal_data: bool = False


class AssetMetadata(_Strict):
    schema_: Literal["opendpg-asset/1", "opendpg-asset/2"] = Field(default="opendpg-asset/2", alias="schema")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: AssetKind
    description: _Text = ""
    licence: Annotated[str, Field(min_length=1, max_length=64)] = Field(description="SPDX licence expression")
    version: Annotated[str, Field(max_length=64)] = ""
    catalog_id: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="datasets bundled for simulations: the catalog id providers declare")
    dataset_schema: DatasetSchema | None = Field(
        default=None, description="datasets held by providers in their own files: what a record looks like "
                                  "(modality, features, label, formats, terms of use); its fingerprint is what "
                                  "holders register on-chain")
    files_cid: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="software and models: an archive (.tar, .tar.gz, .zip) of the files, on IPFS")
    owner: Owner = Field(default_factory=Owner)
    sdgs: list[SdgClaim] = Field(default_factory=list)
    mandatory_dependencies: list[Dependency] = Field(default_factory=list)
    documentation: _Text = Field(default="", description="documentation text, or a URL to it")
    data: DataDescription | None = None
    privacy: Privacy | None = None
    standards: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list)
    do_no_harm: dict[str, _Text] = Field(
        default_factory=dict, description="statement per harm the standard names (data_privacy_security, ...)")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _schema_fits(self) -> AssetMetadata:
        if self.dataset_schema is not None:
            if self.kind != "dataset":
                raise ValueError("dataset_schema: only a dataset asset has one")
            if self.schema_ == "opendpg-asset/1":
                raise ValueError("schema: dataset_schema needs version opendpg-asset/2")
        return self

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True, indent=1).encode() + b"\n"


def parse_metadata(data: bytes | str) -> AssetMetadata:
    try:
        return AssetMetadata.model_validate_json(data)
    except ValidationError as exc:
        raise MetadataError([(".".join(map(str, e["loc"])) or "(document)", e["msg"])
                             for e in exc.errors()]) from None
