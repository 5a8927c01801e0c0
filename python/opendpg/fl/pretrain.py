"""Base models made the way their publishers make them, from public data that ships with Python and its packages
(nothing can be downloaded here), written as a base model's files (safetensors, card, licence, README) ready to be
published as a DPG model asset and fine-tuned by a job:

- images: a small Vision Transformer trained on scikit-learn's handwritten digits 0-4 (jobs fine-tune it on the
  other digits);
- text: a small BERT, its WordPiece tokenizer (``tokenizer.json``) trained on English prose of the Python
  documentation and its encoder pre-trained on it by masked-language modelling. The prose is the pydoc topics *not*
  in the ``python-docs`` sample (which jobs classify) and the docstrings of a fixed list of standard-library
  modules."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import numpy as np

from opendpg.data.samples import PYTHON_DOCS_PARTS, digit_images, paragraphs, python_docs
from opendpg.fl.basemodel import TOKENIZER_FILE, ModelCard, TokenEncoder, save_base_model

__all__ = ["BASE_CLASSES", "TEXT_BERT", "TEXT_MAX_LENGTH", "VIT", "pretrain_text_base", "pretrain_vit_base",
           "public_text"]

BASE_CLASSES = [0, 1, 2, 3, 4]  # the public images the image base model is trained on
#: The image base model's architecture: a two-layer ViT for 8x8 greyscale images, as a job spec's ``model`` names it.
VIT: dict[str, Any] = {"name": "transformers/vit", "config": {
    "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "patch_size": 2}}

TEXT_MAX_LENGTH = 64  # tokens per text the base is pre-trained on (its card's input shape)
_VOCAB = 4000
#: The text base model's architecture: a two-layer BERT, as a job spec's ``model`` names it.
TEXT_BERT: dict[str, Any] = {"name": "transformers/bert", "config": {
    "vocab_size": _VOCAB, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 128, "max_position_embeddings": 128}}
_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_MODULES = ("argparse", "asyncio", "collections", "contextlib", "csv", "dataclasses", "datetime", "decimal", "email",
            "enum", "fractions", "functools", "heapq", "http.client", "inspect", "ipaddress", "itertools", "json",
            "logging", "os", "pathlib", "pickle", "random", "re", "shutil", "socket", "sqlite3", "statistics",
            "string", "subprocess", "tarfile", "tempfile", "textwrap", "threading", "typing", "unittest",
            "urllib.parse", "uuid", "zipfile")
_APACHE = "Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0)\n"


def pretrain_vit_base(folder: Path, epochs: int, seed: int = 0) -> tuple[Path, float]:
    """The base model as its publisher makes it: :data:`VIT` trained centrally (AdamW) on the public digits
    :data:`BASE_CLASSES`, written to ``folder`` as safetensors, card, licence and README. Returns the folder and
    its accuracy on a sixth of those images kept aside."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from opendpg.fl.models import build_model, device, get_weights, logits
    from opendpg.fl.train import evaluate
    from opendpg.spec import ModelSpec

    x, y = digit_images(BASE_CLASSES)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    cut = len(y) * 5 // 6
    spec = ModelSpec(name=VIT["name"], config=VIT["config"])
    model = build_model(spec, (1, 8, 8), len(BASE_CLASSES), seed=seed)
    dev = device()
    model.to(dev).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    loader = DataLoader(TensorDataset(torch.from_numpy(x[:cut]), torch.from_numpy(y[:cut])), batch_size=32,
                        shuffle=True, generator=torch.Generator().manual_seed(seed))
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(logits(model, xb.to(dev)), yb.to(dev))
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
    model.to("cpu")
    accuracy = evaluate(model, get_weights(model), x[cut:], y[cut:])["accuracy"]
    card = ModelCard(name=spec.name, config=spec.config, input_shape=[1, 8, 8], outputs=len(BASE_CLASSES),
                     head=["classifier.weight", "classifier.bias"], labels=[str(d) for d in BASE_CLASSES],
                     trained_on=f"scikit-learn's handwritten digits {BASE_CLASSES[0]}-{BASE_CLASSES[-1]} (UCI optical "
                                f"recognition of handwritten digits, CC BY 4.0), {cut} images, {epochs} epochs")
    save_base_model(model, card, folder)
    (folder / "LICENSE").write_text(_APACHE)
    (folder / "README.md").write_text(
        "# Digits ViT base\n\nA two-layer Vision Transformer for 8x8 greyscale images, trained on the public "
        f"handwritten digits {BASE_CLASSES[0]}-{BASE_CLASSES[-1]}: a starting point to fine-tune on other digits "
        "or glyphs. Load it with opendpg.fl.basemodel.load_model; the card names its architecture.\n")
    return folder, accuracy


def public_text() -> list[str]:
    """The pre-training corpus: paragraphs (8 words or more) of the pydoc topics outside the ``python-docs``
    sample's parts and of the docstrings of standard-library modules, none of them a paragraph of the sample."""
    from pydoc_data.topics import topics

    sample = {text for text, _ in python_docs()}
    used = {name for names in PYTHON_DOCS_PARTS.values() for name in names}
    corpus: list[str] = []
    for name in sorted(set(topics) - used):
        corpus.extend(paragraphs(topics[name]))
    for module_name in _MODULES:
        module = importlib.import_module(module_name)
        names = sorted(getattr(module, "__all__", []))
        documented = [module, *(getattr(module, n) for n in names if hasattr(module, n))]
        for item in documented:
            corpus.extend(paragraphs(inspect.getdoc(item) or ""))
    return [p for p in dict.fromkeys(corpus) if p not in sample]  # each paragraph once, in order


