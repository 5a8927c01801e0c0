"""Architectures from torchvision, timm and transformers built from a job spec (no download), and LoRA fine-tuning:
what trains, travels and aggregates is the adapters (and the modules saved in full), never the frozen base."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

from opendpg.fl.aggregate import Contribution, aggregate
from opendpg.fl.models import build_model, check_model, get_weights, set_weights, weight_shapes
from opendpg.fl.train import evaluate, train_local
from opendpg.fl.update import decode_update, encode_update
from opendpg.spec import JobSpec, SpecError, parse_spec

TINY_VIT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
            "patch_size": 4}


def _schema(channels: int, size: int) -> dict:
    return {"modality": "image", "formats": ["image-folder"],
            "image": {"width": size, "height": size, "channels": channels},
            "label": {"classes": [str(c) for c in range(10)]}}


def _spec(model: dict, channels: int = 3, size: int = 16, **extra) -> JobSpec:
    return parse_spec({"name": "models", "model": model, "providers": {"min": 1, "max": 1},
                       "dataset": {"asset": 1, "data_schema": _schema(channels, size)},
                       "training": {"rounds": 1, "batch_size": 8, "learning_rate": 0.05}, **extra})


def _records(spec: JobSpec, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    schema = spec.dataset.data_schema
    assert schema is not None
    rng = np.random.default_rng(seed)
    return rng.random((count, *schema.input_shape), dtype=np.float32), rng.integers(0, 10, count)


@pytest.mark.parametrize(("model", "channels"), [
    ({"name": "torchvision/resnet18"}, 3),
    ({"name": "timm/resnet10t"}, 1),
    ({"name": "transformers/vit", "config": TINY_VIT}, 3),
], ids=["torchvision", "timm", "transformers"])
def test_each_library_builds_its_architecture_from_the_spec_and_trains_a_step(model, channels):
    # Prepare: a spec naming the library's architecture; a provider's records of the dataset's shape
    spec = _spec(model, channels)
    check_model(spec)
    network = build_model(spec.model, (channels, 16, 16), 10, seed=spec.training.seed)
    start = get_weights(network)
    x, y = _records(spec, 16, seed=1)

    # Execute: a round of local training, its update through the canonical format
    trained, loss = train_local(network, start, x, y, spec, seed=1)
    update = decode_update(encode_update(trained, {"num_examples": 16}))
    metrics = evaluate(network, trained, x, y)

    # Assert: the same weights on every machine, the trained ones moved, the update has the model's shapes
    again = get_weights(build_model(spec.model, (channels, 16, 16), 10, seed=spec.training.seed))
    assert all(np.array_equal(a, b) for a, b in zip(start.values(), again.values(), strict=True))
    assert np.isfinite(loss)
    assert any(not np.array_equal(trained[k], start[k]) for k in start)
    update.check_shapes(weight_shapes(network))
    assert metrics["examples"] == 16 and 0 <= metrics["accuracy"] <= 1


@pytest.mark.parametrize(("model", "channels", "size", "extra", "field", "says"), [
    ({"name": "torchvision/resnet19"}, 3, 16, {}, "model.name", "torchvision has no classification architecture"),
    ({"name": "timm/not_a_net"}, 3, 16, {}, "model.name", "timm has no architecture 'not_a_net'"),
    ({"name": "transformers/no-such-type"}, 3, 16, {}, "model.name", "transformers has no model type"),
    ({"name": "transformers/bert"}, 3, 16, {}, "model.name", "no image-classification model for 'bert'"),
    ({"name": "torchvision/resnet18", "config": {"widht": 2}}, 3, 16, {}, "model.config", "unexpected keyword"),
    ({"name": "torchvision/resnet18"}, 1, 16, {}, "model.name", "take RGB images"),
    ({"name": "timm/vit_tiny_patch16_224"}, 3, 16, {}, "model.name", "cannot take the dataset's inputs"),
    ({"name": "timm/resnet10t", "lora": {"target_modules": ["query"]}}, 3, 16, {}, "model.lora.target_modules",
     "has no module named ['query']"),
    ({"name": "timm/resnet10t"}, 3, 16,
     {"privacy": {"dp_sgd": {"noise_multiplier": 1.0, "max_grad_norm": 1.0, "epsilon": 10.0}}},
     "privacy.dp_sgd", "Opacus cannot train timm/resnet10t privately"),
], ids=["torchvision-name", "timm-name", "transformers-type", "no-image-head", "config", "channels", "input-size",
        "lora-target", "dp-sgd"])
def test_a_model_that_cannot_train_on_the_dataset_is_refused_naming_the_field(model, channels, size, extra, field,
                                                                             says):
    spec = _spec(model, channels, size, **extra)

    with pytest.raises(SpecError) as refused:
        check_model(spec)

    assert refused.value.problems[0][0] == field
    assert says in refused.value.problems[0][1]


def test_a_spec_names_its_model_library_or_a_builtin():
    with pytest.raises(SpecError, match=r"model\.name: 'keras/resnet' is neither a built-in"):
        _spec({"name": "keras/resnet"})
    with pytest.raises(SpecError, match=r"model\.config: only for library architectures"):
        _spec({"name": "cnn", "config": {"depth": 2}})
    with pytest.raises(SpecError, match=r"model\.lora\.rank"):
        _spec({"name": "timm/resnet10t", "lora": {"rank": 0, "target_modules": ["fc"]}})


LORA_VIT = {"name": "transformers/vit", "config": TINY_VIT,
            "lora": {"rank": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"], "modules_to_save": ["classifier"]}}


def test_lora_trains_and_ships_only_the_adapters_and_the_saved_head():
    # Prepare: the same base, fully trained and with LoRA adapters
    spec, full_spec = _spec(LORA_VIT), _spec({"name": "transformers/vit", "config": TINY_VIT})
    check_model(spec)
    network = build_model(spec.model, (3, 16, 16), 10)
    base_before = {k: v.clone() for k, v in network.state_dict().items() if k not in get_weights(network)}
    x, y = _records(spec, 16, seed=2)

    # Execute: one provider's round
    trained, _ = train_local(network, get_weights(network), x, y, spec, seed=1)

    # Assert: only adapters and the saved classifier travel; the frozen base did not move; far fewer bytes
    assert all("lora_" in name or "classifier.modules_to_save" in name for name in trained)
    assert sum("lora_A" in name for name in trained) == 4  # q and v of two layers
    after = network.state_dict()
    assert all(torch.equal(after[k], v) for k, v in base_before.items())
    full = get_weights(build_model(full_spec.model, (3, 16, 16), 10))
    assert len(encode_update(trained)) * 5 < len(encode_update(full))


def test_lora_updates_aggregate_and_load_into_every_providers_model():
    # Prepare: two providers with their own records, each starting from the same adapters
    spec = _spec(LORA_VIT)
    first, second = build_model(spec.model, (3, 16, 16), 10), build_model(spec.model, (3, 16, 16), 10)
    start = get_weights(first)

    # Execute: each trains, the coordinator aggregates the decoded updates, both load the new global adapters
    updates = [decode_update(encode_update(train_local(net, start, *_records(spec, 8 * (i + 1), seed=i), spec,
                                                       seed=i)[0], {"num_examples": 8 * (i + 1)}))
               for i, net in enumerate((first, second))]
    merged = aggregate([Contribution(str(i), int(u.meta["num_examples"]), u.tensors) for i, u in enumerate(updates)],
                       "fedavg")
    for net in (first, second):
        set_weights(net, merged)

    # Assert: the example-weighted mean of the adapters, the same model on both sides, and it predicts
    name = next(n for n in merged if "lora_B" in n)
    expected = (updates[0].tensors[name] * 8 + updates[1].tensors[name] * 16) / 24
    assert np.allclose(merged[name], expected, atol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(),
                                                 strict=True))
    assert evaluate(first, merged, *_records(spec, 8, seed=5))["examples"] == 8


def test_lora_refuses_a_full_models_weights_and_shares_batch_norm_statistics():
    # Prepare: a convolutional network (batch norm) with LoRA on its block convolutions
    spec = _spec({"name": "timm/resnet10t", "lora": {"target_modules": ["conv2"], "modules_to_save": ["fc"]}}, 1)
    network = build_model(spec.model, (1, 16, 16), 10)
    full = get_weights(build_model(_spec({"name": "timm/resnet10t"}, 1).model, (1, 16, 16), 10))

    # Execute: a round of training
    trained, _ = train_local(network, get_weights(network), *_records(spec, 16, seed=3), spec, seed=1)

    # Assert: the running statistics training moved travel with the adapters; full weights do not load
    moved = [n for n in trained if n.endswith("running_mean")]
    assert moved and any(not np.array_equal(trained[n], full[n.replace("base_model.model.", "")]) for n in moved)
    with pytest.raises(ValueError, match="federated state"):
        set_weights(network, OrderedDict(full))


def test_a_model_opacus_can_train_passes_the_dp_sgd_check():
    dp = {"privacy": {"dp_sgd": {"noise_multiplier": 1.0, "max_grad_norm": 1.0, "epsilon": 10.0}}}
    check_model(_spec({"name": "cnn", "hidden_units": 8}, 1, 8, **dp))
    check_model(_spec({"name": "mlp", "hidden_units": 8}, 3, 8, **dp))


def test_a_spec_on_a_base_model_is_checked_at_posting_without_its_files():
    # Prepare: the poster's spec names a base model asset (files on IPFS, not on the gateway) and LoRA
    lora = {"rank": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"], "modules_to_save": ["classifier"]}
    spec = _spec({"name": "transformers/vit", "config": TINY_VIT, "lora": lora,
                  "base": {"asset": 3, "files_cid": "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"}})

    # Execute + Assert: the architecture and adapters are checked; a bad target is still refused by name
    check_model(spec)
    bad = _spec({"name": "transformers/vit", "config": TINY_VIT, "lora": {**lora, "target_modules": ["query"]},
                 "base": {"asset": 3, "files_cid": "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"}})
    with pytest.raises(SpecError, match=r"model\.lora\.target_modules: .*no module named \['query'\]"):
        check_model(bad)
