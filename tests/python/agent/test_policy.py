"""The join policy: every reason to refuse a job is named; a job that fits is joined."""

from opendpg.agent import ProviderProfile, decide
from opendpg.chain import Job, JobState
from opendpg.spec import parse_spec

COORDINATOR = "0x" + "c0" * 20
TOKEN = "0x" + "70" * 20
SPEC = parse_spec({"name": "p", "model": {"name": "mlp"},
                   "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"},
                   "training": {"rounds": 3}, "providers": {"min": 1, "max": 2},
                   "resources": {"gpu_memory_mib": 0, "cpu_cores": 2}})


def _job(**changes) -> Job:
    fields = dict(state=JobState.OPEN, rounds=3, committed_rounds=0, min_providers=1, max_providers=2,
                  provider_count=0, active_count=0, submissions=0, round_timeout=600, join_deadline=2_000,
                  round_deadline=0, fee_bps=100, payment_token=TOKEN, reward_per_round=10, poster="0x" + "11" * 20,
                  budget=60, coordinator=COORDINATOR, required_stake=5, credited=0, active_bitmap=0)
    fields.update(changes)
    return Job(**fields)


PROFILE = ProviderProfile(datasets=frozenset({"sklearn/digits"}), gpu_memory_mib=0, cpu_cores=2,
                          min_reward_per_round=10, accepted_tokens=frozenset({TOKEN}),
                          trusted_coordinators=frozenset({COORDINATOR.upper().replace("0X", "0x")}))


def test_a_job_that_fits_is_joined():
    assert decide(SPEC, _job(), PROFILE, free_stake=5, now=1_000).join


def test_every_reason_to_refuse_is_named():
    job = _job(state=JobState.RUNNING, provider_count=2, reward_per_round=1, payment_token="0x" + "99" * 20,
               coordinator="0x" + "ee" * 20, required_stake=50, rounds=4)
    spec = SPEC.model_copy(update={"resources": SPEC.resources.model_copy(update={"gpu_memory_mib": 8000,
                                                                                   "cpu_cores": 64})})

    decision = decide(spec, job, PROFILE, free_stake=5, now=3_000)

    assert not decision.join
    text = "\n".join(decision.reasons)
    for expected in ("not OPEN", "join deadline passed", "job is full", "GPU memory", "CPU cores", "below this node's",
                     "not accepted here", "not one this node trusts", "free stake", "pays for 4"):
        assert expected in text, expected


def test_deadlines_and_timeouts_outside_the_nodes_limits_are_refused():
    # a one-second round (honest providers dropped while a sybil submits), a 136-year round, a join deadline in
    # 584 billion years, and a job that would hold the stake for months
    cases = {"below this node's minimum 60 s": _job(round_timeout=1),
             "above this node's maximum 86400 s": _job(round_timeout=2**32 - 1),
             "join deadline is": _job(join_deadline=2**64 - 1),
             "may hold the stake": _job(rounds=60, round_timeout=86_400)}

    for reason, job in cases.items():
        spec = SPEC.model_copy(update={"training": SPEC.training.model_copy(update={"rounds": job.rounds})})
        decision = decide(spec, job, PROFILE, free_stake=5, now=1_000)
        assert not decision.join and any(reason in r for r in decision.reasons), (reason, decision.reasons)


def test_certification_blockers_and_priority_decide_too():
    from opendpg.dpg.market import Admission

    full = _job(provider_count=2)
    blocked = Admission(("dataset asset 3 is not (or no longer) DPG-certified",), outranks_lowest=False)

    assert decide(SPEC, full, PROFILE, 5, 1_000, Admission((), outranks_lowest=True)).join  # takes a place
    refused = decide(SPEC, full, PROFILE, 5, 1_000, Admission((), outranks_lowest=False))
    assert refused.reasons == ("job is full and this node does not outrank its lowest-priority provider",)
    assert decide(SPEC, _job(), PROFILE, 5, 1_000, blocked).reasons == blocked.blockers


def test_a_job_on_held_data_needs_the_asset_held_here():
    from opendpg.data import sample_schema

    local = parse_spec({"name": "p", "model": {"name": "mlp"}, "training": {"rounds": 3},
                        "providers": {"min": 1, "max": 2},
                        "dataset": {"asset": 7, "data_schema": sample_schema("diabetes").model_dump(mode="json")}})
    holder = ProviderProfile(datasets=frozenset(), assets=frozenset({7}), gpu_memory_mib=0, cpu_cores=2)

    assert decide(local, _job(), holder, free_stake=5, now=1_000).join
    assert decide(local, _job(), PROFILE, free_stake=5, now=1_000).reasons == ("dataset asset 7 is not held here",)
