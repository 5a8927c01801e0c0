"""Federated learning, independent of the chain and of IPFS: models, data shares, the canonical update
format and its hash, and deterministic aggregation. (Flower apps and process control: next.)"""

from opendpg.fl.aggregate import Contribution, aggregate
from opendpg.fl.update import ModelUpdate, UpdateFormatError, decode_update, encode_update, update_hash

__all__ = [
    "Contribution",
    "ModelUpdate",
    "UpdateFormatError",
    "aggregate",
    "decode_update",
    "encode_update",
    "update_hash",
]
