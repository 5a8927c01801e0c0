"""``opendpg gateway run``: serve the gateway (uvicorn) on the settings' database; ``opendpg gateway role EMAIL
ROLE``: make an account an operator (who credits accounts) or a plain user again, for whoever runs the gateway
(it writes the gateway's database directly)."""

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
    role = sub.add_parser("role", help="set an account's role (operators credit accounts with tokens and gas)")
    role.add_argument("email")
    role.add_argument("role", choices=["user", "operator"])
    role.set_defaults(run=_role)


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from opendpg.gateway import create_app

    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info", access_log=False)
    return 0


def _role(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from opendpg.config import load_settings
    from opendpg.errors import ConfigError
    from opendpg.gateway.db import make_engine, migrate, session_factory
    from opendpg.gateway.main import database_url
    from opendpg.gateway.models import User

    url = database_url(load_settings())
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session, session.begin():
            user = session.scalar(select(User).where(func.lower(User.email) == args.email.strip().lower()))
            if user is None:
                raise ConfigError(f"email: no account {args.email!r} in the gateway database at "
                                  f"{url.split('@')[-1]} (sign up first: POST /accounts)")
            user.role = args.role
    finally:
        engine.dispose()
    print(f"{args.email} is now {'an operator' if args.role == 'operator' else 'a user'} (new API keys at once; "
          "keys already in use within a minute)")
    return 0
