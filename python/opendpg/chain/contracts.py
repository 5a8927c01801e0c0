"""Thin typed wrappers over the suite's contracts, bound to one sender (account)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field
from enum import IntEnum
from typing import Any

from eth_utils.abi import collapse_if_tuple, function_abi_to_4byte_selector
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from opendpg.chain.deployment import Deployment
from opendpg.chain.reverts import RevertDecoder
from opendpg.chain.sender import TxSender
from opendpg.errors import ChainUnavailableError, OpenDPGValueError

__all__ = [
    "DELTA_UNIT",
    "EPSILON_UNIT",
    "ZERO_ADDRESS",
    "Capabilities",
    "Chain",
    "DPGRegistryClient",
    "DataLedgerClient",
    "DataTerms",
    "Dispute",
    "DisputeState",
    "DisputesClient",
    "GovernorClient",
    "Holding",
    "Job",
    "JobMarketClient",
    "JobParams",
    "JobState",
    "MarketLimits",
    "NodeRegistryClient",
    "Participant",
    "Requirements",
    "ReviewRewardsClient",
    "TokenClient",
    "bitmap",
    "dataset_id",
    "job_budget",
]


#: The zero address: no account (e.g. ``submitterOf`` for a hash nobody submitted).
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def dataset_id(name: str) -> bytes:
    """Catalog id of a dataset: keccak256 of its catalog name."""
    return bytes(Web3.keccak(text=name))


def bitmap(indices: Iterable[int]) -> int:
    value = 0
    for i in indices:
        if not 0 <= i < 255:
            raise OpenDPGValueError(f"provider index {i} out of range 0..254")
        value |= 1 << i
    return value


class JobState(IntEnum):
    NONE = 0
    OPEN = 1
    RUNNING = 2
    FINISHED = 3
    CANCELLED = 4
    ABORTED = 5


def job_budget(reward_per_round: int, rounds: int, max_providers: int) -> int:
    """The least escrow a job needs (the contract's ``JobMarketBudgetTooSmall`` check): every provider paid for
    every round."""
    return reward_per_round * rounds * max_providers


@dataclass(frozen=True)
class JobParams:
    spec_cid: str
    payment_token: str
    budget: int
    reward_per_round: int
    rounds: int
    min_providers: int
    max_providers: int
    required_stake: int
    join_deadline: int
    round_timeout: int
    coordinator: str

    def as_tuple(self) -> tuple[Any, ...]:
        return astuple(self)


@dataclass(frozen=True)
class Requirements:
    """``IJobMarket.Requirements``: a certified dataset asset (0: none), a dataset every provider must hold
    (zero bytes: any), whether only certified compute may join, and a certified base model asset (0: none)."""

    dataset_asset: int = 0
    dataset_id: bytes = bytes(32)
    certified_compute_only: bool = False
    model_asset: int = 0

    def as_tuple(self) -> tuple[Any, ...]:
        return astuple(self)

    @property
    def any(self) -> bool:
        return bool(self.dataset_asset or any(self.dataset_id) or self.certified_compute_only or self.model_asset)


#: On-chain units of privacy: epsilon in millionths, delta in 1e-18.
EPSILON_UNIT = 10**6
DELTA_UNIT = 10**18


@dataclass(frozen=True)
class DataTerms:
    """``IJobMarket.DataTerms``: the dataset asset a job trains on in providers' own files, its schema's fingerprint,
    and the (epsilon, delta) each provider spends, in on-chain units (epsilon in millionths, delta in 1e-18)."""

    asset: int
    schema: bytes
    epsilon: int = 0
    delta: int = 0

    @classmethod
    def of(cls, asset: int, schema: bytes, epsilon: float | None, delta: float | None) -> DataTerms:
        """Terms from real-valued (epsilon, delta): epsilon rounded up, so the chain never counts less than is
        spent; no epsilon: no DP."""
        if epsilon is None:
            return cls(asset, schema)
        return cls(asset, schema, math.ceil(epsilon * EPSILON_UNIT - 1e-9), round((delta or 0.0) * DELTA_UNIT))

    def as_tuple(self) -> tuple[Any, ...]:
        return astuple(self)


@dataclass(frozen=True)
class Holding:
    """``IDataLedger.Holding``: a node's declared holding of a dataset asset and its privacy budget (on-chain
    units). ``schema`` is zero bytes when the asset is not (or no longer) held."""

    schema: bytes
    records: int
    budget: int
    spent: int
    delta: int
    requires_dp: bool

    @property
    def held(self) -> bool:
        return any(self.schema)

    @property
    def remaining(self) -> int:
        return self.budget - self.spent


@dataclass(frozen=True)
class Job:
    state: JobState
    rounds: int
    committed_rounds: int
    min_providers: int
    max_providers: int
    provider_count: int
    active_count: int
    submissions: int
    round_timeout: int
    join_deadline: int
    round_deadline: int
    fee_bps: int
    payment_token: str
    reward_per_round: int
    poster: str
    budget: int
    coordinator: str
    required_stake: int
    credited: int
    active_bitmap: int

    @classmethod
    def from_tuple(cls, raw: Iterable[Any]) -> Job:
        values = list(raw)
        values[0] = JobState(values[0])
        return cls(*values)


@dataclass(frozen=True)
class MarketLimits:
    """``IJobMarket.Limits``: what new jobs must respect, and what counts for reputation."""

    min_join_window: int
    max_join_window: int
    min_round_timeout: int
    max_round_timeout: int
    min_reputation_reward: int
    min_reputation_stake: int
    dispute_window: int


class DisputeState(IntEnum):
    NONE = 0
    OPEN = 1
    UPHELD = 2
    DENIED = 3
    LAPSED = 4


@dataclass(frozen=True)
class Dispute:
    """``IJobDisputes.Dispute``: a provider contesting the exclusion of its update of one committed round."""

    id: int
    job_id: int
    provider: str
    round: int
    state: DisputeState
    uphold_votes: int
    deny_votes: int
    coordinator: str
    decide_by: int
    poster: str
    bond: int
    update_hash: bytes


@dataclass(frozen=True)
class Participant:
    slot: int
    dropped: bool
    missed_rounds: int
    dropped_after: int
    claimed_rounds: int
    data_share_bps: int = 0  # the job's data-holder share when this provider joined
    submitted_round: int = 0  # the last round it submitted an update for

    @property
    def index(self) -> int | None:
        return self.slot - 1 if self.slot else None


@dataclass(frozen=True)
class Capabilities:
    gpu_model: str
    gpu_memory_mib: int
    cpu_cores: int
    ram_mib: int
    region: str
    datasets: list[str] = field(default_factory=list)  # catalog names; stored on-chain as their ids
    metadata_cid: str = ""

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.gpu_model, self.gpu_memory_mib, self.cpu_cores, self.ram_mib, self.region,
                [dataset_id(d) for d in self.datasets], self.metadata_cid)


@dataclass(frozen=True)
class _Function:
    """A contract function's selector and ABI types, worked out once per client."""

    selector: bytes
    inputs: list[str]
    outputs: list[str]

    @classmethod
    def of(cls, abi: dict[str, Any]) -> _Function:
        return cls(function_abi_to_4byte_selector(abi),  # type: ignore[arg-type]
                   [collapse_if_tuple(dict(i)) for i in abi["inputs"]],
                   [collapse_if_tuple(dict(o)) for o in abi["outputs"]])


