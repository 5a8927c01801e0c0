"""The agent's side of disputes: when a coordinator leaves out an update of this node, check the update as the DPG
committee will (:func:`opendpg.audit.check_excluded_update`) and, if it passes every check, pin the evidence and open
a dispute with a bond; once disputes are decided, withdraw the bonds owed to this node.

Decisions are persisted (``disputes.json``, keyed ``job:round``) and the chain is asked first (``disputeOf``), so a
restart never opens a dispute twice nor forgets one it decided to skip.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from opendpg.audit import check_excluded_update
from opendpg.chain import Chain
from opendpg.content import ContentStore
from opendpg.errors import ContractRevert
from opendpg.files import write_atomic

__all__ = ["Disputer"]

log = logging.getLogger("opendpg.agent")


class Disputer:
    def __init__(self, chain: Chain, store: ContentStore, state_file: Path, *, auto: bool, max_bond: int) -> None:
        self.chain = chain
        self.store = store
        self.me = chain.sender.address
        self.auto = auto
        self.max_bond = max_bond
        self.state_file = state_file
        self.decisions: dict[str, dict[str, object]] = {}
        if state_file.exists():
            self.decisions = json.loads(state_file.read_text())

    def _decide(self, key: str, decision: dict[str, object]) -> None:
        self.decisions[key] = decision
        write_atomic(self.state_file, json.dumps(self.decisions, indent=1, sort_keys=True))

    def consider(self, job_id: int, round_: int) -> int | None:
        """This node's update of ``round_`` was rejected: dispute it if it passes every check. Returns the dispute
        id (an existing one too), or None when it is not disputed (the reason is logged and persisted)."""
        key = f"{job_id}:{round_}"
        existing = self.chain.disputes.dispute_of(job_id, round_, self.me)
        if existing:
            if key not in self.decisions:
                self._decide(key, {"dispute": existing})
            return existing
        if key in self.decisions:
            return None  # decided before: skipped
        check = check_excluded_update(self.chain, self.store, job_id, round_, self.me)
        bond = self.chain.disputes.bond()
        reason = ("auto-dispute is off ([disputes] auto)" if not self.auto
                  else f"the bond {bond} is above this node's max_bond {self.max_bond}" if bond > self.max_bond
                  else "; ".join(check.problems) if not check.valid else "")
        if reason:
            self._decide(key, {"skipped": reason})
            log.warning("update left out; not disputed", extra={"job": job_id, "round": round_, "reason": reason})
            return None
        evidence = self.store.put(check.evidence())
        try:
            dispute_id = self.chain.disputes.open_dispute(job_id, round_, check.update_hash, evidence)
        except ContractRevert as exc:
            self._decide(key, {"skipped": str(exc)})
            log.warning("update left out; the chain refused the dispute",
                        extra={"job": job_id, "round": round_, "error": str(exc)})
            return None
        self._decide(key, {"dispute": dispute_id, "evidence": evidence})
        log.warning("update left out although it passes every check: dispute opened; the DPG committee decides",
                    extra={"job": job_id, "round": round_, "dispute": dispute_id, "bond": bond, "evidence": evidence})
        return dispute_id

    def withdraw_owed(self) -> int:
        """Withdraw the bonds the dispute contract owes this node (0: none)."""
        if self.chain.disputes.owed(self.me) == 0:
            return 0
        amount = self.chain.disputes.withdraw()
        log.info("dispute bonds withdrawn", extra={"amount": amount})
        return amount
