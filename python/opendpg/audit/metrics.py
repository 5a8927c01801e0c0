"""Anyone's own evaluation of a committed global model: the spec's model rebuilt, loaded with the committed
weights, and evaluated on the public held-out split of the spec's dataset. It does not trust the coordinator's
reported numbers: the model comes from IPFS by its on-chain CID (the store checks it against the CID)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from opendpg.spec import JobSpec

__all__ = ["RoundMetrics", "evaluate_global"]


@dataclass(frozen=True)
class RoundMetrics:
    loss: float
    accuracy: float


def evaluate_global(spec: JobSpec, model: bytes) -> RoundMetrics:
    """Loss and accuracy of ``model`` (canonical update bytes) on the held-out split of the spec's dataset.
    Raises ``UpdateFormatError`` when the bytes do not fit the spec's model."""
    from opendpg.fl.data import SHAPES, load_dataset  # torch: imported only where evaluation happens
    from opendpg.fl.models import build_model, get_weights, weight_shapes
    from opendpg.fl.train import evaluate
    from opendpg.fl.update import decode_update

    shape, classes = SHAPES[spec.dataset.catalog_id]
    network = build_model(spec.model, shape, classes, seed=spec.training.seed)
    update = decode_update(model)
    update.check_shapes(weight_shapes(network))
    weights = OrderedDict(zip(get_weights(network).keys(), update.tensors.values(), strict=True))
    held_out = load_dataset(spec.dataset.catalog_id)
    loss, accuracy = evaluate(network, weights, held_out.x_test, held_out.y_test)
    return RoundMetrics(float(loss), float(accuracy))
