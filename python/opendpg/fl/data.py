"""What a provider trains and validates on, and what the model's input and output are.

``local`` jobs: the provider's own files (read and checked by :mod:`opendpg.data` against the schema the spec
embeds), less a seeded validation split. ``simulate`` jobs: a dataset that ships inside packages, sliced among
providers (iid, label-skew, dirichlet); for demos and benchmarks only.

A text dataset reaches the built-in models as hashed word vectors (the schema's encoding) and a transformers model
as token ids with an attention mask, made by its base model's tokenizer (:func:`text_encoder`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from opendpg.data import TextEncoder, read_held_out, read_local, validation_split
from opendpg.errors import OpenDPGValueError
from opendpg.spec import DatasetSpec, ModelSpec

__all__ = ["CATALOG", "DEFAULT_MAX_LENGTH", "SHAPES", "Dataset", "ProviderData", "held_out_records", "input_of",
           "load_dataset", "partition", "provider_data", "text_encoder", "token_length"]

#: Tokens per text of a transformers text model whose spec sets no ``max_length``.
DEFAULT_MAX_LENGTH = 128


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


@dataclass(frozen=True)
class ProviderData:
    """A provider's training records and its validation split; ``dropped``: bad records left out."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    dropped: int = 0


def token_length(dataset: DatasetSpec, model: ModelSpec) -> int | None:
    """Tokens per text when ``model`` reads the dataset as token ids (a transformers model on a text dataset),
    else None."""
    schema = dataset.data_schema
    if model.library != "transformers" or schema is None or schema.modality != "text":
        return None
    return model.max_length or DEFAULT_MAX_LENGTH


def input_of(dataset: DatasetSpec, model: ModelSpec) -> tuple[tuple[int, ...], int]:
    """(input shape, output width) of the spec's dataset as ``model`` reads it: all anyone needs to build the
    model, no data. Token ids and their attention mask are (2, tokens per text)."""
    if dataset.mode == "simulate":
        if dataset.catalog_id not in SHAPES:
            raise OpenDPGValueError(f"dataset.catalog_id: {dataset.catalog_id!r} is not bundled; "
                                    f"known: {sorted(SHAPES)}")
        return SHAPES[dataset.catalog_id]
    assert dataset.data_schema is not None  # the spec's validation requires it
    tokens = token_length(dataset, model)
    shape = dataset.data_schema.input_shape if tokens is None else (2, tokens)
    return shape, dataset.data_schema.outputs


def text_encoder(dataset: DatasetSpec, model: ModelSpec, base: Path | None) -> TextEncoder | None:
    """How the job's texts become ``model``'s inputs: its base model's tokenizer (in the folder ``base``) for a
    transformers text model, None (the schema's hashing encoding) for any other model or dataset."""
    tokens = token_length(dataset, model)
    if tokens is None:
        return None
    from transformers import AutoConfig

    from opendpg.fl.basemodel import TokenEncoder

    if base is None:
        raise OpenDPGValueError(f"model.base: {model.name} reads token ids made by its base model's tokenizer; its "
                                "files were not given")
    try:
        vocab_size = int(AutoConfig.for_model(model.architecture, **model.config).vocab_size)
    except (ValueError, TypeError, AttributeError) as exc:
        raise OpenDPGValueError(f"model.config: {model.name} {model.config} has no token vocabulary ({exc})") from None
    return TokenEncoder.from_folder(base, tokens, vocab_size)


def held_out_records(dataset: DatasetSpec, held_out: bytes | None,
                     encode_text: TextEncoder | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The records a job's models are evaluated on: the bundled test split in a simulation, else the poster's
    held-out archive ``held_out`` (the bytes of ``held_out_cid``), read against the spec's schema (texts encoded
    with ``encode_text``, see :func:`text_encoder`); None for a job without one (federated metrics only)."""
    if dataset.mode == "simulate":
        bundled = load_dataset(str(dataset.catalog_id))
        return bundled.x_test, bundled.y_test
    if held_out is None or dataset.data_schema is None:
        return None
    records = read_held_out(dataset.data_schema, held_out, encode_text)
    return records.x, records.y


def provider_data(dataset: DatasetSpec, *, path: str = "", drop_bad_rows: bool = False, share_index: int = 0,
                  share_count: int = 1, encode_text: TextEncoder | None = None) -> ProviderData:
    """The provider's records: its files at ``path`` (local; texts encoded with ``encode_text``, see
    :func:`text_encoder`) or its slice ``share_index`` of ``share_count`` (simulate), each split into training and
    validation records with the spec's seed."""
    dropped = 0
    if dataset.mode == "simulate":
        bundled = load_dataset(str(dataset.catalog_id))
        index = partition(bundled.y_train, dataset, share_count, share_index)
        x, y = bundled.x_train[index], bundled.y_train[index]
    else:
        if not path:
            raise OpenDPGValueError("this provider has no data path for the job's dataset: set [data.<asset id>] "
                                    "path in the agent's config")
        assert dataset.data_schema is not None
        local = read_local(dataset.data_schema, Path(path), drop_bad_rows=drop_bad_rows, encode_text=encode_text)
        x, y, dropped = local.x, local.y, local.dropped
    train, val = validation_split(len(y), dataset.validation_fraction, dataset.seed)
    return ProviderData(x[train], y[train], x[val], y[val], dropped)


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
