"""A model crosses a Flower link as its canonical bytes in one array: few Flower objects whatever its number of
tensors, unpacked for the ClientApp's mods and handlers, and replies leave without their arrays."""

import time
from collections import OrderedDict

import numpy as np
import pytest
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.app.metadata import Metadata
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

from opendpg.fl.flower_app.wire import INFO, MODEL, UPDATE, pack, unpack, update_info, wire_mod
from opendpg.fl.update import UpdateFormatError, decode_update, encode_update

TENSORS = OrderedDict((f"layer{i}.weight", np.full((8, 4), float(i), dtype=np.float32)) for i in range(12))


def _message(content: RecordDict, message_type: str = "train") -> Message:
    metadata = Metadata(run_id=1, message_id="m1", src_node_id=0, dst_node_id=1, reply_to_message_id="",
                        group_id="1", created_at=time.time(), ttl=3600.0, message_type=message_type)
    return Message(content=content, metadata=metadata)


def test_a_packed_model_round_trips_as_the_same_bytes():
    # Prepare
    data = encode_update(TENSORS, {"job": 1, "round": 0, "kind": "initial"})

    # Execute
    record = pack(data)

    # Assert
    assert unpack(record) == data
    assert len(record) == 1


def test_a_packed_model_is_a_few_flower_objects_whatever_its_tensors():
    # Prepare
    config = ConfigRecord({"round": 1, "job": 1})
    per_tensor = _message(RecordDict({"arrays": ArrayRecord(list(TENSORS.values())), "config": config}))
    packed = _message(RecordDict({MODEL: pack(encode_update(TENSORS)), "config": config}))

    # Execute
    objects_per_tensor = len(get_all_nested_objects(per_tensor))
    objects_packed = len(get_all_nested_objects(packed))

    # Assert: message, record dict, array record, array, its chunk, config record
    assert objects_packed == 6
    assert objects_per_tensor == 4 + 2 * len(TENSORS)


def test_unpack_refuses_a_record_that_is_not_a_packed_model():
    with pytest.raises(UpdateFormatError, match="opendpg-update"):
        unpack(ArrayRecord(list(TENSORS.values())))
    with pytest.raises(UpdateFormatError, match="opendpg-update"):
        unpack(ConfigRecord({"bytes": b"x"}))


def test_the_mod_hands_the_app_arrays_and_the_reply_leaves_without_them():
    # Prepare
    config = ConfigRecord({"round": 3, "job": 1})
    msg = _message(RecordDict({MODEL: pack(encode_update(TENSORS)), "config": config}))
    seen: dict[str, object] = {}

    def train(m: Message, _: Context) -> Message:
        seen["records"] = sorted(m.content)
        seen["arrays"] = m.content["arrays"].to_numpy_ndarrays()
        trained = [a + 1 for a in seen["arrays"]]  # type: ignore[attr-defined]
        update = encode_update(OrderedDict(zip(TENSORS, trained, strict=True)), {"round": 3})
        return Message(RecordDict({"arrays": ArrayRecord(trained), UPDATE: pack(update), INFO: update_info("0xA", 1.5),
                                   "metrics": MetricRecord({"num-examples": 10})}), reply_to=m)

    # Execute
    reply = wire_mod(msg, Context(run_id=1, node_id=1, node_config={}, state=RecordDict(), run_config={}), train)

    # Assert
    assert seen["records"] == ["arrays", "config"]
    assert all(np.array_equal(a, b) for a, b in zip(seen["arrays"], TENSORS.values(), strict=True))  # type: ignore[call-overload]
    assert sorted(reply.content) == sorted([UPDATE, INFO, "metrics"])
    assert decode_update(unpack(reply.content[UPDATE])).tensors["layer2.weight"][0, 0] == 3.0
    assert reply.content[INFO]["provider"] == "0xA"
