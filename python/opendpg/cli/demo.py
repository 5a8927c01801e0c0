"""``opendpg demo``: one job's whole on-chain life on a local chain the demo starts itself.

Starts anvil, deploys the suite, registers three staked providers, posts a 3-round job with escrow,
follows every contract event live through the event stream (websocket, checkpointed), runs the rounds
(each provider records the SHA-256 of its update; the coordinator commits a hash over the round's update
hashes), finalizes, pays everyone by pull, and prints a summary. Federated training (Flower + PyTorch)
and IPFS arrive with the provider agents (issue 3); here each update is a small canonical JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from opendpg.chain import (
    Capabilities,
    Chain,
    ChainEvent,
    EventStream,
    FileCheckpoint,
    JobParams,
    LocalChain,
    SuiteParams,
    TxSender,
    WebsocketHeads,
    connect,
    deploy_suite,
)
from opendpg.errors import ContractRevert

__all__ = ["register"]

E18 = 10**18
SHOWN = ["NodeRegistered", "StakeLocked", "Slashed", "JobPosted", "ProviderJoined", "JobStarted",
         "UpdateSubmitted", "RoundCommitted", "ProviderDropped", "JobFinalized", "RewardClaimed", "RefundClaimed",
         "FeesWithdrawn"]
SPEC_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


def register(commands: Any) -> None:
    demo = commands.add_parser("demo", help="run one job end to end on a local chain")
    demo.add_argument("--kind", choices=["anvil", "ganache"], default="anvil")
    demo.add_argument("--rounds", type=int, default=3)
    demo.add_argument("--state-dir", type=Path, default=Path(".opendpg/demo"))
    demo.set_defaults(run=lambda args: asyncio.run(run_demo(args)))


def _fmt(amount: int) -> str:
    return f"{amount / E18:,.2f} DPG"


def _update(job_id: int, round_: int, provider: str) -> bytes:
    doc = {"job": job_id, "round": round_, "provider": provider, "kind": "demo-update/1"}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _play(admin: Chain, as_: dict[str, Chain], w3: Any, poster: Any, coordinator: Any, providers: list[Any],
          rounds: int) -> tuple[int, dict[str, int], int]:
    """The scripted participants; runs in a thread so that the event stream prints as things happen."""
    for i, node in enumerate([coordinator, *providers]):
        caps = Capabilities("NVIDIA A100" if i else "CPU only", 40_960 if i else 0, 16, 65_536, "eu-west",
                            ["sklearn/digits"], SPEC_CID)
        as_[node.address].registry.register(caps, 200 * E18)
    reward = 10 * E18
    params = JobParams(SPEC_CID, admin.token.address, reward * rounds * 3 + 5 * E18, reward, rounds, 2, 3,
                       50 * E18, int(w3.eth.get_block("latest")["timestamp"]) + 3600, 600, coordinator.address)
    job_id = as_[poster.address].market.post_job(params)
    for p in providers:
        as_[p.address].market.join_job(job_id)
    as_[coordinator.address].market.start_job(job_id)
    for r in range(1, rounds + 1):
        hashes = []
        for p in providers:
            digest = hashlib.sha256(_update(job_id, r, p.address)).digest()
            hashes.append(digest)
            as_[p.address].market.submit_update(job_id, r, digest, f"demo://{job_id}/{r}/{p.address}")
        if r == 1:
            try:
                as_[providers[0].address].market.submit_update(job_id, r, hashes[0], "again")
            except ContractRevert as exc:
                print(f"  (a second update for the same round is refused: {exc.name} {exc.args_dict})")
        global_hash = hashlib.sha256(b"".join(hashes)).digest()
        as_[coordinator.address].market.commit_round(job_id, r, global_hash, f"demo://{job_id}/{r}/global",
                                                     range(len(providers)))
    as_[coordinator.address].market.finalize_job(job_id)
    earned = {p.address: as_[p.address].market.claim(job_id) for p in providers}
    refund = as_[poster.address].market.claim_refund(job_id)
    admin.market.withdraw_fees(admin.token.address)
    return job_id, earned, refund


def _show(event: ChainEvent) -> None:
    interesting = {k: (v.hex()[:16] + "…" if isinstance(v, bytes) else v) for k, v in event.args.items()
                   if k not in {"params", "capabilities"}}
    print(f"  [block {event.block_number:>3}] {event.contract}.{event.name} {interesting}")


async def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    with LocalChain(kind=args.kind, log_file=args.state_dir / "chain.log") as local:
        print(f"1. {local.kind} started at {local.rpc_url} (pid {local.pid})")
        w3 = connect(local.rpc_url)
        accounts = local.dev_accounts()
        deployer, poster, coordinator, providers = accounts[0], accounts[1], accounts[2], accounts[3:6]
        admin = Chain(w3, deploy_suite(TxSender(w3, deployer), SuiteParams(checkers=[deployer.address])),
                      TxSender(w3, deployer))
        deployment = admin.deployment
        deployment.save(args.state_dir / "deployment.json")
        print(f"2. suite deployed; JobMarket at {admin.market.address}")
        for acct in [poster, coordinator, *providers]:
            admin.token.transfer(acct.address, 10_000 * E18)

        stream = EventStream(w3, deployment, ["JobMarket", "NodeRegistry"], events=SHOWN,
                             checkpoint=FileCheckpoint(args.state_dir / "events.checkpoint"),
                             heads=await WebsocketHeads(local.ws_url).start(),
                             start_block=int(w3.eth.block_number) + 1)
        stop = asyncio.Event()

        async def print_event(event: ChainEvent) -> None:
            _show(event)

        follower = asyncio.create_task(stream.run(print_event, stop))
        as_: dict[str, Chain] = {a.address: admin.as_account(TxSender(w3, a))
                                 for a in [poster, coordinator, *providers]}

        print("3. providers register and stake; the poster posts a job (events follow live):")
        job_id, earned, refund = await asyncio.to_thread(
            _play, admin, as_, w3, poster, coordinator, providers, args.rounds)
        await asyncio.sleep(0.3)
        stop.set()
        await follower
        await stream.heads.close()

        job = admin.market.get_job(job_id)
        print("4. summary")
        print(f"  job {job_id}: {job.state.name}, {job.committed_rounds}/{job.rounds} rounds committed")
        for addr, amount in earned.items():
            rep = admin.registry.reputation_of(addr)
            print(f"  provider {addr[:10]}… earned {_fmt(amount)}; reputation {rep}")
        treasury = admin.deployment.address("OpenDPGTimelock")
        print(f"  escrow refunded to the poster: {_fmt(refund)}; protocol fees in the treasury: "
              f"{_fmt(admin.token.balance_of(treasury))}; JobMarket balance now "
              f"{_fmt(admin.token.balance_of(admin.market.address))}")
        print(f"  done in {time.monotonic() - started:.1f} s; chain stopped")
    return 0
