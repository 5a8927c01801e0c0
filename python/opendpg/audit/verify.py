"""``opendpg verify JOB_ID``: rebuild a job's history from the chain and IPFS and recompute every round.

For each committed round: every used update is fetched by the CID its provider put on-chain (the content
store verifies the bytes against the CID), its SHA-256 must equal the on-chain update hash, its header must name
that provider, and the aggregation recomputed from those updates with the spec's rule must give exactly the bytes
whose hash the coordinator committed (and which its CID serves). A round with nothing used must commit the
previous global model unchanged (the spec's initial model before round 1).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from web3 import Web3

from opendpg.chain import Chain
from opendpg.content import ContentStore
from opendpg.dpg.basemodels import build_job_model
from opendpg.errors import ContentError, OpenDPGValueError
from opendpg.fl.aggregate import Contribution, aggregate
from opendpg.fl.basemodel import BaseModelError
from opendpg.fl.models import get_weights
from opendpg.fl.update import UpdateFormatError, decode_update, encode_update
from opendpg.spec import SpecError, parse_spec

__all__ = ["RoundVerdict", "verify_job"]


@dataclass
class RoundVerdict:
    round: int
    ok: bool
    problems: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)


def verify_job(chain: Chain, store: ContentStore, job_id: int) -> list[RoundVerdict]:
    posted = chain.market.job_logs("JobPosted", job_id)
    if not posted:
        raise OpenDPGValueError(f"job_id: no job {job_id} on this deployment")
    spec_cid = str(posted[0]["args"]["params"]["specCid"])
    try:
        spec = parse_spec(store.get(spec_cid))
    except (ContentError, SpecError) as exc:
        return [RoundVerdict(0, False, [f"spec {spec_cid}: {exc}"])]
    providers = [Web3.to_checksum_address(p) for p in chain.market.providers_of(job_id)]
    submitted: dict[tuple[int, str], tuple[bytes, str]] = {}
    for log in chain.market.job_logs("UpdateSubmitted", job_id):
        args = log["args"]
        submitted[(int(args["round"]), Web3.to_checksum_address(args["provider"]))] = (
            bytes(args["updateHash"]), str(args["updateCid"]))
    try:  # round 0's global model: the seeded model, or the base model's weights fetched by CID
        previous = get_weights(build_job_model(spec, store))
    except (ContentError, BaseModelError) as exc:
        return [RoundVerdict(0, False, [f"base model of spec {spec_cid}: {exc}"])]
    verdicts = []
    for log in sorted(chain.market.job_logs("RoundCommitted", job_id), key=lambda e: int(e["args"]["round"])):
        args = log["args"]
        verdict = RoundVerdict(int(args["round"]), True)
        used = [providers[i] for i in range(len(providers)) if int(args["usedBitmap"]) >> i & 1]
        verdict.used = sorted(used, key=str.lower)
        contributions = []
        for provider in used:
            entry = submitted.get((verdict.round, provider))
            if entry is None:
                verdict.problems.append(f"{provider}: used but no update on-chain")
                continue
            update_hash, cid = entry
            try:
                data = store.get(cid)
                update = decode_update(data)
            except (ContentError, UpdateFormatError) as exc:
                verdict.problems.append(f"{provider}: update {cid}: {exc}")
                continue
            if hashlib.sha256(data).digest() != update_hash:
                verdict.problems.append(f"{provider}: update bytes do not match the on-chain hash")
                continue
            named = str(update.meta.get("provider", ""))
            if named.lower() != provider.lower():
                verdict.problems.append(f"{provider}: its update names {named or 'no provider'} (a copy)")
                continue
            contributions.append(Contribution(provider, int(update.meta["num_examples"]), update.tensors))
        global_hash = bytes(args["globalHash"])
        if not verdict.problems:
            tensors = aggregate(contributions, spec.strategy.name, trim_beta=spec.strategy.trim_beta,
                                num_malicious=spec.strategy.num_malicious) if contributions else previous
            meta = {"job": job_id, "round": verdict.round, "kind": "global", "used": verdict.used,
                    "rule": spec.strategy.name}
            recomputed = encode_update(tensors, meta)
            if hashlib.sha256(recomputed).digest() != global_hash:
                verdict.problems.append("the committed global model is not the aggregate of the used updates"
                                        if contributions else "a round with nothing used changed the global model")
            else:
                previous = tensors
                try:
                    if store.get(str(args["globalCid"])) != recomputed:
                        verdict.problems.append("the global CID does not serve the committed model")
                except ContentError as exc:
                    verdict.problems.append(f"global model {args['globalCid']}: {exc}")
        verdict.ok = not verdict.problems
        if not verdict.ok:  # the next round builds on what was committed, whatever it was
            previous = _committed_tensors(store, str(args["globalCid"]), global_hash) or previous
        verdicts.append(verdict)
    return verdicts


def _committed_tensors(store: ContentStore, cid: str, digest: bytes) -> OrderedDict[str, np.ndarray] | None:
    try:
        data = store.get(cid)
        return decode_update(data).tensors if hashlib.sha256(data).digest() == digest else None
    except (ContentError, UpdateFormatError):
        return None
