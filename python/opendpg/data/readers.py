"""Reading a holder's own files into arrays, checked against the dataset's schema.

Files are read with the field's libraries: CSV, Parquet and JSON Lines through pyarrow, a ``save_to_disk``
folder through Hugging Face ``datasets`` (offline), an image folder (one sub-folder per class) through
torchvision and Pillow; text is encoded with scikit-learn's HashingVectorizer (the schema's ``text`` encoding), or
by the caller's ``encode_text`` (a job on a transformers text model: its base model's tokenizer). A record that
breaks the schema (a value that is not a number, out of range or missing, a label outside the classes, an image
of the wrong size) stops the read with the file and row, unless the holder's config allows dropping bad records;
then they are counted and the first reasons kept for the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from opendpg.data.schema import FORMATS, DatasetSchema, TextEncoding
from opendpg.errors import OpenDPGValueError

__all__ = ["DataError", "LocalData", "TextEncoder", "detect_format", "read_local", "read_tables"]

log = logging.getLogger(__name__)
SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}
MAX_REASONS = 20  # reasons kept (and logged) for dropped records
#: Turns a text dataset's texts into the model's inputs, one row per text (a tokenizer's ids, for instance).
TextEncoder = Callable[[list[str]], np.ndarray]


class DataError(OpenDPGValueError):
    """Local data that cannot be used: the message names the file, and the row or column, and the fix."""


@dataclass
class LocalData:
    """A holder's records as arrays: ``x`` float32 in the schema's input shape (or what ``encode_text`` gives for
    text), ``y`` int64 class indices (or float32 targets), the files read, and what was dropped (with
    ``drop_bad_rows``)."""

    x: np.ndarray
    y: np.ndarray
    files: list[str]
    dropped: int = 0
    reasons: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)


class _Bad:
    """Collects a file's bad records; at the end of the file (``flush``) raises for the first one, unless
    dropping: then counts them and keeps the first reasons."""

    def __init__(self, drop: bool) -> None:
        self.drop = drop
        self.count = 0
        self.reasons: list[str] = []
        self._pending: list[tuple[int, str]] = []

    def __call__(self, reason: str, row: int = 0, records: int = 1) -> None:
        self._pending.append((row, reason))
        self.count += records

    def flush(self) -> None:
        pending, self._pending = sorted(self._pending), []
        if not pending:
            return
        if not self.drop:
            more = f"; {len(pending) - 1} more bad records in this file" if len(pending) > 1 else ""
            raise DataError(f"{pending[0][1]}{more} (fix the records, or set drop_bad_rows = true in this dataset's "
                            "[data] section to leave such records out)")
        self.reasons.extend(reason for _, reason in pending[:MAX_REASONS - len(self.reasons)])


def detect_format(path: Path) -> str:
    """The format of a file or folder: by suffix, a ``save_to_disk`` folder by its ``dataset_info.json`` or
    ``dataset_dict.json``, a folder of class sub-folders as an image folder, a folder of CSV/Parquet/JSONL files
    by their (single) suffix."""
    if not path.exists():
        raise DataError(f"{path}: no such file or folder (check the path in this dataset's [data] section)")
    if path.is_file():
        if path.suffix.lower() in SUFFIXES:
            return SUFFIXES[path.suffix.lower()]
        raise DataError(f"{path}: unknown file type {path.suffix!r}; use .csv, .parquet or .jsonl")
    if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
        return "hf-datasets"
    suffixes = {p.suffix.lower() for p in path.iterdir() if p.is_file() and not p.name.startswith(".")}
    known = suffixes & set(SUFFIXES)
    if len(known) > 1:
        raise DataError(f"{path}: mixes {sorted(known)} files; keep one format per dataset folder")
    if known:
        return SUFFIXES[known.pop()]
    saved = [p for p in path.iterdir() if (p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists()]
    if saved:
        raise DataError(f"{path}: holds a save_to_disk dataset in {saved[0].name}/; set the path to that folder")
    if any(p.is_dir() for p in path.iterdir()):
        return "image-folder"
    raise DataError(f"{path}: no .csv, .parquet or .jsonl files, no class sub-folders, no save_to_disk dataset")


def read_local(schema: DatasetSchema, path: Path, *, drop_bad_rows: bool = False, any_format: bool = False,
               encode_text: TextEncoder | None = None) -> LocalData:
    """Read and check every record under ``path`` (a file or a folder) against ``schema``. The format must be
    one the schema lists, unless ``any_format`` (a poster's held-out set is Parquet or an image folder whatever
    the holders keep). A text dataset's texts are encoded by ``encode_text`` when given, else with the schema's
    hashing encoding."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt not in schema.formats and not (any_format and fmt in FORMATS[schema.modality]):
        raise DataError(f"{path}: the data is in {fmt!r} format but the dataset's schema allows {schema.formats}")
    bad = _Bad(drop_bad_rows)
    if fmt == "image-folder":
        x, y, files = _read_images(schema, path, bad)
    else:
        x, y, files = _read_tables(schema, path, fmt, bad, encode_text)
    if bad.count:
        log.warning("dropped %d bad records (drop_bad_rows = true)", bad.count,
                    extra={"path": str(path), "dropped": bad.count, "first_reasons": bad.reasons[:5]})
    if len(y) < schema.min_records:
        raise DataError(f"{path}: {len(y)} usable records, the dataset's schema asks for at least "
                        f"{schema.min_records}")
    return LocalData(x, y, files, bad.count, bad.reasons)


