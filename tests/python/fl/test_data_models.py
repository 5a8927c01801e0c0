"""Datasets, shares and models: deterministic, and the shares really are what the spec says."""

import numpy as np
import pytest

from opendpg.errors import OpenDPGValueError
from opendpg.fl.data import load_dataset, partition
from opendpg.fl.models import build_model, device, get_weights, set_weights, weight_shapes
from opendpg.spec import DatasetSpec, ModelSpec


def test_label_skew_gives_each_provider_its_classes_and_covers_everything():
    data = load_dataset("sklearn/digits")
    spec = DatasetSpec(mode="simulate", catalog_id="sklearn/digits", partition="label-skew", labels_per_provider=4)
    shares = [partition(data.y_train, spec, 3, i) for i in range(3)]
    assert [sorted(set(data.y_train[s].tolist())) for s in shares] == [[0, 1, 2, 3], [4, 5, 6, 7], [0, 1, 8, 9]]
    assert sorted(np.concatenate(shares).tolist()) == list(range(len(data.y_train)))


@pytest.mark.parametrize("kind", ["iid", "dirichlet"])
def test_partitions_are_disjoint_and_complete(kind):
    y = load_dataset("sklearn/digits").y_train
    spec = DatasetSpec(mode="simulate", catalog_id="sklearn/digits", partition=kind, alpha=0.5)
    shares = [partition(y, spec, 4, i) for i in range(4)]
    assert sorted(np.concatenate(shares).tolist()) == list(range(len(y)))
    assert np.array_equal(shares[0], partition(y, spec, 4, 0))


def test_models_are_deterministic_and_weights_round_trip():
    a = build_model(ModelSpec(name="mlp", hidden_units=16), (64,), 10, seed=3)
    b = build_model(ModelSpec(name="mlp", hidden_units=16), (64,), 10, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(get_weights(a).values(), get_weights(b).values(), strict=True))
    cnn = build_model(ModelSpec(name="cnn", hidden_units=16), (1, 8, 8), 10)
    weights = get_weights(cnn)
    set_weights(cnn, weights)
    assert list(weight_shapes(cnn)) == list(weights)
    assert device().type in ("cpu", "cuda")


def test_unknown_dataset_and_bad_model_input():
    with pytest.raises(OpenDPGValueError, match=r"dataset\.catalog_id"):
        load_dataset("hospital/secret")
    with pytest.raises(OpenDPGValueError, match="cnn needs image inputs"):
        build_model(ModelSpec(name="cnn"), (64,), 10)