def _checksummed(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_checksummed(v) for v in value)
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return Web3.to_checksum_address(value)
    return value


class _Client:
    name = ""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.sender = chain.sender
        self.contract: Contract = chain.deployment.contract(chain.w3, self.name)
        self._functions: dict[str, _Function] = {}

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def _tx(self, fn: Any, **kwargs: Any) -> TxReceipt:
        return self.sender.transact(fn, **kwargs)

    def _call(self, fn: Any) -> Any:
        return self.sender.call(fn)

    def _function(self, name: str) -> _Function:
        function = self._functions.get(name)
        if function is None:
            function = _Function.of(next(dict(item) for item in self.contract.abi
                                         if item.get("type") == "function" and item.get("name") == name))
            self._functions[name] = function
        return function

    def encode(self, name: str, *args: Any) -> bytes:
        """Calldata for ``name(args)`` straight through eth_abi (web3's contract-function path is ~10x slower)."""
        function = self._function(name)
        return function.selector + self.chain.w3.codec.encode(function.inputs, args)

    def _view(self, name: str, *args: Any) -> tuple[Any, ...]:
        """A view call without web3's contract-call layers (its result formatting costs far more than the call
        itself): ABI-encode, one raw ``eth_call``, ABI-decode; addresses come back checksummed; a revert raises
        its decoded ContractRevert."""
        data = self.encode(name, *args)
        try:
            response = self.chain.w3.provider.make_request(
                "eth_call", [{"to": self.address, "data": "0x" + data.hex()}, "latest"])  # type: ignore[arg-type]
        except Exception as exc:
            raise ChainUnavailableError(f"eth_call {name}: {exc}") from exc
        if "error" in response:
            error = response["error"]
            raw = error.get("data") if isinstance(error, dict) else None
            if isinstance(raw, dict):
                raw = raw.get("data")
            if raw:
                raise self.sender.decoder.decode(HexBytes(raw))
            raise ChainUnavailableError(f"eth_call {name}: {error}")
        values = self.chain.w3.codec.decode(self._function(name).outputs, HexBytes(response["result"]))
        return tuple(_checksummed(v) for v in values)

    def events(self, receipt: TxReceipt, event: str) -> list[dict[str, Any]]:
        return [dict(e["args"]) for e in getattr(self.contract.events, event)().process_receipt(receipt,
                                                                                                   errors=DISCARD)]


