"""``opendpg deploy`` and ``opendpg chain start``."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading
from pathlib import Path
from typing import Any

from opendpg.chain import LocalChain, SuiteParams, TxSender, connect, deploy_suite
from opendpg.chain.compiler import compile_suite, standard_input
from opendpg.config import load_settings
from opendpg.errors import ConfigError

__all__ = ["register"]


def register(commands: Any) -> None:
    deploy = commands.add_parser("deploy", help="compile and deploy the contract suite to a chain")
    deploy.add_argument("--rpc-url", help="JSON-RPC endpoint (default: $OPENDPG_RPC_URL)")
    deploy.add_argument("--out", type=Path, help="deployment file to write (default: $OPENDPG_DEPLOYMENT_FILE)")
    deploy.add_argument("--checker", action="append", default=[], help="address allowed to attest DPG checks")
    deploy.add_argument("--committee", action="append", default=[], help="DPG expert committee member")
    deploy.add_argument("--committee-threshold", type=int, default=1)
    deploy.add_argument("--dispute-window", type=int, default=2 * 86_400, metavar="SECONDS",
                        help="how long after a job's last commit its exclusions can be disputed; the job finalizes "
                             "only after it (default: 2 days)")
    deploy.set_defaults(run=run_deploy)

    compile_ = commands.add_parser("compile", help="compile the contract suite (cached) and list the contracts")
    compile_.add_argument("--write-input", type=Path, help="only write the solc standard-JSON input (for slither)")
    compile_.set_defaults(run=run_compile)

    chain = commands.add_parser("chain", help="a local development chain")
    chain_commands = chain.add_subparsers(dest="chain_command", metavar="SUBCOMMAND", required=True)
    start = chain_commands.add_parser("start", help="start anvil (or ganache), deploy the suite, wait for Ctrl-C")
    start.add_argument("--kind", choices=["anvil", "ganache"], help="default: $OPENDPG_LOCAL_CHAIN or anvil")
    start.add_argument("--port", type=int, default=8545)
    start.add_argument("--out", type=Path, help="deployment file to write")
    start.set_defaults(run=run_chain_start)


def run_compile(args: argparse.Namespace) -> int:
    if args.write_input:
        args.write_input.parent.mkdir(parents=True, exist_ok=True)
        args.write_input.write_text(json.dumps(standard_input(analysis=True), indent=1))
        print(f"solc standard-JSON input written to {args.write_input}")
        return 0
    for name, artifact in sorted(compile_suite().items()):
        print(f"{name:24s} {artifact.source}")
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    settings = load_settings()
    rpc_url = args.rpc_url or settings.rpc_url
    if not rpc_url:
        raise ConfigError("no chain to deploy to: pass --rpc-url or set OPENDPG_RPC_URL "
                          "(or run `opendpg chain start`, which starts a local chain and deploys)")
    if settings.private_key is None:
        raise ConfigError("no deployer key: set OPENDPG_PRIVATE_KEY to the hex private key of a funded account")
    sender = TxSender(connect(rpc_url), settings.private_key.get_secret_value())
    if args.dispute_window < 1:
        raise ConfigError("--dispute-window: must be at least 1 second (a committee needs days to decide)")
    params = SuiteParams(checkers=args.checker, committee=args.committee,
                         committee_threshold=args.committee_threshold, dispute_window=args.dispute_window)
    deployment = deploy_suite(sender, params)
    out = args.out or settings.deployment_file
    deployment.save(out)
    print(f"deployed to chain {deployment.chain_id} from {sender.address}; deployment file: {out}")
    for name, record in deployment.contracts.items():
        print(f"  {name:16s} {record.address}")
    return 0


def run_chain_start(args: argparse.Namespace) -> int:
    settings = load_settings()
    chain = LocalChain(kind=args.kind or settings.local_chain, port=args.port)
    with chain:
        deployer = chain.dev_accounts()[0]
        sender = TxSender(connect(chain.rpc_url), deployer)
        deployment = deploy_suite(sender, SuiteParams(checkers=[deployer.address]))
        out = args.out or settings.deployment_file
        deployment.save(out)
        done = threading.Event()
        # before saying it runs: a SIGTERM sent as soon as the last line is read must stop it cleanly (exit 0)
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        print(f"{chain.kind} running at {chain.rpc_url} (ws {chain.ws_url}), pid {chain.pid}")
        print(f"suite deployed; deployment file: {out}")
        print("development accounts come from the well-known test mnemonic; never use them elsewhere")
        print("Ctrl-C stops the chain", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
    return 0
