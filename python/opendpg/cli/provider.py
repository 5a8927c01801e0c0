"""``opendpg provider …``: a provider's node from a terminal, signing with its own key (``--key-file``,
``--keystore`` or ``OPENDPG_PRIVATE_KEY``): register, stake, unbond, withdraw, claim, and status with earnings."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from web3 import Web3

from opendpg.chain import Capabilities, Chain
from opendpg.cli.signing import E18, add_chain_arguments, chain_from_args, parse_tokens
from opendpg.errors import ConfigError
from opendpg.node.config import NodeSection

__all__ = ["register"]



def register(commands: Any) -> None:
    parser = commands.add_parser("provider", help="register, stake and get paid as a provider node")
    add_chain_arguments(parser)
    sub = parser.add_subparsers(dest="provider_command", metavar="COMMAND", required=True)
    reg = sub.add_parser("register", help="register this node with its capabilities and stake")
    reg.add_argument("--stake", required=True, help="whole tokens")
    reg.add_argument("--gpu-model", help="default: the machine's GPU as its driver reports it (CPU without one)")
    reg.add_argument("--gpu-memory-mib", type=int,
                     help="GPU memory offered to jobs; default: all the machine's GPU has (never more)")
    reg.add_argument("--cpu-cores", type=int, default=1)
    reg.add_argument("--ram-mib", type=int, default=4096)
    reg.add_argument("--region", default="local")
    reg.add_argument("--dataset", action="append", default=[], help="a catalog dataset held here (repeatable)")
    reg.set_defaults(run=_register)
    for name, run, help_text in (("stake", _stake, "add stake (whole tokens)"),
                                 ("unbond", _unbond, "start unbonding stake (whole tokens)")):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("amount")
        command.set_defaults(run=run)
    sub.add_parser("withdraw", help="withdraw stake whose unbonding period is over").set_defaults(run=_withdraw)
    sub.add_parser("claim", help="claim every reward this node can claim now").set_defaults(run=_claim)
    leave = sub.add_parser("leave", help="leave a job that has not started yet (its stake is unlocked)")
    leave.add_argument("job", type=int, help="the job id")
    leave.set_defaults(run=_leave)
    status = sub.add_parser("status", help="stake, reputation, earnings and what is claimable")
    status.add_argument("address", nargs="?", help="default: this node's own address")
    status.set_defaults(run=_status)


def _chain(args: argparse.Namespace, signing: bool = True) -> Chain:
    return chain_from_args(args, signing)


def _fmt(amount: int) -> str:
    return f"{Decimal(amount) / E18:,.4f}"


def _register(args: argparse.Namespace) -> int:
    chain = _chain(args)
    try:
        gpu_model, gpu_memory = NodeSection(gpu_model=args.gpu_model, gpu_memory_mib=args.gpu_memory_mib).gpu()
    except ValidationError as exc:
        raise ConfigError(f"--gpu-memory-mib: {exc.errors()[0]['msg']}") from None
    caps = Capabilities(gpu_model, gpu_memory, args.cpu_cores, args.ram_mib, args.region, sorted(args.dataset))
    chain.registry.register(caps, parse_tokens(args.stake, "--stake"))
    print(f"registered {chain.sender.address} with {args.stake} tokens staked; GPU: {gpu_model}"
          + (f", {gpu_memory} MiB offered" if gpu_memory else ""))
    return 0


def _stake(args: argparse.Namespace) -> int:
    chain = _chain(args)
    chain.registry.add_stake(parse_tokens(args.amount, "amount"))
    print(f"staked {args.amount} more; now {_fmt(chain.registry.stake_of(chain.sender.address)['staked'])}")
    return 0


def _unbond(args: argparse.Namespace) -> int:
    chain = _chain(args)
    chain.registry.request_unbonding(parse_tokens(args.amount, "amount"))
    stake = chain.registry.stake_of(chain.sender.address)
    print(f"unbonding {_fmt(stake['unbonding'])}; withdrawable from unix time {stake['unbonding_ready_at']}")
    return 0


def _withdraw(args: argparse.Namespace) -> int:
    chain = _chain(args)
    chain.registry.withdraw_unbonded()
    print(f"withdrawn; staked now {_fmt(chain.registry.stake_of(chain.sender.address)['staked'])}")
    return 0


def _leave(args: argparse.Namespace) -> int:
    chain = _chain(args)
    me = chain.sender.address
    locked = chain.market.get_job(args.job).required_stake
    chain.market.leave_job(args.job)
    print(f"left job {args.job}; {_fmt(locked)} of stake unlocked (free now: {_fmt(chain.registry.free_stake(me))})")
    return 0


def _joined_jobs(chain: Chain, address: str) -> list[int]:
    logs = chain.market.contract.events.ProviderJoined().get_logs(
        from_block=chain.deployment.start_block, argument_filters={"provider": address})
    return sorted({int(log["args"]["jobId"]) for log in logs})


def _claim(args: argparse.Namespace) -> int:
    chain = _chain(args)
    me, total = chain.sender.address, 0
    for job_id in _joined_jobs(chain, me):
        if chain.market.claimable(job_id, me) > 0:
            amount = chain.market.claim(job_id)
            total += amount
            print(f"job {job_id}: claimed {_fmt(amount)}")
    print(f"claimed {_fmt(total)} in all" if total else "nothing to claim now")
    return 0


def _status(args: argparse.Namespace) -> int:
    if args.address is not None and not Web3.is_address(args.address):
        raise ConfigError(f"address: {args.address!r} is not an address (0x and 40 hex digits)")
    chain = _chain(args, signing=args.address is None)
    address = Web3.to_checksum_address(args.address) if args.address else chain.sender.address
    registry, market = chain.registry, chain.market
    if not registry.is_registered(address):
        print(f"{address} is not a registered node: `opendpg provider register --stake N`")
        return 0
    stake, rep = registry.stake_of(address), registry.reputation_of(address)
    print(f"node {address}")
    print(f"  stake {_fmt(stake['staked'])} (locked {_fmt(stake['locked'])}, unbonding {_fmt(stake['unbonding'])})")
    print(f"  reputation: {rep['jobs_completed']} jobs, {rep['rounds_delivered']} rounds delivered, "
          f"{rep['rounds_missed']} missed, {rep['slashes']} slashes")
    earned = sum(int(log["args"]["amount"]) for log in market.contract.events.RewardClaimed().get_logs(
        from_block=chain.deployment.start_block, argument_filters={"provider": address}))
    claimable = {j: market.claimable(j, address) for j in _joined_jobs(chain, address)}
    print(f"  earned (claimed) {_fmt(earned)}; claimable now {_fmt(sum(claimable.values()))} "
          f"over {sum(1 for v in claimable.values() if v)} job(s); joined {len(claimable)} job(s)")
    return 0
