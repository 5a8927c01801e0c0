"""How a model crosses a Flower link: the canonical update bytes (:mod:`opendpg.fl.update`), in as few Flower
objects as their size allows.

Flower stores and transfers every record, array and 5 MiB array chunk of a message as its own object, one HTTP
request each, each way, per SuperNode and message. A model sent as one array per tensor costs a request per
tensor; packed here it costs none of its own when it fits one object (at most Flower's array chunk size: the
bytes go into the message's own config record) and one array, chunked by Flower, when larger. Either way the
bytes a provider trains from and replies with are exactly those that are hashed, pinned and audited.

- :func:`attach` puts the bytes under a name into a message's content, inside one of its config records (small)
  or as a one-array record of their own (large); :func:`detach` takes them back out of a received message.
- Inside the ClientApp, :func:`wire_mod` unpacks the global model into the usual ``arrays`` record before any
  other mod sees the message (Flower's clipping and local-DP mods read it there), and takes ``arrays`` out of
  the reply: a train reply carries its update in ``update-info`` (attached by the canonical-update mod), an
  evaluate reply only metrics.
"""

from __future__ import annotations

from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.clientapp.typing import ClientAppCallable
from flwr.common.constant import FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE

from opendpg.fl.update import UpdateFormatError, decode_update

__all__ = ["CONFIG", "INFO", "INLINE_MAX", "MODEL", "STYPE", "UPDATE", "attach", "detach", "update_info", "wire_mod"]

CONFIG = "config"  # a train or evaluate message's config record (round, job; the model when small)
MODEL = "model"  # the name of the global model a train or evaluate message carries
INFO = "update-info"  # a train reply's record: whose update it is, how long it trained (the update when small)
UPDATE = "update"  # the name of a train reply's canonical update
STYPE = "opendpg-update"  # Flower's serialisation type for an array holding canonical update bytes
#: bytes up to which a model travels inside its message's config record (one Flower object, like one chunk)
INLINE_MAX = FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE
_KEY = "bytes"


def attach(content: RecordDict, config_name: str, name: str, data: bytes) -> None:
    """Put ``data`` under ``name`` into ``content``: inside its config record ``config_name`` if it fits one Flower
    object, else as a one-array record of its own (chunked by Flower)."""
    config = content[config_name]
    if not isinstance(config, ConfigRecord):
        raise TypeError(f"{config_name}: expected a ConfigRecord, got {type(config).__name__}")
    if len(data) <= INLINE_MAX:
        config[name] = data
    else:
        content[name] = ArrayRecord({_KEY: Array(dtype="uint8", shape=(len(data),), stype=STYPE, data=data)})


def detach(content: RecordDict, config_name: str, name: str) -> bytes:
    """The bytes :func:`attach` put under ``name`` (in the config record ``config_name`` or as a record of its
    own), removed from the config record so that what remains is the plain config."""
    config = content.get(config_name)
    if isinstance(config, ConfigRecord) and name in config:
        value = config.pop(name)
        if not isinstance(value, bytes):
            raise UpdateFormatError(f"{config_name}.{name}: expected bytes, got {type(value).__name__}")
        return value
    record = content.get(name)
    if not isinstance(record, ArrayRecord) or list(record) != [_KEY] or record[_KEY].stype != STYPE:
        raise UpdateFormatError(f"{name}: expected canonical update bytes (in {config_name!r} or one array of type "
                                f"{STYPE!r}), got {record!r:.200}")
    return bytes(record[_KEY].data)


def _carries_model(content: RecordDict) -> bool:
    config = content.get(CONFIG)
    return MODEL in content or (isinstance(config, ConfigRecord) and MODEL in config)


def wire_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Unpack the incoming model into ``arrays`` (tensor order of the canonical bytes); drop ``arrays`` from the
    reply. A message without a model passes as it is (the reply to a foreign job's message)."""
    if _carries_model(msg.content):
        model = decode_update(detach(msg.content, CONFIG, MODEL))
        records = {name: record for name, record in msg.content.items() if name != MODEL}
        msg.content = RecordDict({**records, "arrays": ArrayRecord(list(model.tensors.values()))})
    reply = call_next(msg, context)
    if not reply.has_error() and "arrays" in reply.content:
        reply.content = RecordDict({name: record for name, record in reply.content.items() if name != "arrays"})
    return reply


def update_info(provider: str, train_seconds: float) -> ConfigRecord:
    """What a train reply says about its update besides the bytes."""
    return ConfigRecord({"provider": provider, "train-seconds": train_seconds})
