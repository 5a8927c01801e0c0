"""The job spec: a versioned pydantic model, its JSON Schema, and validation messages."""

from opendpg.spec.model import (
    MODEL_NAMES,
    SPEC_VERSION,
    STRATEGY_NAMES,
    CertificationSpec,
    DatasetSpec,
    JobSpec,
    ModelSpec,
    PrivacySpec,
    ProvidersSpec,
    PublicationSpec,
    ResourcesSpec,
    SpecError,
    StrategySpec,
    TrainingSpec,
    json_schema,
    parse_spec,
)

__all__ = [
    "MODEL_NAMES",
    "SPEC_VERSION",
    "STRATEGY_NAMES",
    "CertificationSpec",
    "DatasetSpec",
    "JobSpec",
    "ModelSpec",
    "PrivacySpec",
    "ProvidersSpec",
    "PublicationSpec",
    "ResourcesSpec",
    "SpecError",
    "StrategySpec",
    "TrainingSpec",
    "json_schema",
    "parse_spec",
]
