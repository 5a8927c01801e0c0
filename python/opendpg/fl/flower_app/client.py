"""ClientApp: train on the provider's own records (its files at ``node_config["data-path"]``, or its slice of a
bundled set in a simulation); write the canonical update to the agent's outbox and return the same bytes, so
the coordinator hashes exactly what the provider pins and submits. Evaluate messages score a global model on the
provider's validation split; only the metrics leave.

Mods, outermost first: ``wire_mod`` (the global model arrives as its canonical bytes in one Flower array and is
unpacked into ``arrays``; replies leave without ``arrays``: see :mod:`opendpg.fl.flower_app.wire`) around
``canonical_update_mod`` (serialise the final arrays, write the outbox, attach the bytes to ``update-info``) around
``privacy_mod`` (the spec's client-side privacy through Flower's own mods: ``fixedclipping_mod`` for clipping,
``LocalDpMod`` for clipping plus Gaussian noise) around ``train``. So what is hashed on-chain is the update after
clipping and noise.

Each job's spec, records and model are kept between messages (a warm worker runs many messages in one
process: see :mod:`opendpg.fl.worker`). :func:`prepare` loads them before the first message, when the SuperNode is
given the job's spec at start.

The update and privacy mods act on train messages only. A SuperNode serves one job (``node_config["job-id"]``); a
message from another job's run on the same SuperLink is answered with ``wrong-job`` so that run's ServerApp stops
addressing this node.
"""

from __future__ import annotations

import functools
import logging
import time
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.clientapp.mod import LocalDpMod, fixedclipping_mod
from flwr.clientapp.typing import ClientAppCallable
from torch import nn

from opendpg.files import write_atomic
from opendpg.fl.data import ProviderData, input_of, provider_data, text_encoder
from opendpg.fl.flower_app.wire import INFO, UPDATE, attach, update_info, wire_mod
from opendpg.fl.models import build_model, weight_shapes
from opendpg.fl.train import evaluate, train_local
from opendpg.fl.update import encode_update
from opendpg.spec import JobSpec, parse_spec

__all__ = ["app", "outbox_path", "prepare"]

log = logging.getLogger("opendpg.fl.client")

CLIPPING_NORM_KEY = "clipping_norm"  # the key Flower's fixedclipping_mod reads from the ConfigRecord


def _job(context: Context) -> tuple[JobSpec, nn.Module]:
    return _job_of(str(context.run_config["spec"]), context.node_config)


def _job_of(spec_text: str, node: Mapping[str, Any]) -> tuple[JobSpec, nn.Module]:
    """A job's spec and its model, on its base model's files when it names one (``node["base-model-path"]``,
    fetched and checked by the agent)."""
    return _built(spec_text, str(node.get("base-model-path", "")))


@functools.lru_cache(maxsize=4)
def _built(spec_text: str, base: str) -> tuple[JobSpec, nn.Module]:
    """A job's spec and its model (built once; every message loads the weights it carries)."""
    spec = parse_spec(spec_text)
    return spec, build_model(spec.model, *input_of(spec.dataset, spec.model), seed=spec.training.seed,
                             base=Path(base) if base else None)


@functools.lru_cache(maxsize=4)
def _records(spec_text: str, path: str, drop_bad_rows: bool, share_index: int, share_count: int,
             base: str) -> ProviderData:
    """This provider's records for a job, read and checked once (a text model's texts through its base model's
    tokenizer)."""
    spec = parse_spec(spec_text)
    encode_text = text_encoder(spec.dataset, spec.model, Path(base) if base else None)
    data = provider_data(spec.dataset, path=path, drop_bad_rows=drop_bad_rows, share_index=share_index,
                         share_count=share_count, encode_text=encode_text)
    log.info("read this provider's records for the job: %d training, %d validation", len(data.y_train),
             len(data.y_val))
    return data


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
    if msg.metadata.message_type != "train":
        return call_next(msg, context)
    started = time.monotonic()
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    trained = time.monotonic() - started
    job_id = int(context.run_config["job-id"])
    round_ = int(msg.content["config"]["round"])
    provider = str(context.node_config["provider"])
    _, model = _job(context)
    arrays = reply.content["arrays"].to_numpy_ndarrays()
    new = OrderedDict(zip(weight_shapes(model), arrays, strict=True))
    num_examples = int(reply.content["metrics"]["num-examples"])
    meta = {"job": job_id, "round": round_, "provider": provider, "num_examples": num_examples}
    update = encode_update(new, meta)
    # the agent submits it from the outbox, even if this reply never reaches the server
    write_atomic(outbox_path(str(context.node_config["outbox"]), job_id, round_), update)
    reply.content[INFO] = update_info(provider, trained)
    attach(reply.content, INFO, UPDATE, update)
    return reply


