"""DPG certification: the DPG Standard as a versioned document, the automated checker, and the on-chain
certification flow (check attestation, community vote, expert committee) over the DPG registry."""

from opendpg.dpg.checker import REPORT_SCHEMA, Finding, Report, check_asset
from opendpg.dpg.files import AssetFiles, FilesError, open_files
from opendpg.dpg.licences import judge_licence, licence_ids, licences
from opendpg.dpg.metadata import METADATA_SCHEMA, AssetMetadata, MetadataError, parse_metadata
from opendpg.dpg.standard import (
    ASSET_KINDS,
    Standard,
    StandardError,
    load_standard,
    parse_standard,
    read_standard_file,
    shipped_standard,
    standard_bytes,
)

__all__ = [
    "ASSET_KINDS",
    "METADATA_SCHEMA",
    "REPORT_SCHEMA",
    "AssetFiles",
    "AssetMetadata",
    "FilesError",
    "Finding",
    "MetadataError",
    "Report",
    "Standard",
    "StandardError",
    "check_asset",
    "judge_licence",
    "licence_ids",
    "licences",
    "load_standard",
    "open_files",
    "parse_metadata",
    "parse_standard",
    "read_standard_file",
    "shipped_standard",
    "standard_bytes",
]
