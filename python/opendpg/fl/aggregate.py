"""Aggregation two parties reproduce bit for bit.

Every rule takes the updates in one fixed order (by provider address, lowercase hex), accumulates in
float64 and rounds to float32 once at the end, so the coordinator and any auditor get identical bytes.
FedAvg (and FedProx, whose difference is client-side): sum_i(n_i * x_i) / sum_i(n_i). Median and trimmed
mean are coordinate-wise. Krum picks the update with the smallest sum of squared distances to its
n - f - 2 nearest neighbours (ties broken by address).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from opendpg.errors import OpenDPGValueError

__all__ = ["Contribution", "aggregate", "weighted_metrics"]


@dataclass(frozen=True)
class Contribution:
    provider: str
    num_examples: int
    tensors: OrderedDict[str, np.ndarray]


def _ordered(contributions: list[Contribution]) -> list[Contribution]:
    if not contributions:
        raise OpenDPGValueError("nothing to aggregate: no updates were accepted this round")
    ordered = sorted(contributions, key=lambda c: c.provider.lower())
    names = [list(c.tensors) for c in ordered]
    if any(n != names[0] for n in names):
        raise OpenDPGValueError("updates disagree on tensor names")
    return ordered


def _fedavg(items: list[Contribution]) -> OrderedDict[str, np.ndarray]:
    total = sum(c.num_examples for c in items)
    if total <= 0:
        raise OpenDPGValueError("updates carry no examples")
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for name in items[0].tensors:
        acc = np.zeros(items[0].tensors[name].shape, dtype=np.float64)
        for c in items:  # fixed order, one formula
            acc += np.float64(c.num_examples) * c.tensors[name].astype(np.float64)
        out[name] = (acc / np.float64(total)).astype(np.float32)
    return out


def _stacked(items: list[Contribution], name: str) -> np.ndarray:
    return np.stack([c.tensors[name].astype(np.float64) for c in items])


def _median(items: list[Contribution]) -> OrderedDict[str, np.ndarray]:
    return OrderedDict((n, np.median(_stacked(items, n), axis=0).astype(np.float32)) for n in items[0].tensors)


def _trimmed_mean(items: list[Contribution], beta: float) -> OrderedDict[str, np.ndarray]:
    k = int(beta * len(items))
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for n in items[0].tensors:
        values = np.sort(_stacked(items, n), axis=0)
        kept = values[k:len(items) - k] if len(items) - 2 * k > 0 else values
        out[n] = kept.mean(axis=0).astype(np.float32)
    return out


def _krum(items: list[Contribution], num_malicious: int) -> OrderedDict[str, np.ndarray]:
    flat = [np.concatenate([c.tensors[n].astype(np.float64).ravel() for n in c.tensors]) for c in items]
    closest = max(len(items) - num_malicious - 2, 1)
    scores = []
    for i, x in enumerate(flat):
        distances = sorted(float(np.sum((x - y) ** 2)) for j, y in enumerate(flat) if j != i)
        scores.append((sum(distances[:closest]), items[i].provider.lower(), i))
    best = min(scores)[2]
    return OrderedDict((n, t.astype(np.float32)) for n, t in items[best].tensors.items())


def aggregate(contributions: list[Contribution], rule: str = "fedavg", *, trim_beta: float = 0.2,
              num_malicious: int = 0) -> OrderedDict[str, np.ndarray]:
    """Aggregate with ``rule`` (a spec strategy name); deterministic for any input order."""
    items = _ordered(contributions)
    if rule in ("fedavg", "fedprox"):
        return _fedavg(items)
    if rule == "median":
        return _median(items)
    if rule == "trimmed-mean":
        return _trimmed_mean(items, trim_beta)
    if rule == "krum":
        return _krum(items, num_malicious)
    raise OpenDPGValueError(f"strategy.name: unknown aggregation rule {rule!r}")


def weighted_metrics(results: list[dict[str, float]]) -> dict[str, float]:
    """Providers' metrics (each with ``num-examples``) as one: every metric's mean weighted by examples, plus
    ``examples`` (their sum) and ``providers`` (how many reported). Nothing reported: an empty dict."""
    counted = [r for r in results if r.get("num-examples", 0) > 0]
    total = sum(r["num-examples"] for r in counted)
    if not counted:
        return {}
    names = sorted({k for r in counted for k in r} - {"num-examples"})
    merged = {name: sum(r[name] * r["num-examples"] for r in counted if name in r)
              / sum(r["num-examples"] for r in counted if name in r) for name in names}
    return {**merged, "examples": float(total), "providers": float(len(counted))}
