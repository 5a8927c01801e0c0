"""Aggregation is bit-identical whatever the input order, and each rule does what it says."""

from collections import OrderedDict

import numpy as np
import pytest

from opendpg.errors import OpenDPGValueError
from opendpg.fl import Contribution, aggregate


def _contrib(provider, n, value):
    return Contribution(provider, n, OrderedDict([("w", np.full((2, 2), value, dtype=np.float32))]))


def _noisy(seed):
    rng = np.random.default_rng(seed)
    return [Contribution(f"0x{i:040x}", int(rng.integers(1, 100)),
                         OrderedDict([("w", rng.standard_normal((50, 20)).astype(np.float32))])) for i in range(7)]


@pytest.mark.parametrize("rule", ["fedavg", "median", "trimmed-mean", "krum"])
def test_bit_identical_for_any_order(rule):
    items = _noisy(1)
    first = aggregate(items, rule, num_malicious=1)
    for seed in range(5):
        shuffled = [items[i] for i in np.random.default_rng(seed).permutation(len(items))]
        again = aggregate(shuffled, rule, num_malicious=1)
        assert first["w"].tobytes() == again["w"].tobytes()


def test_fedavg_weights_by_examples():
    out = aggregate([_contrib("0xa", 1, 0.0), _contrib("0xb", 3, 4.0)])
    assert np.array_equal(out["w"], np.full((2, 2), 3.0, dtype=np.float32))


def test_robust_rules_resist_an_outlier():
    items = [_contrib("0xa", 1, 1.0), _contrib("0xb", 1, 1.1), _contrib("0xc", 1, 0.9), _contrib("0xd", 1, 1e6)]
    assert aggregate(items, "median")["w"][0, 0] == pytest.approx(1.05)
    assert aggregate(items, "trimmed-mean", trim_beta=0.25)["w"][0, 0] == pytest.approx(1.05)
    assert aggregate(items, "krum", num_malicious=1)["w"][0, 0] in (np.float32(1.0), np.float32(1.1), np.float32(0.9))


def test_refusals():
    with pytest.raises(OpenDPGValueError, match="nothing to aggregate"):
        aggregate([])
    with pytest.raises(OpenDPGValueError, match="unknown aggregation rule"):
        aggregate([_contrib("0xa", 1, 1.0)], "mean-ish")


@pytest.mark.parametrize("rule", ["fedavg", "median", "trimmed-mean", "krum"])
def test_rules_agree_with_flowers_reference_implementations(rule):
    """Same definitions as Flower's strategies (flwr.server.strategy.aggregate); ours only pin the order and
    the float64 accumulation so that two parties get identical bytes."""
    from flwr.server.strategy.aggregate import aggregate as flwr_fedavg
    from flwr.server.strategy.aggregate import aggregate_krum, aggregate_median, aggregate_trimmed_avg

    rng = np.random.default_rng(7)
    contributions = [Contribution(f"0x{i:040x}", int(rng.integers(10, 100)),
                                  OrderedDict([("a", rng.standard_normal((5, 3)).astype(np.float32)),
                                               ("b", rng.standard_normal(4).astype(np.float32))]))
                     for i in range(7)]
    results = [(list(c.tensors.values()), c.num_examples) for c in contributions]
    reference = {"fedavg": lambda: flwr_fedavg(results), "median": lambda: aggregate_median(results),
                 "trimmed-mean": lambda: aggregate_trimmed_avg(results, 0.2),
                 "krum": lambda: aggregate_krum(results, num_malicious=2, to_keep=0)}[rule]()

    ours = aggregate(contributions, rule, trim_beta=0.2, num_malicious=2)

    for mine, theirs in zip(ours.values(), reference, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_providers_metrics_are_weighted_by_their_examples():
    from opendpg.fl.aggregate import weighted_metrics

    merged = weighted_metrics([{"accuracy": 0.9, "loss": 0.2, "num-examples": 30},
                               {"accuracy": 0.6, "loss": 0.8, "num-examples": 10},
                               {"num-examples": 0}])  # a provider with an empty validation split

    assert merged == pytest.approx({"accuracy": 0.825, "loss": 0.35, "examples": 40, "providers": 2})
    assert weighted_metrics([]) == {}
