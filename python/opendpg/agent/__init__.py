"""The provider agent (in progress): the outbox that pins updates and submits their hashes on-chain."""

from opendpg.agent.outbox import Outbox, Submission

__all__ = ["Outbox", "Submission"]
