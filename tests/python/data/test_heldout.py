"""The poster's held-out set packs to one archive (Parquet, or a tar of class folders) that anyone reads back."""

import io
import tarfile

import numpy as np
import pytest

from opendpg.data import DataError, pack_held_out, read_held_out, read_local, sample_schema, write_sample


@pytest.mark.parametrize("name", ["breast-cancer", "diabetes", "digits"])
def test_a_held_out_set_round_trips(tmp_path, name):
    files = write_sample(name, tmp_path / name, 2)
    schema = sample_schema(name)
    direct = read_local(schema, files.held_out, any_format=True)

    archive = pack_held_out(schema, files.held_out)
    records = read_held_out(schema, archive)

    assert len(records) == len(direct) > 0
    np.testing.assert_allclose(records.x, direct.x, rtol=1e-6)
    np.testing.assert_array_equal(records.y, direct.y)
    assert pack_held_out(schema, files.held_out) == archive  # deterministic: the same files give the same CID


def test_an_archive_that_escapes_its_folder_is_refused():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../../etc/evil.png")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))

    with pytest.raises(DataError, match="not an image-folder tar archive"):
        read_held_out(sample_schema("digits"), buffer.getvalue())
