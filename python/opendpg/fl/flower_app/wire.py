"""How a model crosses a Flower link: the canonical update bytes (:mod:`opendpg.fl.update`) as one Flower array.

Flower stores and transfers every array of a message as its own object (one HTTP request per array and per
5 MiB chunk, each way), so a model sent as one array per tensor costs a request per tensor per SuperNode per
message. Packed, a model is one array (chunked only when it is large), whatever its number of tensors; and the
bytes a provider trains from and replies with are exactly those that are hashed, pinned and audited.

Inside the ClientApp, :func:`wire_mod` unpacks the global model into the usual ``arrays`` record before any other
mod sees the message (Flower's clipping and local-DP mods read it there), and takes ``arrays`` out of the reply:
a train reply carries its update in ``update`` (packed by the canonical-update mod), an evaluate reply only
metrics.
"""

from __future__ import annotations

from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.clientapp.typing import ClientAppCallable

from opendpg.fl.update import UpdateFormatError, decode_update

__all__ = ["INFO", "MODEL", "STYPE", "UPDATE", "pack", "unpack", "update_info", "wire_mod"]

MODEL = "model"  # the record holding the global model a train or evaluate message carries
UPDATE = "update"  # the record holding a train reply's canonical update
INFO = "update-info"  # the record saying whose update it is and how long it trained
STYPE = "opendpg-update"  # Flower's serialisation type for an array holding canonical update bytes
_KEY = "bytes"


def pack(data: bytes) -> ArrayRecord:
    """Canonical update bytes as a one-array record."""
    return ArrayRecord({_KEY: Array(dtype="uint8", shape=(len(data),), stype=STYPE, data=data)})


def unpack(record: object) -> bytes:
    """The canonical update bytes of a record made by :func:`pack`."""
    if not isinstance(record, ArrayRecord) or list(record) != [_KEY] or record[_KEY].stype != STYPE:
        raise UpdateFormatError(f"expected one array of type {STYPE!r}, got {record!r:.200}")
    return bytes(record[_KEY].data)


def wire_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Unpack the incoming model into ``arrays`` (tensor order of the canonical bytes); drop ``arrays`` from the
    reply. A message without a packed model passes as it is (the reply to a foreign job's message)."""
    if MODEL in msg.content:
        model = decode_update(unpack(msg.content[MODEL]))
        records = {name: record for name, record in msg.content.items() if name != MODEL}
        msg.content = RecordDict({**records, "arrays": ArrayRecord(list(model.tensors.values()))})
    reply = call_next(msg, context)
    if not reply.has_error() and "arrays" in reply.content:
        reply.content = RecordDict({name: record for name, record in reply.content.items() if name != "arrays"})
    return reply


def update_info(provider: str, train_seconds: float) -> ConfigRecord:
    """What a train reply says about its update besides the bytes."""
    return ConfigRecord({"provider": provider, "train-seconds": train_seconds})
