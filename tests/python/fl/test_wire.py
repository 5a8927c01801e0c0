"""A model crosses a Flower link as its canonical bytes: inside the message's config record when it fits one
Flower object, else as one (chunked) array; unpacked for the ClientApp's mods and handlers; replies leave without
their arrays."""

import time
from collections import OrderedDict

import numpy as np
import pytest
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.app.metadata import Metadata
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

from opendpg.fl.flower_app import wire
from opendpg.fl.flower_app.wire import CONFIG, INFO, MODEL, UPDATE, attach, detach, update_info, wire_mod
from opendpg.fl.update import UpdateFormatError, decode_update, encode_update

TENSORS = OrderedDict((f"layer{i}.weight", np.full((8, 4), float(i), dtype=np.float32)) for i in range(12))


def _message(content: RecordDict, message_type: str = "train") -> Message:
    metadata = Metadata(run_id=1, message_id="m1", src_node_id=0, dst_node_id=1, reply_to_message_id="",
                        group_id="1", created_at=time.time(), ttl=3600.0, message_type=message_type)
    return Message(content=content, metadata=metadata)


def _with_model(data: bytes) -> RecordDict:
    content = RecordDict({CONFIG: ConfigRecord({"round": 3, "job": 1})})
    attach(content, CONFIG, MODEL, data)
    return content


def test_a_small_model_travels_inside_the_config_record_and_comes_back_as_the_same_bytes():
    # Prepare
    data = encode_update(TENSORS, {"job": 1, "round": 0, "kind": "initial"})

    # Execute
    content = _with_model(data)
    back = detach(content, CONFIG, MODEL)

    # Assert
    assert list(content) == [CONFIG]
    assert back == data
    assert dict(content[CONFIG]) == {"round": 3, "job": 1}  # what remains is the plain config


def test_a_model_larger_than_one_object_travels_as_one_array(monkeypatch):
    # Prepare
    data = encode_update(TENSORS)
    monkeypatch.setattr(wire, "INLINE_MAX", len(data) - 1)

    # Execute
    content = _with_model(data)

    # Assert
    assert sorted(content) == [CONFIG, MODEL]
    assert MODEL not in content[CONFIG]
    assert detach(content, CONFIG, MODEL) == data


def test_a_message_with_a_model_is_three_flower_objects_whatever_its_tensors():
    # Prepare
    config = ConfigRecord({"round": 1, "job": 1})
    per_tensor = _message(RecordDict({"arrays": ArrayRecord(list(TENSORS.values())), "config": config}))
    packed = _message(_with_model(encode_update(TENSORS)))

    # Execute
    objects_per_tensor = len(get_all_nested_objects(per_tensor))
    objects_packed = len(get_all_nested_objects(packed))

    # Assert: the message, its record dict, the config record holding the model
    assert objects_packed == 3
    assert objects_per_tensor == 4 + 2 * len(TENSORS)


def test_detach_refuses_anything_but_canonical_bytes():
    with pytest.raises(UpdateFormatError, match="opendpg-update"):
        detach(RecordDict({MODEL: ArrayRecord(list(TENSORS.values()))}), CONFIG, MODEL)
    with pytest.raises(UpdateFormatError, match="opendpg-update"):
        detach(RecordDict({CONFIG: ConfigRecord({"round": 1})}), CONFIG, MODEL)
    with pytest.raises(UpdateFormatError, match=r"config\.model: expected bytes, got str"):
        detach(RecordDict({CONFIG: ConfigRecord({MODEL: "not bytes"})}), CONFIG, MODEL)


@pytest.mark.parametrize("inline", [True, False])
def test_the_mod_hands_the_app_arrays_and_the_reply_leaves_without_them(monkeypatch, inline):
    # Prepare
    if not inline:
        monkeypatch.setattr(wire, "INLINE_MAX", 0)
    msg = _message(_with_model(encode_update(TENSORS)))
    seen: dict[str, object] = {}

    def train(m: Message, _: Context) -> Message:
        seen["records"] = sorted(m.content)
        seen["config"] = dict(m.content[CONFIG])
        seen["arrays"] = m.content["arrays"].to_numpy_ndarrays()
        trained = [a + 1 for a in seen["arrays"]]  # type: ignore[attr-defined]
        update = encode_update(OrderedDict(zip(TENSORS, trained, strict=True)), {"round": 3})
        content = RecordDict({"arrays": ArrayRecord(trained), INFO: update_info("0xA", 1.5),
                              "metrics": MetricRecord({"num-examples": 10})})
        attach(content, INFO, UPDATE, update)
        return Message(content, reply_to=m)

    # Execute
    reply = wire_mod(msg, Context(run_id=1, node_id=1, node_config={}, state=RecordDict(), run_config={}), train)

    # Assert
    assert seen["records"] == ["arrays", CONFIG]
    assert seen["config"] == {"round": 3, "job": 1}
    assert all(np.array_equal(a, b) for a, b in zip(seen["arrays"], TENSORS.values(), strict=True))  # type: ignore[call-overload]
    assert sorted(reply.content) == sorted([INFO, "metrics", *([] if inline else [UPDATE])])
    assert decode_update(detach(reply.content, INFO, UPDATE)).tensors["layer2.weight"][0, 0] == 3.0
    assert reply.content[INFO]["provider"] == "0xA"
