"""``opendpg``: entry point; each command group registers its subcommands."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from opendpg import __version__
from opendpg.cli import (
    audit,
    chain,
    daemons,
    data,
    demo,
    demo_finetune,
    disputes,
    dpg,
    gateway,
    gov,
    jobs,
    model,
    provider,
)
from opendpg.errors import OpenDPGError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opendpg", description="OpenDPG Compute: an open compute commons")
    parser.add_argument("--version", action="version", version=f"opendpg {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chain.register(commands)
    demo.register(commands)
    demo_finetune.register(commands)
    audit.register(commands)
    daemons.register(commands)
    data.register(commands)
    disputes.register(commands)
    dpg.register(commands)
    gateway.register(commands)
    gov.register(commands)
    jobs.register(commands)
    model.register(commands)
    provider.register(commands)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM unwinds like Ctrl-C: children are stopped on the way out
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except OpenDPGError as exc:
        print(f"opendpg: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
