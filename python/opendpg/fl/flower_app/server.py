"""ServerApp: each round, send the global model (its canonical bytes as one Flower array: see
:mod:`opendpg.fl.flower_app.wire`) to every connected SuperNode of the job (with admission, only the
nodes the gate lists, and a reply counts only for the provider its node was admitted as), take back the canonical
update bytes, let the gate vet them (the coordinator checks them against the hashes on-chain), aggregate
deterministically, have the providers evaluate the new model on their validation splits (Flower evaluate
messages; metrics weighted by examples, prefixed ``federated_``), evaluate it on the poster's held-out set when
the job has one (run config ``held-out-path``; a simulation's bundled test split), and hand the round to the
gate. No provider's records are read here. A reply the gate refuses is
replaced by what the gate fetches for that provider, if anything (the update it really submitted). A round with
no acceptable update keeps the global model as it was and hands it to the gate with nothing used."""

from __future__ import annotations

import json
import time
from collections import Counter, OrderedDict
from pathlib import Path

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.common.constant import ErrorCode
from flwr.serverapp import Grid, ServerApp

from opendpg.fl.aggregate import Contribution, aggregate, weighted_metrics
from opendpg.fl.data import held_out_records, input_of, text_encoder
from opendpg.fl.flower_app.wire import CONFIG, INFO, MODEL, UPDATE, attach, detach
from opendpg.fl.gate import RoundGate, load_gate
from opendpg.fl.models import build_model, get_weights, weight_shapes
from opendpg.fl.train import evaluate
from opendpg.fl.update import UpdateFormatError, decode_update, encode_update
from opendpg.spec import parse_spec

app = ServerApp()
FETCH_INTERVAL = 3.0  # seconds between asking the gate for updates whose Flower reply has not come
#: times a round's train message is sent again to a node whose ClientApp crashed running it (a worker that dies on
#: every try, say out of memory on its data, does not hold the round until its deadline)
CRASH_RESENDS = 2


def _job_nodes(grid: Grid, foreign: set[int], gate: RoundGate) -> set[int]:
    """The connected SuperNodes of this job: the admitted ones, or (no admission) all but other jobs' nodes."""
    online = set(grid.get_node_ids()) - foreign
    admitted = gate.nodes()
    return online if admitted is None else online & admitted.keys()


def _with_model(model: bytes, round_: int, job_id: int) -> RecordDict:
    """A train or evaluate message's content: its config (round, job) and the global model (see :func:`attach`);
    the same for every node, so Flower stores it once."""
    content = RecordDict({CONFIG: ConfigRecord({"round": round_, "job": job_id})})
    attach(content, CONFIG, MODEL, model)
    return content


def _wait_for_nodes(grid: Grid, wanted: int, timeout: float, foreign: set[int], gate: RoundGate,
                    poll: float) -> set[int]:
    deadline = time.monotonic() + timeout
    while True:
        nodes = _job_nodes(grid, foreign, gate)
        if len(nodes) >= wanted or time.monotonic() > deadline:
            return nodes
        time.sleep(poll)


