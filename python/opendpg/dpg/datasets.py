"""Dataset assets and the schema they publish: read from the DPG registry (the asset's metadata by its on-chain
CID, checked by the content store), and filled into a job spec that names only the asset, so a poster writes
``"dataset": {"asset": 7}`` and everyone downstream (agents, coordinator, auditors) gets the schema in the spec."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from opendpg.chain import Chain
from opendpg.content import ContentStore
from opendpg.data import DatasetSchema
from opendpg.dpg.metadata import AssetMetadata, MetadataError, parse_metadata
from opendpg.dpg.standard import ASSET_KINDS
from opendpg.errors import OpenDPGValueError

__all__ = ["DATASET_KIND", "EXAMPLE_HELD_DATASET", "asset_metadata", "asset_schema", "with_asset_schema"]

DATASET_KIND = 0  # IDPGRegistry.AssetKind.Dataset
#: A complete ``opendpg-asset/2`` document of a dataset held by three hospitals (its schema describes the
#: ``breast-cancer`` sample records): what the demo certifies and the tests register.
EXAMPLE_HELD_DATASET = Path(__file__).parent / "data" / "examples" / "breast-cancer-dataset.json"


def asset_metadata(chain: Chain, store: ContentStore, asset: int, kind: int) -> AssetMetadata:
    """The metadata of registry asset ``asset`` (fetched by the CID on-chain, checked by the store), which must
    be of ``kind`` (an ``IDPGRegistry.AssetKind`` index); the error says what is wrong."""
    if not 1 <= asset <= chain.dpg.asset_count():
        raise OpenDPGValueError(f"asset {asset} is not in the DPG registry")
    record = chain.dpg.get_asset(asset)
    if record["kind"] != kind:
        raise OpenDPGValueError(f"asset {asset} is not a {ASSET_KINDS[kind]} in the DPG registry")
    try:
        return parse_metadata(store.get(str(record["metadata_cid"])))
    except MetadataError as exc:
        raise OpenDPGValueError(f"asset {asset}: its metadata does not parse: {exc}") from None


def asset_schema(chain: Chain, store: ContentStore, asset: int) -> DatasetSchema:
    """The dataset schema in ``asset``'s metadata; the error says what is missing."""
    metadata = asset_metadata(chain, store, asset, DATASET_KIND)
    if metadata.dataset_schema is None:
        raise OpenDPGValueError(f"asset {asset} describes no dataset_schema in its metadata: its owner must add one "
                                "(opendpg data describe) before anyone can hold it or train on it")
    return metadata.dataset_schema


def with_asset_schema(document: dict[str, Any], chain: Chain, store: ContentStore) -> dict[str, Any]:
    """``document`` (a spec as a dict) with ``dataset.data_schema`` filled from the named asset's metadata when
    the spec names an asset and no schema; anything else is returned as it is (validation speaks for it)."""
    dataset = document.get("dataset")
    if not isinstance(dataset, dict) or dataset.get("mode", "local") != "local" or "data_schema" in dataset:
        return document
    asset = dataset.get("asset")
    if not isinstance(asset, int) or isinstance(asset, bool):
        return document
    filled = copy.deepcopy(document)
    filled["dataset"]["data_schema"] = asset_schema(chain, store, asset).model_dump(mode="json")
    return filled
