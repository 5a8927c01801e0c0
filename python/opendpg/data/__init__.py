"""Datasets held by providers: the schema a dataset asset publishes, and the checked reading of a holder's own
files (CSV, Parquet, JSON Lines, Hugging Face ``save_to_disk`` folders, image folders) and of a poster's
held-out set. Nothing here touches the chain or IPFS."""

from opendpg.data.heldout import pack_held_out, read_held_out
from opendpg.data.readers import DataError, LocalData, TextEncoder, detect_format, read_local, read_tables
from opendpg.data.samples import SAMPLES, SampleFiles, digit_images, sample_schema, write_sample
from opendpg.data.schema import (
    DATASET_SCHEMA_VERSION,
    FORMATS,
    DatasetSchema,
    Feature,
    ImageShape,
    Label,
    TextEncoding,
)
from opendpg.data.split import validation_split

__all__ = ["DATASET_SCHEMA_VERSION", "FORMATS", "SAMPLES", "DataError", "DatasetSchema", "Feature", "ImageShape",
           "Label", "LocalData", "SampleFiles", "TextEncoder", "TextEncoding", "detect_format", "digit_images",
           "pack_held_out", "read_held_out", "read_local", "read_tables", "sample_schema", "validation_split",
           "write_sample"]