def _collect(grid: Grid, model: bytes, round_: int, job_id: int, timeout: float, foreign: set[int],
             expected: set[str] | None, gate: RoundGate,
             poll: float) -> tuple[dict[str, bytes], dict[str, float], set[int]]:
    """One round's updates by provider. The train message goes to every node of this job, including nodes
    that connect during the round, again to a node that went offline before answering and came back (a
    SuperNode restarted mid-round keeps its node ID and lost the message), and again, up to
    :data:`CRASH_RESENDS` times, to a node answering that its ClientApp crashed (its worker died and was restarted;
    Flower answers so too when a task's heartbeat lapses); the round ends when every expected
    provider (or, with none expected, every addressed node) answered, or at ``timeout``. An expected provider whose
    reply does not come is asked of the gate every few seconds (its update by the CID it put on-chain), so a reply
    lost between SuperNode and SuperLink does not cost the provider the round. Also returns each provider's
    reported training seconds and the nodes addressed."""
    deadline = time.monotonic() + timeout
    pending: dict[str, int] = {}
    addressed: set[int] = set()
    went_offline: set[int] = set()  # awaited a reply and was seen offline: sent the round again once back
    crashed: Counter[int] = Counter()  # answered "ClientApp crashed": sent the round again
    retry: set[int] = set()
    updates: dict[str, bytes] = {}
    train_seconds: dict[str, float] = {}
    fetched_at = time.monotonic()
    while True:
        online = _job_nodes(grid, foreign, gate)
        went_offline |= set(pending.values()) - online
        new = sorted((online - addressed) | (online & (went_offline | retry)))
        if new:
            messages = [Message(_with_model(model, round_, job_id), dst_node_id=node, message_type="train",
                                group_id=str(round_)) for node in new]
            for message_id in [m for m, n in pending.items() if n in new]:
                del pending[message_id]  # its node restarted (a SuperNode keeps its node ID) and lost it
            pending.update(zip(grid.push_messages(messages), new, strict=True))
            addressed.update(new)
            went_offline -= set(new)
            retry -= set(new)
        for reply in grid.pull_messages(list(pending)):
            node = pending.pop(reply.metadata.reply_to_message_id, None)
            if reply.has_error():
                if node is None:
                    continue
                if reply.error.code == ErrorCode.NODE_UNAVAILABLE:  # the SuperLink's answer for a node gone offline
                    went_offline.add(node)
                elif reply.error.code == ErrorCode.CLIENT_APP_CRASHED and crashed[node] < CRASH_RESENDS:
                    crashed[node] += 1
                    retry.add(node)
                continue
            if "wrong-job" in reply.content:
                foreign.add(reply.metadata.src_node_id)
                continue
            info = reply.content.get(INFO)
            if not isinstance(info, ConfigRecord) or "provider" not in info:
                continue  # not an answer to a train message: the gate may still fetch what the provider submitted
            provider = str(info["provider"])
            admitted = gate.nodes()
            if admitted is not None and admitted.get(reply.metadata.src_node_id, "").lower() != provider.lower():
                continue  # a node answering for a provider it was not admitted as
            if provider not in updates:  # one per provider
                try:
                    updates[provider] = detach(reply.content, INFO, UPDATE)
                except UpdateFormatError:
                    continue
                train_seconds[provider] = float(info.get("train-seconds", 0.0))
        if expected is not None and time.monotonic() - fetched_at >= FETCH_INTERVAL:
            fetched_at = time.monotonic()
            for provider in sorted(expected - set(updates)):
                data = gate.fetch(provider, round_)
                if data is not None:
                    updates[provider] = data
        done = expected <= set(updates) if expected is not None else not (pending or retry)
        if done or time.monotonic() > deadline:
            return updates, train_seconds, addressed - foreign
        time.sleep(poll)


def _federated_evaluation(grid: Grid, model: bytes, round_: int, job_id: int, nodes: set[int],
                          timeout: float, poll: float) -> dict[str, float]:
    """The providers' metrics of the global model on their validation splits, weighted by their examples; what
    answered within ``timeout`` (a provider that does not answer only leaves its metrics out)."""
    messages = [Message(_with_model(model, round_, job_id), dst_node_id=node, message_type="evaluate",
                        group_id=f"{round_}-eval") for node in sorted(nodes)]
    pending = set(grid.push_messages(messages)) if messages else set()
    deadline = time.monotonic() + timeout
    results: list[dict[str, float]] = []
    while pending and time.monotonic() < deadline:
        for reply in grid.pull_messages(list(pending)):
            pending.discard(reply.metadata.reply_to_message_id)
            if not reply.has_error() and "metrics" in reply.content:
                results.append({k: float(v) for k, v in reply.content["metrics"].items()})  # type: ignore[arg-type]
        if pending:
            time.sleep(poll)
    return {f"federated_{k}": v for k, v in weighted_metrics(results).items()}


def _vet(provider: str, data: bytes, round_: int, job_id: int, expected: dict[str, tuple[int, ...]],
         gate: RoundGate) -> tuple[Contribution | None, str]:
    """The update as a contribution, or None and why it is refused."""
    try:
        update = decode_update(data)
        update.check_shapes(expected)
    except UpdateFormatError as exc:
        return None, str(exc)
    if update.meta.get("round") != round_ or update.meta.get("job") != job_id:
        return None, "update is for another job or round"
    if not gate.accept(provider, round_, data):
        return None, "refused by the gate (names another provider, hash not submitted by it, or provider not active)"
    return Contribution(provider, int(update.meta["num_examples"]), update.tensors), ""