def privacy_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    privacy = _job(context)[0].privacy
    if privacy.clipping_norm is None or msg.metadata.message_type != "train":
        return call_next(msg, context)
    if privacy.epsilon is not None:
        local_dp = LocalDpMod(privacy.clipping_norm, sensitivity=privacy.clipping_norm, epsilon=privacy.epsilon,
                              delta=privacy.delta)
        return local_dp(msg, context, call_next)
    config = msg.content["config"]
    assert isinstance(config, ConfigRecord)
    config[CLIPPING_NORM_KEY] = privacy.clipping_norm
    return fixedclipping_mod(msg, context, call_next)


app = ClientApp(mods=[wire_mod, canonical_update_mod, privacy_mod])


def _data(context: Context) -> ProviderData:
    return _data_of(str(context.run_config["spec"]), context.node_config)


def _data_of(spec_text: str, node: Mapping[str, Any]) -> ProviderData:
    return _records(spec_text, str(node.get("data-path", "")), bool(node.get("drop-bad-rows", False)),
                    int(node.get("share-index", 0)), int(node.get("share-count", 1)),
                    str(node.get("base-model-path", "")))


def prepare(spec_text: str, node_config: Mapping[str, Any]) -> None:
    """Build the job's model and read this provider's records now, as the job's first message would: a message
    whose run carries the same spec text (the coordinator's run and the agent both use ``JobSpec.to_bytes``) and
    this node config then finds both loaded."""
    _job_of(spec_text, node_config)
    _data_of(spec_text, node_config)


@app.train()
def train(msg: Message, context: Context) -> Message:
    spec, model = _job(context)
    round_ = int(msg.content["config"]["round"])
    data = _data(context)
    weights = msg.content["arrays"].to_numpy_ndarrays()
    named = OrderedDict(zip(weight_shapes(model), weights, strict=True))
    provider = str(context.node_config["provider"])  # each provider shuffles (and draws DP noise) its own way
    seed = spec.training.seed * 1_000_003 + round_ * 7_919 + zlib.crc32(provider.lower().encode())
    dp_seed = context.node_config.get("dp-seed")  # a test's fixed secret; else DP-SGD draws fresh randomness
    new, loss = train_local(model, named, data.x_train, data.y_train, spec, seed,
                            dp_seed=None if dp_seed is None else int(dp_seed))
    content = RecordDict({
        "arrays": ArrayRecord([v for v in new.values()]),
        "metrics": MetricRecord({"num-examples": len(data.y_train), "train-loss": float(loss)}),
    })
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate_global(msg: Message, context: Context) -> Message:
    """The global model's metrics on this provider's validation split (weighted by ``num-examples`` when the
    ServerApp aggregates them)."""
    if (foreign := _wrong_job(msg, context)) is not None:
        return foreign
    spec, model = _job(context)
    data = _data(context)
    named = OrderedDict(zip(weight_shapes(model), msg.content["arrays"].to_numpy_ndarrays(), strict=True))
    metrics = evaluate(model, named, data.x_val, data.y_val, spec.task, spec.target_scale)
    metrics["num-examples"] = metrics.pop("examples")
    return Message(RecordDict({"metrics": MetricRecord(metrics)}), reply_to=msg)
