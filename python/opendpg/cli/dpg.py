"""``opendpg dpg …``: DPG certification from a terminal. ``check`` runs the automated check (offline on a
metadata file, or on a registered asset, optionally attesting it with a checker's key); ``register``,
``vote``, ``close``, ``decide``, ``renew`` and ``withdraw`` drive the on-chain review, ``claim`` pays reviewers;
``status`` and ``standard`` read."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from opendpg.cli.signing import add_chain_arguments, chain_from_args
from opendpg.config import load_settings
from opendpg.content import ContentStore, cid_of, open_store
from opendpg.dpg import Report, check_asset, open_files, parse_metadata, read_standard_file, shipped_standard
from opendpg.dpg.certification import Certification
from opendpg.dpg.market import provenance, provenance_bytes
from opendpg.errors import ConfigError
from opendpg.files import write_atomic

__all__ = ["register", "store_from_args"]


def register(commands: Any) -> None:
    parser = commands.add_parser("dpg", help="DPG certification: check, register, vote, decide, status")
    add_chain_arguments(parser)
    parser.add_argument("--ipfs-api", help="kubo RPC address (default: $OPENDPG_IPFS_API, else the embedded store)")
    sub = parser.add_subparsers(dest="dpg_command", metavar="COMMAND", required=True)

    check = sub.add_parser("check", help="the automated check against the DPG Standard's nine indicators")
    check.add_argument("metadata", nargs="?", type=Path, help="an asset metadata JSON file (offline check)")
    check.add_argument("--asset", type=int, help="check a registered asset against the current on-chain standard")
    check.add_argument("--files", type=Path, help="the asset's files: a folder, .tar(.gz) or .zip")
    check.add_argument("--standard", type=Path, help="offline: a standard document (default: the shipped v1)")
    check.add_argument("--attest", action="store_true", help="pin the report and attest it on-chain (checker key)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(run=_check)

    reg = sub.add_parser("register", help="pin an asset's metadata (and files) and register it")
    reg.add_argument("metadata", type=Path)
    reg.add_argument("--files", type=Path, help="software and models: a folder or archive of the files")
    reg.add_argument("--no-certify", action="store_true", help="register only; request certification later")
    reg.set_defaults(run=_register)

    for name, help_text, run in (("renew", "start a new review against the current standard (pays the review fee)",
                                  _renew),
                                 ("close", "tally a vote whose period is over", _close),
                                 ("withdraw", "withdraw your review stuck waiting for the checker or the committee",
                                  _withdraw)):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("asset", type=int)
        command.set_defaults(run=run)
    vote = sub.add_parser("vote", help="vote on an asset under community review (needs delegated votes)")
    vote.add_argument("asset", type=int)
    vote.add_argument("choice", choices=["for", "against"])
    vote.set_defaults(run=_vote)
    decide = sub.add_parser("decide", help="an expert committee member's decision")
    decide.add_argument("asset", type=int)
    decide.add_argument("decision", choices=["approve", "reject"])
    decide.add_argument("--reason", default="", help="published with the decision; required to reject")
    decide.set_defaults(run=_decide)
    claim = sub.add_parser("claim", help="claim your reviewer reward for an asset's review (voter or committee)")
    claim.add_argument("asset", type=int)
    claim.add_argument("--review", type=int, help="default: the asset's current review")
    claim.set_defaults(run=_claim)
    prov = sub.add_parser("provenance", help="a job's provenance record: certified inputs, the model's licence and "
                                            "SDGs, the on-chain training history (JSON)")
    prov.add_argument("job", type=int)
    prov.add_argument("--pin", action="store_true", help="also pin the record to IPFS and print its CID")
    prov.add_argument("--out", type=Path, help="write the record to this file instead of printing it")
    prov.set_defaults(run=_provenance)
    share = sub.add_parser("data-share", help="pay a job's data holder its share of the rewards so far")
    share.add_argument("job", type=int)
    share.set_defaults(run=_data_share)
    status = sub.add_parser("status", help="an asset's stage, current review and report")
    status.add_argument("asset", type=int)
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=_status)
    standard = sub.add_parser("standard", help="the current standard's version, CID and indicators")
    standard.add_argument("--json", action="store_true")
    standard.set_defaults(run=_standard)


def store_from_args(args: argparse.Namespace) -> ContentStore:
    settings = load_settings()
    return open_store(getattr(args, "ipfs_api", None) or settings.ipfs_api, settings.state_dir)


def _certification(args: argparse.Namespace, signing: bool = True) -> Certification:
    return Certification(chain_from_args(args, signing), store_from_args(args))


def _print_report(report: Report, as_json: bool) -> None:
    if as_json:
        print(report.to_bytes().decode(), end="")
        return
    print(f"{report.asset['name']} ({report.asset['kind']}, {report.asset['licence']}) against DPG Standard "
          f"v{report.standard['version']}")
    for finding in report.findings:
        print(f"  {finding.id}. {finding.title:<52} {finding.status.upper()}")
        for line in finding.evidence:
            print(f"       - {line}")
    counts = report.counts()
    verdict = "PASSED" if report.passed else "FAILED"
    print(f"{verdict}: {counts['pass']} pass, {counts['review']} for human review, {counts['fail']} fail")


def _check(args: argparse.Namespace) -> int:
    if (args.metadata is None) == (args.asset is None):
        raise ConfigError("check: give a metadata file (offline) or --asset ID (a registered asset), not both")
    if args.asset is not None:
        if args.standard is not None:
            raise ConfigError("--standard: a registered asset is checked against the on-chain standard")
        cert = _certification(args, signing=args.attest)
        report = cert.check(args.asset, args.files)
        _print_report(report, args.json)
        if args.attest:
            cid = cert.attest(args.asset, report)
            print(f"attested asset {args.asset}: {'passed' if report.passed else 'failed'}, report {cid}")
        return 0 if report.passed else 1
    if args.attest:
        raise ConfigError("--attest: only a registered asset (--asset ID) can be attested")
    try:
        meta = parse_metadata(args.metadata.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{args.metadata}: {exc.strerror}") from None
    if args.standard is not None:
        standard, cid = read_standard_file(args.standard), cid_of(args.standard.read_bytes())
    else:
        standard, _, cid = shipped_standard()
    if args.files is not None:
        with open_files(args.files) as files:
            report = check_asset(meta, standard, standard_cid=cid, files=files)
    else:
        report = check_asset(meta, standard, standard_cid=cid)
    _print_report(report, args.json)
    return 0 if report.passed else 1


def _register(args: argparse.Namespace) -> int:
    try:
        meta = parse_metadata(args.metadata.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{args.metadata}: {exc.strerror}") from None
    asset_id = _certification(args).register(meta, files=args.files, certify=not args.no_certify)
    print(f"registered asset {asset_id} ({meta.kind}, {meta.licence})"
          + ("" if args.no_certify else "; certification requested: a checker attests the automated check next"))
    return 0


def _renew(args: argparse.Namespace) -> int:
    _certification(args).renew(args.asset)
    print(f"asset {args.asset}: new review requested against the current standard")
    return 0


def _withdraw(args: argparse.Namespace) -> int:
    cert = _certification(args)
    cert.chain.dpg.withdraw_review(args.asset)
    print(f"asset {args.asset}: review withdrawn, now {cert.state(args.asset).stage}; `opendpg dpg renew "
          f"{args.asset}` asks for a new one")
    return 0


def _close(args: argparse.Namespace) -> int:
    cert = _certification(args)
    cert.close_vote(args.asset)
    print(f"asset {args.asset}: vote closed, now {cert.state(args.asset).stage}")
    return 0


def _vote(args: argparse.Namespace) -> int:
    _certification(args).vote(args.asset, args.choice == "for")
    print(f"voted {args.choice} asset {args.asset}")
    return 0


def _decide(args: argparse.Namespace) -> int:
    cert = _certification(args)
    cert.decide(args.asset, args.decision == "approve", args.reason)
    print(f"asset {args.asset}: {args.decision}d; now {cert.state(args.asset).stage}")
    return 0


def _claim(args: argparse.Namespace) -> int:
    paid = _certification(args).claim_reward(args.asset, args.review)
    print(f"reviewer reward for asset {args.asset}: {paid['voter'] / 10**18:,.4f} as a voter, "
          f"{paid['committee'] / 10**18:,.4f} as a committee member")
    return 0


def _provenance(args: argparse.Namespace) -> int:
    chain, store = chain_from_args(args, signing=False), store_from_args(args)
    record = provenance_bytes(provenance(chain, store, args.job))
    if args.out is not None:
        write_atomic(args.out, record)
        print(f"provenance of job {args.job} written to {args.out}")
    else:
        print(record.decode(), end="")
    if args.pin:
        print(f"pinned: {store.put(record)}")
    return 0


def _data_share(args: argparse.Namespace) -> int:
    paid = chain_from_args(args).market.claim_data_share(args.job)
    print(f"job {args.job}: {paid / 10**18:,.4f} tokens paid to the data holder")
    return 0


def _status(args: argparse.Namespace) -> int:
    state = _certification(args, signing=False).state(args.asset)
    if args.json:
        print(json.dumps(state.as_dict(), indent=1, default=str))
        return 0
    asset = state.asset
    print(f"asset {args.asset}: {asset['kind']}, {asset['licence']}, owner {asset['owner']}")
    print(f"  stage: {state.stage}{' (certified)' if state.certified else ''}; review {asset['review']} against "
          f"standard v{asset['standard_version']}; certified until {asset['certified_until'] or '-'}")
    if state.review:
        review = state.review
        print(f"  vote: {review['for_votes'] / 10**18:,.2f} for, {review['against_votes'] / 10**18:,.2f} against, "
              f"ends at {review['vote_end'] or '-'}; committee: {review['approvals']} approve, "
              f"{review['rejections']} reject")
    if state.report:
        summary = state.report.get("summary", {})
        print(f"  automated check: {'passed' if state.report.get('passed') else 'failed'} ({summary})")
    return 0


def _standard(args: argparse.Namespace) -> int:
    cert = _certification(args, signing=False)
    standard, cid = cert.standard()
    if args.json:
        print(json.dumps({"version": standard.version, "cid": cid, "document": standard.model_dump(mode="json")},
                         indent=1))
        return 0
    print(f"{standard.standard} v{standard.version} ({cid})")
    for indicator in standard.indicators:
        print(f"  {indicator.id}. {indicator.title}{' (human review)' if indicator.human_review else ''}")
    return 0
