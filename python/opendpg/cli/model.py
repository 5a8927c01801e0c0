"""``opendpg model …``: open base models as DPG assets. ``publish`` turns a folder holding a safetensors checkpoint
and its card into a registered model asset (the weights checked against the card's architecture first);
``card`` writes the card beside a bare ``model.safetensors``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from opendpg.cli.dpg import store_from_args
from opendpg.cli.signing import add_chain_arguments, chain_from_args
from opendpg.errors import ConfigError

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("model", help="open base models: publish a safetensors checkpoint as a DPG asset")
    add_chain_arguments(parser)
    parser.add_argument("--ipfs-api", help="kubo RPC address (default: $OPENDPG_IPFS_API, else the embedded store)")
    sub = parser.add_subparsers(dest="model_command", metavar="COMMAND", required=True)

    card = sub.add_parser("card", help="write opendpg-model.json beside a folder's model.safetensors")
    card.add_argument("folder", type=Path, help="a folder holding model.safetensors")
    card.add_argument("--name", required=True, help="the architecture, as a spec's model.name (timm/resnet10t)")
    card.add_argument("--config", default="{}", help="the architecture's configuration, JSON (as model.config)")
    card.add_argument("--hidden-units", type=int, default=64, help="mlp/cnn: their width")
    card.add_argument("--input-shape", required=True, help="what it was trained on, e.g. 3,224,224")
    card.add_argument("--outputs", type=int, required=True, help="its number of outputs (classes)")
    card.add_argument("--head", required=True, help="its output layer's tensors, comma-separated (fc.weight,fc.bias)")
    card.add_argument("--labels", default="", help="class names in output order, comma-separated")
    card.add_argument("--trained-on", default="", help="the data it was trained on")
    card.set_defaults(run=_card)

    publish = sub.add_parser("publish", help="check a base model's files and register them as a model asset")
    publish.add_argument("folder", type=Path, help="model.safetensors, opendpg-model.json, LICENSE, README, ...")
    publish.add_argument("--metadata", type=Path, required=True, help="the asset's metadata (kind: model)")
    publish.add_argument("--no-certify", action="store_true", help="register only; request certification later")
    publish.set_defaults(run=_publish)


def _card(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from opendpg.fl.basemodel import CARD_FILE, WEIGHTS_FILE, ModelCard

    if not (args.folder / WEIGHTS_FILE).is_file():
        raise ConfigError(f"{args.folder}: no {WEIGHTS_FILE}; save the state dict with safetensors.torch.save_file")
    try:
        config = json.loads(args.config)
        shape = [int(d) for d in args.input_shape.split(",")]
    except ValueError as exc:
        raise ConfigError(f"--config / --input-shape: {exc}") from None
    try:
        card = ModelCard(name=args.name, config=config, hidden_units=args.hidden_units, input_shape=shape,
                         outputs=args.outputs, head=[h for h in args.head.split(",") if h],
                         labels=[label for label in args.labels.split(",") if label], trained_on=args.trained_on)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise ConfigError(f"--{'-'.join(map(str, problem['loc']))}: {problem['msg']}") from None
    (args.folder / CARD_FILE).write_bytes(card.to_bytes())
    print(f"wrote {args.folder / CARD_FILE}; next: opendpg model publish {args.folder} --metadata META.json")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from opendpg.content import cid_of
    from opendpg.dpg import parse_metadata
    from opendpg.dpg.basemodels import pack_model_files
    from opendpg.dpg.certification import Certification
    from opendpg.fl.basemodel import load_base_weights, read_base_model
    from opendpg.fl.models import build_model
    from opendpg.spec import ModelSpec

    try:
        meta = parse_metadata(args.metadata.read_bytes())
    except OSError as exc:
        raise ConfigError(f"--metadata {args.metadata}: {exc.strerror}") from None
    if meta.kind != "model":
        raise ConfigError(f"--metadata: kind is {meta.kind!r}; a base model is published as kind 'model'")
    archive = pack_model_files(args.folder)  # safetensors and card present, no pickle anywhere
    card, tensors = read_base_model(args.folder)
    spec = ModelSpec(name=card.name, config=card.config, hidden_units=card.hidden_units)
    model = build_model(spec, tuple(card.input_shape), card.outputs)
    load_base_weights(model, spec, card, tensors, card.outputs)  # every tensor fits the card's architecture
    certification = Certification(chain_from_args(args), store_from_args(args))
    asset_id = certification.register(meta, files=args.folder, certify=not args.no_certify)
    print(f"registered model asset {asset_id}: {card.name}, {sum(t.numel() for t in tensors.values()):,} "
          f"parameters, files {cid_of(archive)} ({meta.licence})")
    if not args.no_certify:
        print("certification requested: a checker attests the automated check next (opendpg dpg status "
              f"{asset_id})")
    print(f'a job fine-tunes it with "model": {{"name": "{card.name}", "config": {json.dumps(card.config)}, '
          f'"base": {{"asset": {asset_id}}}}} (add "lora" to train adapters only)')
    return 0
