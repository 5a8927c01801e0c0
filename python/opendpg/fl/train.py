"""Local training and evaluation with PyTorch: a ``DataLoader`` over the provider's records, the device chosen
once (CUDA when present, with bf16 autocast), the spec's optimizer (SGD or AdamW), the loss of the task
(cross-entropy for classification, mean squared error for a numeric target), FedProx's proximal term, and DP-SGD
through Opacus when the spec asks."""

from __future__ import annotations

import contextlib
import secrets
import warnings
from collections import OrderedDict
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from opendpg.fl.models import device, get_weights, logits, set_weights, trainable_parameters
from opendpg.spec import JobSpec

__all__ = ["evaluate", "train_local", "warm_up"]

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
                spec: JobSpec, seed: int, dp_seed: int | None = None) -> tuple[OrderedDict[str, np.ndarray], float]:
    """Train from ``weights`` on (x, y); returns the new weights and the mean loss of the last epoch.

    FedProx adds (mu / 2) * ||w - w_global||^2 to the loss when the spec's strategy is fedprox. Batches are
    shuffled with ``seed``. With the spec's ``privacy.dp_sgd``, Opacus clips each record's gradient and adds
    Gaussian noise to Poisson-sampled batches; the sampling and the noise must be secret (anyone who could replay
    them could subtract the noise), so they come from ``dp_seed``, by default fresh randomness from the operating
    system (tests pass one to be reproducible).
    """
    dev = device()
    task: Task = spec.task
    if task == "regression":  # the model predicts the standardised target
        mean, std = spec.target_scale
        y = ((y - mean) / std).astype(np.float32)
    set_weights(model, weights)
    model.to(dev).train()
    dp = spec.privacy.dp_sgd
    secret = (secrets.randbits(62) if dp_seed is None else dp_seed) if dp is not None else seed
    generator = torch.Generator().manual_seed(secret)
    loader: DataLoader[tuple[torch.Tensor, ...]] = DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=spec.training.batch_size, shuffle=True,
        generator=generator, pin_memory=dev.type == "cuda")
    optimizer: torch.optim.Optimizer = (
        torch.optim.AdamW(trainable_parameters(model), lr=spec.training.learning_rate, weight_decay=0.01)
        if spec.training.optimizer == "adamw" else torch.optim.SGD(trainable_parameters(model),
                                                                   lr=spec.training.learning_rate))
    module: nn.Module = model
    if dp is not None:
        from opacus import PrivacyEngine

        with warnings.catch_warnings():  # "secure RNG off": the generators are seeded from OS entropy instead
            warnings.simplefilter("ignore", UserWarning)
            engine = PrivacyEngine(accountant="rdp")
        noise = torch.Generator(device=dev).manual_seed(secret + 1)
        module, optimizer, loader = engine.make_private(
            module=model, optimizer=optimizer, data_loader=loader, noise_multiplier=dp.noise_multiplier,
            max_grad_norm=dp.max_grad_norm, noise_generator=noise)
    try:
        last = _epochs(model, module, optimizer, loader, spec, task, dev, dp is None)
    finally:
        if module is not model:
            module.remove_hooks()  # type: ignore[operator]  # Opacus's GradSampleModule
    model.to("cpu")
    return get_weights(model), last


def _epochs(model: nn.Module, module: nn.Module, optimizer: torch.optim.Optimizer,
            loader: DataLoader[tuple[torch.Tensor, ...]], spec: JobSpec, task: Task, dev: torch.device,
            autocast: bool) -> float:
    """Run the spec's local epochs; the mean loss of the last."""
    trained = trainable_parameters(model)
    global_params = [p.detach().clone() for p in trained]
    mu = spec.strategy.proximal_mu if spec.strategy.name == "fedprox" else 0.0
    last = 0.0
    for _ in range(spec.training.local_epochs):
        total, seen = 0.0, 0
        for xb, yb in loader:
            if len(yb) == 0:  # Poisson sampling can draw an empty batch
                continue
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            optimizer.zero_grad()
            with _autocast(dev, autocast):
                loss = _loss(task, logits(module, xb), yb)
            if mu > 0:
                loss = loss + (mu / 2) * sum(((p - g) ** 2).sum() for p, g in zip(trained, global_params, strict=True))
            with warnings.catch_warnings():  # Opacus's hooks on the first layer, whose input needs no gradient
                warnings.filterwarnings("ignore", message="Full backward hook is firing")
                loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total += loss.item() * len(yb)
            seen += len(yb)
        last = total / max(seen, 1)
    return last


def warm_up() -> None:
    """Pay once what a process's first round costs beyond its work: torch's lazy imports on the first optimizer
    step (``torch._dynamo``, about 2 s of CPU), and the libraries that read records and score models
    (scikit-learn, pandas: as much again). A long-lived worker calls it before it takes messages, so its first
    round runs at the speed of every later one."""
    import pandas  # noqa: F401  (imported for their side effect: loaded once)
    import sklearn.metrics  # noqa: F401

    probe = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(probe.parameters(), lr=0.1)
    optimizer.zero_grad()
    loss = _loss("classification", probe(torch.zeros(2, 2)), torch.zeros(2, dtype=torch.long))
    loss.backward()  # type: ignore[no-untyped-call]
    optimizer.step()


def evaluate(model: nn.Module, weights: OrderedDict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
             task: Task = "classification", target_scale: tuple[float, float] = (0.0, 1.0)) -> dict[str, float]:
    """Metrics of ``weights`` on (x, y): ``loss`` (cross-entropy / MSE of the standardised target) and
    ``accuracy``, ``macro_f1`` (classification) or ``rmse``, ``mae`` in the target's units (regression, the model
    predicting ``(target - mean) / std`` with ``target_scale``), and ``examples``."""
    from sklearn.metrics import f1_score

    dev = device()
    set_weights(model, weights)
    model.to(dev).eval()
    outputs: list[torch.Tensor] = []
    with torch.no_grad():
        for start in range(0, len(y), EVAL_BATCH):
            batch = torch.from_numpy(x[start:start + EVAL_BATCH]).to(dev)
            with _autocast(dev, True):
                outputs.append(logits(model, batch).float().cpu())
    model.to("cpu")
    if not outputs:
        return {"examples": 0.0}
    out = torch.cat(outputs)
    mean, std = target_scale
    target = torch.from_numpy(((y - mean) / std).astype(np.float32) if task == "regression" else y)
    metrics = {"loss": float(_loss(task, out, target)), "examples": float(len(y))}
    if task == "regression":
        error = out.squeeze(-1).double().numpy() * std + mean - y.astype(np.float64)
        metrics.update(rmse=float(np.sqrt(np.mean(error ** 2))), mae=float(np.mean(np.abs(error))))
    else:
        predicted = out.argmax(dim=1).numpy()
        metrics.update(accuracy=float((predicted == y).mean()),
                       macro_f1=float(f1_score(y, predicted, average="macro", zero_division=0)))
    return metrics