# ---------------------------------------------------------------------------------------------- tables


def read_tables(path: Path, fmt: str) -> list[tuple[str, Any]]:
    """(file name, pandas DataFrame) for each file of a tabular or text dataset in format ``fmt``, read with
    pyarrow or ``datasets``, unchecked (``read_local`` checks)."""
    if fmt == "hf-datasets":
        import datasets

        datasets.disable_progress_bars()
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if "train" not in loaded and len(loaded) != 1:
                raise DataError(f"{path}: a dataset dict with splits {sorted(loaded)}; hold one split or 'train'")
            loaded = loaded["train"] if "train" in loaded else next(iter(loaded.values()))
        return [(str(path), loaded.to_pandas())]
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.suffix.lower() == f".{fmt}")
    out = []
    for file in files:
        try:
            if fmt == "csv":
                from pyarrow import csv

                table = csv.read_csv(file)
            elif fmt == "parquet":
                from pyarrow import parquet

                table = parquet.read_table(file)
            else:
                from pyarrow import json

                table = json.read_json(file)
        except Exception as exc:  # pyarrow's errors name the line; keep them
            raise DataError(f"{file}: cannot be read as {fmt}: {exc}") from None
        out.append((str(file), table.to_pandas()))
    return out


def _row(fmt: str, index: int) -> str:
    """How a user finds record ``index`` (0-based) in a file: CSV counts the header line."""
    if fmt == "csv":
        return f"row {index + 1} (line {index + 2})"
    return f"line {index + 1}" if fmt == "jsonl" else f"row {index + 1}"