class TokenClient(_Client):
    name = "CommonsToken"

    def balance_of(self, account: str) -> int:
        return int(self._view("balanceOf", account)[0])

    def allowance(self, owner: str, spender: str) -> int:
        return int(self._view("allowance", owner, spender)[0])

    def approve(self, spender: str, amount: int) -> TxReceipt:
        return self._tx(self.contract.functions.approve(spender, amount))

    def ensure_allowance(self, spender: str, amount: int) -> None:
        if self.allowance(self.sender.address, spender) < amount:
            self.approve(spender, amount)

    def transfer(self, to: str, amount: int) -> TxReceipt:
        return self._tx(self.contract.functions.transfer(to, amount))

    def delegate(self, delegatee: str) -> TxReceipt:
        return self._tx(self.contract.functions.delegate(delegatee))

    def votes(self, account: str) -> int:
        return int(self._call(self.contract.functions.getVotes(account)))


class NodeRegistryClient(_Client):
    name = "NodeRegistry"

    def register(self, capabilities: Capabilities, stake: int) -> TxReceipt:
        self.chain.token.ensure_allowance(self.address, stake)
        return self._tx(self.contract.functions.register(capabilities.as_tuple(), stake))

    def update_capabilities(self, capabilities: Capabilities) -> TxReceipt:
        return self._tx(self.contract.functions.updateCapabilities(capabilities.as_tuple()))

    def add_stake(self, amount: int) -> TxReceipt:
        self.chain.token.ensure_allowance(self.address, amount)
        return self._tx(self.contract.functions.addStake(amount))

    def request_unbonding(self, amount: int) -> TxReceipt:
        return self._tx(self.contract.functions.requestUnbonding(amount))

    def withdraw_unbonded(self) -> TxReceipt:
        return self._tx(self.contract.functions.withdrawUnbonded())

    def is_registered(self, node: str) -> bool:
        return bool(self._call(self.contract.functions.isRegistered(node)))

    def stake_of(self, node: str) -> dict[str, int]:
        staked, locked, unbonding, ready = self._call(self.contract.functions.stakeOf(node))
        return {"staked": staked, "locked": locked, "unbonding": unbonding, "unbonding_ready_at": ready}

    def free_stake(self, node: str) -> int:
        return int(self._call(self.contract.functions.freeStake(node)))

    def reputation_of(self, node: str) -> dict[str, int]:
        jobs, delivered, missed, slashes = self._call(self.contract.functions.reputationOf(node))
        return {"jobs_completed": jobs, "rounds_delivered": delivered, "rounds_missed": missed, "slashes": slashes}

    def holds_dataset(self, node: str, dataset: str | bytes) -> bool:
        """Whether ``node`` declares ``dataset`` (a catalog name, or its id)."""
        ident = dataset if isinstance(dataset, bytes) else dataset_id(dataset)
        return bool(self._view("holdsDataset", node, ident)[0])

    def min_stake(self) -> int:
        return int(self._call(self.contract.functions.minStake()))

    def node_count(self) -> int:
        return int(self._call(self.contract.functions.nodeCount()))

    def node_at(self, index: int) -> str:
        return str(self._call(self.contract.functions.nodeAt(index)))

    def capabilities_of(self, node: str) -> dict[str, Any]:
        gpu, gpu_mib, cpus, ram, region, datasets, cid = self._call(self.contract.functions.capabilitiesOf(node))
        return {"gpu_model": gpu, "gpu_memory_mib": gpu_mib, "cpu_cores": cpus, "ram_mib": ram, "region": region,
                "datasets": ["0x" + bytes(d).hex() for d in datasets], "metadata_cid": cid}

    def metadata_cid_of(self, node: str) -> str:
        """The CID of the node's metadata document (e.g. a coordinator's Flower endpoint)."""
        return str(self.capabilities_of(node)["metadata_cid"])