@app.main()
def main(grid: Grid, context: Context) -> None:
    config = dict(context.run_config)
    poll = float(config.get("poll-interval", 0.05))  # seconds between looks for replies and new SuperNodes
    spec = parse_spec(str(config["spec"]))
    job_id = int(config["job-id"])
    out_dir = Path(str(config["out-dir"]))
    out_dir.mkdir(parents=True, exist_ok=True)
    gate = load_gate(str(config.get("gate", "")), config)
    base = str(config.get("base-model-path", ""))  # the job's base model files, fetched and checked by the caller
    model = build_model(spec.model, *input_of(spec.dataset, spec.model), seed=spec.training.seed,
                        base=Path(base) if base else None)
    expected = weight_shapes(model)
    weights = get_weights(model)
    done, last_global = gate.resume()
    if last_global is not None:  # a restarted coordinator: continue from the last committed global model
        weights = OrderedDict(zip(weights.keys(), decode_update(last_global).tensors.values(), strict=True))
    current = last_global or encode_update(weights, {"job": job_id, "round": 0, "kind": "initial"})
    held_out_path = str(config.get("held-out-path", ""))
    held_out = held_out_records(spec.dataset, Path(held_out_path).read_bytes() if held_out_path else None,
                                text_encoder(spec.dataset, spec.model, Path(base) if base else None))
    eval_timeout = float(config.get("eval-timeout", 60.0))
    foreign: set[int] = set()  # SuperNodes of other jobs on the same SuperLink

    for round_ in range(done + 1, spec.training.rounds + 1):
        started = time.monotonic()
        expected_providers = gate.expected()
        if expected_providers is not None and len(expected_providers) < spec.providers.min:
            (out_dir / "stopped.json").write_text(json.dumps({"round": round_, "active": sorted(expected_providers),
                                                              "reason": "fewer active providers than the minimum"}))
            return  # the job cannot go on; the coordinator finalizes it with the rounds committed so far
        _wait_for_nodes(grid, spec.providers.min, float(config["min-nodes-wait"]), foreign, gate, poll)
        connected = time.monotonic()
        replies, train_seconds, nodes = _collect(grid, current, round_, job_id, float(config["round-timeout"]), foreign,
                                          expected_providers, gate, poll)
        trained = time.monotonic()
        accepted: dict[str, Contribution] = {}
        rejected: dict[str, str] = {}
        for provider, data in replies.items():
            contribution, reason = _vet(provider, data, round_, job_id, expected, gate)
            if contribution is None:
                fetched = gate.fetch(provider, round_)  # the update it submitted, if the reply was not it
                if fetched is not None and fetched != data:
                    contribution, reason = _vet(provider, fetched, round_, job_id, expected, gate)
            if contribution is None:
                rejected[provider] = reason
            else:
                accepted[provider] = contribution
        vetted = time.monotonic()
        contributions = [accepted[p] for p in sorted(accepted, key=str.lower)]
        if contributions:
            weights = aggregate(contributions, spec.strategy.name, trim_beta=spec.strategy.trim_beta,
                                num_malicious=spec.strategy.num_malicious)
        used = sorted(accepted, key=str.lower)
        global_model = encode_update(weights, {"job": job_id, "round": round_, "kind": "global", "used": used,
                                               "rule": spec.strategy.name})
        aggregated = time.monotonic()
        metrics = _federated_evaluation(grid, global_model, round_, job_id, nodes,
                                        eval_timeout, poll)
        if held_out is not None:
            metrics.update(evaluate(model, OrderedDict(weights), held_out[0], held_out[1], spec.task,
                                    spec.target_scale))
        evaluated = time.monotonic()
        gate.commit(round_, global_model, used, metrics)
        current = global_model
        committed = time.monotonic()
        timing = {"seconds": committed - started, "waiting_for_nodes": connected - started,
                  "flower_and_training": trained - connected,
                  "client_training_max": max(train_seconds.values(), default=0.0),
                  "vetting": vetted - trained, "aggregation": aggregated - vetted, "evaluation": evaluated - aggregated,
                  "commit": committed - evaluated}
        (out_dir / f"round-{round_}.global").write_bytes(global_model)
        (out_dir / f"round-{round_}.json").write_text(json.dumps({"round": round_, "used": used, "rejected": rejected,
                                                                  "metrics": metrics, "timing": timing}))
