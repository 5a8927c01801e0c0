"""Open base models as DPG assets. A model asset's metadata names its files on IPFS (``files_cid``): a tar archive
holding ``model.safetensors``, ``opendpg-model.json`` (the card: the architecture the weights fit) and, as any
asset, its licence and README. A job spec names the asset and the CID of those files (``model.base``); whoever
builds the job's model (provider agents, the coordinator, auditors) fetches the archive by that CID, which the
content store checks byte for byte, unpacks it safely into a cache and reads only the safetensors.

The archive is packed deterministically (sorted names, no owner or time), so the same files give the same CID."""

from __future__ import annotations

import contextlib
import copy
import io
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opendpg.chain import Chain
from opendpg.content import ContentStore
from opendpg.dpg.certification import pack_files
from opendpg.dpg.datasets import asset_metadata
from opendpg.dpg.files import FilesError, unpack_archive
from opendpg.errors import OpenDPGValueError
from opendpg.fl.basemodel import (
    CARD_FILE,
    PICKLE_SUFFIXES,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    BaseModelError,
    ModelCard,
    parse_card,
    read_base_model,
    read_tokenizer,
)
from opendpg.spec import BaseModelSpec, JobSpec

__all__ = ["MODEL_KIND", "asset_files_cid", "base_files", "build_job_model", "check_model_archive", "check_model_files",
           "fetch_base_model", "job_checkpoint", "pack_model_files", "unpack_model", "with_base_files"]

if TYPE_CHECKING:
    from torch import nn

MODEL_KIND = 1  # IDPGRegistry.AssetKind.Model


