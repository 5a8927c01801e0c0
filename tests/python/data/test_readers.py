"""A holder's own files read with pyarrow, Hugging Face datasets, torchvision and Pillow, checked against the
schema: every format gives the same records, and bad data is named by file and row (or dropped and counted,
when the holder says so)."""

import json

import numpy as np
import pytest
from PIL import Image

from opendpg.data import (
    DataError,
    DatasetSchema,
    Feature,
    Label,
    TextEncoding,
    read_local,
    sample_schema,
    validation_split,
    write_sample,
)

SCHEMA = sample_schema("breast-cancer")


@pytest.fixture(scope="module")
def holders(tmp_path_factory):
    """The same 569 breast-cancer records for four holders, one per tabular format (same seed: same split)."""
    root = tmp_path_factory.mktemp("holders")
    return {fmt: write_sample("breast-cancer", root / fmt, 2, formats=[fmt]) for fmt in
            ("csv", "parquet", "jsonl", "hf-datasets")}


def test_every_tabular_format_reads_to_the_same_records(holders):
    read = {fmt: read_local(SCHEMA, files.holders[0]) for fmt, files in holders.items()}

    reference = read["csv"]
    assert len(reference) == holders["csv"].records[0] and reference.x.shape == (len(reference), 30)
    assert reference.x.dtype == np.float32 and reference.y.dtype == np.int64
    assert set(reference.y.tolist()) == {0, 1}
    for fmt, records in read.items():
        np.testing.assert_allclose(records.x, reference.x, rtol=1e-6, err_msg=fmt)
        np.testing.assert_array_equal(records.y, reference.y, err_msg=fmt)
    assert abs(float(reference.x.mean())) < 0.5  # standardised with the schema's published mean and std


def _csv(tmp_path, rows):
    frame = (tmp_path / "records.csv")
    frame.write_text(rows)
    return frame


def test_a_missing_column_names_the_column_and_the_file(tmp_path):
    schema = DatasetSchema(modality="tabular", formats=["csv"], features=[Feature(name="age", type="int"),
                                                                          Feature(name="bmi", type="float")],
                           label=Label(name="outcome", classes=["no", "yes"]))
    path = _csv(tmp_path, "age,outcome\n50,yes\n")

    with pytest.raises(DataError, match=r"records\.csv: column 'bmi' is missing"):
        read_local(schema, path)


def test_bad_values_name_the_file_and_row_and_can_be_dropped_and_counted(tmp_path):
    schema = DatasetSchema(modality="tabular", formats=["csv"],
                           features=[Feature(name="age", type="int", minimum=0, maximum=120),
                                     Feature(name="bmi", type="float")],
                           label=Label(name="outcome", classes=["no", "yes"]))
    path = _csv(tmp_path, "age,bmi,outcome\n50,22.5,yes\n41,abc,no\n200,30,no\n33,,yes\n40.5,20,no\n61,25,maybe\n"
                          "70,27,no\n")

    with pytest.raises(DataError, match=r"records\.csv: row 2 \(line 3\): column 'bmi' is 'abc', not a number; "
                                        r"4 more bad records in this file"):
        read_local(schema, path)
    records = read_local(schema, path, drop_bad_rows=True)

    assert len(records) == 2 and records.dropped == 5
    assert records.y.tolist() == [1, 0]
    assert any("row 3 (line 4): column 'age' value 200 is above 120" in r for r in records.reasons)
    assert any("row 4 (line 5): column 'bmi' is missing" in r for r in records.reasons)
    assert any("row 5 (line 6): column 'age' value 40.5 is not a whole number" in r for r in records.reasons)
    assert any("row 6 (line 7): label 'outcome' is 'maybe', not one of the schema's classes" in r
               for r in records.reasons)


def test_a_malformed_file_is_refused_with_the_readers_reason(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"age": 1, "outcome": "no"}\n{"age": 2, "outc\n')
    schema = DatasetSchema(modality="tabular", formats=["jsonl"], features=[Feature(name="age", type="int")],
                           label=Label(name="outcome", classes=["no", "yes"]))

    with pytest.raises(DataError, match=r"records\.jsonl: cannot be read as jsonl"):
        read_local(schema, path)


def test_formats_outside_the_schema_and_too_few_records_are_refused(holders, tmp_path):
    csv_only = SCHEMA.model_copy(update={"formats": ["csv"]})
    with pytest.raises(DataError, match="'parquet' format but the dataset's schema allows"):
        read_local(csv_only, holders["parquet"].holders[0])
    with pytest.raises(DataError, match="at least 10000"):
        read_local(SCHEMA.model_copy(update={"min_records": 10_000}), holders["csv"].holders[0])
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "b.parquet").write_bytes(b"")
    with pytest.raises(DataError, match="mixes"):
        read_local(SCHEMA, tmp_path)
    with pytest.raises(DataError, match="no such file or folder"):
        read_local(SCHEMA, tmp_path / "absent")


def test_an_image_folder_reads_with_torchvision_and_names_bad_images(tmp_path):
    files = write_sample("digits", tmp_path / "digits", 2)
    schema = sample_schema("digits")

    records = read_local(schema, files.holders[0])

    assert records.x.shape == (files.records[0], 1, 8, 8) and records.x.min() >= 0.0 and records.x.max() <= 1.0
    assert sorted(set(records.y.tolist())) == list(range(10))
    (files.holders[0] / "3" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"3/broken\.png: unreadable image"):
        read_local(schema, files.holders[0])
    Image.new("L", (16, 16)).save(files.holders[0] / "3" / "big.png")
    (files.holders[0] / "cats").mkdir()
    with pytest.raises(DataError, match=r"folder 'cats' is not one of"):  # folders are checked first
        read_local(schema, files.holders[0])
    (files.holders[0] / "cats" / "tabby.png").write_bytes(b"")
    dropped = read_local(schema, files.holders[0], drop_bad_rows=True)
    assert dropped.dropped == 3 and len(dropped) == files.records[0]  # the cat, the broken and the big image


def test_text_is_read_from_json_lines_and_hashed(tmp_path):
    schema = DatasetSchema(modality="text", formats=["jsonl"], features=[Feature(name="text", type="string")],
                           label=Label(name="label", classes=["complaint", "praise"]),
                           text=TextEncoding(hashing_features=64))
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"text": "the clinic was great", "label": "praise"},
                                                       {"text": "waited six hours", "label": "complaint"},
                                                       {"text": "", "label": "praise"}]) + "\n")

    with pytest.raises(DataError, match="line 3: column 'text' is empty"):
        read_local(schema, path)
    records = read_local(schema, path, drop_bad_rows=True)

    assert records.x.shape == (2, 64) and records.y.tolist() == [1, 0]
    np.testing.assert_allclose(np.linalg.norm(records.x, axis=1), 1.0, rtol=1e-6)


def test_the_validation_split_is_seeded_and_disjoint():
    train, val = validation_split(100, 0.2, seed=3)

    assert len(val) == 20 and len(train) == 80 and not set(train) & set(val)
    assert np.array_equal(validation_split(100, 0.2, seed=3)[1], val)
    assert not np.array_equal(validation_split(100, 0.2, seed=4)[1], val)
    assert len(validation_split(5, 0.0, seed=0)[1]) == 0
