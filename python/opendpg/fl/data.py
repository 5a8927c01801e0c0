"""Datasets that ship inside packages, and the shares providers hold (iid, label-skew, dirichlet)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opendpg.errors import OpenDPGValueError
from opendpg.spec import DatasetSpec

__all__ = ["CATALOG", "SHAPES", "Dataset", "load_dataset", "partition"]


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple[int, ...]
    classes: int


def _digits(image: bool) -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))  # fixed split, the same everywhere
    x, y = x[order], y[order]
    cut = int(0.8 * len(y))
    shape: tuple[int, ...] = (1, 8, 8) if image else (64,)
    x = x.reshape((-1, *shape))
    return Dataset(x[:cut], y[:cut], x[cut:], y[cut:], shape, 10)


#: Catalog id -> loader. Providers hold these locally; nothing is downloaded.
CATALOG = {"sklearn/digits": lambda: _digits(False), "sklearn/digits-8x8": lambda: _digits(True)}
#: Catalog id -> (input shape, classes): what a coordinator needs to build the model without the data.
SHAPES: dict[str, tuple[tuple[int, ...], int]] = {"sklearn/digits": ((64,), 10), "sklearn/digits-8x8": ((1, 8, 8), 10)}


def load_dataset(catalog_id: str) -> Dataset:
    if catalog_id not in CATALOG:
        raise OpenDPGValueError(f"dataset.catalog_id: {catalog_id!r} is not held here; known: {sorted(CATALOG)}")
    return CATALOG[catalog_id]()


def partition(y: np.ndarray, spec: DatasetSpec, providers: int, index: int) -> np.ndarray:
    """Indices of the training examples provider ``index`` (of ``providers``) holds."""
    if not 0 <= index < providers:
        raise OpenDPGValueError(f"provider index {index} out of range for {providers} providers")
    rng = np.random.default_rng(spec.seed)
    classes = int(y.max()) + 1
    if spec.partition == "iid":
        return np.sort(rng.permutation(len(y))[index::providers])
    if spec.partition == "label-skew":
        per = spec.labels_per_provider or classes
        # provider i holds classes i*per .. i*per+per-1 (mod classes); each class's examples are split
        # evenly among the providers that hold it
        holders: dict[int, list[int]] = {c: [] for c in range(classes)}
        for p in range(providers):
            for k in range(per):
                holders[(p * per + k) % classes].append(p)
        mine: list[np.ndarray] = []
        for c, owners in holders.items():
            if index in owners:
                idx = np.flatnonzero(y == c)
                mine.append(idx[owners.index(index)::len(owners)])
        return np.sort(np.concatenate(mine)) if mine else np.array([], dtype=np.int64)
    if spec.partition == "dirichlet":
        alpha = spec.alpha or 0.5
        shares: list[list[int]] = [[] for _ in range(providers)]
        for c in range(classes):
            idx = rng.permutation(np.flatnonzero(y == c))
            weights = rng.dirichlet([alpha] * providers)
            cuts = (np.cumsum(weights) * len(idx)).astype(int)[:-1]
            for p, part in enumerate(np.split(idx, cuts)):
                shares[p].extend(part.tolist())
        return np.sort(np.array(shares[index], dtype=np.int64))
    raise OpenDPGValueError(f"dataset.partition: unknown partition {spec.partition!r}")
