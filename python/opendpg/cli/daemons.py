"""``opendpg agent run --config FILE`` and ``opendpg coordinator run --config FILE``: the long-running daemons.
Both log one JSON object per line (stderr and ``STATE_DIR/NAME.log``) and stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from opendpg.node import configure_logging, run_until_stopped

__all__ = ["register"]


def register(commands: Any) -> None:
    for group, help_text in (("agent", "the provider agent daemon"), ("coordinator", "the coordinator daemon")):
        parser = commands.add_parser(group, help=help_text)
        sub = parser.add_subparsers(dest=f"{group}_command", metavar="COMMAND", required=True)
        run = sub.add_parser("run", help=f"run {help_text} until SIGTERM")
        run.add_argument("--config", type=Path, required=True, help="TOML config file")
        run.set_defaults(run=_run_agent if group == "agent" else _run_coordinator)


def _run_agent(args: argparse.Namespace) -> int:
    from opendpg.agent.config import load_agent_config
    from opendpg.agent.daemon import ProviderAgent

    config = load_agent_config(args.config)
    configure_logging(config.state_dir / f"{config.name}.log", logging.DEBUG if args.verbose else logging.INFO)
    asyncio.run(run_until_stopped(ProviderAgent(config).run))
    return 0


def _run_coordinator(args: argparse.Namespace) -> int:
    from opendpg.coordinator.config import load_coordinator_config
    from opendpg.coordinator.daemon import Coordinator

    config = load_coordinator_config(args.config)
    configure_logging(config.state_dir / f"{config.name}.log", logging.DEBUG if args.verbose else logging.INFO)
    asyncio.run(run_until_stopped(Coordinator(config).run))
    return 0
