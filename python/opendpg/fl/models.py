"""The model registry: named PyTorch model builders a job spec can ask for."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from opendpg.errors import OpenDPGValueError
from opendpg.spec import ModelSpec

__all__ = ["MODELS", "build_model", "device", "get_weights", "set_weights", "weight_shapes"]


def device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _mlp(spec: ModelSpec, input_shape: tuple[int, ...], classes: int) -> nn.Module:
    features = int(np.prod(input_shape))
    return nn.Sequential(nn.Flatten(), nn.Linear(features, spec.hidden_units), nn.ReLU(),
                         nn.Linear(spec.hidden_units, classes))


def _cnn(spec: ModelSpec, input_shape: tuple[int, ...], classes: int) -> nn.Module:
    if len(input_shape) != 3:
        raise OpenDPGValueError(f"model.name: cnn needs image inputs (C, H, W), the dataset gives {input_shape}")
    channels, height, width = input_shape
    return nn.Sequential(
        nn.Conv2d(channels, 16, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (height // 2) * (width // 2), spec.hidden_units), nn.ReLU(),
        nn.Linear(spec.hidden_units, classes),
    )


MODELS: dict[str, Callable[[ModelSpec, tuple[int, ...], int], nn.Module]] = {"mlp": _mlp, "cnn": _cnn}


def build_model(spec: ModelSpec, input_shape: tuple[int, ...], classes: int, seed: int = 0) -> nn.Module:
    """The spec's model with deterministic initial weights (same seed, same weights on every machine)."""
    if spec.name not in MODELS:
        raise OpenDPGValueError(f"model.name: unknown model {spec.name!r}; known: {sorted(MODELS)}")
    torch.manual_seed(seed)
    return MODELS[spec.name](spec, input_shape, classes)


def get_weights(model: nn.Module) -> OrderedDict[str, np.ndarray]:
    return OrderedDict((k, v.detach().cpu().numpy().astype(np.float32)) for k, v in model.state_dict().items())


def set_weights(model: nn.Module, weights: OrderedDict[str, np.ndarray]) -> None:
    model.load_state_dict(OrderedDict((k, torch.from_numpy(np.array(v, dtype=np.float32))) for k, v in weights.items()))


def weight_shapes(model: nn.Module) -> OrderedDict[str, tuple[int, ...]]:
    return OrderedDict((k, tuple(v.shape)) for k, v in model.state_dict().items())
