"""The job spec: valid specs round-trip; bad ones name the field and the fix; the schema is exported."""

import json

import pytest

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


@pytest.mark.parametrize(
    ("patch", "field", "fix"),
    [
        ({"model": {"name": "rnn"}}, "model.name", "'mlp' or 'cnn'"),
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
