"""What a dispute is judged on: was a provider's excluded update one the coordinator had to use?

:func:`check_excluded_update` rebuilds the facts from the chain and IPFS, the way a committee member (``opendpg
dispute check``) and the provider's own agent (before it bonds anything) both see them: the update was submitted in
time by this provider (its hash is bound to it on-chain), the round was committed without it, and the update passes
every check the coordinator's gate and ServerApp apply: the bytes match the on-chain hash, the header names this
provider, job and round, the tensors have the job model's names and shapes, every value is finite, and it claims a
positive number of training examples. An update that passes all of them had to be used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import numpy as np
from web3 import Web3

from opendpg.chain import Chain
from opendpg.content import ContentStore
from opendpg.dpg.basemodels import build_job_model
from opendpg.errors import ContentError, OpenDPGValueError
from opendpg.fl.basemodel import BaseModelError
from opendpg.fl.models import weight_shapes
from opendpg.fl.update import UpdateFormatError, decode_update
from opendpg.spec import SpecError, parse_spec

__all__ = ["EVIDENCE_KIND", "UpdateCheck", "check_excluded_update"]

EVIDENCE_KIND = "opendpg-dispute-evidence/1"


@dataclass
class UpdateCheck:
    """The facts about one provider's update of one round, and what is wrong with it (nothing: it had to be used)."""

    job_id: int
    round: int
    provider: str
    update_hash: bytes = b""
    update_cid: str = ""
    excluded: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """The update was submitted, excluded, and passes every check: a dispute about it should be upheld."""
        return self.excluded and not self.problems

    def evidence(self) -> bytes:
        """The JSON document a provider pins as its dispute's evidence."""
        record = asdict(self) | {"kind": EVIDENCE_KIND, "update_hash": "0x" + self.update_hash.hex(),
                                 "checks": ["hash matches the on-chain hash", "header names provider, job, round",
                                            "tensors match the job's model", "all values finite",
                                            "positive example count"]}
        return json.dumps(record, sort_keys=True, indent=1).encode()


def check_excluded_update(chain: Chain, store: ContentStore, job_id: int, round_: int,
                          provider: str) -> UpdateCheck:
    """Check ``provider``'s update of committed round ``round_`` of ``job_id`` (see the module docstring)."""
    provider = Web3.to_checksum_address(provider)
    check = UpdateCheck(job_id, round_, provider)
    posted = chain.market.job_logs("JobPosted", job_id)
    if not posted:
        raise OpenDPGValueError(f"job_id: no job {job_id} on this deployment")
    submissions = [e["args"] for e in chain.market.job_logs("UpdateSubmitted", job_id)
                   if int(e["args"]["round"]) == round_ and Web3.to_checksum_address(e["args"]["provider"]) == provider]
    if not submissions:
        check.problems.append(f"{provider} submitted no update in round {round_}")
        return check
    check.update_hash, check.update_cid = bytes(submissions[0]["updateHash"]), str(submissions[0]["updateCid"])
    global_hash, used = chain.market.round_of(job_id, round_)
    index = chain.market.participant_of(job_id, provider).slot - 1
    if global_hash == b"\x00" * 32:
        check.problems.append(f"round {round_} is not committed yet")
    elif used >> index & 1:
        check.problems.append(f"the update was used in round {round_}: nothing to dispute")
    else:
        check.excluded = True
    check.problems += _update_problems(store, str(posted[0]["args"]["params"]["specCid"]), check)
    return check


def _update_problems(store: ContentStore, spec_cid: str, check: UpdateCheck) -> list[str]:
    try:
        data = store.get(check.update_cid)
    except ContentError as exc:
        return [f"update {check.update_cid} cannot be fetched: {exc}"]
    if hashlib.sha256(data).digest() != check.update_hash:
        return ["the update's bytes do not match its on-chain hash"]
    try:
        update = decode_update(data)
    except UpdateFormatError as exc:
        return [f"not a well-formed update: {exc}"]
    problems = []
    meta = update.meta
    named = str(meta.get("provider", ""))
    if not Web3.is_address(named) or Web3.to_checksum_address(named) != check.provider:
        problems.append(f"its header names {named or 'no provider'}, not {check.provider}")
    if meta.get("job") != check.job_id or meta.get("round") != check.round:
        problems.append(f"its header is for job {meta.get('job')} round {meta.get('round')}")
    try:
        spec = parse_spec(store.get(spec_cid))
        model = build_job_model(spec, store)
        update.check_shapes(weight_shapes(model))
    except (ContentError, SpecError, BaseModelError) as exc:
        problems.append(f"the job's spec {spec_cid} or its base model cannot be read: {exc}")
    except UpdateFormatError as exc:
        problems.append(str(exc))
    if not all(np.isfinite(t).all() for t in update.tensors.values()):
        problems.append("it holds NaN or infinite values")
    examples = meta.get("num_examples")
    if not isinstance(examples, int) or examples <= 0:
        problems.append(f"it claims {examples!r} training examples")
    return problems
