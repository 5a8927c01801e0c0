"""Base models as DPG assets, on a real chain and kubo: the owner registers its safetensors and card as a model
asset; a spec naming the asset gets its files' CID; a provider fetches them by that CID and builds the job's model
on them. Bytes that do not match the CID, and pickle checkpoints, are refused."""

from __future__ import annotations

import json
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

from opendpg.content import ContentStore
from opendpg.data import sample_schema
from opendpg.dpg import parse_metadata
from opendpg.dpg.basemodels import build_job_model, fetch_base_model, job_checkpoint, pack_model_files, with_base_files
from opendpg.dpg.certification import Certification
from opendpg.errors import ContentIntegrityError
from opendpg.fl.basemodel import BaseModelError, ModelCard, load_model, read_base_model, save_base_model
from opendpg.fl.models import build_model, get_weights, logits, set_weights
from opendpg.fl.pretrain import TEXT_BERT, TEXT_MAX_LENGTH, pretrain_text_base
from opendpg.fl.update import encode_update
from opendpg.spec import ModelSpec, parse_spec
from tests.python.dpg.test_checker import _example

VIT = {"name": "transformers/vit", "config": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                              "intermediate_size": 64, "patch_size": 4}}
SPEC = {"name": "fine-tune", "training": {"rounds": 1}, "providers": {"min": 1, "max": 1},
        "dataset": {"asset": 1, "data_schema": {"modality": "image", "formats": ["image-folder"],
                                                "image": {"width": 8, "height": 8, "channels": 3},
                                                "label": {"classes": ["a", "b", "c"]}}}}


class _Tampering(ContentStore):
    """What a compromised IPFS gateway serves: the real bytes with one flipped."""

    def __init__(self, real: ContentStore) -> None:
        super().__init__()
        self.real = real

    def put(self, data: bytes) -> str:
        return self.real.put(data)

    def has(self, cid: str) -> bool:
        return self.real.has(cid)

    def _fetch(self, cid: str) -> bytes | None:
        data = bytearray(self.real.get(cid))
        data[len(data) // 2] ^= 0xFF
        return bytes(data)


@pytest.fixture
def base_files(tmp_path):
    network = build_model(ModelSpec(**VIT), (3, 8, 8), 10, seed=11)
    card = ModelCard(name=VIT["name"], config=VIT["config"], input_shape=[3, 8, 8], outputs=10,
                     head=["classifier.weight", "classifier.bias"], trained_on="a public image set")
    folder = save_base_model(network, card, tmp_path / "vit-base")
    (folder / "LICENSE").write_text("Apache License 2.0\n")
    return network, folder


def _register(dao, folder) -> int:
    owner = Certification(dao.as_(dao.accounts[8]), dao.store)
    meta = parse_metadata(json.dumps(_example(name="tiny vit base", kind="model", licence="Apache-2.0",
                                              catalog_id=None)))
    return owner.register(meta, files=folder)


def test_a_registered_base_model_round_trips_through_ipfs_into_a_job_model(dao, base_files, tmp_path):
    # Prepare: the owner registers the model asset with its files
    network, folder = base_files
    asset = _register(dao, folder)

    # Execute: a spec naming only the asset gets its files' CID; a provider fetches them and builds the model
    spec = parse_spec(with_base_files({**SPEC, "model": {**VIT, "base": {"asset": asset}}}, dao.admin, dao.store))
    assert spec.model.base is not None
    fetched = fetch_base_model(dao.store, spec.model.base, tmp_path / "cache")
    model = build_model(spec.model, (3, 8, 8), 3, seed=0, base=fetched)

    # Assert: the CID is the deterministic archive's; the body is the base's, the 3-class head is new
    assert spec.model.base.files_cid == dao.store.put(pack_model_files(folder))
    base = network.state_dict()
    mine = model.state_dict()
    assert all(torch.equal(mine[k], v) for k, v in base.items() if not k.startswith("classifier."))
    assert mine["classifier.weight"].shape == (3, 32)
    assert fetch_base_model(dao.store, spec.model.base, tmp_path / "cache") == fetched  # cached


def test_tampered_base_model_bytes_are_refused_and_nothing_is_cached(dao, base_files, tmp_path):
    _, folder = base_files
    asset = _register(dao, folder)
    spec = parse_spec(with_base_files({**SPEC, "model": {**VIT, "base": {"asset": asset}}}, dao.admin, dao.store))
    assert spec.model.base is not None

    with pytest.raises(ContentIntegrityError, match="tampered"):
        fetch_base_model(_Tampering(dao.store), spec.model.base, tmp_path / "cache")

    assert not (tmp_path / "cache" / spec.model.base.files_cid).exists()


def test_a_pickle_checkpoint_cannot_be_published_or_fetched(dao, base_files, tmp_path):
    # Prepare: the same folder with a pickle beside the safetensors, and an archive holding only a pickle
    network, folder = base_files
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(network.state_dict()))
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "pytorch_model.bin").write_bytes(pickle.dumps(network.state_dict()))
    from opendpg.dpg.certification import pack_files
    from opendpg.spec import BaseModelSpec

    cid = dao.store.put(pack_files(pickled))

    # Execute + Assert: registration refuses it; a job naming such files refuses them before loading anything
    with pytest.raises(BaseModelError, match=r"pytorch_model\.bin: a pickle checkpoint cannot be published"):
        _register(dao, folder)
    with pytest.raises(BaseModelError, match="convert it to safetensors"):
        fetch_base_model(dao.store, BaseModelSpec(asset=1, files_cid=cid), tmp_path / "cache")


