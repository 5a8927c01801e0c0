"""The gateway for people without a wallet (issue 4, in progress): accounts with their own on-chain address
(key encrypted at rest), API keys, and the FastAPI app that wires the routers. ``create_app`` builds it;
``opendpg gateway run`` serves it."""

from opendpg.gateway.main import create_app

__all__ = ["create_app"]
