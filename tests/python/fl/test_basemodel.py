"""Base model files: safetensors weights and the card naming their architecture; a job's model starts from them
(a new output layer when the job has other classes); pickles and weights for another architecture are refused."""

import pickle

import numpy as np
import pytest
import torch

from opendpg.errors import OpenDPGValueError
from opendpg.fl.basemodel import BaseModelError, ModelCard, read_base_model, save_base_model
from opendpg.fl.models import build_model, get_weights
from opendpg.spec import ModelSpec, SpecError

CNN = {"name": "timm/resnet10t", "config": {"drop_rate": 0.0}}
CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


def _base(tmp_path, outputs: int = 10):
    network = build_model(ModelSpec(**CNN), (1, 8, 8), outputs, seed=42)
    card = ModelCard(name=CNN["name"], config=CNN["config"], input_shape=[1, 8, 8], outputs=outputs,
                     head=["fc.weight", "fc.bias"], trained_on="digits")
    return network, save_base_model(network, card, tmp_path / "base")


def test_a_job_model_starts_from_the_base_weights(tmp_path):
    # Prepare: a base model saved as safetensors with its card
    network, folder = _base(tmp_path)
    spec = ModelSpec(**CNN, base={"asset": 3, "files_cid": CID})

    # Execute: the job's model built on the base, with a seed other than the base's
    model = build_model(spec, (1, 8, 8), 10, seed=0, base=folder)

    # Assert: every tensor is the base's, none from the job's seed
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), network.state_dict().values(),
                                                 strict=True))
    assert (folder / "model.safetensors").read_bytes()[:8] != b"\x80\x04\x95"  # not a pickle


def test_a_job_with_other_classes_gets_a_fresh_head_and_the_base_body(tmp_path):
    network, folder = _base(tmp_path, outputs=10)
    spec = ModelSpec(**CNN, base={"asset": 3, "files_cid": CID}, lora={"target_modules": ["conv2"],
                                                                         "modules_to_save": ["fc"]})

    model = build_model(spec, (1, 8, 8), 4, seed=7, base=folder)

    base = network.state_dict()
    state = {k.removeprefix("base_model.model."): v for k, v in model.state_dict().items() if "lora_" not in k}
    head = {k: v for k, v in state.items() if k.startswith("fc.")}  # the original and the trained copy
    body = {k.replace(".base_layer", ""): v for k, v in state.items() if k not in head}
    assert head and all(v.shape[0] == 4 for v in head.values())
    assert body.keys() == set(base) - {"fc.weight", "fc.bias"}
    assert all(torch.equal(v, base[k]) for k, v in body.items())
    assert len(get_weights(model)) < len(base)  # LoRA: only the adapters, the head and batch-norm statistics travel


def test_weights_for_another_architecture_or_a_missing_base_are_refused(tmp_path):
    _, folder = _base(tmp_path)
    with pytest.raises(SpecError, match=r"model\.base: the base model's weights are for timm/resnet10t"):
        build_model(ModelSpec(name="timm/resnet14t", base={"asset": 3, "files_cid": CID}), (1, 8, 8), 10,
                    base=folder)
    with pytest.raises(OpenDPGValueError, match="its files were not given"):
        build_model(ModelSpec(**CNN, base={"asset": 3, "files_cid": CID}), (1, 8, 8), 10)


def test_a_pickle_checkpoint_is_refused_with_the_way_to_convert_it(tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    state = build_model(ModelSpec(name="mlp"), (4,), 2).state_dict()
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(state))

    with pytest.raises(BaseModelError, match=r"pytorch_model\.bin: a pickle checkpoint .* convert it to safetensors"):
        read_base_model(folder)


def test_a_card_or_weights_that_do_not_read_are_refused(tmp_path):
    _, folder = _base(tmp_path)
    (folder / "opendpg-model.json").write_text('{"name": "timm/resnet10t", "outputs": 0}')
    with pytest.raises(BaseModelError, match=r"opendpg-model\.json: "):
        read_base_model(folder)
    _, folder = _base(tmp_path / "again")
    (folder / "model.safetensors").write_bytes(np.arange(10, dtype=np.uint8).tobytes())
    with pytest.raises(BaseModelError, match="not readable as safetensors"):
        read_base_model(folder)
