"""The job spec: valid specs round-trip; bad ones name the field and the fix; the schema is exported."""

import json

import pytest

from opendpg.data import sample_schema
from opendpg.spec import JobSpec, SpecError, json_schema, parse_spec

GOOD = {
    "name": "digits, label-skewed",
    "model": {"name": "mlp", "hidden_units": 32},
    "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits", "partition": "label-skew",
                "labels_per_provider": 4},
    "training": {"rounds": 5, "local_epochs": 2, "batch_size": 32, "learning_rate": 0.1},
    "strategy": {"name": "fedavg"},
    "providers": {"min": 2, "max": 3},
}


def test_valid_spec_round_trips_through_canonical_bytes():
    spec = parse_spec(GOOD)
    again = parse_spec(spec.to_bytes())
    assert again == spec
    assert spec.to_bytes() == again.to_bytes()
    assert json.loads(spec.to_bytes())["spec_version"] == "opendpg-job/1"
    assert set(json.loads(spec.to_bytes())["model"]) == set(GOOD["model"]) | {"hidden_units"}  # no empty config/lora


def test_a_library_model_with_lora_round_trips():
    model = {"name": "timm/resnet10t", "config": {"drop_rate": 0.1, "output_stride": 32},
             "lora": {"rank": 4, "target_modules": ["conv2"], "modules_to_save": ["fc"]}}
    spec = parse_spec({**GOOD, "model": model})
    assert parse_spec(spec.to_bytes()) == spec
    assert (spec.model.library, spec.model.architecture, spec.model.lora.alpha) == ("timm", "resnet10t", 16)


@pytest.mark.parametrize(
    ("patch", "field", "fix"),
    [
        ({"model": {"name": "rnn"}}, "model.name", "neither a built-in (mlp, cnn) nor <library>/<architecture>"),
        ({"training": {"rounds": 0}}, "training.rounds", "greater than or equal to 1"),
        ({"providers": {"min": 3, "max": 2}}, "providers.max", "raise max or lower min"),
        ({"strategy": {"name": "fedprox"}}, "strategy.proximal_mu", "try 0.01"),
        ({"dataset": {"mode": "simulate", "catalog_id": "x", "partition": "dirichlet"}}, "dataset.alpha", "e.g. 0.5"),
        ({"privacy": {"epsilon": 1.0}}, "privacy.clipping_norm", "e.g. 1.0"),
        ({"surprise": 1}, "surprise", "unknown field: remove it"),
        ({"spec_version": "opendpg-job/0"}, "spec_version", "opendpg-job/1"),
    ],
)
def test_bad_specs_name_field_and_fix(patch, field, fix):
    with pytest.raises(SpecError) as info:
        parse_spec({**GOOD, **patch})
    assert any(path == field and fix in message for path, message in info.value.problems), info.value.problems


def test_missing_and_malformed():
    with pytest.raises(SpecError, match="name: required: add it"):
        parse_spec({k: v for k, v in GOOD.items() if k != "name"})
    with pytest.raises(SpecError, match="not valid JSON"):
        parse_spec(b"{not json")


def test_json_schema_is_exported():
    schema = json_schema()
    assert schema["$id"].endswith("job-spec-1.json")
    assert set(schema["required"]) >= {"name", "model", "dataset", "training", "providers"}
    assert JobSpec.model_json_schema()["title"] == "JobSpec"


LOCAL = {"name": "breast cancer", "model": {"name": "mlp"}, "training": {"rounds": 2},
         "providers": {"min": 1, "max": 3},
         "dataset": {"asset": 7, "data_schema": sample_schema("breast-cancer").model_dump(mode="json")},
         "privacy": {"dp_sgd": {"noise_multiplier": 1.1, "max_grad_norm": 1.0, "epsilon": 3.0}}}


def test_a_job_on_held_data_embeds_the_assets_schema_and_its_dp_terms():
    spec = parse_spec(LOCAL)

    assert spec.dataset.mode == "local" and spec.dataset.asset == 7
    assert spec.dataset.data_schema.fingerprint() == sample_schema("breast-cancer").fingerprint()
    assert spec.task == "classification" and spec.privacy.dp_sgd.epsilon == 3.0
    assert parse_spec(spec.to_bytes()) == spec


@pytest.mark.parametrize(
    ("patch", "field", "fix"),
    [
        ({"dataset": {"catalog_id": "sklearn/digits"}}, "dataset.catalog_id", "set mode = 'simulate'"),
        ({"dataset": {"data_schema": LOCAL["dataset"]["data_schema"]}}, "dataset.asset", "DPG-registry id"),
        ({"dataset": {"asset": 7}}, "dataset.data_schema", "copy it from the asset's metadata"),
        ({"dataset": {**LOCAL["dataset"], "partition": "dirichlet", "alpha": 0.5}}, "dataset.partition",
         "only for mode 'simulate'"),
        ({"dataset": {"mode": "simulate", "catalog_id": "sklearn/digits", "asset": 7}}, "dataset.asset",
         "only for mode 'local'"),
        ({"certification": {"dataset_asset": 8}}, "certification.dataset_asset", "one dataset asset"),
        ({"strategy": {"name": "fedprox", "proximal_mu": 0.1}}, "privacy.dp_sgd", "use fedavg"),
        ({"privacy": {"dp_sgd": {"noise_multiplier": 1.0, "max_grad_norm": 1.0}}}, "privacy.dp_sgd.epsilon",
         "required"),
    ],
)
def test_bad_local_specs_name_field_and_fix(patch, field, fix):
    with pytest.raises(SpecError) as err:
        parse_spec({**LOCAL, **patch})
    assert any(path == field and fix in msg for path, msg in err.value.problems), err.value.problems
