"""``opendpg gov …``: the DAO from a terminal: propose (a new DPG Standard version, a parameter, the committee,
a revocation), vote, queue in the timelock, execute, and follow a proposal's status."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from web3 import Web3

from opendpg.chain import Chain
from opendpg.cli.dpg import store_from_args
from opendpg.cli.signing import add_chain_arguments, chain_from_args
from opendpg.errors import ConfigError
from opendpg.governance import (
    LIMITS,
    PARAMETERS,
    STATES,
    SUPPORT,
    Action,
    Proposal,
    add_committee_member,
    find_proposal,
    proposal_status,
    publish_standard,
    remove_committee_member,
    revoke_asset,
    set_parameter,
)

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("gov", help="DAO governance: propose, vote, queue, execute, status")
    add_chain_arguments(parser)
    parser.add_argument("--ipfs-api", help="kubo RPC address (default: $OPENDPG_IPFS_API, else the embedded store)")
    sub = parser.add_subparsers(dest="gov_command", metavar="COMMAND", required=True)

    propose = sub.add_parser("propose", help="propose one or more changes; they run together if the DAO agrees")
    propose.add_argument("--description", required=True, help="what and why, for the voters")
    propose.add_argument("--standard", type=argparse.FileType("rb"), help="publish this DPG Standard document")
    propose.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                         help=f"set a parameter (repeatable): {', '.join([*PARAMETERS, *LIMITS])}")
    propose.add_argument("--add-committee", action="append", default=[], metavar="ADDRESS")
    propose.add_argument("--remove-committee", action="append", default=[], metavar="ADDRESS")
    propose.add_argument("--revoke", type=int, metavar="ASSET", help="revoke an asset's certification")
    propose.add_argument("--reason", default="", help="the published reason of --revoke")
    propose.set_defaults(run=_propose)

    vote = sub.add_parser("vote", help="vote on an active proposal (needs delegated votes at its snapshot)")
    vote.add_argument("proposal", type=int)
    vote.add_argument("choice", choices=list(SUPPORT))
    vote.add_argument("--reason", default="")
    vote.set_defaults(run=_vote)
    for name, help_text, run in (("queue", "queue a succeeded proposal in the timelock", _queue),
                                 ("execute", "execute a queued proposal once the timelock delay is over", _execute)):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("proposal", type=int)
        command.set_defaults(run=run)
    status = sub.add_parser("status", help="a proposal's state, votes, quorum and timing")
    status.add_argument("proposal", type=int)
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=_status)
    sub.add_parser("list", help="every proposal on this chain with its state").set_defaults(run=_list)
    delegate = sub.add_parser("delegate", help="delegate your token votes (to yourself by default)")
    delegate.add_argument("to", nargs="?", help="default: your own address")
    delegate.set_defaults(run=_delegate)


def _propose(args: argparse.Namespace) -> int:
    chain = chain_from_args(args)
    store = store_from_args(args)
    actions: list[Action] = []
    if args.standard is not None:
        actions.append(publish_standard(chain, store, args.standard.read()))
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--param {item!r}: write NAME=VALUE, e.g. dpg.quorum_bps=500")
        actions.append(set_parameter(chain, name.strip(), value.strip()))
    actions += [add_committee_member(chain, a) for a in args.add_committee]
    actions += [remove_committee_member(chain, a) for a in args.remove_committee]
    if args.revoke is not None:
        actions.append(revoke_asset(chain, store, args.revoke, args.reason))
    if not actions:
        raise ConfigError("propose: nothing to do; give --standard, --param, --add-committee, --remove-committee "
                          "or --revoke")
    proposal_id = Proposal(actions, args.description).submit(chain)
    print(f"proposal {proposal_id}")
    for action in actions:
        print(f"  - {action.summary}")
    timing = chain.governor.timing(proposal_id)
    print(f"voting from block {timing['snapshot'] + 1} to block {timing['deadline']}")
    return 0


def _vote(args: argparse.Namespace) -> int:
    chain = chain_from_args(args)
    chain.governor.cast_vote(args.proposal, SUPPORT[args.choice], args.reason)
    against, for_, abstain = chain.governor.votes(args.proposal)
    print(f"voted {args.choice} on {args.proposal}: {for_ / 10**18:,.2f} for, {against / 10**18:,.2f} against, "
          f"{abstain / 10**18:,.2f} abstain")
    return 0


def _lifecycle(args: argparse.Namespace, step: str) -> Chain:
    """Queue or execute a proposal as it was made (its calls, from its ProposalCreated event)."""
    chain = chain_from_args(args)
    proposal = find_proposal(chain, args.proposal)
    getattr(chain.governor, step)(proposal.targets, proposal.values, proposal.calldatas, proposal.description_hash)
    return chain


def _queue(args: argparse.Namespace) -> int:
    chain = _lifecycle(args, "queue")
    print(f"queued {args.proposal}; executable from unix time {chain.governor.timing(args.proposal)['eta']}")
    return 0


def _execute(args: argparse.Namespace) -> int:
    chain = _lifecycle(args, "execute")
    print(f"executed {args.proposal}: {STATES[chain.governor.state(args.proposal)]}")
    return 0


def _utc(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _status(args: argparse.Namespace) -> int:
    status = proposal_status(chain_from_args(args, signing=False), args.proposal)
    if args.json:
        print(json.dumps(status, indent=1))
        return 0
    votes = status["votes"]
    print(f"proposal {status['id']}: {status['state']}")
    print(f"  {status['description']}")
    quorum = "-" if status["quorum"] is None else f"{status['quorum'] / 10**18:,.2f}"
    print(f"  votes: {votes['for'] / 10**18:,.2f} for, {votes['against'] / 10**18:,.2f} against, "
          f"{votes['abstain'] / 10**18:,.2f} abstain; quorum {quorum}")
    print(f"  voting {_utc(status['voting_starts'])} .. {_utc(status['voting_ends'])} (now {_utc(status['now'])}); "
          f"executable at {_utc(status['executable_at']) if status['executable_at'] else '-'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    chain = chain_from_args(args, signing=False)
    logs = chain.governor.contract.events.ProposalCreated().get_logs(from_block=chain.deployment.start_block)
    if not logs:
        print("no proposals yet")
    for log in logs:
        proposal_id = int(log["args"]["proposalId"])
        description = str(log["args"]["description"]).splitlines()[0][:80]
        print(f"{proposal_id}  {STATES[chain.governor.state(proposal_id)]:<9}  {description}")
    return 0


def _delegate(args: argparse.Namespace) -> int:
    chain = chain_from_args(args)
    to = args.to or chain.sender.address
    if not Web3.is_address(to):
        raise ConfigError(f"{to!r} is not an address")
    chain.token.delegate(Web3.to_checksum_address(to))
    print(f"votes of {chain.sender.address} delegated to {to}: {chain.token.votes(to) / 10**18:,.2f} votes")
    return 0
