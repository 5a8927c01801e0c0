"""A dataset schema describes records without holding any: it validates itself per modality, and its fingerprint
is what holders declare on-chain."""

import pytest
from pydantic import ValidationError

from opendpg.data import DatasetSchema, Feature, ImageShape, Label, sample_schema
from opendpg.dpg.metadata import AssetMetadata, parse_metadata


def test_a_tabular_schema_gives_the_model_its_shape_and_task():
    schema = sample_schema("breast-cancer")
    regression = sample_schema("diabetes")

    assert (schema.input_shape, schema.outputs, schema.task) == ((30,), 2, "classification")
    assert (regression.input_shape, regression.outputs, regression.task) == ((10,), 1, "regression")
    assert sample_schema("digits").input_shape == (1, 8, 8)


def test_the_fingerprint_is_stable_and_changes_with_anything_in_the_schema():
    schema = sample_schema("breast-cancer")
    renamed = schema.model_copy(update={"label": Label(name="diagnosis", classes=["benign", "malignant"])})

    assert schema.fingerprint() == DatasetSchema.model_validate_json(schema.to_bytes()).fingerprint()
    assert len(schema.fingerprint()) == 32
    assert renamed.fingerprint() != schema.fingerprint()  # the class order is part of what a record means


@pytest.mark.parametrize(("fields", "message"), [
    ({"modality": "tabular", "formats": ["image-folder"], "features": [Feature(name="a", type="float")]},
     "cannot hold tabular data"),
    ({"modality": "tabular", "formats": ["csv"]}, "at least one feature"),
    ({"modality": "tabular", "formats": ["csv"], "features": [Feature(name="t", type="string")]}, "numeric"),
    ({"modality": "text", "formats": ["jsonl"], "features": [Feature(name="a", type="float")]}, "type 'string'"),
    ({"modality": "image", "formats": ["image-folder"], "label": Label(classes=["a", "b"])}, "'image' shape"),
    ({"modality": "image", "formats": ["image-folder"], "image": ImageShape(width=8, height=8, channels=1)},
     "sub-folders"),
    ({"modality": "tabular", "formats": ["csv"], "features": [Feature(name="label", type="float")]},
     "also a feature"),
])
def test_an_inconsistent_schema_is_refused_with_the_reason(fields, message):
    with pytest.raises(ValidationError, match=message):
        DatasetSchema(**fields)


def test_feature_and_label_rules():
    with pytest.raises(ValidationError, match="below minimum"):
        Feature(name="age", type="int", minimum=10, maximum=5)
    with pytest.raises(ValidationError, match="at least 2 classes"):
        Label(classes=["only"])
    with pytest.raises(ValidationError, match="distinct"):
        Label(classes=["a", "a"])


def test_a_dataset_asset_publishes_its_schema_in_version_2_metadata():
    schema = sample_schema("breast-cancer", terms="research use by the consortium's members only")
    metadata = AssetMetadata(name="Breast cancer records", kind="dataset", licence="LicenseRef-consortium",
                             dataset_schema=schema)

    parsed = parse_metadata(metadata.to_bytes())

    assert parsed.schema_ == "opendpg-asset/2"
    assert parsed.dataset_schema is not None and parsed.dataset_schema.fingerprint() == schema.fingerprint()
    with pytest.raises(ValidationError, match="only a dataset asset"):
        AssetMetadata(name="m", kind="model", licence="MIT", dataset_schema=schema)
    with pytest.raises(ValidationError, match="opendpg-asset/2"):
        AssetMetadata(name="d", kind="dataset", licence="MIT", schema="opendpg-asset/1", dataset_schema=schema)


def test_the_shipped_example_asset_describes_the_sample_records():
    from opendpg.dpg.datasets import EXAMPLE_HELD_DATASET

    schema = parse_metadata(EXAMPLE_HELD_DATASET.read_bytes()).dataset_schema

    assert schema is not None and schema.terms_of_use
    assert schema.model_copy(update={"terms_of_use": ""}) == sample_schema("breast-cancer")
