"""``opendpg gateway run``: serve the gateway (uvicorn) on the settings' database."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("gateway", help="the HTTP gateway for users without a wallet")
    sub = parser.add_subparsers(dest="gateway_command", metavar="COMMAND", required=True)
    run = sub.add_parser("run", help="serve the gateway until SIGTERM")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from opendpg.gateway import create_app

    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info", access_log=False)
    return 0
