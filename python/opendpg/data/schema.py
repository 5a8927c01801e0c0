"""A dataset's schema: what its records look like, with no record in it.

A dataset asset's metadata carries one (``AssetMetadata.dataset_schema``); every holder of the asset (three
hospitals, one schema) checks its own files against it before joining a job, and a job spec embeds it, so the
coordinator and any auditor build the model (input shape, outputs, loss) without anyone's data. The schema's
fingerprint (SHA-256 of its canonical JSON) is what a holder registers on-chain and a job requires.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DATASET_SCHEMA_VERSION", "FORMATS", "DataFormat", "DatasetSchema", "Feature", "ImageShape", "Label",
           "Modality", "TextEncoding"]

DATASET_SCHEMA_VERSION = "opendpg-dataset/1"
Modality = Literal["tabular", "image", "text"]
DataFormat = Literal["csv", "parquet", "jsonl", "hf-datasets", "image-folder"]
#: The formats each modality can be held in.
FORMATS: dict[str, frozenset[str]] = {
    "tabular": frozenset({"csv", "parquet", "jsonl", "hf-datasets"}),
    "text": frozenset({"csv", "parquet", "jsonl", "hf-datasets"}),
    "image": frozenset({"image-folder"}),
}
_Name = Annotated[str, Field(min_length=1, max_length=128)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Feature(_Strict):
    """One input column. Values outside ``[minimum, maximum]`` make a record invalid; ``mean`` and ``std`` are
    the owner's published standardisation, applied the same way by every holder and evaluator."""

    name: _Name
    type: Literal["float", "int", "bool", "string"] = Field(description="'string' only for a text dataset's text")
    minimum: float | None = None
    maximum: float | None = None
    mean: float = 0.0
    std: Annotated[float, Field(gt=0)] = 1.0
    description: Annotated[str, Field(max_length=2000)] = ""

    @model_validator(mode="after")
    def _range(self) -> Feature:
        if self.minimum is not None and self.maximum is not None and self.maximum < self.minimum:
            raise ValueError(f"feature {self.name!r}: maximum {self.maximum} is below minimum {self.minimum}")
        return self


class Label(_Strict):
    """The target: ``classes`` (in index order) for classification, none for a numeric (regression) target.
    In an image folder the class is the sub-folder's name and ``name`` is not read."""

    name: _Name = "label"
    classes: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = Field(
        default=None, description="class names in index order; unset: a numeric target (regression)")
    mean: float = Field(default=0.0, description="numeric target: the owner's published standardisation; models "
                                                  "predict (target - mean) / std, metrics are in the target's units")
    std: Annotated[float, Field(gt=0)] = 1.0

    @model_validator(mode="after")
    def _distinct(self) -> Label:
        if self.classes is not None and (self.mean, self.std) != (0.0, 1.0):
            raise ValueError("label.mean/std: only a numeric target is standardised")
        if self.classes is not None:
            if len(self.classes) < 2:
                raise ValueError("label.classes: a classification target needs at least 2 classes")
            if len(set(self.classes)) != len(self.classes):
                raise ValueError("label.classes: class names must be distinct")
        return self


class ImageShape(_Strict):
    width: Annotated[int, Field(ge=1, le=4096)]
    height: Annotated[int, Field(ge=1, le=4096)]
    channels: Literal[1, 3] = Field(description="1: greyscale (PIL mode L), 3: RGB")


class TextEncoding(_Strict):
    """How text becomes a vector without a shared vocabulary: scikit-learn's HashingVectorizer (stateless, so
    every holder encodes the same way without pooling anyone's words)."""

    hashing_features: Annotated[int, Field(ge=16, le=1 << 20)] = 4096
    ngram_max: Annotated[int, Field(ge=1, le=3)] = 1
    lowercase: bool = True


class DatasetSchema(_Strict):
    version: Literal["opendpg-dataset/1"] = "opendpg-dataset/1"
    modality: Modality
    formats: list[DataFormat] = Field(min_length=1, description="the file formats holders keep the data in")
    features: list[Feature] = Field(default_factory=list, description="tabular: the inputs; text: the text column")
    label: Label = Field(default_factory=Label)
    image: ImageShape | None = None
    text: TextEncoding | None = None
    min_records: Annotated[int, Field(ge=1)] = Field(default=1, description="the fewest records a holder must have")
    terms_of_use: Annotated[str, Field(max_length=20_000)] = ""

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSchema:
        wrong = sorted(set(self.formats) - FORMATS[self.modality])
        if wrong:
            raise ValueError(f"formats: {wrong} cannot hold {self.modality} data "
                             f"(use {sorted(FORMATS[self.modality])})")
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("features: names must be distinct")
        if self.modality != "image" and self.label.name in names:
            raise ValueError(f"label.name: {self.label.name!r} is also a feature")
        strings = [f.name for f in self.features if f.type == "string"]
        if self.modality == "tabular":
            if not self.features or strings:
                raise ValueError("features: a tabular dataset needs numeric features (float, int, bool), "
                                 f"not strings {strings}" if strings else "features: list at least one feature")
            if self.image is not None or self.text is not None:
                raise ValueError("image/text: only for image/text datasets")
        elif self.modality == "text":
            if len(self.features) != 1 or not strings:
                raise ValueError("features: a text dataset has exactly one feature, of type 'string' (the text)")
            if self.image is not None:
                raise ValueError("image: only for image datasets")
        else:
            if self.features or self.image is None or self.text is not None:
                raise ValueError("an image dataset has an 'image' shape and no features or text encoding")
            if self.label.classes is None:
                raise ValueError("label.classes: an image folder dataset is classified by its sub-folders")
        return self

    @property
    def task(self) -> Literal["classification", "regression"]:
        return "regression" if self.label.classes is None else "classification"

    @property
    def target_scale(self) -> tuple[float, float]:
        """(mean, std) a numeric target is standardised with; (0, 1) for classes."""
        return (self.label.mean, self.label.std)

    @property
    def outputs(self) -> int:
        """The model's output width: one per class, or 1 for a numeric target."""
        return 1 if self.label.classes is None else len(self.label.classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.modality == "image":
            assert self.image is not None
            return (self.image.channels, self.image.height, self.image.width)
        if self.modality == "text":
            return ((self.text or TextEncoding()).hashing_features,)
        return (len(self.features),)

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces): what the fingerprint hashes."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()

    def fingerprint(self) -> bytes:
        """SHA-256 of the canonical JSON: 32 bytes, registered on-chain by holders and required by jobs."""
        return hashlib.sha256(self.to_bytes()).digest()
