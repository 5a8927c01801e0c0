"""Public datasets that ship inside scikit-learn, written out the way real holders keep records: each holder's own
files (CSV, Parquet, JSON Lines, a ``save_to_disk`` folder, or PNG images in class folders) and the poster's
held-out file, plus the schema a dataset asset publishes for them. For the demo, benchmarks and tests; nothing
here is read by a provider's training except through those files.

- ``breast-cancer``: 569 records of 30 numeric features, benign/malignant (tabular classification).
- ``digits``: 1,797 8x8 greyscale images of the digits 0-9 (image classification, PNG files).
- ``diabetes``: 442 records of 10 numeric features and a disease-progression score (tabular regression).
- ``python-docs``: 1,086 paragraphs of the Python documentation that ships with CPython (``pydoc_data``), each
  labelled with the part of the documentation it comes from: statements, expressions, the data model or the
  built-in types (text classification).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from opendpg.data.schema import DatasetSchema, Feature, ImageShape, Label, TextEncoding
from opendpg.errors import OpenDPGValueError

__all__ = ["PYTHON_DOCS_PARTS", "SAMPLES", "SampleFiles", "digit_images", "paragraphs", "python_docs",
           "sample_schema", "write_sample"]

SAMPLES = ("breast-cancer", "digits", "diabetes", "python-docs")
#: The ``python-docs`` sample's classes: the pydoc topics whose paragraphs each part of the documentation holds.
PYTHON_DOCS_PARTS: dict[str, tuple[str, ...]] = {
    "statements": ("assert", "assignment", "augassign", "async", "break", "class", "continue", "del", "for",
                   "function", "global", "if", "import", "nonlocal", "pass", "raise", "return", "try", "while",
                   "with"),
    "expressions": ("atom-identifiers", "atom-literals", "attribute-references", "await", "binary", "bitwise",
                    "booleans", "calls", "comparisons", "conversions", "exprlists", "in", "lambda", "power",
                    "shifting", "slicings", "subscriptions", "unary", "yield"),
    "data-model": ("attribute-access", "callable-types", "context-managers", "customization", "numeric-types",
                   "sequence-types", "specialnames", "types"),
    "built-in-types": ("dict", "formatstrings", "string-methods", "typesfunctions", "typesmapping", "typesmethods",
                       "typesmodules", "typesseq", "typesseq-mutable"),
}
TabularFormat = Literal["csv", "parquet", "jsonl", "hf-datasets"]


@dataclass(frozen=True)
class SampleFiles:
    """Where a sample was written: one folder per holder, and the poster's held-out file or folder."""

    holders: list[Path]
    held_out: Path
    records: list[int]


def paragraphs(text: str) -> list[str]:
    """The paragraphs (blocks between blank lines) of ``text`` with at least 8 words, whitespace collapsed."""
    import re

    out = []
    for paragraph in re.split(r"\n\s*\n", text):
        words = " ".join(paragraph.split())
        if len(words.split()) >= 8:
            out.append(words)
    return out


def python_docs() -> list[tuple[str, str]]:
    """(paragraph, part) for every paragraph (:func:`paragraphs`) of the pydoc topics of :data:`PYTHON_DOCS_PARTS`,
    in topic order; a paragraph found under two parts is left out."""
    from pydoc_data.topics import topics

    parts: dict[str, set[str]] = {}
    for part, names in PYTHON_DOCS_PARTS.items():
        for name in names:
            for text in paragraphs(topics[name]):
                parts.setdefault(text, set()).add(part)
    return [(text, next(iter(found))) for text, found in parts.items() if len(found) == 1]


def _frame(name: str) -> Any:
    import pandas as pd
    from sklearn import datasets

    if name == "python-docs":
        return pd.DataFrame(python_docs(), columns=["text", "part"])

    if name == "breast-cancer":
        loaded = datasets.load_breast_cancer(as_frame=True)
        frame = loaded.frame.rename(columns=lambda c: str(c).replace(" ", "_"))
        frame["diagnosis"] = np.where(frame.pop("target") == 0, "malignant", "benign")
        return frame
    if name == "diabetes":
        loaded = datasets.load_diabetes(as_frame=True, scaled=False)
        frame = loaded.frame.rename(columns={"target": "progression"})
        return frame
    raise OpenDPGValueError(f"no tabular sample {name!r}; samples: {SAMPLES}")


