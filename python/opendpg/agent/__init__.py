"""The provider agent (in progress): join policy, the JobPosted watcher, and the outbox that pins updates
and submits their hashes on-chain."""

from opendpg.agent.outbox import Outbox, Submission
from opendpg.agent.policy import Decision, ProviderProfile, decide
from opendpg.agent.watcher import JobWatcher

__all__ = ["Decision", "JobWatcher", "Outbox", "ProviderProfile", "Submission", "decide"]