def test_a_lora_jobs_global_model_downloads_as_a_merged_checkpoint(dao, base_files, tmp_path):
    # Prepare: a LoRA job on the registered base; a global model whose adapters and head moved away from the base
    _, folder = base_files
    asset = _register(dao, folder)
    lora = {"rank": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"], "modules_to_save": ["classifier"]}
    spec = parse_spec(with_base_files({**SPEC, "model": {**VIT, "base": {"asset": asset}, "lora": lora}},
                                      dao.admin, dao.store))
    model = build_job_model(spec, dao.store, tmp_path / "cache")
    noise = np.random.default_rng(1)
    trained = OrderedDict((name, value + 0.05 * noise.standard_normal(value.shape).astype(np.float32))
                          for name, value in get_weights(model).items())
    set_weights(model, trained)
    x = torch.rand(4, 3, 8, 8)
    with torch.no_grad():
        expected = logits(model.eval(), x)

    # Execute
    out = job_checkpoint(spec, encode_update(trained), dao.store, tmp_path / "checkpoint", "job 1, round 2")

    # Assert: a plain ViT (no adapters) with the card of the job's classes, giving the LoRA model's outputs
    card, tensors = read_base_model(out)
    assert (card.name, card.outputs, card.labels) == ("transformers/vit", 3, ["a", "b", "c"])
    assert card.head == ["classifier.weight", "classifier.bias"]
    assert card.trained_on == "job 1, round 2" and not any("lora" in name for name in tensors)
    plain = load_model(out)  # the card names the architecture
    with torch.no_grad():
        assert torch.allclose(logits(plain.eval(), x), expected, atol=1e-5)


def test_a_spec_takes_the_base_models_architecture_or_is_refused_for_another(dao, base_files):
    # Prepare
    _, folder = base_files
    asset = _register(dao, folder)

    # Execute: a spec naming only the base; one naming another architecture
    filled = with_base_files({**SPEC, "model": {"base": {"asset": asset}}}, dao.admin, dao.store)
    with pytest.raises(BaseModelError, match=r"model\.base: asset \d+'s weights are for transformers/vit .* the "
                                             r"spec's model is timm/resnet10t"):
        with_base_files({**SPEC, "model": {"name": "timm/resnet10t", "base": {"asset": asset}}}, dao.admin, dao.store)

    # Assert: the card's architecture, as the spec would name it
    assert (filled["model"]["name"], filled["model"]["config"]) == (VIT["name"], VIT["config"])
    assert parse_spec(filled).model.base is not None


def test_a_text_spec_takes_the_bases_tokens_per_text(dao, tmp_path):
    # Prepare: a text base model (BERT and its tokenizer, not pre-trained) registered as a model asset
    folder, _ = pretrain_text_base(tmp_path / "bert-base", epochs=0)
    asset = _register(dao, folder)
    text = {**SPEC, "dataset": {"asset": 1, "data_schema": sample_schema("python-docs").model_dump(mode="json")}}

    # Execute: a text spec naming only the base; one setting its own tokens per text
    filled = with_base_files({**text, "model": {"base": {"asset": asset}}}, dao.admin, dao.store)
    own = with_base_files({**text, "model": {"base": {"asset": asset}, "max_length": 32}}, dao.admin, dao.store)

    # Assert: the base's architecture and its 64 tokens per text; a spec's own length is kept
    model = parse_spec(filled).model
    assert (model.name, model.config, model.max_length) == (TEXT_BERT["name"], TEXT_BERT["config"], TEXT_MAX_LENGTH)
    assert parse_spec(own).model.max_length == 32
