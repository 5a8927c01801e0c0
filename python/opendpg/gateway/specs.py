"""Job specs arriving at the gateway: a spec that names a dataset asset held by providers, without its schema,
gets the schema from the asset's metadata (so posters write ``"dataset": {"asset": 7}``), and one that names a base
model asset gets the CID of its files (``"model": {..., "base": {"asset": 9}}``)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status

from opendpg.dpg.basemodels import with_base_files
from opendpg.dpg.datasets import with_asset_schema
from opendpg.errors import ContentError, OpenDPGValueError
from opendpg.gateway.chain import GatewayChain

__all__ = ["filled_spec"]


def filled_spec(chain: GatewayChain, document: dict[str, Any], loc: list[str]) -> dict[str, Any]:
    """``document`` with its dataset asset's schema and its base model's files CID filled in; 422 naming
    ``dataset.asset`` or ``model.base.asset`` when the asset has none, 503 when its metadata cannot be fetched.
    Blocking (chain and IPFS reads): call it in a thread."""
    for fill, field, what in ((with_asset_schema, ["dataset", "asset"], "dataset"),
                              (with_base_files, ["model", "base", "asset"], "base model")):
        try:
            document = fill(document, chain.reader, chain.store)
        except ContentError as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                detail=f"the {what} asset's metadata could not be fetched ({exc}); try again") from None
        except OpenDPGValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
                {"loc": [*loc, *field], "msg": str(exc).removeprefix("model.base.asset: ")}]) from None
    return document
