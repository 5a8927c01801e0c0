"""Which SuperNodes the coordinator's SuperLink admits: exactly the providers the chain says are in each job.

For every job of this coordinator, a provider that joined (and has not left, been displaced or dropped) has its
job node key registered with the SuperLink: the public key derived from the long-term key in its node metadata
and the job's label (:func:`opendpg.node.flower.job_label`). When it leaves the job, or the job ends, the key is
removed, and its SuperNode is refused from its next request. The SuperLink keeps registrations in memory, so a
restarted coordinator registers every current one again (:meth:`Admission.restore`).

The ServerApp of a job addresses only its admitted nodes: the roster (node ID → provider) is written to
``FOLDER/job-N.json`` for it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from opendpg.chain import Chain, JobState
from opendpg.content import ContentStore
from opendpg.errors import ContentError
from opendpg.files import write_atomic
from opendpg.fl.control import ControlError, SuperLinkControl
from opendpg.fl.nodekeys import NodeKeyError, derive_public_key
from opendpg.node.flower import NODE_KEY, job_label, node_metadata

__all__ = ["Admission"]

log = logging.getLogger("opendpg.coordinator")
ENDED = {JobState.FINISHED, JobState.CANCELLED, JobState.ABORTED}


class Admission:
    def __init__(self, chain: Chain, store: ContentStore, control: SuperLinkControl, folder: Path) -> None:
        self.chain, self.store, self.control, self.folder = chain, store, control, folder
        folder.mkdir(parents=True, exist_ok=True)

    def roster_file(self, job_id: int) -> Path:
        return self.folder / f"job-{job_id}.json"

    def roster(self, job_id: int) -> dict[str, int]:
        """Provider → node ID of the job's admitted SuperNodes."""
        path = self.roster_file(job_id)
        return {p: int(n) for p, n in json.loads(path.read_text())["providers"].items()} if path.exists() else {}

    def _save(self, job_id: int, roster: dict[str, int]) -> None:
        write_atomic(self.roster_file(job_id), json.dumps({
            "providers": roster, "nodes": {str(n): p for p, n in roster.items()}}, indent=1, sort_keys=True))

    def members(self, job_id: int) -> set[str]:
        """The providers the chain says are in the job now (none once it ended)."""
        market = self.chain.market
        if market.get_job(job_id).state in ENDED:
            return set()
        members = set()
        for provider in market.providers_of(job_id):
            participant = market.participant_of(job_id, provider)
            if participant.slot != 0 and not participant.dropped:
                members.add(provider)
        return members

    def restore(self, job_ids: list[int]) -> None:
        """After a (re)start of the SuperLink: nothing is registered there; register the current members."""
        for job_id in job_ids:
            self._save(job_id, {})
            self.reconcile(job_id)

    def reconcile(self, job_id: int) -> dict[str, int]:
        """Register the members not yet admitted, remove the admitted ones no longer members; the roster."""
        roster = self.roster(job_id)
        members = self.members(job_id)
        for provider in sorted(set(roster) - members):
            try:
                self.control.unregister(roster[provider])
            except ControlError as exc:  # already gone (e.g. a SuperLink restarted meanwhile): nothing to remove
                log.warning("could not remove a SuperNode", extra={"job": job_id, "provider": provider,
                                                                   "error": str(exc)})
            del roster[provider]
            log.info("SuperNode removed", extra={"job": job_id, "provider": provider})
        label = job_label(self.chain.deployment, job_id)
        for provider in sorted(members - set(roster)):
            try:
                published = str(node_metadata(self.chain, self.store, provider).get(NODE_KEY, ""))
                if not published:
                    raise NodeKeyError("no Flower node key in its node metadata")
                public = derive_public_key(published, label)
            except (NodeKeyError, ContentError) as exc:
                log.warning("provider cannot be admitted to the SuperLink: it will miss its rounds",
                            extra={"job": job_id, "provider": provider, "error": str(exc)})
                continue
            try:
                roster[provider] = self.control.register(public, f"job-{job_id}/{provider}")
            except ControlError as exc:  # e.g. a key removed earlier in this SuperLink's life: Flower never re-admits
                log.warning("the SuperLink refused a provider's node key: it will miss its rounds",
                            extra={"job": job_id, "provider": provider, "error": str(exc)})
                continue
            log.info("SuperNode admitted", extra={"job": job_id, "provider": provider, "node_id": roster[provider]})
        self._save(job_id, roster)
        return roster
