"""A base model's files: its weights in safetensors (``model.safetensors``) and its card (``opendpg-model.json``),
which names the architecture the weights fit exactly as a job spec's ``model`` does, the input shape and outputs
it was trained for, and its output layer; a text model also carries its tokenizer (``tokenizer.json``, the
Hugging Face ``tokenizers`` format: JSON, no code), which turns every holder's texts into the same token ids.

Only safetensors are read: a pickle checkpoint (``.bin``, ``.pt``, ``.pth``, ``.ckpt``, ``.pkl``) can run code
when loaded, so it is refused with the way to convert it. How the files reach a machine (IPFS, verified by CID)
is not this module's concern."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from opendpg.errors import OpenDPGValueError
from opendpg.files import write_atomic
from opendpg.spec import ModelSpec, SpecError

if TYPE_CHECKING:  # torch is imported where weights are read, not by every daemon that names a base model
    import torch
    from torch import nn

__all__ = ["CARD_FILE", "CARD_FORMAT", "PICKLE_SUFFIXES", "TOKENIZER_FILE", "WEIGHTS_FILE", "BaseModelError",
           "ModelCard", "TokenEncoder", "load_base_weights", "load_model", "parse_card", "read_base_model",
           "read_tokenizer", "save_base_model"]

CARD_FILE = "opendpg-model.json"
CARD_FORMAT: Literal["opendpg-model/1"] = "opendpg-model/1"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
_PAD_TOKENS = ("[PAD]", "<pad>", "<|pad|>", "<|endoftext|>")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


class BaseModelError(OpenDPGValueError):
    """Base model files that cannot be used: missing, a pickle, unreadable, or for another architecture."""


class ModelCard(BaseModel):
    """What a base model's weights are: the architecture (``name`` and ``config``, as in a job spec's ``model``),
    the input shape and number of outputs it was trained for, and the state-dict names of its output layer
    (``head``), which a job with another number of outputs starts afresh."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["opendpg-model/1"] = CARD_FORMAT
    name: Annotated[str, Field(min_length=1, max_length=160)]
    config: dict[str, bool | int | float | str | list[bool | int | float | str]] = Field(default_factory=dict)
    hidden_units: Annotated[int, Field(ge=1, le=4096)] = 64
    input_shape: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=4)
    outputs: Annotated[int, Field(ge=1)]
    head: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        min_length=1, description="state-dict names of the output layer's tensors")
    labels: list[Annotated[str, Field(max_length=128)]] = Field(
        default_factory=list, description="class names in output order, if it classifies")
    trained_on: Annotated[str, Field(max_length=2000)] = Field(default="", description="the data it was trained on")

    def to_bytes(self) -> bytes:
        return self.model_dump_json(indent=1).encode() + b"\n"


def save_base_model(model: nn.Module, card: ModelCard, folder: Path) -> Path:
    """Write ``model``'s state dict as safetensors and its card into ``folder``; returns the folder."""
    from safetensors.torch import save_file

    state = model.state_dict()
    missing = [name for name in card.head if name not in state]
    if missing:
        raise BaseModelError(f"head: the model has no tensors {missing}")
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: value.detach().cpu().contiguous() for name, value in state.items()}
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    write_atomic(folder / CARD_FILE, card.to_bytes())
    return folder


def parse_card(text: bytes) -> ModelCard:
    """A card from its JSON; :class:`BaseModelError` naming the first field that is wrong."""
    try:
        return ModelCard.model_validate_json(text)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise BaseModelError(f"{CARD_FILE}: {'.'.join(map(str, problem['loc']))}: {problem['msg']}") from None


