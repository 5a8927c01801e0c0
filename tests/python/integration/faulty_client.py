"""A ClientApp for fault tests: OpenDPG's own, plus a mod around its update mod that, on nodes whose node config has
``corrupt-shape = true``, replaces the update with one whose first tensor lost a row (re-written to the
outbox too, so the provider really pins it and puts its hash on-chain)."""

from __future__ import annotations

from collections import OrderedDict

from flwr.app import Context, Message
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable

from opendpg.fl.flower_app.client import canonical_update_mod, outbox_path, privacy_mod, train
from opendpg.fl.flower_app.wire import INFO, UPDATE, attach, detach, wire_mod
from opendpg.fl.update import decode_update, encode_update


def corrupt_shape_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    reply = call_next(msg, context)
    if not context.node_config.get("corrupt-shape") or reply.has_error() or INFO not in reply.content:
        return reply
    update = decode_update(detach(reply.content, INFO, UPDATE))
    tensors = OrderedDict(update.tensors)
    first = next(iter(tensors))
    tensors[first] = tensors[first][:-1]
    bad = encode_update(tensors, update.meta)
    path = outbox_path(str(context.node_config["outbox"]), int(update.meta["job"]), int(update.meta["round"]))
    path.write_bytes(bad)
    attach(reply.content, INFO, UPDATE, bad)
    return reply


app = ClientApp(mods=[wire_mod, corrupt_shape_mod, canonical_update_mod, privacy_mod])
app.train()(train)
