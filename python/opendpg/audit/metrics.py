"""Anyone's own evaluation of a committed global model: the spec's model rebuilt, loaded with the committed
weights, and evaluated on the job's held-out set: the poster's (``held_out_cid``, fetched and verified by the
caller) or, in a simulation, the bundled set's test split. It does not trust the coordinator's reported
numbers: the model comes from IPFS by its on-chain CID (the store checks it against the CID)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from opendpg.content import ContentStore
from opendpg.errors import OpenDPGValueError
from opendpg.spec import JobSpec

__all__ = ["NoHeldOutSet", "RoundMetrics", "evaluate_global"]


class NoHeldOutSet(OpenDPGValueError):
    """The job has no held-out set: only the providers' federated metrics describe its rounds."""


@dataclass(frozen=True)
class RoundMetrics:
    loss: float
    accuracy: float | None  # None for a numeric target
    all: dict[str, float] = field(default_factory=dict)  # every metric of the task (macro_f1, rmse, mae, ...)


def evaluate_global(spec: JobSpec, model: bytes, held_out: bytes | None = None, store: ContentStore | None = None,
                    cache: Path | None = None) -> RoundMetrics:
    """The metrics of ``model`` (canonical update bytes) on the job's held-out set: ``held_out`` (the bytes of
    the spec's ``held_out_cid``) for a job on providers' own data, the bundled test split in a simulation.
    Raises ``UpdateFormatError`` when the bytes do not fit the spec's model, ``NoHeldOutSet`` when there is
    nothing to evaluate on. A job on a base model needs ``store`` to fetch its files (into ``cache``)."""
    from opendpg.dpg.basemodels import base_files
    from opendpg.fl.data import held_out_records, input_of, text_encoder  # torch: imported where evaluation happens
    from opendpg.fl.models import build_model, get_weights, weight_shapes
    from opendpg.fl.train import evaluate
    from opendpg.fl.update import decode_update

    with base_files(spec, store, cache) as base:
        network = build_model(spec.model, *input_of(spec.dataset, spec.model), seed=spec.training.seed, base=base)
        encode_text = text_encoder(spec.dataset, spec.model, base)
    update = decode_update(model)
    update.check_shapes(weight_shapes(network))
    weights = OrderedDict(zip(get_weights(network).keys(), update.tensors.values(), strict=True))
    records = held_out_records(spec.dataset, held_out, encode_text)
    if records is None:
        raise NoHeldOutSet("the job has no held-out set (held_out_cid): its rounds carry federated metrics only")
    x, y = records
    metrics = evaluate(network, weights, x, y, spec.task, spec.target_scale)
    return RoundMetrics(metrics["loss"], metrics.get("accuracy"), metrics)
