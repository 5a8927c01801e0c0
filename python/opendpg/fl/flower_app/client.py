"""ClientApp: train on the provider's local share; write the canonical update to the agent's outbox and
return the same bytes, so the coordinator hashes exactly what the provider pins and submits."""

from __future__ import annotations

import os
from pathlib import Path

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from opendpg.fl.data import load_dataset, partition
from opendpg.fl.models import build_model
from opendpg.fl.train import train_local
from opendpg.fl.update import encode_update
from opendpg.spec import parse_spec

app = ClientApp()


def outbox_path(outbox: str, job_id: int, round_: int) -> Path:
    return Path(outbox) / str(job_id) / f"round-{round_}.update"


@app.train()
def train(msg: Message, context: Context) -> Message:
    spec = parse_spec(str(context.run_config["spec"]))
    job_id = int(context.run_config["job-id"])
    round_ = int(msg.content["config"]["round"])
    provider = str(context.node_config["provider"])
    data = load_dataset(spec.dataset.catalog_id)
    index = partition(data.y_train, spec.dataset, int(context.node_config["share-count"]),
                      int(context.node_config["share-index"]))
    model = build_model(spec.model, data.input_shape, data.classes, seed=spec.training.seed)
    weights = msg.content["arrays"].to_numpy_ndarrays()
    named = dict(zip(model.state_dict().keys(), weights, strict=True))
    from collections import OrderedDict

    seed = spec.training.seed * 1_000_003 + round_ * 7_919 + int(context.node_config["share-index"])
    new, loss = train_local(model, OrderedDict(named), data.x_train[index], data.y_train[index], spec, seed)
    meta = {"job": job_id, "round": round_, "provider": provider, "num_examples": len(index)}
    update = encode_update(new, meta)
    path = outbox_path(str(context.node_config["outbox"]), job_id, round_)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(update)
    os.replace(tmp, path)
    content = RecordDict({
        "update": ConfigRecord({"bytes": update, "provider": provider}),
        "metrics": MetricRecord({"num-examples": len(index), "train-loss": float(loss)}),
        "arrays": ArrayRecord([v for v in new.values()]),
    })
    return Message(content=content, reply_to=msg)
