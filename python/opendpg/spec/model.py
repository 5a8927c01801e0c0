"""The job spec: what a poster asks the providers to train, versioned, with a JSON Schema."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from opendpg.data.schema import DatasetSchema
from opendpg.errors import OpenDPGValueError

__all__ = [
    "MODEL_LIBRARIES",
    "MODEL_NAMES",
    "SPEC_VERSION",
    "STRATEGY_NAMES",
    "BaseModelSpec",
    "CertificationSpec",
    "DatasetSpec",
    "DpSgdSpec",
    "JobSpec",
    "LoraSpec",
    "ModelSpec",
    "PrivacySpec",
    "ProvidersSpec",
    "PublicationSpec",
    "ResourcesSpec",
    "SpecError",
    "StrategySpec",
    "TrainingSpec",
    "json_schema",
    "parse_spec",
]

SPEC_VERSION = "opendpg-job/1"
MODEL_NAMES = ("mlp", "cnn")
#: Libraries a spec can name an architecture from (``<library>/<architecture>``); nothing is downloaded
MODEL_LIBRARIES = ("torchvision", "timm", "transformers")
_LIBRARY_MODEL = re.compile(r"^(torchvision|timm|transformers)/[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
STRATEGY_NAMES = ("fedavg", "fedprox", "krum", "trimmed-mean", "median")


class SpecError(OpenDPGValueError):
    """A spec that fails validation; ``problems`` lists ``(field path, message)``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("invalid job spec: " + "; ".join(f"{path}: {msg}" for path, msg in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Scalar = bool | int | float | str
_ModuleName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.]+$")]


class LoraSpec(_Strict):
    """Low-rank adaptation (PEFT's LoRA): the model's weights stay frozen; each module named in
    ``target_modules`` gets a trainable low-rank update ``(alpha / rank) * B @ A``, and each module in
    ``modules_to_save`` (e.g. a new classification head) is trained in full. Only those tensors travel, are hashed
    on-chain, aggregated and audited."""

    rank: Annotated[int, Field(ge=1, le=1024)] = Field(default=8, description="r: the rank of each adapter")
    alpha: Annotated[int, Field(ge=1, le=4096)] = Field(default=16, description="scaling numerator (alpha / r)")
    dropout: Annotated[float, Field(ge=0, lt=1)] = Field(default=0.0, description="dropout on the adapter input")
    target_modules: list[_ModuleName] = Field(
        min_length=1, description="names (or name suffixes) of the Linear/Conv modules to adapt, e.g. query, value")
    modules_to_save: list[_ModuleName] = Field(
        default_factory=list, description="modules trained in full alongside the adapters, e.g. the classifier")


class BaseModelSpec(_Strict):
    """The open model a job starts from: a model asset of the DPG registry, by id, and the CID of its files (its
    ``files_cid`` when the job was posted; posting fills it in). Everyone who builds the job's model fetches those
    files by CID, checks them against it, and loads their safetensors weights."""

    asset: Annotated[int, Field(ge=1)] = Field(description="DPG-registry id of the model asset")
    files_cid: Annotated[str, Field(min_length=1, max_length=128)] = Field(
        description="CID of the asset's files (an archive holding model.safetensors and opendpg-model.json)")


class ModelSpec(_Strict):
    """The network. ``mlp`` and ``cnn`` are OpenDPG's small built-ins (``hidden_units`` wide). Any other name is
    ``<library>/<architecture>``: ``torchvision/<name>`` (``torchvision.models.get_model``), ``timm/<name>``
    (``timm.create_model``) or ``transformers/<model type>`` (a Hugging Face configuration class, e.g.
    ``transformers/vit``, ``transformers/bert``), built from ``config`` with random weights and no download. The
    output width (classes) and, for images, the input size and channels come from the dataset. On a text dataset a
    transformers model reads token ids: its base model's tokenizer (``tokenizer.json`` in the base's files) cuts
    each text into at most ``max_length`` tokens."""

    name: Annotated[str, Field(min_length=1, max_length=160)] = Field(
        description="mlp, cnn, or <library>/<architecture> with library torchvision, timm or transformers")
    hidden_units: Annotated[int, Field(ge=1, le=4096)] = Field(default=64, description="mlp/cnn hidden width")
    config: dict[Annotated[str, Field(min_length=1, max_length=64)], _Scalar | list[_Scalar]] = Field(
        default_factory=dict, description="a library architecture's keyword arguments / configuration fields, "
                                          "e.g. {\"hidden_size\": 64, \"num_hidden_layers\": 2}")
    lora: LoraSpec | None = Field(default=None, description="fine-tune low-rank adapters only (PEFT LoRA)")
    base: BaseModelSpec | None = Field(default=None, description="start from an open base model's weights instead "
                                                                 "of a seeded random initialisation")
    max_length: Annotated[int, Field(ge=4, le=8192)] | None = Field(
        default=None, description="a transformers text model: tokens per text (longer texts are cut, shorter "
                                  "padded); posting fills in the base model's, else 128")

    @model_validator(mode="after")
    def _known(self) -> ModelSpec:
        if self.name not in MODEL_NAMES and not _LIBRARY_MODEL.match(self.name):
            raise ValueError(json.dumps([["model.name", f"{self.name!r} is neither a built-in "
                                                        f"({', '.join(MODEL_NAMES)}) nor <library>/<architecture> "
                                                        f"with library one of {', '.join(MODEL_LIBRARIES)} "
                                                        "(e.g. torchvision/resnet18)"]]))
        if self.name in MODEL_NAMES and self.config:
            raise ValueError(json.dumps([["model.config", f"only for library architectures; {self.name} takes "
                                                          "hidden_units: remove config"]]))
        if self.max_length is not None and self.library != "transformers":
            raise ValueError(json.dumps([["model.max_length", "only for a transformers text model (it is the "
                                                              "number of tokens per text): remove it"]]))
        return self

    @property
    def library(self) -> str:
        """``opendpg`` for the built-ins, else the library the architecture comes from."""
        return self.name.split("/", 1)[0] if "/" in self.name else "opendpg"

    @property
    def architecture(self) -> str:
        return self.name.split("/", 1)[-1]


class DatasetSpec(_Strict):
    """What the providers train on. ``local`` (the default): each provider's own files holding the DPG registry's
    dataset asset ``asset``, whose schema the spec embeds (``data_schema``; agents check it against the asset's
    metadata and their files); each keeps ``validation_fraction`` of its records, split with ``seed``, to evaluate
    each round's model. ``simulate``: slices of a dataset bundled with OpenDPG (``catalog_id``), drawn by
    ``partition``; for demos and benchmarks, never private data."""

    mode: Literal["local", "simulate"] = Field(
        default="local", description="local: providers' own files; simulate: slices of a bundled catalog set")
    asset: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="local: DPG-registry id of the dataset asset the providers hold")
    data_schema: DatasetSchema | None = Field(
        default=None, description="local: the asset's dataset schema (its fingerprint must match the asset's)")
    validation_fraction: Annotated[float, Field(ge=0, le=0.5)] = Field(
        default=0.2, description="local: share of each provider's records kept back for federated evaluation")
    catalog_id: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        default=None, description="simulate: catalog id of a bundled dataset, e.g. 'sklearn/digits'")
    partition: Literal["iid", "label-skew", "dirichlet"] = Field(
        default="iid", description="simulate: how each provider's slice is drawn")
    labels_per_provider: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        default=None, description="label-skew: number of classes each provider holds")
    alpha: Annotated[float, Field(gt=0, le=1000)] | None = Field(
        default=None, description="dirichlet: concentration (smaller = more skewed)")
    seed: int = Field(default=0, description="seeds the validation split (local) or the slices (simulate)")