class JobMarketClient(_Client):
    name = "JobMarket"

    def post_job(self, params: JobParams) -> int:
        """Approve the budget if needed, post, and return the new job id."""
        self.chain.token_at(params.payment_token).ensure_allowance(self.address, params.budget)
        receipt = self._tx(self.contract.functions.postJob(params.as_tuple()))
        return int(self.events(receipt, "JobPosted")[0]["jobId"])

    def post_job_with_requirements(self, params: JobParams, requirements: Requirements) -> int:
        """As :meth:`post_job`, with DPG-certification requirements (checked on-chain now and at every join)."""
        self.chain.token_at(params.payment_token).ensure_allowance(self.address, params.budget)
        receipt = self._tx(self.contract.functions.postJobWithRequirements(params.as_tuple(),
                                                                           requirements.as_tuple()))
        return int(self.events(receipt, "JobPosted")[0]["jobId"])

    def post_job_with_data(self, params: JobParams, requirements: Requirements, terms: DataTerms) -> int:
        """As :meth:`post_job_with_requirements`, for a job on providers' own data: every provider must hold
        ``terms.asset`` with ``terms.schema`` in the data ledger, which counts the job's privacy spend at join."""
        self.chain.token_at(params.payment_token).ensure_allowance(self.address, params.budget)
        receipt = self._tx(self.contract.functions.postJobWithData(params.as_tuple(), requirements.as_tuple(),
                                                                   terms.as_tuple()))
        return int(self.events(receipt, "JobPosted")[0]["jobId"])

    def data_terms_of(self, job_id: int) -> DataTerms | None:
        """The job's data terms, or None for a job posted without."""
        (asset, schema, epsilon, delta), = self._view("dataTermsOf", job_id)
        return DataTerms(int(asset), bytes(schema), int(epsilon), int(delta)) if asset else None

    def requirements_of(self, job_id: int) -> tuple[Requirements, int]:
        (asset, dataset, compute_only, model), share = self._view("requirementsOf", job_id)
        return Requirements(int(asset), bytes(dataset), bool(compute_only), int(model)), int(share)

    def priority_of(self, provider: str) -> int:
        return int(self._view("priorityOf", provider)[0])

    def claim_data_share(self, job_id: int) -> int:
        receipt = self._tx(self.contract.functions.claimDataShare(job_id))
        return int(self.events(receipt, "DataShareClaimed")[0]["amount"])

    def data_share_bps(self) -> int:
        return int(self._view("dataShareBps")[0])

    def data_share_claimable(self, job_id: int) -> int:
        return int(self._view("dataShareClaimable", job_id)[0])

    def join_job(self, job_id: int) -> TxReceipt:
        return self._tx(self.contract.functions.joinJob(job_id))

    def leave_job(self, job_id: int) -> TxReceipt:
        """Leave an open job (its stake is unlocked)."""
        return self._tx(self.contract.functions.leaveJob(job_id))

    def limits(self) -> MarketLimits:
        return MarketLimits(*(int(v) for v in self._view("limits")[0]))

    def start_job(self, job_id: int) -> TxReceipt:
        return self._tx(self.contract.functions.startJob(job_id))

    def submit_update(self, job_id: int, round_: int, update_hash: bytes, cid: str) -> TxReceipt:
        return self._tx(self.contract.functions.submitUpdate(job_id, round_, update_hash, cid))

    def commit_round(self, job_id: int, round_: int, global_hash: bytes, cid: str, used: Iterable[int],
                     gas: int | None = None) -> TxReceipt:
        """Commit ``round_`` using the updates of the providers at join indices ``used``. ``gas``: send with
        this limit instead of estimating (estimation runs at the latest block's time, which on an idle dev chain
        can lag behind a deadline that has passed)."""
        return self._tx(self.contract.functions.commitRound(job_id, round_, global_hash, cid, bitmap(used)), gas=gas)

    def finalize_job(self, job_id: int, gas: int | None = None) -> TxReceipt:
        """``gas``: send with this limit instead of estimating (on an idle dev chain the estimate runs at the latest
        block's time, which can lag behind the end of the dispute window; see :meth:`finalize_gas`)."""
        return self._tx(self.contract.functions.finalizeJob(job_id), gas=gas)

    @staticmethod
    def finalize_gas(job: Job) -> int:
        """A gas limit that covers ``finalizeJob`` for ``job`` (it settles every provider: ~37k gas each)."""
        return 250_000 + 50_000 * job.provider_count

    def cancel_job(self, job_id: int) -> TxReceipt:
        return self._tx(self.contract.functions.cancelJob(job_id))

    def abort_job(self, job_id: int) -> TxReceipt:
        return self._tx(self.contract.functions.abortJob(job_id))

    def claim(self, job_id: int) -> int:
        receipt = self._tx(self.contract.functions.claim(job_id))
        return int(self.events(receipt, "RewardClaimed")[0]["amount"])

    def claim_refund(self, job_id: int) -> int:
        receipt = self._tx(self.contract.functions.claimRefund(job_id))
        return int(self.events(receipt, "RefundClaimed")[0]["amount"])

    def withdraw_fees(self, token: str) -> int:
        receipt = self._tx(self.contract.functions.withdrawFees(token))
        return int(self.events(receipt, "FeesWithdrawn")[0]["amount"])

    def job_logs(self, event: str, job_id: int) -> list[Any]:
        """Every ``event`` log of ``job_id`` since the deployment (all JobMarket events index ``jobId``)."""
        return list(getattr(self.contract.events, event)().get_logs(
            from_block=self.chain.deployment.start_block, argument_filters={"jobId": job_id}))

    def get_job(self, job_id: int) -> Job:
        return Job.from_tuple(self._view("getJob", job_id)[0])

    def job_count(self) -> int:
        return int(self._call(self.contract.functions.jobCount()))

    def providers_of(self, job_id: int) -> list[str]:
        return list(self._call(self.contract.functions.providersOf(job_id)))

    def participant_of(self, job_id: int, provider: str) -> Participant:
        return Participant(*self._view("participantOf", job_id, provider)[0])

    def submitter_of(self, job_id: int, round_: int, update_hash: bytes) -> str:
        """The provider that submitted ``update_hash`` in ``round_`` (the zero address: nobody)."""
        return str(self._view("submitterOf", job_id, round_, update_hash)[0])

    def round_of(self, job_id: int, round_: int) -> tuple[bytes, int]:
        global_hash, used = self._call(self.contract.functions.roundOf(job_id, round_))
        return bytes(global_hash), int(used)

    def claimable(self, job_id: int, provider: str) -> int:
        return int(self._call(self.contract.functions.claimable(job_id, provider)))

    def refundable(self, job_id: int) -> int:
        return int(self._call(self.contract.functions.refundable(job_id)))

    def dispute_status(self, job_id: int) -> tuple[int, int, int]:
        """Open disputes, the end of the dispute window (unix time; 0: nothing committed) and the coordinator's job
        stake paid out to upheld disputes."""
        open_, window_end, penalties = self._view("disputeStatus", job_id)
        return int(open_), int(window_end), int(penalties)