def check_model_files(folder: Path) -> None:
    """Refuse base model files without safetensors weights and a card, holding a pickle checkpoint anywhere, or
    with a tokenizer that does not load."""
    pickles = sorted(p.name for p in folder.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise BaseModelError(f"{pickles[0]}: a pickle checkpoint cannot be published or loaded (loading one can run "
                             f"code); convert it to safetensors (safetensors.torch.save_file) and keep only "
                             f"{WEIGHTS_FILE}")
    read_base_model(folder)
    if (folder / TOKENIZER_FILE).exists():
        read_tokenizer(folder)


def pack_model_files(folder: Path) -> bytes:
    """The deterministic archive of a base model's files (weights, card, licence, README, ...), checked first."""
    check_model_files(folder)
    return pack_files(folder)


def asset_files_cid(chain: Chain, store: ContentStore, asset: int) -> str:
    """The ``files_cid`` of model asset ``asset`` (its metadata read by the CID on-chain)."""
    try:
        metadata = asset_metadata(chain, store, asset, MODEL_KIND)
    except OpenDPGValueError as exc:
        raise OpenDPGValueError(f"model.base.asset: {exc}") from None
    if metadata.files_cid is None:
        raise OpenDPGValueError(f"model.base.asset: asset {asset} names no files_cid (its weights) in its metadata")
    return metadata.files_cid


def with_base_files(document: dict[str, Any], chain: Chain, store: ContentStore) -> dict[str, Any]:
    """``document`` (a spec as a dict) with ``model.base.files_cid`` filled from the named model asset when the
    spec names the asset only, and the architecture (``model.name``, ``config``) from the base's card when the
    spec leaves ``model.name`` out, and a text model's ``max_length`` from the base's input shape when unset; a spec
    naming another architecture than the base's is refused (:class:`BaseModelError`). Anything else is returned as
    it is (validation speaks for it)."""
    model = document.get("model")
    base = model.get("base") if isinstance(model, dict) else None
    if not isinstance(base, dict) or "files_cid" in base:
        return document
    asset = base.get("asset")
    if not isinstance(asset, int) or isinstance(asset, bool):
        return document
    filled = copy.deepcopy(document)
    files_cid = asset_files_cid(chain, store, asset)
    filled["model"]["base"]["files_cid"] = files_cid
    card = _archive_card(store.get(files_cid), f"model.base: the files of asset {asset} ({files_cid})")
    model = filled["model"]
    if "name" not in model:  # the base's own architecture
        model["name"] = card.name
        if card.config:
            model["config"] = dict(card.config)
        if "/" not in card.name:
            model["hidden_units"] = card.hidden_units
    elif (model.get("name"), model.get("config") or {}) != (card.name, dict(card.config)):
        raise BaseModelError(f"model.base: asset {asset}'s weights are for {card.name} {dict(card.config)}, the spec's "
                             f"model is {model.get('name')} {model.get('config') or {}}: name the base's architecture "
                             "(or leave model.name out to take it from the base)")
    text = len(card.input_shape) == 2 and card.input_shape[0] == 2  # token ids and mask (fl.data.input_of)
    if text and "max_length" not in model:
        model["max_length"] = card.input_shape[1]
    return filled


def _archive_card(archive: bytes, what: str) -> ModelCard:
    """The card in a model archive (tar or zip), read without unpacking the weights."""
    try:
        if zipfile.is_zipfile(io.BytesIO(archive)):
            with zipfile.ZipFile(io.BytesIO(archive)) as zf:
                text = zf.read(CARD_FILE)
        else:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                member = tar.extractfile(CARD_FILE)
                if member is None:
                    raise KeyError(CARD_FILE)
                text = member.read()
    except KeyError:
        raise BaseModelError(f"{what}: no {CARD_FILE} (the card naming the weights' architecture)") from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise BaseModelError(f"{what}: not a readable archive ({exc})") from None
    try:
        return parse_card(text)
    except BaseModelError as exc:
        raise BaseModelError(f"{what}: {exc}") from None


def unpack_model(archive: bytes, into: Path, what: str) -> None:
    """Unpack a model archive safely into the empty folder ``into`` and read it as a base model (no pickle,
    safetensors and card readable); :class:`BaseModelError` saying ``what`` is refused."""
    packed = into.parent / f"{into.name}.archive"
    packed.write_bytes(archive)
    try:
        unpack_archive(packed, into)
    except FilesError as exc:
        raise BaseModelError(f"{what}: {exc}") from None
    finally:
        packed.unlink()
    try:
        check_model_files(into)
    except BaseModelError as exc:
        raise BaseModelError(f"{what}: {exc}") from None


def check_model_archive(store: ContentStore, files_cid: str) -> None:
    """Refuse a model asset's files on IPFS (an archive, fetched by its CID) that are not a usable base model."""
    with tempfile.TemporaryDirectory(prefix="opendpg-model-") as tmp:
        folder = Path(tmp) / "files"
        folder.mkdir()
        unpack_model(store.get(files_cid), folder, f"the files {files_cid}")


def fetch_base_model(store: ContentStore, base: BaseModelSpec, cache: Path) -> Path:
    """The folder of ``base``'s files under ``cache``: fetched by CID (the store checks the bytes against it),
    unpacked safely and read once; a later call reuses the folder. Raises :class:`BaseModelError` for files that
    are not a usable base model (a pickle in place of safetensors, a missing card)."""
    folder = cache / base.files_cid
    if (folder / CARD_FILE).is_file() and (folder / WEIGHTS_FILE).is_file():
        return folder
    archive = store.get(base.files_cid)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unpack-", dir=cache) as tmp:
        staging = Path(tmp) / "files"
        staging.mkdir()
        # refuses pickles and missing parts before anything is cached
        unpack_model(archive, staging, f"model.base: the files of asset {base.asset} ({base.files_cid})")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    return folder


@contextlib.contextmanager
def base_files(spec: JobSpec, store: ContentStore | None, cache: Path | None = None) -> Iterator[Path | None]:
    """The folder of the job's base model files (fetched from ``store`` by CID into ``cache``, or a temporary
    folder removed afterwards), or None for a job without a base model."""
    if spec.model.base is None:
        yield None
        return
    if store is None:
        raise OpenDPGValueError(f"the job starts from base model asset {spec.model.base.asset}: give a content store "
                                "to fetch its files")
    with tempfile.TemporaryDirectory(prefix="opendpg-base-") as tmp:
        yield fetch_base_model(store, spec.model.base, cache or Path(tmp))


def build_job_model(spec: JobSpec, store: ContentStore | None, cache: Path | None = None) -> nn.Module:
    """The job's model as its participants build it: seeded, and on its base model's files (fetched from ``store``
    by CID into ``cache``, or a temporary folder) when the spec names one. For auditors, disputes and evaluators."""
    from opendpg.fl.data import input_of
    from opendpg.fl.models import build_model

    with base_files(spec, store, cache) as base:
        return build_model(spec.model, *input_of(spec.dataset, spec.model), seed=spec.training.seed, base=base)


def job_checkpoint(spec: JobSpec, global_model: bytes, store: ContentStore | None, folder: Path, trained_on: str,
                   cache: Path | None = None) -> Path:
    """A job's global model (canonical update bytes, already checked against the chain) as a ready-to-load
    checkpoint in ``folder``: the job's architecture with the global state loaded and, with LoRA, the adapters
    merged into the base weights, written as ``model.safetensors`` and its card (and the base's tokenizer, for a
    text model), like a base model (it can be published as one). ``trained_on`` goes into the card."""
    from opendpg.fl.basemodel import ModelCard, save_base_model
    from opendpg.fl.data import input_of
    from opendpg.fl.models import build_model, merged, output_head, set_weights
    from opendpg.fl.update import decode_update

    shape, outputs = input_of(spec.dataset, spec.model)
    with base_files(spec, store, cache) as base:
        model = build_model(spec.model, shape, outputs, seed=spec.training.seed, base=base)
        tokenizer = base / TOKENIZER_FILE if base is not None else None
        set_weights(model, decode_update(global_model).tensors)
        plain = merged(model)
        schema = spec.dataset.data_schema
        labels = list(schema.label.classes or []) if schema is not None else []
        card = ModelCard(name=spec.model.name, config=spec.model.config, hidden_units=spec.model.hidden_units,
                         input_shape=list(shape), outputs=outputs, head=output_head(plain, outputs), labels=labels,
                         trained_on=trained_on)
        save_base_model(plain, card, folder)
        if tokenizer is not None and tokenizer.is_file():
            shutil.copyfile(tokenizer, folder / TOKENIZER_FILE)
    return folder
