"""``opendpg verify JOB_ID``: recompute a job's history; exit 1 on any mismatch."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from opendpg.audit import verify_job
from opendpg.chain import Chain, Deployment, connect
from opendpg.config import load_settings
from opendpg.content import open_store
from opendpg.errors import ConfigError

__all__ = ["register"]


def register(commands: Any) -> None:
    verify = commands.add_parser("verify", help="recompute every round of a job from the chain and IPFS")
    verify.add_argument("job_id", type=int)
    verify.add_argument("--rpc-url", help="default: $OPENDPG_RPC_URL")
    verify.add_argument("--deployment", type=Path, help="default: $OPENDPG_DEPLOYMENT_FILE")
    verify.add_argument("--ipfs-api", help="kubo RPC address (default: $OPENDPG_IPFS_API, else the embedded store)")
    verify.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    settings = load_settings()
    rpc_url = args.rpc_url or settings.rpc_url
    if not rpc_url:
        raise ConfigError("no chain: pass --rpc-url or set OPENDPG_RPC_URL")
    w3 = connect(rpc_url)
    chain = Chain.reader(w3, Deployment.load(args.deployment or settings.deployment_file))
    store = open_store(args.ipfs_api or settings.ipfs_api, settings.state_dir)
    verdicts = verify_job(chain, store, args.job_id)
    if not verdicts:
        print(f"job {args.job_id}: no committed round yet")
        return 0
    for v in verdicts:
        status = "OK" if v.ok else "MISMATCH"
        print(f"job {args.job_id} round {v.round}: {status} ({len(v.used)} updates used)")
        for problem in v.problems:
            print(f"    {problem}")
    bad = [v.round for v in verdicts if not v.ok]
    print(f"job {args.job_id}: {'all rounds verified' if not bad else f'mismatch in rounds {bad}'}")
    return 1 if bad else 0