class DisputesClient(_Client):
    """Disputes against excluded updates: providers open them with a bond, the DPG committee decides."""

    name = "JobDisputes"

    def open_dispute(self, job_id: int, round_: int, update_hash: bytes, evidence_cid: str) -> int:
        """Approve the bond if needed, open the dispute, return its id."""
        self.chain.token.ensure_allowance(self.address, self.bond())
        receipt = self._tx(self.contract.functions.openDispute(job_id, round_, update_hash, evidence_cid))
        return int(self.events(receipt, "DisputeOpened")[0]["disputeId"])

    def vote(self, dispute_id: int, uphold: bool, reason_cid: str) -> TxReceipt:
        return self._tx(self.contract.functions.vote(dispute_id, uphold, reason_cid))

    def lapse(self, dispute_id: int) -> TxReceipt:
        return self._tx(self.contract.functions.lapse(dispute_id))

    def withdraw(self) -> int:
        receipt = self._tx(self.contract.functions.withdraw())
        return int(self.events(receipt, "Withdrawn")[0]["amount"])

    def get(self, dispute_id: int) -> Dispute:
        values = self._view("getDispute", dispute_id)[0]
        if int(values[3]) == DisputeState.NONE:
            raise OpenDPGValueError(f"dispute_id: no dispute {dispute_id} on this deployment")
        job_id, provider, round_, state, up, down, coordinator, decide_by, poster, bond, update_hash = values
        return Dispute(dispute_id, int(job_id), str(provider), int(round_), DisputeState(int(state)), int(up),
                       int(down), str(coordinator), int(decide_by), str(poster), int(bond), bytes(update_hash))

    def dispute_of(self, job_id: int, round_: int, provider: str) -> int:
        return int(self._view("disputeOf", job_id, round_, provider)[0])

    def count(self) -> int:
        return int(self._view("disputeCount")[0])

    def has_voted(self, dispute_id: int, member: str) -> bool:
        return bool(self._view("hasVoted", dispute_id, member)[0])

    def owed(self, account: str) -> int:
        return int(self._view("owed", account)[0])

    def bond(self) -> int:
        return int(self._view("bond")[0])

    def penalty(self) -> int:
        return int(self._view("penalty")[0])

    def evidence_of(self, dispute_id: int) -> str:
        """The evidence CID its provider gave when opening the dispute."""
        logs = self.contract.events.DisputeOpened().get_logs(from_block=self.chain.deployment.start_block,
                                                             argument_filters={"disputeId": dispute_id})
        return str(logs[0]["args"]["evidenceCid"]) if logs else ""


