"""The model registry: OpenDPG's small built-ins (``mlp``, ``cnn``) and architectures from torchvision, timm and
Hugging Face transformers, built from the spec with deterministic random weights (nothing is downloaded), and
optionally wrapped with PEFT LoRA adapters.

What a job federates (trains, sends, hashes, aggregates, audits) is the model's *federated state*: every tensor
of its state dict when the whole model trains; with LoRA only the trainable tensors (the adapters and the
``modules_to_save``) and the floating-point buffers training moves (batch-norm statistics). The frozen rest is the
same on every machine, so it never travels."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from opendpg.errors import OpenDPGValueError
from opendpg.fl.basemodel import load_base_weights, read_base_model
from opendpg.fl.data import input_of, token_length
from opendpg.spec import JobSpec, ModelSpec, SpecError

__all__ = ["BUILDERS", "MODELS", "build_model", "check_model", "device", "get_weights", "is_adapted", "logits",
           "merged", "output_head", "set_weights", "trainable_parameters", "weight_shapes"]


def device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _mlp(spec: ModelSpec, input_shape: tuple[int, ...], classes: int) -> nn.Module:
    features = int(np.prod(input_shape))
    return nn.Sequential(nn.Flatten(), nn.Linear(features, spec.hidden_units), nn.ReLU(),
                         nn.Linear(spec.hidden_units, classes))


def _cnn(spec: ModelSpec, input_shape: tuple[int, ...], classes: int) -> nn.Module:
    if len(input_shape) != 3:
        raise _invalid("model.name", f"cnn needs image inputs (C, H, W), the dataset gives {input_shape}")
    channels, height, width = input_shape
    return nn.Sequential(
        nn.Conv2d(channels, 16, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (height // 2) * (width // 2), spec.hidden_units), nn.ReLU(),
        nn.Linear(spec.hidden_units, classes),
    )


#: The built-in models by name.
MODELS: dict[str, Callable[[ModelSpec, tuple[int, ...], int], nn.Module]] = {"mlp": _mlp, "cnn": _cnn}


def _image_input(spec: ModelSpec, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise _invalid("model.name", f"{spec.name} is an image model; the job's dataset gives inputs of shape "
                                     f"{input_shape}, not images (C, H, W): use mlp for tabular data")
    channels, height, width = input_shape
    return channels, height, width


def _invalid(field: str, message: str) -> SpecError:
    return SpecError([(field, message)])


def _refused(spec: ModelSpec, exc: Exception) -> SpecError:
    return _invalid("model.config", f"{spec.name} does not take {spec.config}: {exc}")


def _torchvision(spec: ModelSpec, input_shape: tuple[int, ...], classes: int) -> nn.Module:
    from torchvision import models

    known = models.list_models(module=models)  # the classification architectures
    if spec.architecture not in known:
        raise _invalid("model.name", f"torchvision has no classification architecture {spec.architecture!r}; e.g. "
                                     f"{', '.join(known[:8])} (torchvision.models.list_models)")
    channels, _, _ = _image_input(spec, input_shape)
    if channels != 3:
        raise _invalid("model.name", f"torchvision's architectures take RGB images and the job's dataset has "
                                     f"{channels} channel(s): use a timm architecture (it adapts its first layer) "
                                     "or an RGB dataset")
    try:
        model: nn.Module = models.get_model(spec.architecture, weights=None, num_classes=classes, **spec.config)
    except (TypeError, ValueError) as exc:
        raise _refused(spec, exc) from None
    return model


def _timm(spec: ModelSpec, input_shape: tuple[int, ...], classes: int) -> nn.Module:
    import timm

    if not timm.is_model(spec.architecture):
        raise _invalid("model.name", f"timm has no architecture {spec.architecture!r} "
                                     "(timm.list_models() lists them)")
    channels, _, _ = _image_input(spec, input_shape)
    kwargs: dict[str, Any] = {"num_classes": classes, "in_chans": channels, **spec.config}
    try:
        model: nn.Module = timm.create_model(spec.architecture, pretrained=False, **kwargs)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise _refused(spec, exc) from None
    return model


def _transformers(spec: ModelSpec, input_shape: tuple[int, ...], classes: int) -> nn.Module:
    from transformers import AutoConfig, AutoModelForImageClassification, AutoModelForSequenceClassification

    text = len(input_shape) == 2 and input_shape[0] == 2  # token ids and attention mask (fl.data.input_of)
    if not text and len(input_shape) != 3:
        raise _invalid("model.name", f"{spec.name} takes images (C, H, W) or, on a text dataset, its base model's "
                                     f"token ids; the job's dataset gives vectors of shape {input_shape}: use mlp")
    try:
        config = AutoConfig.for_model(spec.architecture, **spec.config)
    except ValueError as exc:
        raise _invalid("model.name", f"transformers has no model type {spec.architecture!r} ({exc})") from None
    except TypeError as exc:
        raise _refused(spec, exc) from None
    config.num_labels = classes
    auto: Any
    if text:
        positions = getattr(config, "max_position_embeddings", None)
        if positions is not None and positions < input_shape[1]:
            raise _invalid("model.max_length", f"{input_shape[1]} tokens per text, {spec.name} has "
                                               f"{positions} positions (config.max_position_embeddings)")
        task, auto = "text-classification", AutoModelForSequenceClassification
    else:
        channels, height, _ = _image_input(spec, input_shape)
        for field, value in (("image_size", height), ("num_channels", channels)):
            if hasattr(config, field) and field not in spec.config:
                setattr(config, field, value)
        task, auto = "image-classification", AutoModelForImageClassification
    try:
        return auto.from_config(config)  # type: ignore[no-any-return,no-untyped-call]
    except ValueError as exc:
        raise _invalid("model.name", f"transformers has no {task} model for {spec.architecture!r} ({exc})") from None


#: A library's builder by the library's name (the part of ``model.name`` before the slash).
BUILDERS: dict[str, Callable[[ModelSpec, tuple[int, ...], int], nn.Module]] = {
    "torchvision": _torchvision, "timm": _timm, "transformers": _transformers}


def _with_lora(model: nn.Module, spec: ModelSpec) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    assert spec.lora is not None
    lora = spec.lora
    modules = dict(model.named_modules())
    names = set(modules) | {name.rsplit(".", 1)[-1] for name in modules}
    adaptable = sorted({name.rsplit(".", 1)[-1] for name, m in modules.items()
                        if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Embedding)})
    for field, wanted in (("target_modules", lora.target_modules), ("modules_to_save", lora.modules_to_save)):
        missing = [m for m in wanted if m not in names]
        if missing:
            raise _invalid(f"model.lora.{field}", f"{spec.name} has no module named {missing}; its Linear, Conv and "
                                                  f"Embedding modules are named {adaptable}")
    config = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=list(lora.target_modules), modules_to_save=list(lora.modules_to_save) or None)
    try:
        with warnings.catch_warnings():  # transformers 5 deprecates an attribute PEFT still reads
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
            adapted: nn.Module = get_peft_model(model, config)  # type: ignore[arg-type]
    except ValueError as exc:  # a target of a kind LoRA cannot adapt
        raise _invalid("model.lora.target_modules", f"{str(exc).splitlines()[0]} (LoRA adapts {adaptable})") from None
    return adapted


def build_model(spec: ModelSpec, input_shape: tuple[int, ...], classes: int, seed: int = 0,
                base: Path | None = None) -> nn.Module:
    """The spec's model with deterministic initial weights (same seed, same weights on every machine), or, when
    the spec names a base model, its weights from the base's files in the folder ``base`` (fetched and checked by
    the caller; see :mod:`opendpg.fl.basemodel`); then wrapped with LoRA adapters when the spec asks for them."""
    torch.manual_seed(seed)
    if spec.library == "opendpg":
        model = MODELS[spec.name](spec, input_shape, classes)
    else:
        model = BUILDERS[spec.library](spec, input_shape, classes)
    if spec.base is not None:
        if base is None:
            raise OpenDPGValueError(f"model.base: the job starts from base model asset {spec.base.asset} "
                                    f"(files {spec.base.files_cid}); its files were not given to build it")
        card, tensors = read_base_model(base)
        load_base_weights(model, spec, card, tensors, classes)
    return _with_lora(model, spec) if spec.lora is not None else model


def check_model(spec: JobSpec) -> None:
    """Refuse a spec whose model cannot train on its dataset (:class:`SpecError` naming the field), before anyone
    trains: the model builds (on the ``meta`` device: no memory, no weights), takes a batch of the dataset's input
    shape and gives one output per class; with DP-SGD, Opacus can train every one of its modules privately."""
    try:
        input_shape, classes = input_of(spec.dataset, spec.model)
    except OpenDPGValueError as exc:  # a catalog set not bundled here
        field, _, message = str(exc).partition(": ")
        raise _invalid(field, message) from None
    with torch.device("meta"):  # the architecture only: a base model's weights are checked where they are fetched
        model = build_model(spec.model.model_copy(update={"base": None}), input_shape, classes,
                            seed=spec.training.seed)
        try:
            with torch.no_grad():
                if token_length(spec.dataset, spec.model) is not None:  # transformers' text models need real masks:
                    head: Any = model.config
                    out = torch.zeros((2, int(head.num_labels)))  # the sequence classifier's width
                else:
                    out = logits(model.eval(), torch.zeros((2, *input_shape)))
        except (RuntimeError, ValueError, TypeError, IndexError, AssertionError) as exc:
            raise _invalid("model.name", f"{spec.model.name} cannot take the dataset's inputs of shape "
                                         f"{input_shape} ({str(exc).splitlines()[0]}): change the model's config or "
                                         "pick another architecture") from None
    if tuple(out.shape) != (2, classes):
        raise _invalid("model.name", f"{spec.model.name} gives outputs of shape {tuple(out.shape)[1:]} for the "
                                     f"dataset's {classes} output(s)")
    if spec.privacy.dp_sgd is not None:
        from opacus.validators import ModuleValidator

        errors = ModuleValidator.validate(model.train(), strict=False)  # Opacus checks a model about to train
        if errors:
            raise _invalid("privacy.dp_sgd", f"Opacus cannot train {spec.model.name} privately: "
                                             f"{str(errors[0]).splitlines()[0]} (and {len(errors) - 1} more)")


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's outputs for ``x``: a transformers model's ``logits``, any other model's return value. Integer
    inputs of shape (batch, 2, tokens) are a text model's token ids and attention mask."""
    if not x.is_floating_point() and x.dim() == 3 and x.shape[1] == 2:
        out = model(input_ids=x[:, 0], attention_mask=x[:, 1])
    else:
        out = model(x)
    return out.logits if hasattr(out, "logits") else out  # type: ignore[no-any-return]


