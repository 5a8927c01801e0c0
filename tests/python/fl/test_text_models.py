"""Text classification with a transformers base model: its tokenizer travels in the base model's files and turns
every holder's texts into the same token ids; three holders fine-tune the pre-trained BERT with LoRA on their own
files of Python-documentation paragraphs over Flower, and the result downloads as a checkpoint that carries the
tokenizer."""

import json
from collections import OrderedDict

import numpy as np
import pytest
import torch

from opendpg.content import EmbeddedStore, cid_of
from opendpg.data import pack_held_out, read_held_out, sample_schema, write_sample
from opendpg.data.samples import python_docs
from opendpg.dpg.basemodels import check_model_files, job_checkpoint, pack_model_files
from opendpg.errors import OpenDPGValueError
from opendpg.fl import decode_update
from opendpg.fl.basemodel import TOKENIZER_FILE, BaseModelError, TokenEncoder, load_model
from opendpg.fl.data import input_of, text_encoder
from opendpg.fl.federation import Federation
from opendpg.fl.models import build_model, check_model, get_weights, logits, set_weights
from opendpg.fl.pretrain import TEXT_BERT, TEXT_MAX_LENGTH, pretrain_text_base, public_text
from opendpg.fl.train import evaluate
from opendpg.spec import SpecError, parse_spec

# run first when the suite runs in several processes; the module's base model is pre-trained in a fixture, whose
# time counts against its first test's limit (36 s alone, past 300 s with three test processes on two cores)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

SCHEMA = sample_schema("python-docs")
PROVIDERS = [f"0x{i + 1:040x}" for i in range(3)]
ROUNDS = 5
LORA = {"rank": 8, "alpha": 16, "target_modules": ["query", "key", "value", "dense"],
        "modules_to_save": ["classifier", "pooler"]}


def _spec(files_cid: str, *, lora: bool = True, rounds: int = 3, **model) -> dict:
    return {"name": "python docs parts", "model": {**TEXT_BERT, "base": {"asset": 1, "files_cid": files_cid},
                                                   **({"lora": LORA} if lora else {}), **model},
            "dataset": {"asset": 2, "data_schema": SCHEMA.model_dump(mode="json")},
            "training": {"rounds": rounds, "local_epochs": 2, "batch_size": 16, "learning_rate": 0.003,
                         "optimizer": "adamw"},
            "providers": {"min": 3, "max": 3}}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder, accuracy = pretrain_text_base(tmp_path_factory.mktemp("text-base") / "base", epochs=8)
    return folder, accuracy


def test_the_pretraining_text_is_public_and_not_the_samples():
    corpus = set(public_text())
    sample = {text for text, _ in python_docs()}

    assert len(corpus) > 1000 and not corpus & sample


def test_the_tokenizer_encodes_ids_and_an_attention_mask(base):
    folder, mlm_accuracy = base
    encode = TokenEncoder.from_folder(folder, 8, TEXT_BERT["config"]["vocab_size"])

    out = encode(["A list is mutable.", "word " * 40])

    assert out.dtype == np.int64 and out.shape == (2, 2, 8)
    first = encode.tokenizer.encode("A list is mutable.")
    assert out[0, 0, :len(first.ids)].tolist() == first.ids and out[0, 1].tolist() == [1] * len(first.ids) + [0] * (
        8 - len(first.ids))
    assert out[0, 0, len(first.ids):].tolist() == [encode.pad_id] * (8 - len(first.ids))
    assert out[1, 1].tolist() == [1] * 8  # cut at 8 tokens, [SEP] kept last
    assert out[1, 0, -1] == encode.tokenizer.token_to_id("[SEP]")
    assert mlm_accuracy > 0.1  # masked-token predictions well above 1 in 4000


def test_a_text_model_without_its_tokenizer_or_base_is_refused(base, tmp_path):
    folder, _ = base
    with pytest.raises(SpecError, match=r"model\.base: a transformers model reads text as token ids"):
        parse_spec({**_spec("bafy"), "model": TEXT_BERT})
    with pytest.raises(SpecError, match=r"model\.max_length: only for a text dataset"):
        parse_spec({**_spec("bafy"), "dataset": {"asset": 2, "data_schema": sample_schema(
            "breast-cancer").model_dump(mode="json")}, "model": {**TEXT_BERT, "max_length": 32}})
    with pytest.raises(BaseModelError, match=r"tokenizer\.json: 4000 tokens, the model embeds 100"):
        TokenEncoder.from_folder(folder, 8, 100)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("model.safetensors", "opendpg-model.json"):
        (broken / name).write_bytes((folder / name).read_bytes())
    (broken / TOKENIZER_FILE).write_text("{\"not\": \"a tokenizer\"}")
    with pytest.raises(BaseModelError, match=r"tokenizer\.json: not a tokenizer"):
        check_model_files(broken)
    spec = parse_spec(_spec("bafy"))
    with pytest.raises(OpenDPGValueError, match=r"model\.base: transformers/bert reads token ids"):
        text_encoder(spec.dataset, spec.model, None)
    with pytest.raises(SpecError, match=r"model\.max_length: 512 tokens per text, transformers/bert has 128"):
        check_model(parse_spec(_spec("bafy", max_length=512)))