class TrainingSpec(_Strict):
    """Each round's local training: ``local_epochs`` passes over a provider's records in batches, with plain SGD or
    AdamW (weight decay 0.01, its moments started afresh each round: the usual choice to fine-tune transformers)."""

    rounds: Annotated[int, Field(ge=1, le=1000)]
    local_epochs: Annotated[int, Field(ge=1, le=100)] = 1
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 32
    learning_rate: Annotated[float, Field(gt=0, le=10)] = 0.05
    optimizer: Literal["sgd", "adamw"] = Field(default="sgd", description="sgd, or adamw (e.g. with lr 1e-3)")
    seed: int = 0


class StrategySpec(_Strict):
    name: Literal["fedavg", "fedprox", "krum", "trimmed-mean", "median"] = "fedavg"
    proximal_mu: Annotated[float, Field(ge=0, le=100)] = Field(default=0.0, description="fedprox: mu > 0")
    trim_beta: Annotated[float, Field(gt=0, lt=0.5)] = Field(default=0.2, description="trimmed-mean fraction")
    num_malicious: Annotated[int, Field(ge=0, le=100)] = Field(default=0, description="krum: tolerated attackers")


class ProvidersSpec(_Strict):
    min: Annotated[int, Field(ge=1, le=254)]
    max: Annotated[int, Field(ge=1, le=254)]


class ResourcesSpec(_Strict):
    gpu_memory_mib: Annotated[int, Field(ge=0)] = 0
    cpu_cores: Annotated[int, Field(ge=1, le=1024)] = 1


