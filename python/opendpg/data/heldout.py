"""The poster's held-out set: packed once from the poster's own files, pinned to IPFS (``held_out_cid``), and read
back by the coordinator and any evaluator. Tabular and text records travel as one Parquet file of exactly the
schema's columns; images as a tar of the class folders. Every record is checked against the schema when packed
and again when read."""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path

from opendpg.data.readers import DataError, LocalData, TextEncoder, detect_format, read_local, read_tables
from opendpg.data.schema import DatasetSchema

__all__ = ["pack_held_out", "read_held_out"]


def pack_held_out(schema: DatasetSchema, path: Path) -> bytes:
    """The held-out archive of the records under ``path`` (all must pass the schema: none is dropped)."""
    path = Path(path)
    records = read_local(schema, path, any_format=True)
    if schema.modality == "image":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for folder in sorted(records.files):
                for file in sorted(Path(folder).iterdir()):
                    if not file.is_file() or file.name.startswith("."):
                        continue
                    info = tar.gettarinfo(str(file), arcname=f"{Path(folder).name}/{file.name}")
                    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                    with open(file, "rb") as handle:
                        tar.addfile(info, handle)
        return buffer.getvalue()
    import pandas as pd
    import pyarrow as pa
    from pyarrow import parquet

    columns = [f.name for f in schema.features] + [schema.label.name]
    frames = [frame[columns] for _, frame in read_tables(path, detect_format(path))]
    table = pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)
    sink = io.BytesIO()
    parquet.write_table(table, sink)
    return sink.getvalue()


def read_held_out(schema: DatasetSchema, data: bytes, encode_text: TextEncoder | None = None) -> LocalData:
    """The records of a held-out archive made by :func:`pack_held_out` (or any Parquet file / image-folder tar
    that fits the schema); texts encoded by ``encode_text`` when given (see :func:`read_local`)."""
    with tempfile.TemporaryDirectory(prefix="opendpg-held-out-") as tmp:
        root = Path(tmp)
        if schema.modality == "image":
            try:
                with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                    tar.extractall(root / "images", filter="data")
            except (tarfile.TarError, OSError) as exc:
                raise DataError(f"held-out set: not an image-folder tar archive ({exc})") from None
            return read_local(schema, root / "images", any_format=True)
        file = root / "held-out.parquet"
        file.write_bytes(data)
        return read_local(schema, file, any_format=True, encode_text=encode_text)