def test_a_text_job_checks_at_posting_and_its_model_reads_token_ids(base):
    folder, _ = base
    spec = parse_spec(_spec("bafy"))
    check_model(spec)  # on the meta device, without the base's files

    model = build_model(spec.model, *input_of(spec.dataset, spec.model), base=folder)
    ids = text_encoder(spec.dataset, spec.model, folder)(["Return the length of a sequence."])

    assert input_of(spec.dataset, spec.model) == ((2, 128), 4)
    assert logits(model.eval(), torch.from_numpy(ids)).shape == (1, 4)
    assert all(any(part in name for part in ("lora_", "classifier", "pooler")) for name in get_weights(model))


@pytest.fixture(scope="module")
def finished_run(base, tmp_path_factory):
    folder, _ = base
    root = tmp_path_factory.mktemp("text-federation")
    files = write_sample("python-docs", root / "data", 3, formats=["csv", "parquet", "jsonl"])
    held_out = root / "held-out.parquet"
    held_out.write_bytes(pack_held_out(SCHEMA, files.held_out))
    spec = parse_spec(_spec(cid_of(pack_model_files(folder)), rounds=ROUNDS, max_length=TEXT_MAX_LENGTH))
    with Federation(root / "flwr", threads=1) as federation:
        for i, provider in enumerate(PROVIDERS):
            federation.start_supernode(provider, {"provider": provider, "data-path": str(files.holders[i]),
                                                  "outbox": str(root / f"outbox-{i}"), "base-model-path": str(folder)})
        federation.run({"spec": spec.to_bytes().decode(), "job-id": 5, "out-dir": str(root / "out"),
                        "held-out-path": str(held_out), "base-model-path": str(folder), "eval-timeout": 300.0,
                        "round-timeout": 600.0})
    return root, spec, files


def test_holders_fine_tune_the_text_model_on_their_own_files(base, finished_run):
    folder, _ = base
    root, spec, _files = finished_run
    rounds = [json.loads((root / "out" / f"round-{r}.json").read_text()) for r in range(1, ROUNDS + 1)]
    encode = text_encoder(spec.dataset, spec.model, folder)
    held_out = read_held_out(SCHEMA, (root / "held-out.parquet").read_bytes(), encode)
    model = build_model(spec.model, *input_of(spec.dataset, spec.model), base=folder)
    before = evaluate(model, get_weights(model), held_out.x, held_out.y)["accuracy"]
    update = decode_update((root / "outbox-0" / "5" / f"round-{ROUNDS}.update").read_bytes())

    assert all(r["used"] == PROVIDERS for r in rounds)
    assert rounds[-1]["metrics"]["examples"] == len(held_out) == 217
    # 4 classes, the commonest 35 % of the held-out set; hashed words with logistic regression reach 0.72. The base
    # differs from run to run (its WordPiece vocabulary is not reproducible: `tokenizers` breaks ties between equal
    # pair counts in hash-map order); one suite run gained 0.074 (0.396 -> 0.470), a lone run reached 0.516
    assert rounds[-1]["metrics"]["accuracy"] > max(0.45, before + 0.05)
    assert set(update.tensors) == set(get_weights(model))  # adapters and the head only
    assert sum(t.size for t in update.tensors.values()) < sum(p.numel() for p in model.parameters()) / 5


def test_the_text_checkpoint_carries_the_tokenizer_and_gives_the_same_predictions(base, finished_run, tmp_path):
    folder, _ = base
    root, spec, _files = finished_run

    store = EmbeddedStore(tmp_path / "store")
    assert store.put(pack_model_files(folder)) == spec.model.base.files_cid

    global_model = (root / "out" / f"round-{ROUNDS}.global").read_bytes()
    out = job_checkpoint(spec, global_model, store, tmp_path / "checkpoint", f"job 5, round {ROUNDS}")
    loaded = load_model(out).eval()
    adapted = build_model(spec.model, *input_of(spec.dataset, spec.model), base=folder)
    weights = OrderedDict(zip(get_weights(adapted), decode_update(global_model).tensors.values(), strict=True))
    set_weights(adapted, weights)
    ids = torch.from_numpy(TokenEncoder.from_folder(out, TEXT_MAX_LENGTH, 4000)(["The with statement is used to "
                                                                                 "wrap a block."]))

    assert (out / TOKENIZER_FILE).read_bytes() == (folder / TOKENIZER_FILE).read_bytes()
    with torch.no_grad():
        assert torch.allclose(logits(loaded, ids), logits(adapted.eval(), ids), atol=1e-5)
