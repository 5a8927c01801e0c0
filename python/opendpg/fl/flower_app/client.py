"""ClientApp: train on the provider's local share; write the canonical update to the agent's outbox and
return the same bytes, so the coordinator hashes exactly what the provider pins and submits.

Mods, outermost first: ``canonical_update_mod`` (serialise the final arrays, write the outbox, attach the
bytes) around ``privacy_mod`` (the spec's client-side privacy through Flower's own mods: ``fixedclipping_mod``
for clipping, ``LocalDpMod`` for clipping plus Gaussian noise) around ``train``. So what is hashed on-chain is
the update after clipping and noise.

A SuperNode serves one job (``node_config["job-id"]``); a message from another job's run on the same
SuperLink is answered with ``wrong-job`` so that run's ServerApp stops addressing this node.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.clientapp.mod import LocalDpMod, fixedclipping_mod
from flwr.clientapp.typing import ClientAppCallable

from opendpg.files import write_atomic
from opendpg.fl.data import SHAPES, load_dataset, partition
from opendpg.fl.models import build_model
from opendpg.fl.train import train_local
from opendpg.fl.update import encode_update
from opendpg.spec import parse_spec

__all__ = ["app", "outbox_path"]

CLIPPING_NORM_KEY = "clipping_norm"  # the key Flower's fixedclipping_mod reads from the ConfigRecord


def outbox_path(outbox: str, job_id: int, round_: int) -> Path:
    return Path(outbox) / str(job_id) / f"round-{round_}.update"


def _wrong_job(msg: Message, context: Context) -> Message | None:
    node_job = int(context.node_config.get("job-id", -1))
    run_job = int(context.run_config["job-id"])
    if node_job in (-1, run_job):
        return None
    return Message(RecordDict({"wrong-job": ConfigRecord({"node-job": node_job, "run-job": run_job})}),
                   reply_to=msg)


def canonical_update_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    if (foreign := _wrong_job(msg, context)) is not None:
        return foreign
    started = time.monotonic()
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    trained = time.monotonic() - started
    spec = parse_spec(str(context.run_config["spec"]))
    job_id = int(context.run_config["job-id"])
    round_ = int(msg.content["config"]["round"])
    provider = str(context.node_config["provider"])
    model = build_model(spec.model, *SHAPES[spec.dataset.catalog_id])
    arrays = reply.content["arrays"].to_numpy_ndarrays()
    new = OrderedDict(zip(model.state_dict().keys(), arrays, strict=True))
    num_examples = int(reply.content["metrics"]["num-examples"])
    meta = {"job": job_id, "round": round_, "provider": provider, "num_examples": num_examples}
    update = encode_update(new, meta)
    # the agent submits it from the outbox, even if this reply never reaches the server
    write_atomic(outbox_path(str(context.node_config["outbox"]), job_id, round_), update)
    reply.content["update"] = ConfigRecord({"bytes": update, "provider": provider, "train-seconds": trained})
    return reply


def privacy_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    privacy = parse_spec(str(context.run_config["spec"])).privacy
    if privacy.clipping_norm is None:
        return call_next(msg, context)
    if privacy.epsilon is not None:
        local_dp = LocalDpMod(privacy.clipping_norm, sensitivity=privacy.clipping_norm, epsilon=privacy.epsilon,
                              delta=privacy.delta)
        return local_dp(msg, context, call_next)
    config = msg.content["config"]
    assert isinstance(config, ConfigRecord)
    config[CLIPPING_NORM_KEY] = privacy.clipping_norm
    return fixedclipping_mod(msg, context, call_next)


app = ClientApp(mods=[canonical_update_mod, privacy_mod])


@app.train()
def train(msg: Message, context: Context) -> Message:
    spec = parse_spec(str(context.run_config["spec"]))
    round_ = int(msg.content["config"]["round"])
    data = load_dataset(spec.dataset.catalog_id)
    share = int(context.node_config["share-index"])
    index = partition(data.y_train, spec.dataset, int(context.node_config["share-count"]), share)
    model = build_model(spec.model, data.input_shape, data.classes, seed=spec.training.seed)
    weights = msg.content["arrays"].to_numpy_ndarrays()
    named = OrderedDict(zip(model.state_dict().keys(), weights, strict=True))
    seed = spec.training.seed * 1_000_003 + round_ * 7_919 + share
    new, loss = train_local(model, named, data.x_train[index], data.y_train[index], spec, seed)
    content = RecordDict({
        "arrays": ArrayRecord([v for v in new.values()]),
        "metrics": MetricRecord({"num-examples": len(index), "train-loss": float(loss)}),
    })
    return Message(content=content, reply_to=msg)
