"""``opendpg data …``: describe a dataset's records as a schema (for its asset's metadata), check a holder's own
files against a schema, pack and pin a poster's held-out set, show what DP-SGD spends, list holdings on-chain,
and write public sample data as holders' files (demos)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Literal

from opendpg.chain import DELTA_UNIT, EPSILON_UNIT
from opendpg.cli.signing import add_chain_arguments, chain_from_args
from opendpg.config import load_settings
from opendpg.content import open_store
from opendpg.data import (
    FORMATS,
    SAMPLES,
    DataError,
    DatasetSchema,
    Feature,
    ImageShape,
    Label,
    TextEncoding,
    detect_format,
    pack_held_out,
    read_local,
    read_tables,
    sample_schema,
    validation_split,
    write_sample,
)
from opendpg.dpg.datasets import asset_schema
from opendpg.errors import ConfigError
from opendpg.fl.privacy import job_epsilon
from opendpg.spec import SpecError, parse_spec

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("data", help="describe, check and hold datasets in your own files")
    sub = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    describe = sub.add_parser("describe", help="a schema for your records (put it in the dataset asset's metadata "
                                               "as dataset_schema)")
    describe.add_argument("path", type=Path, help="a file or folder of your records")
    describe.add_argument("--label", default="label", help="the target column (image folders: the sub-folders)")
    describe.add_argument("--classes", help="comma-separated class names in index order (default: the values "
                                            "found, sorted)")
    describe.add_argument("--numeric", action="store_true", help="the target is a number (regression)")
    describe.add_argument("--text", help="the text column of a text dataset")
    describe.add_argument("--no-stats", action="store_true", help="do not publish means and standard deviations "
                                                                  "of the features (they are aggregates of your data)")
    describe.add_argument("--terms", default="", help="terms of use of the records")
    describe.add_argument("--out", type=Path, help="write the schema here (default: print it)")
    describe.set_defaults(run=_describe)
    check = sub.add_parser("check", help="check your files against a dataset's schema, as an agent does")
    check.add_argument("path", type=Path)
    _schema_source(check)
    check.add_argument("--drop-bad-rows", action="store_true", help="count bad records instead of stopping")
    check.set_defaults(run=_check)
    held = sub.add_parser("held-out", help="pack a poster's held-out records and pin them: the spec's held_out_cid")
    held.add_argument("path", type=Path)
    _schema_source(held)
    held.add_argument("--out", type=Path, help="also write the archive here")
    held.set_defaults(run=_held_out)
    epsilon = sub.add_parser("epsilon", help="the DP-SGD epsilon a provider with N records spends on a job")
    epsilon.add_argument("spec", type=Path)
    epsilon.add_argument("--records", type=int, required=True, help="the provider's records (before its "
                                                                    "validation split)")
    epsilon.set_defaults(run=_epsilon)
    holding = sub.add_parser("holding", help="a node's holding of a dataset asset and its privacy budget")
    holding.add_argument("asset", type=int)
    holding.add_argument("--holder", help="default: your own address")
    add_chain_arguments(holding)
    holding.set_defaults(run=_holding)
    sample = sub.add_parser("sample", help="write a public dataset as holders' own files, with its schema")
    sample.add_argument("name", choices=SAMPLES)
    sample.add_argument("out", type=Path)
    sample.add_argument("--holders", type=int, default=3)
    sample.add_argument("--formats", default="csv", help="comma-separated tabular formats, one per holder in turn "
                                                         f"({', '.join(sorted(FORMATS['tabular']))})")
    sample.set_defaults(run=_sample)


def _schema_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--schema", type=Path, help="a schema file (opendpg data describe)")
    parser.add_argument("--asset", type=int, help="or: the dataset asset whose metadata holds the schema")
    add_chain_arguments(parser)


def _load_schema(args: argparse.Namespace) -> DatasetSchema:
    if args.schema is not None:
        try:
            return DatasetSchema.model_validate_json(args.schema.read_text())
        except FileNotFoundError:
            raise ConfigError(f"--schema: {args.schema} does not exist") from None
        except ValueError as exc:
            raise ConfigError(f"--schema: {args.schema} is not a dataset schema: {exc}") from None
    if args.asset is None:
        raise ConfigError("name the schema: --schema FILE or --asset ID")
    settings = load_settings()
    return asset_schema(chain_from_args(args, signing=False), open_store(settings.ipfs_api, settings.state_dir),
                        args.asset)


def describe_records(path: Path, *, label: str = "label", classes: list[str] | None = None, numeric: bool = False,
                     text: str | None = None, stats: bool = True, terms: str = "") -> DatasetSchema:
    """A schema for the records at ``path``: columns and types (or image size and class folders) as found, any
    format of the modality allowed (an owner may narrow ``formats``)."""
    fmt = detect_format(path)
    if fmt == "image-folder":
        return _describe_images(path, classes, terms)
    frames = [frame for _, frame in read_tables(path, fmt)]
    import pandas as pd

    frame = pd.concat(frames, ignore_index=True)
    if label not in frame.columns:
        raise DataError(f"{path}: no column {label!r} to use as the label (columns: {list(map(str, frame.columns))}); "
                        "pass --label")
    features: list[Feature] = []
    if text is not None:
        features.append(Feature(name=text, type="string"))
    else:
        for column in frame.columns:
            if column == label:
                continue
            values = frame[column]
            if not pd.api.types.is_numeric_dtype(values):
                raise DataError(f"{path}: column {column!r} is not numeric; drop it, or describe a text dataset "
                                "with --text")
            kind: Literal["float", "int", "bool"] = "bool" if pd.api.types.is_bool_dtype(values) else (
                "int" if pd.api.types.is_integer_dtype(values) else "float")
            mean, std = float(values.mean()), float(values.std())
            features.append(Feature(name=str(column), type=kind, mean=round(mean, 6) if stats else 0.0,
                                    std=round(std, 6) if stats and std > 0 else 1.0))
    target = frame[label]
    if numeric:
        mean, std = float(target.mean()), float(target.std())
        target_label = Label(name=label, mean=round(mean, 6) if stats else 0.0,
                             std=round(std, 6) if stats and std > 0 else 1.0)
    else:
        found = sorted({str(v) for v in target.dropna().tolist()})
        target_label = Label(name=label, classes=classes or found)
    modality = "text" if text is not None else "tabular"
    return DatasetSchema(modality=modality, formats=sorted(FORMATS[modality]),  # type: ignore[arg-type]
                         features=features, label=target_label,
                         text=TextEncoding() if text is not None else None, terms_of_use=terms)


def _describe_images(path: Path, classes: list[str] | None, terms: str) -> DatasetSchema:
    from PIL import Image

    folders = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    first = next((f for folder in folders for f in sorted((path / folder).iterdir()) if f.is_file()), None)
    if first is None:
        raise DataError(f"{path}: no images in its class folders")
    with Image.open(first) as image:
        width, height = image.size
        grey = image.mode in ("L", "1", "I;16")
    return DatasetSchema(modality="image", formats=["image-folder"], label=Label(classes=classes or folders),
                         image=ImageShape(width=width, height=height, channels=1 if grey else 3), terms_of_use=terms)


def _describe(args: argparse.Namespace) -> int:
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    schema = describe_records(args.path, label=args.label, classes=classes, numeric=args.numeric, text=args.text,
                              stats=not args.no_stats, terms=args.terms)
    text = json.dumps(schema.model_dump(mode="json"), indent=1)
    if args.out:
        args.out.write_text(text + "\n")
        print(f"schema written to {args.out} (fingerprint {schema.fingerprint().hex()}): put it in your dataset "
              "asset's metadata as dataset_schema, then `opendpg dpg register` the asset")
    else:
        print(text)
    return 0


def _check(args: argparse.Namespace) -> int:
    schema = _load_schema(args)
    records = read_local(schema, args.path, drop_bad_rows=args.drop_bad_rows)
    print(f"{len(records)} records pass the schema (fingerprint {schema.fingerprint().hex()[:16]}...)"
          + (f"; {records.dropped} bad records would be left out:" if records.dropped else ""))
    for reason in records.reasons[:10]:
        print(f"  {reason}")
    return 0


def _held_out(args: argparse.Namespace) -> int:
    schema = _load_schema(args)
    archive = pack_held_out(schema, args.path)
    if args.out:
        args.out.write_bytes(archive)
    settings = load_settings()
    cid = open_store(settings.ipfs_api, settings.state_dir).put(archive)
    print(f"held-out set pinned: {cid} ({len(archive):,} bytes); put it in the job spec as held_out_cid")
    return 0


def _epsilon(args: argparse.Namespace) -> int:
    try:
        spec = parse_spec(args.spec.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"spec: {args.spec} does not exist") from None
    except SpecError as exc:
        raise ConfigError(str(exc)) from None
    if spec.privacy.dp_sgd is None:
        print("the spec trains without DP-SGD: it spends no epsilon (holders that require DP refuse it)")
        return 0
    training, _ = validation_split(args.records, spec.dataset.validation_fraction, spec.dataset.seed)
    spent = job_epsilon(spec, len(training))
    assert spent is not None
    declared = spec.privacy.dp_sgd.epsilon
    verdict = "within" if spent <= declared else "ABOVE"
    print(f"a provider with {args.records} records ({len(training)} training) spends epsilon {spent:.4f} at delta "
          f"{spec.privacy.dp_sgd.delta:g}: {verdict} the {declared:g} the spec declares")
    return 0 if spent <= declared else 1


def _holding(args: argparse.Namespace) -> int:
    chain = chain_from_args(args, signing=args.holder is None)
    holder = args.holder or chain.sender.address
    held = chain.ledger.holding_of(holder, args.asset)
    if not held.held and not held.spent:
        print(f"{holder} does not hold asset {args.asset}")
        return 1
    print(f"{holder} {'holds' if held.held else 'no longer holds'} asset {args.asset}: {held.records} records, "
          f"schema {held.schema.hex()[:16]}..., {'requires DP; ' if held.requires_dp else ''}privacy budget "
          f"{held.budget / EPSILON_UNIT:g} at delta {held.delta / DELTA_UNIT:g}, spent {held.spent / EPSILON_UNIT:g}, "
          f"left {held.remaining / EPSILON_UNIT:g}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    formats = [f.strip() for f in args.formats.split(",")]
    wrong = sorted(set(formats) - FORMATS["tabular"])
    if wrong:
        raise ConfigError(f"--formats: {wrong} are not tabular formats ({sorted(FORMATS['tabular'])})")
    files = write_sample(args.name, args.out, args.holders, formats=formats)  # type: ignore[arg-type]
    schema_file = args.out / "schema.json"
    schema_file.write_text(json.dumps(sample_schema(args.name).model_dump(mode="json"), indent=1) + "\n")
    for folder, count in zip(files.holders, files.records, strict=True):
        print(f"{folder}: {count} records")
    print(f"held-out set: {files.held_out}; schema: {schema_file}")
    return 0
