"""The canonical update format: round trip, exact hash, and refusal of malformed or mis-shaped updates."""

from collections import OrderedDict

import numpy as np
import pytest

from opendpg.fl import ModelUpdate, UpdateFormatError, decode_update, encode_update, update_hash


def _tensors(seed=0):
    rng = np.random.default_rng(seed)
    return OrderedDict([("0.weight", rng.standard_normal((4, 3)).astype(np.float32)),
                        ("0.bias", rng.standard_normal(4).astype(np.float32))])


def test_round_trip_is_exact_and_hash_is_stable():
    data = encode_update(_tensors(), {"job": 1, "round": 2, "num_examples": 10})
    update = decode_update(data)
    assert update.meta == {"job": 1, "round": 2, "num_examples": 10}
    for name, tensor in _tensors().items():
        assert np.array_equal(update.tensors[name], tensor)
    assert update.to_bytes() == data
    assert update_hash(data) == update_hash(encode_update(_tensors(), {"num_examples": 10, "round": 2, "job": 1}))
    assert update_hash(data) != update_hash(encode_update(_tensors(1), {"job": 1, "round": 2, "num_examples": 10}))


@pytest.mark.parametrize("mutate", [
    lambda d: b"XXXXXXXX" + d[8:],
    lambda d: d[:-1],
    lambda d: d + b"\x00",
    lambda d: d[:20],
])
def test_malformed_bytes_are_refused(mutate):
    with pytest.raises(UpdateFormatError):
        decode_update(mutate(encode_update(_tensors())))


def test_wrong_shape_is_refused():
    update = ModelUpdate(_tensors())
    update.check_shapes({"0.weight": (4, 3), "0.bias": (4,)})
    with pytest.raises(UpdateFormatError, match="expects"):
        update.check_shapes({"0.weight": (4, 4), "0.bias": (4,)})
