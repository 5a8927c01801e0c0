"""``opendpg model`` at a terminal: a bare safetensors checkpoint gets its card, is published as a model asset
(its weights checked against the card's architecture first), and a spec naming the asset fills in its files'
CID; mistakes are one line naming the fix (exit 2)."""

from __future__ import annotations

import json
import pickle

import pytest
from safetensors.torch import save_file

from opendpg.dpg.basemodels import asset_files_cid, pack_model_files
from opendpg.fl.models import build_model
from opendpg.spec import ModelSpec
from tests.python.cli.test_dpg_gov_cli import _cli
from tests.python.dpg.test_checker import _example

pytestmark = pytest.mark.slow  # run first when the suite runs in several processes


def test_a_checkpoint_becomes_a_model_asset(tmp_path, dao):
    # Prepare: a trained network's state dict as a bare safetensors file, and the asset's metadata
    run = _cli(dao, tmp_path)
    folder = tmp_path / "base"
    folder.mkdir()
    network = build_model(ModelSpec(name="cnn", hidden_units=16), (1, 8, 8), 10, seed=4)
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "LICENSE").write_text("Apache License 2.0\n")
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(_example(name="digits cnn", kind="model", licence="Apache-2.0", catalog_id=None)))

    # Execute: the card, then the publication
    carded = run("model", "card", str(folder), "--name", "cnn", "--hidden-units", "16", "--input-shape", "1,8,8",
                 "--outputs", "10", "--head", "8.weight,8.bias", "--trained-on", "scikit-learn digits 0-9")
    published = run("model", "publish", str(folder), "--metadata", str(meta), account=8)

    # Assert: one asset, whose files are exactly the folder's deterministic archive
    assert carded.returncode == 0, carded.stderr
    assert published.returncode == 0, published.stderr
    assert "registered model asset 1: cnn" in published.stdout and '"base": {"asset": 1}' in published.stdout
    assert asset_files_cid(dao.admin, dao.store, 1) == dao.store.put(pack_model_files(folder))


def test_publishing_mistakes_name_the_fix(tmp_path, dao):
    run = _cli(dao, tmp_path)
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"w": [1.0]}))
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(_example(name="m", kind="model", licence="Apache-2.0", catalog_id=None)))
    dataset_meta = tmp_path / "dataset.json"
    dataset_meta.write_text(json.dumps(_example()))

    no_card = run("model", "card", str(folder), "--name", "cnn", "--input-shape", "1,8,8", "--outputs", "10",
                  "--head", "7.weight")
    pickled = run("model", "publish", str(folder), "--metadata", str(meta), account=8)
    wrong_kind = run("model", "publish", str(folder), "--metadata", str(dataset_meta), account=8)

    assert no_card.returncode == 2 and "no model.safetensors" in no_card.stderr
    assert pickled.returncode == 2 and "pytorch_model.bin: a pickle checkpoint cannot be published" in pickled.stderr
    assert wrong_kind.returncode == 2 and "published as kind 'model'" in wrong_kind.stderr
    assert "Traceback" not in no_card.stderr + pickled.stderr + wrong_kind.stderr