class DpSgdSpec(_Strict):
    """Per-record differential privacy: DP-SGD with Opacus (per-sample gradients clipped to ``max_grad_norm``,
    Gaussian noise of ``noise_multiplier`` times that, Poisson sampling of batches). ``epsilon`` is what the job
    declares each provider spends over all its rounds at ``delta``; an agent recomputes its own spend with
    Opacus's RDP accountant from its record count and refuses a job that declares less."""

    noise_multiplier: Annotated[float, Field(gt=0, le=100)]
    max_grad_norm: Annotated[float, Field(gt=0, le=1000)]
    epsilon: Annotated[float, Field(gt=0, le=1000)] = Field(
        description="privacy budget each provider spends on the whole job")
    delta: Annotated[float, Field(gt=0, lt=1)] = 1e-5


class PrivacySpec(_Strict):
    """Client-side privacy. ``dp_sgd``: per-record DP while training (Opacus). Independently, on the update:
    ``clipping_norm`` alone clips each update (Flower's ``fixedclipping_mod``); with ``epsilon`` (and ``delta``)
    the clipped update also gets Gaussian noise for (epsilon, delta) local DP (``LocalDpMod``, sensitivity =
    clipping_norm). What is hashed on-chain is the update after all of them."""

    clipping_norm: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="L2 bound on each client update (new weights - global); unset: no clipping")
    epsilon: Annotated[float, Field(gt=0, le=100)] | None = Field(
        default=None, description="local DP budget per round; unset: clipping only")
    delta: Annotated[float, Field(gt=0, lt=1)] = Field(default=1e-5, description="local DP failure probability")
    dp_sgd: DpSgdSpec | None = Field(default=None, description="per-record DP-SGD while training (Opacus)")


class CertificationSpec(_Strict):
    dataset_asset: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="DPG-registry id of the certified dataset asset the job trains on: it must stay "
                                  "certified to post, join and start, and its owner earns the data share")
    certified_compute_only: bool = Field(
        default=False, description="only providers whose compute commitment is DPG-certified may join")
    model_asset: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="DPG-registry id of the certified base model asset the job fine-tunes (its "
                                  "model.base): it must stay certified to post, join and start")


class PublicationSpec(_Strict):
    licence: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="SPDX licence the trained model is published under")
    sdgs: list[Annotated[int, Field(ge=1, le=17)]] = Field(
        default_factory=list, description="Sustainable Development Goals the model serves")


