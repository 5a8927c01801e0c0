"""Local training and evaluation with PyTorch: a ``DataLoader`` over the provider's records, the device chosen
once (CUDA when present, with bf16 autocast), the loss of the task (cross-entropy for classification, mean
squared error for a numeric target), FedProx's proximal term, and DP-SGD through Opacus when the spec asks."""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from opendpg.fl.models import device, get_weights, set_weights
from opendpg.spec import JobSpec

__all__ = ["evaluate", "train_local"]

Task = Literal["classification", "regression"]
EVAL_BATCH = 1024


def _loss(task: Task, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if task == "regression":
        return nn.functional.mse_loss(output.squeeze(-1).float(), target.float())
    return nn.functional.cross_entropy(output.float(), target)


def _autocast(dev: torch.device, enabled: bool) -> contextlib.AbstractContextManager[object]:
    if dev.type == "cuda" and enabled:
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_local(model: nn.Module, weights: OrderedDict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                spec: JobSpec, seed: int) -> tuple[OrderedDict[str, np.ndarray], float]:
    """Train from ``weights`` on (x, y); returns the new weights and the mean loss of the last epoch.

    FedProx adds (mu / 2) * ||w - w_global||^2 to the loss when the spec's strategy is fedprox. With the spec's
    ``privacy.dp_sgd``, Opacus clips each record's gradient and adds noise (Poisson-sampled batches); the
    shuffling and the noise are seeded from ``seed``.
    """
    dev = device()
    task: Task = spec.task
    set_weights(model, weights)
    model.to(dev).train()
    generator = torch.Generator().manual_seed(seed)
    loader: DataLoader[tuple[torch.Tensor, ...]] = DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=spec.training.batch_size, shuffle=True,
        generator=generator, pin_memory=dev.type == "cuda")
    optimizer: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=spec.training.learning_rate)
    module: nn.Module = model
    dp = spec.privacy.dp_sgd
    if dp is not None:
        from opacus import PrivacyEngine

        engine = PrivacyEngine(accountant="rdp")
        noise = torch.Generator(device=dev).manual_seed(seed + 1)
        module, optimizer, loader = engine.make_private(
            module=model, optimizer=optimizer, data_loader=loader, noise_multiplier=dp.noise_multiplier,
            max_grad_norm=dp.max_grad_norm, noise_generator=noise)
    global_params = [p.detach().clone() for p in model.parameters()]
    mu = spec.strategy.proximal_mu if spec.strategy.name == "fedprox" else 0.0
    last = 0.0
    for _ in range(spec.training.local_epochs):
        total, seen = 0.0, 0
        for xb, yb in loader:
            if len(yb) == 0:  # Poisson sampling can draw an empty batch
                continue
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            optimizer.zero_grad()
            with _autocast(dev, dp is None):
                loss = _loss(task, module(xb), yb)
            if mu > 0:
                loss = loss + (mu / 2) * sum(((p - g) ** 2).sum() for p, g in zip(model.parameters(), global_params,
                                                                                   strict=True))
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total += loss.item() * len(yb)
            seen += len(yb)
        last = total / max(seen, 1)
    model.to("cpu")
    return get_weights(model), last


def evaluate(model: nn.Module, weights: OrderedDict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
             task: Task = "classification") -> dict[str, float]:
    """Metrics of ``weights`` on (x, y): ``loss`` (cross-entropy / MSE) and ``accuracy``, ``macro_f1``
    (classification) or ``rmse``, ``mae`` (regression), and ``examples``."""
    from sklearn.metrics import f1_score

    dev = device()
    set_weights(model, weights)
    model.to(dev).eval()
    outputs: list[torch.Tensor] = []
    with torch.no_grad():
        for start in range(0, len(y), EVAL_BATCH):
            batch = torch.from_numpy(x[start:start + EVAL_BATCH]).to(dev)
            with _autocast(dev, True):
                outputs.append(model(batch).float().cpu())
    model.to("cpu")
    if not outputs:
        return {"examples": 0.0}
    out, target = torch.cat(outputs), torch.from_numpy(y)
    metrics = {"loss": float(_loss(task, out, target)), "examples": float(len(y))}
    if task == "regression":
        error = out.squeeze(-1).double().numpy() - y.astype(np.float64)
        metrics.update(rmse=float(np.sqrt(np.mean(error ** 2))), mae=float(np.mean(np.abs(error))))
    else:
        predicted = out.argmax(dim=1).numpy()
        metrics.update(accuracy=float((predicted == y).mean()),
                       macro_f1=float(f1_score(y, predicted, average="macro", zero_division=0)))
    return metrics
