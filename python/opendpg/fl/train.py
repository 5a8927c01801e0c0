"""Local training and evaluation with PyTorch, on CUDA when present."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from opendpg.fl.models import device, get_weights, set_weights
from opendpg.spec import JobSpec

__all__ = ["evaluate", "train_local"]


def train_local(model: nn.Module, weights: OrderedDict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                spec: JobSpec, seed: int) -> tuple[OrderedDict[str, np.ndarray], float]:
    """Train from ``weights`` on (x, y); returns the new weights and the mean loss of the last epoch.

    FedProx adds (mu / 2) * ||w - w_global||^2 to the loss when the spec's strategy is fedprox.
    """
    dev = device()
    set_weights(model, weights)
    model.to(dev).train()
    global_params = [p.detach().clone() for p in model.parameters()]
    mu = spec.strategy.proximal_mu if spec.strategy.name == "fedprox" else 0.0
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.training.learning_rate)
    generator = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
    batch = spec.training.batch_size
    last = 0.0
    for _ in range(spec.training.local_epochs):
        order = torch.randperm(len(yt), generator=generator).to(dev)
        total, seen = 0.0, 0
        for start in range(0, len(yt), batch):
            idx = order[start:start + batch]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            if mu > 0:
                loss = loss + (mu / 2) * sum(((p - g) ** 2).sum() for p, g in zip(model.parameters(), global_params,
                                                                                   strict=True))
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        last = total / max(seen, 1)
    model.to("cpu")
    return get_weights(model), last


def evaluate(model: nn.Module, weights: OrderedDict[str, np.ndarray], x: np.ndarray,
             y: np.ndarray) -> tuple[float, float]:
    """(loss, accuracy) of ``weights`` on (x, y)."""
    set_weights(model, weights)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x))
        loss = float(nn.functional.cross_entropy(logits, torch.from_numpy(y)))
        accuracy = float((logits.argmax(dim=1).numpy() == y).mean())
    return loss, accuracy