class DataLedgerClient(_Client):
    """Which nodes hold which dataset assets, and their privacy budgets (see ``IDataLedger``)."""

    name = "DataLedger"

    def declare_holding(self, asset: int, schema: bytes, records: int, budget: int, delta: int,
                        requires_dp: bool) -> TxReceipt:
        """Declare holding ``asset`` (``budget`` in millionths of epsilon at ``delta`` in 1e-18)."""
        return self._tx(self.contract.functions.declareHolding(asset, schema, records, budget, delta, requires_dp))

    def withdraw_holding(self, asset: int) -> TxReceipt:
        return self._tx(self.contract.functions.withdrawHolding(asset))

    def holding_of(self, holder: str, asset: int) -> Holding:
        (schema, records, budget, spent, delta, requires_dp), = self._view("holdingOf", holder, asset)
        return Holding(bytes(schema), int(records), int(budget), int(spent), int(delta), bool(requires_dp))

    def remaining_budget(self, holder: str, asset: int) -> int:
        return int(self._view("remainingBudget", holder, asset)[0])

    def spend_of(self, job_id: int, holder: str) -> tuple[int, int]:
        """(asset, epsilon in millionths) ``holder`` spent on ``job_id``; (0, 0) if nothing is counted."""
        (asset, epsilon), = self._view("spendOf", job_id, holder)
        return int(asset), int(epsilon)