def is_adapted(model: nn.Module) -> bool:
    """Whether ``model`` trains LoRA adapters (a PEFT model) rather than all its weights."""
    return hasattr(model, "peft_config")


def merged(model: nn.Module) -> nn.Module:
    """The plain architecture with what training changed in it: with LoRA, the adapters merged into the base
    weights and the trained ``modules_to_save`` in place (PEFT's ``merge_and_unload``); any other model itself."""
    if not is_adapted(model):
        return model
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
        plain: nn.Module = model.merge_and_unload()  # type: ignore[operator]
    return plain


def output_head(model: nn.Module, outputs: int) -> list[str]:
    """State-dict names of the output layer's tensors: the last Linear or convolution giving ``outputs``
    features (a plain model, as :func:`merged` gives)."""
    for name, module in reversed(list(model.named_modules())):
        width = module.out_features if isinstance(module, nn.Linear) else \
            module.out_channels if isinstance(module, nn.Conv1d | nn.Conv2d) else None
        if width == outputs:
            return [f"{name}.{tensor}" for tensor, _ in module.named_parameters(recurse=False)]
    raise OpenDPGValueError(f"the model has no Linear or convolution layer with {outputs} outputs")


def _federated_names(model: nn.Module) -> list[str]:
    state = model.state_dict(keep_vars=True)
    if not is_adapted(model):
        return list(state)
    return [name for name, value in state.items()
            if value.requires_grad or (not isinstance(value, nn.Parameter) and value.is_floating_point())]


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """What the optimizer updates: every parameter, or with LoRA the adapters and ``modules_to_save``."""
    return [p for p in model.parameters() if p.requires_grad]


def get_weights(model: nn.Module) -> OrderedDict[str, np.ndarray]:
    """The model's federated state as float32 arrays, in state-dict order."""
    state = model.state_dict()
    return OrderedDict((k, state[k].detach().cpu().numpy().astype(np.float32)) for k in _federated_names(model))


def set_weights(model: nn.Module, weights: OrderedDict[str, np.ndarray]) -> None:
    """Load a federated state (every tensor :func:`get_weights` gives, nothing else)."""
    names = _federated_names(model)
    if list(weights) != names:
        raise OpenDPGValueError(f"the weights name {len(weights)} tensors, the model's federated state "
                                f"{len(names)}: they belong to another model")
    tensors = OrderedDict((k, torch.from_numpy(np.array(v, dtype=np.float32))) for k, v in weights.items())
    model.load_state_dict(tensors, strict=not is_adapted(model))


def weight_shapes(model: nn.Module) -> OrderedDict[str, tuple[int, ...]]:
    """The shape of each tensor of the federated state."""
    state = model.state_dict()
    return OrderedDict((k, tuple(state[k].shape)) for k in _federated_names(model))