def sample_schema(name: str, *, terms: str = "", classes: list[int] | None = None) -> DatasetSchema:
    """The schema of a sample, as its dataset asset publishes it (standardisation from the public data);
    ``classes``: for ``digits``, the digits its records show (all ten by default)."""
    if name == "digits":
        return DatasetSchema(modality="image", formats=["image-folder"],
                             image=ImageShape(width=8, height=8, channels=1),
                             label=Label(name="digit", classes=[str(d) for d in _digit_classes(classes)]),
                             min_records=20, terms_of_use=terms)
    if classes is not None:
        raise OpenDPGValueError(f"classes: only the digits sample can be restricted to some classes, not {name!r}")
    if name == "python-docs":
        return DatasetSchema(modality="text", formats=["csv", "parquet", "jsonl", "hf-datasets"],
                             features=[Feature(name="text", type="string", description="a paragraph")],
                             label=Label(name="part", classes=list(PYTHON_DOCS_PARTS)), text=TextEncoding(),
                             min_records=20, terms_of_use=terms)
    frame = _frame(name)
    target = "diagnosis" if name == "breast-cancer" else "progression"
    features = [Feature(name=str(c), type="float", mean=round(float(frame[c].mean()), 6),
                        std=round(float(frame[c].std()), 6) or 1.0,
                        minimum=0.0 if float(frame[c].min()) >= 0 else None)
                for c in frame.columns if c != target]
    if name == "breast-cancer":
        label = Label(name=target, classes=["malignant", "benign"])
    else:
        label = Label(name=target, mean=round(float(frame[target].mean()), 6), std=round(float(frame[target].std()), 6))
    return DatasetSchema(modality="tabular", formats=["csv", "parquet", "jsonl", "hf-datasets"], features=features,
                         label=label, min_records=20, terms_of_use=terms)


def _split(records: int, holders: int, held_out: float, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    order = np.random.default_rng(seed).permutation(records)
    cut = round(records * held_out)
    return [np.sort(part) for part in np.array_split(order[cut:], holders)], np.sort(order[:cut])


def write_sample(name: str, out: Path, holders: int, *, formats: list[TabularFormat] | None = None,
                 held_out: float = 0.2, seed: int = 0, classes: list[int] | None = None) -> SampleFiles:
    """Write sample ``name`` as ``holders`` holders' own files under ``out/holder-<i>`` (tabular: in
    ``formats[i % len(formats)]``, CSV by default) and the poster's held-out set under ``out/held-out``
    (``held_out`` of the records, never held by anyone else); ``classes``: for ``digits``, only the images of
    these digits."""
    if holders < 1:
        raise OpenDPGValueError("holders: at least 1")
    out = Path(out)
    folders = [out / f"holder-{i}" for i in range(holders)]
    if name == "digits":
        return _write_digits(folders, out / "held-out", held_out, seed, _digit_classes(classes))
    if classes is not None:
        raise OpenDPGValueError(f"classes: only the digits sample can be restricted to some classes, not {name!r}")
    frame = _frame(name)
    shares, test = _split(len(frame), holders, held_out, seed)
    formats = formats or ["csv"]
    for i, (folder, share) in enumerate(zip(folders, shares, strict=True)):
        _write_table(frame.iloc[share].reset_index(drop=True), folder, formats[i % len(formats)])
    (out / "held-out").mkdir(parents=True, exist_ok=True)
    test_file = out / "held-out" / "held-out.parquet"
    frame.iloc[test].reset_index(drop=True).to_parquet(test_file, index=False)
    return SampleFiles(folders, test_file, [len(s) for s in shares])


def _write_table(frame: Any, folder: Path, fmt: TabularFormat) -> None:
    if fmt == "hf-datasets":
        import datasets

        datasets.disable_progress_bars()
        datasets.Dataset.from_pandas(frame, preserve_index=False).save_to_disk(str(folder))
        return
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(folder / "records.csv", index=False)
    elif fmt == "parquet":
        frame.to_parquet(folder / "records.parquet", index=False)
    else:
        frame.to_json(folder / "records.jsonl", orient="records", lines=True)


def _digit_classes(classes: list[int] | None) -> list[int]:
    if classes is None:
        return list(range(10))
    if not classes or sorted(set(classes)) != classes or not all(0 <= d <= 9 for d in classes):
        raise OpenDPGValueError(f"classes: distinct digits 0-9 in increasing order, not {classes}")
    return classes


def digit_images(classes: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The digits sample's images (N x 1 x 8 x 8, values 0-1, as its PNG files read back) and their digits,
    only of ``classes`` when given: public data, for a base model trained before any job."""
    pixels, targets = _digit_pixels()
    keep = np.isin(targets, _digit_classes(classes))
    return (pixels[keep].astype(np.float32) / 255)[:, None], targets[keep].astype(np.int64)


def _digit_pixels() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as 8-bit greyscale (its 0-16 counts scaled to 0-255), and their digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return np.clip(np.round(digits.images * 255 / 16), 0, 255).astype(np.uint8), digits.target


def _write_digits(folders: list[Path], test_folder: Path, held_out: float, seed: int,
                  classes: list[int]) -> SampleFiles:
    from PIL import Image

    pixels, targets = _digit_pixels()
    kept = np.flatnonzero(np.isin(targets, classes))
    shares, test = _split(len(kept), len(folders), held_out, seed)
    for folder, positions in [*zip(folders, shares, strict=True), (test_folder, test)]:
        for i in kept[positions]:
            target = folder / str(targets[i])
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels[i], mode="L").save(target / f"{i:04d}.png")
    return SampleFiles(folders, test_folder, [len(s) for s in shares])