class DPGRegistryClient(_Client):
    name = "DPGRegistry"

    def asset_count(self) -> int:
        return int(self._call(self.contract.functions.assetCount()))

    def get_asset(self, asset_id: int) -> dict[str, Any]:
        raw = self._call(self.contract.functions.getAsset(asset_id))
        owner, kind, stage, review, version, until, since, cid, licence = raw
        return {"id": asset_id, "owner": owner, "kind": int(kind), "stage": int(stage), "review": review,
                "standard_version": version, "certified_until": until, "stage_since": since, "metadata_cid": cid,
                "licence": licence}

    def register_asset(self, kind: int, metadata_cid: str, licence: str) -> int:
        receipt = self._tx(self.contract.functions.registerAsset(kind, metadata_cid, licence))
        return int(self.events(receipt, "AssetRegistered")[0]["assetId"])

    def update_asset(self, asset_id: int, metadata_cid: str, licence: str) -> TxReceipt:
        return self._tx(self.contract.functions.updateAsset(asset_id, metadata_cid, licence))

    def request_certification(self, asset_id: int) -> TxReceipt:
        """Ask for a review, approving the review fee first if needed."""
        fee = self.review_fee()
        if fee:
            self.chain.token.ensure_allowance(self.address, fee)
        return self._tx(self.contract.functions.requestCertification(asset_id))

    def withdraw_review(self, asset_id: int) -> TxReceipt:
        return self._tx(self.contract.functions.withdrawReview(asset_id))

    def review_fee(self) -> int:
        return int(self._view("reviewFee")[0])

    def attest_check(self, asset_id: int, standard_version: int, passed: bool, report_cid: str) -> TxReceipt:
        return self._tx(self.contract.functions.attestCheck(asset_id, standard_version, passed, report_cid))

    def cast_vote(self, asset_id: int, support: bool) -> TxReceipt:
        return self._tx(self.contract.functions.castVote(asset_id, support))

    def close_vote(self, asset_id: int) -> TxReceipt:
        return self._tx(self.contract.functions.closeVote(asset_id))

    def committee_decide(self, asset_id: int, approve: bool, reason_cid: str = "") -> TxReceipt:
        return self._tx(self.contract.functions.committeeDecide(asset_id, approve, reason_cid))

    def is_certified(self, asset_id: int) -> bool:
        return bool(self._view("isCertified", asset_id)[0])

    def compute_commitment_of(self, owner: str) -> int:
        return int(self._view("computeCommitmentOf", owner)[0])

    def standard(self) -> tuple[int, str]:
        version, cid = self._call(self.contract.functions.standard())
        return int(version), str(cid)

    def standard_history(self) -> list[dict[str, Any]]:
        """Every version of the DPG Standard set since the deployment, oldest first: version, CID, block and
        transaction (the deployment's, or the timelock's execution of a DAO proposal)."""
        logs = self.contract.events.StandardSet().get_logs(from_block=self.chain.deployment.start_block)
        return [{"version": int(log["args"]["newVersion"]), "cid": str(log["args"]["cid"]),
                 "block": int(log["blockNumber"]), "tx": "0x" + bytes(log["transactionHash"]).hex()} for log in logs]

    def get_review(self, asset_id: int, review: int) -> dict[str, Any]:
        snapshot, vote_end, approvals, rejections, fee, for_votes, against_votes, quorum, report_cid = self._call(
            self.contract.functions.getReview(asset_id, review))
        return {"snapshot": snapshot, "vote_end": vote_end, "approvals": approvals, "rejections": rejections,
                "fee": fee, "for_votes": for_votes, "against_votes": against_votes, "quorum": quorum,
                "report_cid": report_cid}

    def has_voted(self, asset_id: int, review: int, voter: str) -> bool:
        return bool(self._call(self.contract.functions.hasVoted(asset_id, review, voter)))

    def is_committee_member(self, account: str) -> bool:
        return bool(self._call(self.contract.functions.isCommitteeMember(account)))

    def settings(self) -> dict[str, int]:
        """The governance parameters of certification."""
        f = self.contract.functions
        return {"voting_period": int(self._call(f.votingPeriod())), "quorum_bps": int(self._call(f.quorumBps())),
                "approval_bps": int(self._call(f.approvalBps())),
                "certification_period": int(self._call(f.certificationPeriod())),
                "review_timeout": int(self._call(f.reviewTimeout())), "review_fee": int(self._call(f.reviewFee())),
                "committee_size": int(self._call(f.committeeSize())),
                "committee_threshold": int(self._call(f.committeeThreshold()))}


