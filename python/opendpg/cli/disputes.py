"""``opendpg dispute …``: contest the exclusion of an update, and decide disputes as a DPG committee member.

A provider opens a dispute about its own update of a committed round (``open``: the update is checked first, and the
check pinned as evidence); committee members not party to the job run ``check`` (the same checks, from the chain and
IPFS) and ``vote``; anyone ``lapse``s a dispute the committee left undecided past its period; winners ``withdraw``
the bonds they are owed.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from typing import Any

from opendpg.audit import check_excluded_update
from opendpg.chain import Chain, DisputeState
from opendpg.cli.signing import E18, add_chain_arguments, chain_from_args
from opendpg.config import load_settings
from opendpg.content import ContentStore, open_store
from opendpg.errors import ConfigError

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("dispute", help="contest an excluded update; decide disputes (DPG committee)")
    add_chain_arguments(parser)
    parser.add_argument("--ipfs-api", help="kubo RPC address (default: $OPENDPG_IPFS_API, else the embedded store)")
    sub = parser.add_subparsers(dest="dispute_command", metavar="COMMAND", required=True)
    open_ = sub.add_parser("open", help="dispute the exclusion of this node's update of a committed round")
    open_.add_argument("job", type=int)
    open_.add_argument("round", type=int)
    open_.add_argument("--force", action="store_true",
                       help="open it even if the update fails a check (the committee will likely deny it: the bond "
                            "then goes to the coordinator)")
    open_.set_defaults(run=_open)
    check = sub.add_parser("check", help="check a dispute's update as the committee judges it (read-only)")
    check.add_argument("dispute", type=int)
    check.set_defaults(run=_check)
    vote = sub.add_parser("vote", help="vote on a dispute as a DPG committee member not party to the job")
    vote.add_argument("dispute", type=int)
    side = vote.add_mutually_exclusive_group(required=True)
    side.add_argument("--uphold", action="store_true", help="the update had to be used: pay the provider")
    side.add_argument("--deny", action="store_true", help="the coordinator was right to leave it out")
    vote.add_argument("--reason", default="", help="why (pinned to IPFS; its CID goes on-chain)")
    vote.set_defaults(run=_vote)
    lapse = sub.add_parser("lapse", help="close a dispute the committee left undecided past its period")
    lapse.add_argument("dispute", type=int)
    lapse.set_defaults(run=_lapse)
    sub.add_parser("withdraw", help="withdraw the dispute bonds owed to this account").set_defaults(run=_withdraw)
    show = sub.add_parser("list", help="disputes about a job (default: every dispute)")
    show.add_argument("--job", type=int)
    show.set_defaults(run=_list)


def _fmt(amount: int) -> str:
    return f"{Decimal(amount) / E18:,.4f}"


def _store(args: argparse.Namespace) -> ContentStore:
    settings = load_settings()
    return open_store(args.ipfs_api or settings.ipfs_api, settings.state_dir)


def _open(args: argparse.Namespace) -> int:
    chain = chain_from_args(args)
    store = _store(args)
    check = check_excluded_update(chain, store, args.job, args.round, chain.sender.address)
    if not check.excluded or (check.problems and not args.force):
        print(f"job {args.job} round {args.round}: not disputed, the update of {check.provider} fails a check:")
        for problem in check.problems:
            print(f"    {problem}")
        if check.excluded:
            print("the committee judges by the same checks; --force opens it anyway (the bond is likely lost)")
        return 1
    bond = chain.disputes.bond()
    evidence = store.put(check.evidence())
    dispute_id = chain.disputes.open_dispute(args.job, args.round, check.update_hash, evidence)
    dispute = chain.disputes.get(dispute_id)
    print(f"dispute {dispute_id} opened about job {args.job} round {args.round}; bond {_fmt(bond)} "
          f"(evidence {evidence})")
    print(f"the DPG committee decides until unix time {dispute.decide_by}; the job cannot finalize before. "
          "Next: `opendpg dispute list --job N` to follow it, `opendpg dispute withdraw` once it is decided")
    return 0


def _check(args: argparse.Namespace) -> int:
    chain = chain_from_args(args, signing=False)
    dispute = chain.disputes.get(args.dispute)
    check = check_excluded_update(chain, _store(args), dispute.job_id, dispute.round, dispute.provider)
    print(f"dispute {args.dispute}: job {dispute.job_id} round {dispute.round}, provider {dispute.provider}, "
          f"coordinator {dispute.coordinator}: {dispute.state.name.lower()}")
    print(f"  update {check.update_cid} (hash 0x{check.update_hash.hex()}); evidence "
          f"{chain.disputes.evidence_of(args.dispute) or 'none'}")
    if check.valid:
        print("  the update passes every check the coordinator had to apply: uphold (`opendpg dispute vote "
              f"{args.dispute} --uphold`)")
        return 0
    for problem in check.problems:
        print(f"    {problem}")
    print(f"  the coordinator was right to leave it out: deny (`opendpg dispute vote {args.dispute} --deny`)")
    return 1


def _vote(args: argparse.Namespace) -> int:
    chain = chain_from_args(args)
    reason_cid = _store(args).put(args.reason.encode()) if args.reason else ""
    chain.disputes.vote(args.dispute, bool(args.uphold), reason_cid)
    dispute = chain.disputes.get(args.dispute)
    threshold = chain.dpg.settings()["committee_threshold"]
    if dispute.state == DisputeState.OPEN:
        print(f"vote counted on dispute {args.dispute}: {dispute.uphold_votes} to uphold, {dispute.deny_votes} to "
              f"deny; {threshold} decide")
    else:
        print(f"dispute {args.dispute} {dispute.state.name.lower()}: " + (
            "the round is paid to the provider from the escrow, with its bond back and the coordinator's penalty"
            if dispute.state == DisputeState.UPHELD else "the bond goes to the coordinator"))
    return 0


def _lapse(args: argparse.Namespace) -> int:
    chain = chain_from_args(args)
    dispute = chain.disputes.get(args.dispute)
    if dispute.state == DisputeState.OPEN and time.time() <= dispute.decide_by:
        raise ConfigError(f"dispute {args.dispute}: the committee may decide until unix time {dispute.decide_by}; "
                          "lapse it after that")
    chain.disputes.lapse(args.dispute)
    print(f"dispute {args.dispute} lapsed: the bond goes back to {dispute.provider}; nothing credited")
    return 0


def _withdraw(args: argparse.Namespace) -> int:
    chain = chain_from_args(args)
    if chain.disputes.owed(chain.sender.address) == 0:
        print("no dispute bonds are owed to this account")
        return 0
    print(f"withdrawn {_fmt(chain.disputes.withdraw())}")
    return 0


def _list(args: argparse.Namespace) -> int:
    chain: Chain = chain_from_args(args, signing=False)
    shown = 0
    for dispute_id in range(1, chain.disputes.count() + 1):
        d = chain.disputes.get(dispute_id)
        if args.job is not None and d.job_id != args.job:
            continue
        shown += 1
        print(f"dispute {dispute_id}: job {d.job_id} round {d.round}, provider {d.provider}: {d.state.name.lower()} "
              f"({d.uphold_votes} uphold, {d.deny_votes} deny; decide by {d.decide_by}; bond {_fmt(d.bond)})")
    if not shown:
        print("no disputes" + (f" about job {args.job}" if args.job is not None else ""))
    return 0