def read_base_model(folder: Path) -> tuple[ModelCard, OrderedDict[str, torch.Tensor]]:
    """The card and weights in ``folder``; a pickle checkpoint in place of safetensors is refused."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES) \
            if folder.is_dir() else []
        if pickles:
            raise BaseModelError(
                f"{pickles[0]}: a pickle checkpoint can run code when loaded and is never read here; convert it to "
                f"safetensors where you trust it (python -c \"import torch; from safetensors.torch import "
                f"save_file; save_file(torch.load('{pickles[0]}', weights_only=True), '{WEIGHTS_FILE}')\") and "
                "publish that")
        raise BaseModelError(f"{folder}: no {WEIGHTS_FILE} (the base model's weights in safetensors)")
    try:
        card = parse_card((folder / CARD_FILE).read_bytes())
    except FileNotFoundError:
        raise BaseModelError(f"{folder}: no {CARD_FILE} (the card naming the weights' architecture)") from None
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise BaseModelError(f"{WEIGHTS_FILE}: not readable as safetensors ({exc})") from None
    return card, OrderedDict(tensors)


def read_tokenizer(folder: Path) -> Any:
    """The ``tokenizers.Tokenizer`` in ``folder``'s ``tokenizer.json``; :class:`BaseModelError` when it is missing
    or not a tokenizer."""
    from tokenizers import Tokenizer

    file = folder / TOKENIZER_FILE
    if not file.is_file():
        raise BaseModelError(f"{folder}: no {TOKENIZER_FILE}: a text model's files carry the tokenizer that turns "
                             "texts into its token ids (tokenizers.Tokenizer.save)")
    try:
        return Tokenizer.from_file(str(file))
    except Exception as exc:  # the Rust library raises its own Exception subclass for any bad file
        raise BaseModelError(f"{TOKENIZER_FILE}: not a tokenizer ({str(exc).splitlines()[0]})") from None


@dataclass(frozen=True)
class TokenEncoder:
    """Texts to a transformers text model's inputs with its base model's tokenizer: an int64 array of shape
    (texts, 2, ``max_length``): the token ids (cut at ``max_length``, padded with the tokenizer's pad token) and
    the attention mask (1 for a token, 0 for padding)."""

    tokenizer: Any
    max_length: int
    pad_id: int

    @classmethod
    def from_folder(cls, folder: Path, max_length: int, vocab_size: int) -> TokenEncoder:
        """The encoder of the tokenizer in ``folder``, for a model with ``vocab_size`` token embeddings (a
        tokenizer with more ids than that does not fit the model)."""
        tokenizer = read_tokenizer(folder)
        if tokenizer.get_vocab_size() > vocab_size:
            raise BaseModelError(f"{TOKENIZER_FILE}: {tokenizer.get_vocab_size()} tokens, the model embeds "
                                 f"{vocab_size}: the tokenizer belongs to another model (or set config.vocab_size)")
        padding = tokenizer.padding
        pad_id = padding["pad_id"] if padding else next(
            (i for i in map(tokenizer.token_to_id, _PAD_TOKENS) if i is not None), 0)
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_length)
        return cls(tokenizer, max_length, int(pad_id))

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 2, self.max_length), dtype=np.int64)
        out[:, 0, :] = self.pad_id
        for row, encoding in enumerate(self.tokenizer.encode_batch(texts)):
            ids = encoding.ids[:self.max_length]
            out[row, 0, :len(ids)] = ids
            out[row, 1, :len(ids)] = 1
        return out


def load_base_weights(model: nn.Module, spec: ModelSpec, card: ModelCard, tensors: OrderedDict[str, torch.Tensor],
                      outputs: int) -> None:
    """Load a base model's weights into ``model`` (the spec's architecture, freshly built). The card must name
    the spec's architecture and configuration; every tensor must fit, except the output layer's when the job has
    another number of outputs than the base (those keep the model's seeded initialisation)."""
    wanted = (spec.name, spec.config, spec.hidden_units if spec.library == "opendpg" else card.hidden_units)
    if (card.name, card.config, card.hidden_units) != wanted:
        raise SpecError([("model.base", f"the base model's weights are for {card.name} {card.config}, the job's "
                                        f"model is {spec.name} {spec.config}: name the base's architecture")])
    state = model.state_dict()
    if set(tensors) != set(state):
        extra, missing = sorted(set(tensors) - set(state)), sorted(set(state) - set(tensors))
        raise BaseModelError(f"{WEIGHTS_FILE}: its tensors do not fit {spec.name} (unexpected {extra[:5]}, "
                             f"missing {missing[:5]})")
    fresh_head = outputs != card.outputs
    merged: OrderedDict[str, torch.Tensor] = OrderedDict()
    for name, current in state.items():
        value = tensors[name]
        if fresh_head and name in card.head:
            merged[name] = current
        elif value.shape != current.shape or value.dtype != current.dtype:
            raise BaseModelError(f"{WEIGHTS_FILE}: tensor {name} is {value.dtype} {tuple(value.shape)}, "
                                 f"{spec.name} has {current.dtype} {tuple(current.shape)} there")
        else:
            merged[name] = value
    model.load_state_dict(merged, strict=True)


def load_model(folder: Path) -> nn.Module:
    """The model in ``folder`` (a base model, or a job's downloaded checkpoint), ready to use: the card's
    architecture built and its safetensors loaded, every tensor checked against it."""
    from opendpg.fl.models import build_model

    card, tensors = read_base_model(folder)
    spec = ModelSpec(name=card.name, config=card.config, hidden_units=card.hidden_units)
    model = build_model(spec, tuple(card.input_shape), card.outputs)
    load_base_weights(model, spec, card, tensors, card.outputs)
    return model
