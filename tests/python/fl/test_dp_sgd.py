"""Per-record differential privacy with Opacus: what a provider spends depends on its record count, training
with DP-SGD is seeded (the same seed, the same privatised update), and it changes the model differently from
plain SGD."""

from collections import OrderedDict

import numpy as np
import pytest

from opendpg.data import read_local, sample_schema, write_sample
from opendpg.fl.data import input_of
from opendpg.fl.models import build_model, get_weights
from opendpg.fl.privacy import dp_sgd_epsilon, job_epsilon
from opendpg.fl.train import evaluate, train_local
from opendpg.spec import DpSgdSpec, parse_spec


def _spec(dp_sgd=None, name="breast-cancer", rounds=2):
    return parse_spec({
        "name": "dp", "model": {"name": "mlp", "hidden_units": 16},
        "dataset": {"asset": 1, "data_schema": sample_schema(name).model_dump(mode="json")},
        "training": {"rounds": rounds, "local_epochs": 1, "batch_size": 16, "learning_rate": 0.1},
        "providers": {"min": 1, "max": 1}, "privacy": {"dp_sgd": dp_sgd} if dp_sgd else {}})


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    files = write_sample("breast-cancer", tmp_path_factory.mktemp("dp"), 1)
    return read_local(sample_schema("breast-cancer"), files.holders[0])


def test_fewer_records_or_more_rounds_spend_more_epsilon():
    dp = DpSgdSpec(noise_multiplier=1.0, max_grad_norm=1.0, epsilon=10.0)

    small, large = dp_sgd_epsilon(dp, 100, 16, 1, 5), dp_sgd_epsilon(dp, 1000, 16, 1, 5)
    longer = dp_sgd_epsilon(dp, 100, 16, 1, 10)
    noisier = dp_sgd_epsilon(dp.model_copy(update={"noise_multiplier": 2.0}), 100, 16, 1, 5)

    assert large < small < longer
    assert noisier < small
    assert job_epsilon(_spec({"noise_multiplier": 1.0, "max_grad_norm": 1.0, "epsilon": 5.0}), 100) == pytest.approx(
        dp_sgd_epsilon(dp, 100, 16, 1, 2))
    assert job_epsilon(_spec(), 100) is None


def test_dp_sgd_noise_is_secret_unless_a_test_seeds_it(records):
    dp = _spec({"noise_multiplier": 1.1, "max_grad_norm": 1.0, "epsilon": 20.0})
    plain = _spec()
    model = build_model(dp.model, *input_of(dp.dataset, dp.model), seed=0)
    start = get_weights(model)

    first, _ = train_local(model, OrderedDict(start), records.x, records.y, dp, seed=5, dp_seed=11)
    again, _ = train_local(model, OrderedDict(start), records.x, records.y, dp, seed=5, dp_seed=11)
    other, _ = train_local(model, OrderedDict(start), records.x, records.y, dp, seed=5, dp_seed=12)
    unseeded = [train_local(model, OrderedDict(start), records.x, records.y, dp, seed=5)[0] for _ in range(2)]
    sgd, _ = train_local(model, OrderedDict(start), records.x, records.y, plain, seed=5)

    for name in start:
        np.testing.assert_array_equal(first[name], again[name])
    assert list(first) == list(start)  # Opacus's wrapper leaves the parameter names alone
    assert any(not np.array_equal(first[n], other[n]) for n in start)
    # without a test's seed the noise is secret: the public seed (spec, round, provider) does not replay it
    assert any(not np.array_equal(unseeded[0][n], unseeded[1][n]) for n in start)
    assert any(not np.allclose(first[n], sgd[n]) for n in start)
    assert evaluate(model, first, records.x, records.y)["accuracy"] > 0.6  # noisy, but it learns


def test_regression_trains_on_mean_squared_error_and_reports_rmse_and_mae(tmp_path):
    files = write_sample("diabetes", tmp_path, 1)
    spec = _spec(name="diabetes", rounds=1).model_copy(update={"training": _spec().training.model_copy(
        update={"local_epochs": 30, "learning_rate": 0.01})})
    data = read_local(sample_schema("diabetes"), files.holders[0])
    model = build_model(spec.model, *input_of(spec.dataset, spec.model), seed=0)
    before = evaluate(model, get_weights(model), data.x, data.y, "regression", spec.target_scale)

    trained, _ = train_local(model, get_weights(model), data.x, data.y, spec, seed=1)
    after = evaluate(model, trained, data.x, data.y, "regression", spec.target_scale)

    assert set(after) == {"loss", "rmse", "mae", "examples"}
    assert after["rmse"] < 0.8 * before["rmse"]
    assert after["rmse"] < float(np.std(data.y))  # better than predicting the mean
    std = spec.target_scale[1]
    assert after["loss"] == pytest.approx((after["rmse"] / std) ** 2, rel=1e-4)  # MSE of the standardised target
