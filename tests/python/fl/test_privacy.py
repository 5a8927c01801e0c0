"""Client-side privacy through Flower's own mods, applied before the update is serialised and hashed:
clipping bounds the update's L2 norm; epsilon adds Gaussian noise on top."""

import time

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.app.metadata import Metadata

from opendpg.fl.flower_app.client import privacy_mod
from opendpg.spec import parse_spec

GLOBAL = [np.zeros((4, 3), dtype=np.float32), np.zeros(3, dtype=np.float32)]
TRAINED = [np.full((4, 3), 2.0, dtype=np.float32), np.full(3, 2.0, dtype=np.float32)]  # update norm 2*sqrt(15)


def _run(privacy):
    spec = parse_spec({"name": "p", "model": {"name": "mlp"},
                       "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"},
                       "training": {"rounds": 1}, "providers": {"min": 1, "max": 1}, "privacy": privacy})
    # a train message as a SuperNode hands it to the ClientApp
    metadata = Metadata(run_id=1, message_id="m1", src_node_id=0, dst_node_id=1, reply_to_message_id="",
                        group_id="1", created_at=time.time(), ttl=3600.0, message_type="train")
    msg = Message(content=RecordDict({"arrays": ArrayRecord(GLOBAL), "config": ConfigRecord({"round": 1, "job": 1})}),
                  metadata=metadata)
    context = Context(run_id=1, node_id=1, node_config={}, state=RecordDict(),
                      run_config={"spec": spec.to_bytes().decode(), "job-id": 1})

    def train(m, c):
        return Message(RecordDict({"arrays": ArrayRecord(TRAINED), "metrics": MetricRecord({"num-examples": 10})}),
                       reply_to=m)

    reply = privacy_mod(msg, context, train)
    assert not reply.has_error()
    return reply.content["arrays"].to_numpy_ndarrays()


def _norm(arrays):
    return float(np.sqrt(sum(float(np.sum((a - g) ** 2)) for a, g in zip(arrays, GLOBAL, strict=True))))


def test_no_privacy_leaves_the_update_alone():
    assert _norm(_run({})) == _norm(TRAINED)


def test_clipping_bounds_the_update_norm():
    clipped = _run({"clipping_norm": 1.0})
    assert abs(_norm(clipped) - 1.0) < 1e-5
    # the direction is kept: every coordinate scaled by the same factor
    assert np.allclose(clipped[0] / clipped[0].flat[0], 1.0)


def test_epsilon_adds_noise_after_clipping():
    noisy = _run({"clipping_norm": 1.0, "epsilon": 1.0, "delta": 1e-5})
    flat = np.concatenate([a.ravel() for a in noisy])
    assert not np.allclose(flat, flat[0])  # no longer a uniform scaling: noise was added
    assert _norm(noisy) > 1.0