class JobSpec(_Strict):
    spec_version: Literal["opendpg-job/1"] = "opendpg-job/1"
    name: Annotated[str, Field(min_length=1, max_length=120)]
    description: Annotated[str, Field(max_length=4000)] = ""
    model: ModelSpec
    dataset: DatasetSpec
    training: TrainingSpec
    strategy: StrategySpec = StrategySpec()
    providers: ProvidersSpec
    resources: ResourcesSpec = ResourcesSpec()
    privacy: PrivacySpec = PrivacySpec()
    held_out_cid: str | None = Field(default=None, description="CID of the poster's held-out evaluation set")
    certification: CertificationSpec | None = Field(
        default=None, description="DPG certification the job requires (enforced on-chain)")
    publication: PublicationSpec | None = Field(
        default=None, description="how the trained model is published: licence and SDGs (for its provenance)")

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        problems: list[tuple[str, str]] = []
        if self.providers.max < self.providers.min:
            problems.append(("providers.max", f"{self.providers.max} is below providers.min "
                                              f"{self.providers.min}: raise max or lower min"))
        if self.strategy.name == "fedprox" and self.strategy.proximal_mu <= 0:
            problems.append(("strategy.proximal_mu", "fedprox needs proximal_mu > 0 (try 0.01)"))
        if self.strategy.name == "krum" and self.providers.min < 2 * self.strategy.num_malicious + 3:
            problems.append(("strategy.num_malicious", "krum needs providers.min >= 2 * num_malicious + 3"))
        problems.extend(_dataset_problems(self.dataset, self.certification))
        problems.extend(_text_model_problems(self.model, self.dataset))
        certified_model = self.certification.model_asset if self.certification is not None else None
        base = self.model.base.asset if self.model.base is not None else None
        if certified_model is not None and certified_model != base:
            problems.append(("certification.model_asset", f"is {certified_model} but model.base names "
                                                          f"{base or 'no base model'}: the certified base model is "
                                                          "the one the job starts from"))
        if self.privacy.dp_sgd is not None and self.strategy.name == "fedprox":
            problems.append(("privacy.dp_sgd", "DP-SGD clips per-record gradients, which FedProx's proximal term "
                                               "would bypass: use fedavg (or another rule) with dp_sgd"))
        if self.privacy.epsilon is not None and self.privacy.clipping_norm is None:
            problems.append(("privacy.clipping_norm", "DP noise (epsilon) needs a clipping_norm (e.g. 1.0)"))
        if problems:
            raise ValueError(json.dumps(problems))
        return self

    @property
    def task(self) -> Literal["classification", "regression"]:
        schema = self.dataset.data_schema
        return "classification" if schema is None else schema.task

    @property
    def target_scale(self) -> tuple[float, float]:
        """(mean, std) of a numeric target's standardisation; (0, 1) otherwise."""
        schema = self.dataset.data_schema
        return (0.0, 1.0) if schema is None else schema.target_scale

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces): what is pinned to IPFS."""
        data = self.model_dump(mode="json")
        for optional in ("certification", "publication"):  # absent sections leave older specs' bytes unchanged
            if data[optional] is None:
                del data[optional]
        for section, field, absent in (("model", "config", {}), ("model", "lora", None), ("model", "base", None),
                                       ("model", "max_length", None), ("training", "optimizer", "sgd"),
                                       ("certification", "model_asset", None)):
            if section in data and data[section][field] == absent:
                del data[section][field]
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _text_model_problems(model: ModelSpec, dataset: DatasetSpec) -> list[tuple[str, str]]:
    text = dataset.data_schema is not None and dataset.data_schema.modality == "text"
    if text and model.library == "transformers" and model.base is None:
        return [("model.base", "a transformers model reads text as token ids made by a tokenizer, which comes with a "
                               "base model: name a base model asset whose files carry its tokenizer.json")]
    if model.max_length is not None and not text:
        return [("model.max_length", "only for a text dataset (tokens per text): remove it")]
    return []


def _dataset_problems(dataset: DatasetSpec, certification: CertificationSpec | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if dataset.mode == "simulate":
        if dataset.catalog_id is None:
            problems.append(("dataset.catalog_id", "simulate needs a catalog_id (e.g. 'sklearn/digits')"))
        for name in ("asset", "data_schema"):
            if getattr(dataset, name) is not None:
                problems.append((f"dataset.{name}", "only for mode 'local' (providers' own files): remove it"))
        if dataset.partition == "label-skew" and dataset.labels_per_provider is None:
            problems.append(("dataset.labels_per_provider", "label-skew needs labels_per_provider (e.g. 4)"))
        if dataset.partition == "dirichlet" and dataset.alpha is None:
            problems.append(("dataset.alpha", "dirichlet needs alpha (e.g. 0.5)"))
        return problems
    if dataset.catalog_id is not None:
        problems.append(("dataset.catalog_id", "a bundled catalog set is for simulations: set mode = 'simulate', or "
                                               "name the dataset asset the providers hold (asset, data_schema)"))
    if dataset.asset is None:
        problems.append(("dataset.asset", "required: the DPG-registry id of the dataset asset providers hold"))
    if dataset.data_schema is None:
        problems.append(("dataset.data_schema", "required: the dataset asset's schema (`opendpg jobs post` and the "
                                                "gateway copy it from the asset's metadata when you name the asset)"))
    if dataset.partition != "iid" or dataset.labels_per_provider is not None or dataset.alpha is not None:
        problems.append(("dataset.partition", "only for mode 'simulate': a provider's own files are what it holds"))
    certified = certification.dataset_asset if certification is not None else None
    if certified is not None and dataset.asset is not None and certified != dataset.asset:
        problems.append(("certification.dataset_asset", f"is {certified} but dataset.asset is {dataset.asset}: "
                                                        "a job trains on one dataset asset"))
    return problems


def json_schema() -> dict[str, Any]:
    schema = JobSpec.model_json_schema()
    schema["$id"] = "https://opendpg.org/schemas/job-spec-1.json"
    return schema


def parse_spec(raw: bytes | str | dict[str, Any]) -> JobSpec:
    """Validate a spec from JSON bytes/text or a dict; errors name each field and the fix."""
    try:
        if isinstance(raw, dict):
            return JobSpec.model_validate(raw)
        return JobSpec.model_validate_json(raw)
    except ValidationError as exc:
        problems: list[tuple[str, str]] = []
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"]) or "(spec)"
            message = str(err["msg"])
            if err["type"] == "value_error" and message.startswith("Value error, ["):
                problems.extend((p, m) for p, m in json.loads(message.removeprefix("Value error, ")))
                continue
            if err["type"] == "extra_forbidden":
                message = "unknown field: remove it (see the JSON Schema for the allowed fields)"
            elif err["type"] == "missing":
                message = "required: add it"
            elif err["type"] == "json_invalid":
                message = f"not valid JSON ({err['msg']})"
            problems.append((path, message))
        raise SpecError(problems) from None