def _read_tables(schema: DatasetSchema, path: Path, fmt: str, bad: _Bad,
                 encode_text: TextEncoder | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import pandas as pd

    xs: list[np.ndarray] = []
    texts: list[str] = []
    ys: list[Any] = []
    files = []
    wanted = [f.name for f in schema.features] + [schema.label.name]
    for file, frame in read_tables(path, fmt):
        files.append(file)
        missing = [name for name in wanted if name not in frame.columns]
        if missing:
            raise DataError(f"{file}: column {missing[0]!r} is missing (the schema needs {wanted}; the file has "
                            f"{list(map(str, frame.columns))})")
        ok = np.ones(len(frame), dtype=bool)
        columns: list[np.ndarray] = []
        for feature in schema.features:
            raw = frame[feature.name]
            if feature.type == "string":
                values = raw.astype("string")
                for i in np.flatnonzero(values.isna().to_numpy() | (values.fillna("").str.strip() == "").to_numpy()):
                    if ok[i]:
                        bad(f"{file}: {_row(fmt, int(i))}: column {feature.name!r} is empty", int(i))
                        ok[i] = False
                continue
            if feature.type == "bool" and raw.dtype == object:
                raw = raw.map(lambda v: {"true": 1, "false": 0}.get(str(v).strip().lower(), v))
            numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            for i in np.flatnonzero(~np.isfinite(numbers)):
                if ok[i]:
                    shown = raw.iloc[i]
                    absent = pd.isna(shown) or not str(shown).strip()
                    what = "is missing" if absent else f"is {shown!r}, not a number"
                    bad(f"{file}: {_row(fmt, int(i))}: column {feature.name!r} {what}", int(i))
                    ok[i] = False
            low = -np.inf if feature.minimum is None else feature.minimum
            high = np.inf if feature.maximum is None else feature.maximum
            with np.errstate(invalid="ignore"):
                checks = [(feature.type == "int", numbers != np.round(numbers), "is not a whole number"),
                          (feature.type == "bool", (numbers != 0) & (numbers != 1), "is not true/false (1/0)"),
                          (feature.minimum is not None, numbers < low, f"is below {feature.minimum}"),
                          (feature.maximum is not None, numbers > high, f"is above {feature.maximum}")]
            for active, wrong, message in checks:
                if not active:
                    continue
                failing = np.flatnonzero(ok & np.isfinite(numbers) & wrong)
                for i in failing:
                    bad(f"{file}: {_row(fmt, int(i))}: column {feature.name!r} value {numbers[i]:g} {message}", int(i))
                    ok[i] = False
            columns.append(((numbers - feature.mean) / feature.std).astype(np.float32))
        labels = _labels(schema, frame[schema.label.name], file, fmt, ok, bad)
        bad.flush()
        keep = np.flatnonzero(ok)
        if schema.modality == "text":
            texts.extend(frame[schema.features[0].name].astype("string").iloc[keep].tolist())
        else:
            xs.append(np.stack(columns, axis=1)[keep] if columns else np.zeros((len(keep), 0), np.float32))
        ys.append(labels[keep])
    y = np.concatenate(ys) if ys else np.zeros(0)
    if schema.modality == "text":
        if encode_text is not None:
            return encode_text(texts), y, files
        return _encode_text(schema.text or TextEncoding(), texts), y, files
    return np.concatenate(xs).astype(np.float32), y, files


def _labels(schema: DatasetSchema, raw: Any, file: str, fmt: str, ok: np.ndarray, bad: _Bad) -> np.ndarray:
    import pandas as pd

    name = schema.label.name
    if schema.label.classes is None:
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        for bad_index in np.flatnonzero(ok & ~np.isfinite(values)):
            bad(f"{file}: {_row(fmt, int(bad_index))}: target {name!r} is {raw.iloc[bad_index]!r}, not a number",
                int(bad_index))
            ok[bad_index] = False
        targets: np.ndarray = np.nan_to_num(values).astype(np.float32)
        return targets
    index = {c: k for k, c in enumerate(schema.label.classes)}
    out = np.zeros(len(raw), dtype=np.int64)
    for i, value in enumerate(raw.tolist()):
        if isinstance(value, float) and value.is_integer():
            key = str(int(value))  # 1.0 in a float column is class "1"
        else:
            key = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
        if key in index:
            out[i] = index[key]
        elif ok[i]:
            bad(f"{file}: {_row(fmt, i)}: label {name!r} is {key!r}, not one of the schema's classes "
                f"{schema.label.classes}", i)
            ok[i] = False
    return out


def _encode_text(encoding: TextEncoding, texts: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(n_features=encoding.hashing_features, ngram_range=(1, encoding.ngram_max),
                                   lowercase=encoding.lowercase, alternate_sign=False, norm="l2")
    encoded: np.ndarray = np.asarray(vectorizer.transform(texts).toarray(), dtype=np.float32)
    return encoded


# ---------------------------------------------------------------------------------------------- images


def _read_images(schema: DatasetSchema, path: Path, bad: _Bad) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import torch
    from PIL import Image, UnidentifiedImageError
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset
    from torchvision.transforms.v2 import functional

    assert schema.image is not None and schema.label.classes is not None
    shape = schema.image
    classes = {c: k for k, c in enumerate(schema.label.classes)}
    folders = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [f for f in folders if f not in classes]
    for folder in unknown:
        bad(f"{path / folder}: folder {folder!r} is not one of the schema's classes {schema.label.classes}", -1,
            sum(1 for p in (path / folder).rglob("*") if p.is_file()))
    present = {c: k for c, k in classes.items() if (path / c).is_dir()}
    samples = make_dataset(str(path), present, extensions=IMG_EXTENSIONS, allow_empty=True) if present else []
    mode = "L" if shape.channels == 1 else "RGB"
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for file, label in samples:
        try:
            with Image.open(file) as opened:
                image = opened.convert(mode)
        except (UnidentifiedImageError, OSError) as exc:
            bad(f"{file}: unreadable image ({exc}); replace or remove it", len(labels))
            continue
        if image.size != (shape.width, shape.height):
            bad(f"{file}: image is {image.size[0]}x{image.size[1]}, the schema says {shape.width}x{shape.height}",
                len(labels))
            continue
        images.append(functional.to_dtype(functional.pil_to_tensor(image), torch.float32, scale=True))
        labels.append(label)
    bad.flush()
    x = torch.stack(images).numpy() if images else np.zeros((0, *schema.input_shape), np.float32)
    return x.astype(np.float32), np.array(labels, dtype=np.int64), [str(path / c) for c in present]
