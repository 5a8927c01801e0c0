"""Whether this provider can and wants to serve a posted job: data held, resources, price, stake, how long the
job may hold that stake (join deadline, round timeout, rounds), and the job's certification requirements (a
certified dataset, certified compute) and provider priority."""

from __future__ import annotations

from dataclasses import dataclass, field

from opendpg.chain import Job, JobState
from opendpg.dpg.market import Admission
from opendpg.spec import JobSpec

__all__ = ["Decision", "ProviderProfile", "decide"]


@dataclass(frozen=True)
class ProviderProfile:
    """What the provider offers and asks, from its agent config."""

    datasets: frozenset[str]  # bundled catalog sets this node plays in simulations
    gpu_memory_mib: int
    cpu_cores: int
    min_reward_per_round: int = 0  # in the payment token's smallest unit
    accepted_tokens: frozenset[str] = field(default_factory=frozenset)  # empty: any token
    trusted_coordinators: frozenset[str] = field(default_factory=frozenset)  # empty: any registered coordinator
    #: Seconds: a round timeout shorter than this leaves too little time to train (and risks the stake)
    min_round_timeout: int = 60
    #: Seconds: a longer round timeout holds the stake too long per round
    max_round_timeout: int = 86_400
    #: Seconds from now to the job's join deadline: a later one holds the stake idle too long
    max_join_wait: int = 7 * 86_400
    #: Seconds the stake may stay locked at most: to the start deadline, then two round timeouts per round
    max_job_duration: int = 30 * 86_400
    #: DPG-registry dataset assets held here in the node's own files
    assets: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Decision:
    join: bool
    reasons: tuple[str, ...]  # why not (empty when joining)


def decide(spec: JobSpec, job: Job, profile: ProviderProfile, free_stake: int, now: int,
           admission: Admission | None = None) -> Decision:
    """Join or not, and why not. ``admission`` is what the chain says of this node and the job's certification
    requirements and priority order (see :func:`opendpg.dpg.market.admission`)."""
    reasons: list[str] = []
    if job.state != JobState.OPEN:
        reasons.append(f"job is {job.state.name}, not OPEN")
    if now > job.join_deadline:
        reasons.append("join deadline passed")
    if job.provider_count >= job.max_providers and not (admission and admission.outranks_lowest):
        reasons.append("job is full" + (" and this node does not outrank its lowest-priority provider"
                                        if admission else ""))
    if admission:
        reasons.extend(admission.blockers)
    if spec.dataset.mode == "simulate" and spec.dataset.catalog_id not in profile.datasets:
        reasons.append(f"dataset {spec.dataset.catalog_id!r} is not held here")
    if spec.dataset.mode == "local" and spec.dataset.asset not in profile.assets:
        reasons.append(f"dataset asset {spec.dataset.asset} is not held here")
    if spec.resources.gpu_memory_mib > profile.gpu_memory_mib:
        reasons.append(f"needs {spec.resources.gpu_memory_mib} MiB of GPU memory, this node has "
                       f"{profile.gpu_memory_mib}")
    if spec.resources.cpu_cores > profile.cpu_cores:
        reasons.append(f"needs {spec.resources.cpu_cores} CPU cores, this node has {profile.cpu_cores}")
    if job.reward_per_round < profile.min_reward_per_round:
        reasons.append(f"reward {job.reward_per_round} per round is below this node's price "
                       f"{profile.min_reward_per_round}")
    if profile.accepted_tokens and job.payment_token.lower() not in {t.lower() for t in profile.accepted_tokens}:
        reasons.append(f"payment token {job.payment_token} is not accepted here")
    if profile.trusted_coordinators and job.coordinator.lower() not in {
            c.lower() for c in profile.trusted_coordinators}:
        reasons.append(f"coordinator {job.coordinator} is not one this node trusts")
    if job.required_stake > free_stake:
        reasons.append(f"needs {job.required_stake} of free stake, this node has {free_stake}")
    if job.round_timeout < profile.min_round_timeout:
        reasons.append(f"round timeout {job.round_timeout} s is below this node's minimum "
                       f"{profile.min_round_timeout} s")
    if job.round_timeout > profile.max_round_timeout:
        reasons.append(f"round timeout {job.round_timeout} s is above this node's maximum "
                       f"{profile.max_round_timeout} s")
    if job.join_deadline - now > profile.max_join_wait:
        reasons.append(f"join deadline is {job.join_deadline - now} s away, above this node's maximum "
                       f"{profile.max_join_wait} s")
    duration = max(job.join_deadline - now, 0) + job.round_timeout * (1 + 2 * job.rounds)
    if duration > profile.max_job_duration:
        reasons.append(f"the job may hold the stake {duration} s, above this node's maximum "
                       f"{profile.max_job_duration} s")
    if spec.training.rounds != job.rounds:
        reasons.append(f"spec says {spec.training.rounds} rounds but the job pays for {job.rounds}")
    return Decision(join=not reasons, reasons=tuple(reasons))
