"""Property tests (hypothesis): random job lifecycles on the real contracts.

Hypothesis draws whole lifecycles (who joins and who leaves before the start, who submits and is used in
each round, late rounds that drop providers, mid-job claims, and how the job ends: finalize, coordinator
timeout, cancel or nothing).
Invariants, checked after every phase:
- conservation: the market's token balance equals, over all jobs, the budget not yet credited (until
  refunded) plus every provider's unclaimed rewards, plus the protocol fees not yet withdrawn;
- no double claim: a provider receives exactly what it earned, and a second claim pays nothing;
- stakes never go negative: locked <= staked for every node, and the registry holds what it owes.
"""

from collections import Counter

from brownie import chain
from brownie.exceptions import VirtualMachineError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CID, E18, after_dispute_window, job_params

REWARD = 10 * E18
TIMEOUT = 1000
DONE: Counter[str] = Counter()
# Masks over the 5 providers, biased towards everyone taking part so that rounds and jobs complete.
MASK = st.one_of(st.just(31), st.just(31), st.integers(min_value=0, max_value=31))
ROUND = st.fixed_dictionaries({"submit": MASK, "used": MASK, "late": st.booleans(), "claim": st.booleans()})
ROUNDS = st.one_of(st.lists(ROUND, min_size=3, max_size=3), st.lists(ROUND, max_size=2))
JOB = st.fixed_dictionaries({
    "max_providers": st.integers(min_value=2, max_value=4),
    "join": MASK,
    "leave": st.one_of(st.just(0), st.just(0), st.integers(min_value=0, max_value=31)),
    "rounds": ROUNDS,
    "end": st.sampled_from(["finalize", "abort", "abort", "cancel", "none"]),
})


class Lifecycle:
    def __init__(self, market, registry, token, providers, poster, coordinator):
        self.market, self.registry, self.token = market, registry, token
        self.providers, self.poster, self.coordinator = providers, poster, coordinator
        self.jobs: list[int] = []
        self.received = {p.address: 0 for p in providers}

    def _try(self, fn, *args):
        try:
            tx = fn(*args)
        except VirtualMachineError:
            return None
        DONE[fn.abi["name"]] += 1
        return tx

    def run(self, plan):
        params = job_params(self.token, self.coordinator, reward=REWARD, rounds=3, min_providers=2,
                            max_providers=plan["max_providers"], round_timeout=TIMEOUT)
        self.token.approve(self.market, params[2], {"from": self.poster})
        job = self._try(self.market.postJob, params, {"from": self.poster}).return_value
        self.jobs.append(job)
        for i, p in enumerate(self.providers):
            if plan["join"] >> i & 1:
                self._try(self.market.joinJob, job, {"from": p})
        for i, p in enumerate(self.providers):
            if plan["leave"] >> i & 1:
                self._try(self.market.leaveJob, job, {"from": p})
        if plan["end"] == "cancel":  # the poster changes its mind before the start
            self._try(self.market.cancelJob, job, {"from": self.poster})
        self._try(self.market.startJob, job, {"from": self.coordinator})
        self.check()
        for r in plan["rounds"]:
            self.play_round(job, r)
            self.check()
        if plan["end"] == "finalize":
            after_dispute_window(self.market)
            self._try(self.market.finalizeJob, job, {"from": self.poster})
        elif plan["end"] == "abort":
            chain.sleep(2 * TIMEOUT + 1)
            self._try(self.market.abortJob, job, {"from": self.poster})
        self.check()
        self.claim_all(job)
        self._try(self.market.claimRefund, job, {"from": self.poster})
        self._try(self.market.withdrawFees, self.token, {"from": self.poster})
        self.check()

    def play_round(self, job, plan):
        j = self.market.getJob(job)
        current = j["committedRounds"] + 1
        members = list(self.market.providersOf(job))
        submitted = 0
        for i, who in enumerate(members):
            if plan["submit"] >> i & 1 and self._try(self.market.submitUpdate, job, current, "0x" + f"{i + 1:02x}" * 32,
                                                     CID, {"from": who}):
                submitted |= 1 << i
        if plan["late"]:
            chain.sleep(TIMEOUT + 1)
        used = plan["used"] & submitted & j["activeBitmap"]
        self._try(self.market.commitRound, job, current, "0x" + "ab" * 32, CID, used, {"from": self.coordinator})
        if plan["claim"]:
            self.claim_all(job)

    def claim_all(self, job):
        for p in self.providers:
            owed = self.market.claimable(job, p)
            before = self.token.balanceOf(p)
            tx = self._try(self.market.claim, job, {"from": p})
            got = self.token.balanceOf(p) - before
            assert (tx is not None) == (owed > 0) and got == owed
            self.received[p.address] += got
            assert self.market.claimable(job, p) == 0
            assert self._try(self.market.claim, job, {"from": p}) is None  # no double claim

    def check(self):
        held = self.market.accruedFees(self.token)
        for job in self.jobs:
            j = self.market.getJob(job)
            held += j["budget"] - j["credited"]  # lowered to credited once the refund is paid
            held += sum(self.market.claimable(job, p) for p in self.providers)
        assert self.token.balanceOf(self.market) == held

        total = 0
        for node in [*self.providers, self.coordinator]:
            s = self.registry.stakeOf(node)
            assert 0 <= s["locked"] <= s["staked"]
            total += s["staked"] + s["unbonding"]
        assert self.token.balanceOf(self.registry) == total

        for p in self.providers:
            paid = 0
            for job in self.jobs:
                j = self.market.getJob(job)
                net = j["rewardPerRound"] - j["rewardPerRound"] * j["feeBps"] // 10_000
                paid += self.market.participantOf(job, p)["claimedRounds"] * net
            assert self.received[p.address] == paid


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(plans=st.lists(JOB, min_size=1, max_size=2))
def test_job_market_properties(market, registry, token, staked, poster, coordinator, plans):
    chain.snapshot()
    try:
        life = Lifecycle(market, registry, token, staked, poster, coordinator)
        for plan in plans:
            life.run(plan)
    finally:
        chain.revert()


def test_property_runs_reached_every_path():
    """Runs after the property test (same module): the drawn lifecycles did real work, not only reverts."""
    for action in ("postJob", "joinJob", "startJob", "submitUpdate", "commitRound", "finalizeJob", "claim",
                   "claimRefund", "abortJob", "cancelJob", "leaveJob"):
        assert DONE[action] > 0, (action, DONE)