class ReviewRewardsClient(_Client):
    """The reviewers' pool: voters share each review's pool by weight, committee members earn per decision."""

    name = "ReviewRewards"

    def claim(self, asset_id: int, review: int) -> dict[str, int]:
        receipt = self._tx(self.contract.functions.claim(asset_id, review))
        event = self.events(receipt, "ReviewRewardClaimed")[0]
        return {"voter": int(event["voterReward"]), "committee": int(event["committeeReward"])}

    def claimable(self, asset_id: int, review: int, account: str) -> tuple[int, int]:
        voter, committee = self._call(self.contract.functions.claimable(asset_id, review, account))
        return int(voter), int(committee)

    def fund(self, amount: int) -> TxReceipt:
        return self._tx(self.contract.functions.fund(amount))

    def pool(self) -> int:
        return int(self._call(self.contract.functions.pool()))


class GovernorClient(_Client):
    """The DAO's Governor: proposals are lists of calls that the timelock executes after a passed vote."""

    name = "OpenDPGGovernor"

    def propose(self, targets: list[str], values: list[int], calldatas: list[bytes], description: str) -> int:
        receipt = self._tx(self.contract.functions.propose(targets, values, calldatas, description))
        return int(self.events(receipt, "ProposalCreated")[0]["proposalId"])

    def cast_vote(self, proposal_id: int, support: int, reason: str = "") -> TxReceipt:
        return self._tx(self.contract.functions.castVoteWithReason(proposal_id, support, reason))

    def queue(self, targets: list[str], values: list[int], calldatas: list[bytes], description_hash: bytes
              ) -> TxReceipt:
        return self._tx(self.contract.functions.queue(targets, values, calldatas, description_hash))

    def execute(self, targets: list[str], values: list[int], calldatas: list[bytes], description_hash: bytes
                ) -> TxReceipt:
        return self._tx(self.contract.functions.execute(targets, values, calldatas, description_hash))

    def state(self, proposal_id: int) -> int:
        return int(self._call(self.contract.functions.state(proposal_id)))

    def votes(self, proposal_id: int) -> tuple[int, int, int]:
        against, for_, abstain = self._call(self.contract.functions.proposalVotes(proposal_id))
        return int(against), int(for_), int(abstain)

    def timing(self, proposal_id: int) -> dict[str, int]:
        f = self.contract.functions
        return {"snapshot": int(self._call(f.proposalSnapshot(proposal_id))),
                "deadline": int(self._call(f.proposalDeadline(proposal_id))),
                "eta": int(self._call(f.proposalEta(proposal_id)))}

    def quorum(self, timepoint: int) -> int:
        return int(self._call(self.contract.functions.quorum(timepoint)))

    def has_voted(self, proposal_id: int, account: str) -> bool:
        return bool(self._call(self.contract.functions.hasVoted(proposal_id, account)))

    def proposal_threshold(self) -> int:
        return int(self._call(self.contract.functions.proposalThreshold()))


class Chain:
    """A deployment, a web3 client and one account's sender, with a client per contract."""

    def __init__(self, w3: Web3, deployment: Deployment, sender: TxSender) -> None:
        deployment.check_chain(w3)
        self.w3 = w3
        self.deployment = deployment
        self.sender = sender
        sender.decoder = RevertDecoder(deployment.abis())
        self.token = TokenClient(self)
        self.registry = NodeRegistryClient(self)
        self.market = JobMarketClient(self)
        self.dpg = DPGRegistryClient(self)
        self.governor = GovernorClient(self)
        self.rewards = ReviewRewardsClient(self)
        self.disputes = DisputesClient(self)
        self.ledger = DataLedgerClient(self)

    def token_at(self, address: str) -> TokenClient:
        """A client for a payment token (any ERC20; the commons token by default)."""
        if Web3.to_checksum_address(address) == self.token.address:
            return self.token
        client = TokenClient(self)
        client.contract = self.w3.eth.contract(address=Web3.to_checksum_address(address),
                                               abi=self.token.contract.abi)
        return client

    @classmethod
    def reader(cls, w3: Web3, deployment: Deployment) -> Chain:
        """Read-only access: calls come from a fresh random account that holds nothing and never sends."""
        from eth_account import Account

        return cls(w3, deployment, TxSender(w3, Account.create()))

    def as_account(self, sender: TxSender) -> Chain:
        """The same deployment, acting as another account."""
        return Chain(self.w3, self.deployment, sender)
