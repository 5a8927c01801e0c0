"""Where certification meets the job market: the on-chain requirements a spec asks for, posting with them,
whether a provider may join (and whether it outranks someone in a full job), and a finished job's provenance
record (certified inputs, the model's licence and SDGs, the on-chain training history)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from opendpg.chain import DELTA_UNIT, EPSILON_UNIT, Chain, DataTerms, Job, JobParams, Requirements, dataset_id
from opendpg.content import ContentStore
from opendpg.dpg.standard import ASSET_KINDS
from opendpg.spec import JobSpec, parse_spec

__all__ = ["PROVENANCE_SCHEMA", "Admission", "admission", "data_terms_for", "post_job", "provenance",
           "provenance_bytes", "requirements_for", "start_blocker"]

PROVENANCE_SCHEMA = "opendpg-provenance/1"


def requirements_for(spec: JobSpec) -> Requirements | None:
    """The on-chain requirements of a spec with a ``certification`` section (in a simulation, the bundled dataset
    must then be declared by every provider); None for a spec without one."""
    if spec.certification is None:
        return None
    catalog = dataset_id(spec.dataset.catalog_id) if spec.dataset.catalog_id is not None else bytes(32)
    return Requirements(spec.certification.dataset_asset or 0, catalog, spec.certification.certified_compute_only,
                        spec.certification.model_asset or 0)


def data_terms_for(spec: JobSpec) -> DataTerms | None:
    """The on-chain data terms of a job on providers' own data (the asset, its schema's fingerprint, the DP-SGD
    epsilon each provider spends); None for a simulation."""
    if spec.dataset.mode != "local" or spec.dataset.asset is None or spec.dataset.data_schema is None:
        return None
    dp = spec.privacy.dp_sgd
    return DataTerms.of(spec.dataset.asset, spec.dataset.data_schema.fingerprint(), dp.epsilon if dp else None,
                        dp.delta if dp else None)


def post_job(chain: Chain, params: JobParams, spec: JobSpec) -> int:
    requirements, terms = requirements_for(spec), data_terms_for(spec)
    if terms is not None:
        return chain.market.post_job_with_data(params, requirements or Requirements(), terms)
    if requirements is None:
        return chain.market.post_job(params)
    return chain.market.post_job_with_requirements(params, requirements)


@dataclass(frozen=True)
class Admission:
    """What the chain says about a provider joining a job: reasons it may not, and, for a full job, whether its
    priority beats the lowest-priority provider's (then joining takes that one's place)."""

    blockers: tuple[str, ...]
    outranks_lowest: bool


def admission(chain: Chain, job_id: int, job: Job, provider: str) -> Admission:
    requirements, _ = chain.market.requirements_of(job_id)
    blockers: list[str] = []
    if requirements.dataset_asset and not chain.dpg.is_certified(requirements.dataset_asset):
        blockers.append(f"dataset asset {requirements.dataset_asset} is not (or no longer) DPG-certified")
    if requirements.model_asset and not chain.dpg.is_certified(requirements.model_asset):
        blockers.append(f"base model asset {requirements.model_asset} is not (or no longer) DPG-certified")
    if any(requirements.dataset_id) and not chain.registry.holds_dataset(provider, requirements.dataset_id):
        blockers.append("this node does not declare the job's dataset in its capabilities")
    if requirements.certified_compute_only:
        compute = chain.dpg.compute_commitment_of(provider)
        if not compute or not chain.dpg.is_certified(compute):
            blockers.append("the job takes only certified compute: register this node's compute commitment "
                            "(opendpg dpg register, kind compute_commitment) and have it certified")
    outranks = False
    if job.provider_count >= job.max_providers:
        mine = chain.market.priority_of(provider)
        outranks = mine > min(chain.market.priority_of(p) for p in chain.market.providers_of(job_id))
    return Admission(tuple(blockers), outranks)


def start_blocker(chain: Chain, job_id: int) -> str | None:
    """Why the coordinator cannot start a job (its dataset or base model lost its certification), or None."""
    requirements, _ = chain.market.requirements_of(job_id)
    for what, asset in (("dataset", requirements.dataset_asset), ("base model", requirements.model_asset)):
        if asset and not chain.dpg.is_certified(asset):
            return (f"{what} asset {asset} is no longer DPG-certified: the job cannot start; its poster can cancel "
                    "it for a full refund")
    return None


def _certification(chain: Chain, asset_id: int) -> dict[str, Any]:
    asset = chain.dpg.get_asset(asset_id)
    review = chain.dpg.get_review(asset_id, asset["review"]) if asset["review"] else {}
    return {"asset": asset_id, "kind": ASSET_KINDS[asset["kind"]], "owner": asset["owner"],
            "metadata_cid": asset["metadata_cid"], "licence": asset["licence"], "review": asset["review"],
            "standard_version": asset["standard_version"], "certified_until": asset["certified_until"],
            "certified_now": chain.dpg.is_certified(asset_id), "check_report_cid": review.get("report_cid", "")}


def provenance(chain: Chain, store: ContentStore, job_id: int) -> dict[str, Any]:
    """The evidence a DPG application for the trained model needs, from the chain and IPFS alone."""
    job = chain.market.get_job(job_id)
    posted = next(log for log in chain.market.contract.events.JobPosted().get_logs(
        from_block=chain.deployment.start_block, argument_filters={"jobId": job_id}))
    spec_cid = str(posted["args"]["params"]["specCid"])
    spec = parse_spec(store.get(spec_cid))
    requirements, share = chain.market.requirements_of(job_id)
    providers = chain.market.providers_of(job_id)
    rounds = []
    committed = chain.market.contract.events.RoundCommitted().get_logs(
        from_block=chain.deployment.start_block, argument_filters={"jobId": job_id})
    submitted = {(int(e["args"]["round"]), str(e["args"]["provider"])): "0x" + bytes(e["args"]["updateHash"]).hex()
                 for e in chain.market.job_logs("UpdateSubmitted", job_id)}
    for log in committed:
        round_ = int(log["args"]["round"])
        used = int(log["args"]["usedBitmap"])
        rounds.append({"round": round_, "global_hash": "0x" + bytes(log["args"]["globalHash"]).hex(),
                       "global_cid": str(log["args"]["globalCid"]), "block": int(log["blockNumber"]),
                       "updates": [{"provider": p, "used": bool(used >> i & 1),
                                    "hash": submitted.get((round_, p), "0x" + "00" * 32)}
                                   for i, p in enumerate(providers)]})
    inputs = []
    if requirements.dataset_asset:
        inputs.append({"role": "dataset", **_certification(chain, requirements.dataset_asset)})
    if spec.model.base is not None:  # the base model, certified or not, and the exact files the job started from
        inputs.append({"role": "base model", "files_cid": spec.model.base.files_cid,
                       **_certification(chain, spec.model.base.asset)})
    for provider in providers:
        compute = chain.dpg.compute_commitment_of(provider)
        if compute:
            inputs.append({"role": f"compute of {provider}", **_certification(chain, compute)})
    publication = spec.publication
    return {
        "schema": PROVENANCE_SCHEMA, "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "chain_id": chain.deployment.chain_id,
        "contracts": {"JobMarket": chain.market.address, "DPGRegistry": chain.dpg.address},
        "job": {"id": job_id, "name": spec.name, "poster": str(posted["args"]["poster"]),
                "coordinator": job.coordinator, "state": job.state.name.lower(), "spec_cid": spec_cid,
                "posted_tx": "0x" + bytes(posted["transactionHash"]).hex(), "rounds": job.rounds,
                "committed_rounds": job.committed_rounds,
                "requirements": {"dataset_asset": requirements.dataset_asset or None,
                                 "certified_compute_only": requirements.certified_compute_only,
                                 "model_asset": requirements.model_asset or None,
                                 "data_share_bps": share}},
        "model": {"licence": publication.licence if publication else None,
                  "sdgs": list(publication.sdgs) if publication else [],
                  "final_cid": rounds[-1]["global_cid"] if rounds else None,
                  "final_hash": rounds[-1]["global_hash"] if rounds else None},
        "certified_inputs": inputs,
        "data": _data_use(chain, job_id, providers),
        "providers": providers,
        "training_history": rounds,
        "verify_with": f"opendpg verify {job_id}",
    }


def _data_use(chain: Chain, job_id: int, providers: list[str]) -> dict[str, Any] | None:
    """What the job trained on in its providers' own files, and the privacy each provider spent (on-chain)."""
    terms = chain.market.data_terms_of(job_id)
    if terms is None:
        return None
    return {"asset": terms.asset, "schema_fingerprint": "0x" + terms.schema.hex(),
            "dp_sgd": {"epsilon": terms.epsilon / EPSILON_UNIT, "delta": terms.delta / DELTA_UNIT}
            if terms.epsilon else None,
            "spends": {p: chain.ledger.spend_of(job_id, p)[1] / EPSILON_UNIT for p in providers}}


def provenance_bytes(record: dict[str, Any]) -> bytes:
    return json.dumps(record, indent=1, sort_keys=True).encode() + b"\n"