def _train_tokenizer(corpus: list[str]) -> Any:
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from tokenizers.trainers import WordPieceTrainer

    tokenizer = Tokenizer(WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(corpus, WordPieceTrainer(vocab_size=_VOCAB, special_tokens=_SPECIALS,
                                                           show_progress=False))
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tokenizer


def pretrain_text_base(folder: Path, epochs: int = 8, seed: int = 0) -> tuple[Path, float]:
    """Train the tokenizer and pre-train :data:`TEXT_BERT`'s encoder (masked-language modelling: 15 % of the
    tokens masked, AdamW) on :func:`public_text`, then write it to ``folder`` as a sequence classifier's base model
    (encoder pre-trained; pooler and a 2-output head seeded, to be replaced by a job's). Returns the folder and
    the accuracy of the masked-token predictions on a tenth of the corpus kept aside."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from opendpg.fl.models import build_model, device
    from opendpg.spec import ModelSpec

    corpus = public_text()
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(corpus)
    tokenizer.save(str(folder / TOKENIZER_FILE))
    encode = TokenEncoder.from_folder(folder, TEXT_MAX_LENGTH, _VOCAB)
    tokens = torch.from_numpy(encode(corpus))
    order = torch.randperm(len(tokens), generator=torch.Generator().manual_seed(seed))
    cut = len(order) * 9 // 10
    torch.manual_seed(seed)
    mlm: Any = BertForMaskedLM(BertConfig(**TEXT_BERT["config"]))
    dev = device()
    mlm.to(dev).train()
    optimizer = torch.optim.AdamW(mlm.parameters(), lr=2e-3, weight_decay=0.01)
    special = torch.tensor([tokenizer.token_to_id(t) for t in _SPECIALS])
    mask_id = tokenizer.token_to_id("[MASK]")
    masking = torch.Generator().manual_seed(seed + 1)

    def masked(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ids, attention = batch[:, 0].clone(), batch[:, 1]
        chosen = (torch.rand(ids.shape, generator=masking) < 0.15) & ~torch.isin(ids, special)
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        draw = torch.rand(ids.shape, generator=masking)
        ids[chosen & (draw < 0.8)] = mask_id  # BERT's recipe: 80 % [MASK], 10 % a random token, 10 % unchanged
        swap = chosen & (draw >= 0.8) & (draw < 0.9)
        ids[swap] = torch.randint(len(_SPECIALS), _VOCAB, (int(swap.sum()),), generator=masking)
        return ids, attention, labels

    def predicted(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The MLM head's scores at the masked positions only (the vocabulary projection is most of the cost) and
        the tokens they should predict."""
        ids, attention, labels = masked(batch)
        hidden = mlm.bert(input_ids=ids.to(dev), attention_mask=attention.to(dev)).last_hidden_state
        chosen = (labels != -100).to(dev)
        return mlm.cls(hidden[chosen]), labels.to(dev)[chosen]

    for _ in range(epochs):
        for start in range(0, cut, 32):
            scores, targets = predicted(tokens[order[start:start + 32]])
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(scores, targets).backward()  # type: ignore[no-untyped-call]
            optimizer.step()
    mlm.eval()
    right = total = 0
    with torch.no_grad():
        for start in range(cut, len(order), 64):
            scores, targets = predicted(tokens[order[start:start + 64]])
            right += int((scores.argmax(-1) == targets).sum())
            total += len(targets)
    spec = ModelSpec(name=TEXT_BERT["name"], config=TEXT_BERT["config"])
    model = build_model(spec, (2, TEXT_MAX_LENGTH), 2, seed=seed)
    missing, unexpected = model.bert.load_state_dict(mlm.bert.cpu().state_dict(), strict=False)  # type: ignore[union-attr,operator]
    assert not unexpected and all(name.startswith("pooler.") for name in missing), (missing, unexpected)
    card = ModelCard(name=spec.name, config=spec.config, input_shape=[2, TEXT_MAX_LENGTH], outputs=2,
                     head=["classifier.weight", "classifier.bias"],
                     trained_on=f"masked-language modelling on {len(corpus)} paragraphs of the Python documentation "
                                f"(pydoc topics and standard-library docstrings, PSF licence), {epochs} epochs; "
                                "the classifier head is untrained")
    save_base_model(model, card, folder)
    (folder / "LICENSE").write_text(_APACHE)
    (folder / "README.md").write_text(
        "# Python-docs BERT base\n\nA two-layer BERT (hidden size 64) with its WordPiece tokenizer (tokenizer.json, "
        f"{tokenizer.get_vocab_size()} tokens), pre-trained by masked-language modelling on English prose of the "
        "Python documentation: a starting point to fine-tune text classifiers. Load it with "
        "opendpg.fl.basemodel.load_model; the card names its architecture.\n")
    return folder, right / max(total, 1)
