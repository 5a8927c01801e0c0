"""Request and response bodies (layered: what comes in is never what is stored or what goes out)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyOut",
    "AssetCreate",
    "AssetOut",
    "Credit",
    "Funded",
    "Health",
    "JobCreate",
    "JobDetail",
    "JobOut",
    "Login",
    "NodeOut",
    "RoundVerdictOut",
    "SignUp",
    "Token",
    "UserOut",
    "Verification",
]

Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=254,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, StringConstraints(min_length=12, max_length=256)]


def _as_utc(value: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without a zone, which is not an RFC 3339 date-time."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignUp(_In):
    email: Email = Field(description="login name; also where the account is reached")
    password: Password = Field(description="12 characters or more")


class Login(_In):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class ApiKeyCreate(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: str
    address: str = Field(description="the account's own on-chain address: its jobs are attributable to it")
    created_at: UtcDatetime


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None
    revoked_at: UtcDatetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="shown once; send it as `Authorization: Bearer <key>`")


class Token(BaseModel):
    token: str = Field(description="an API key for this session; send it as `Authorization: Bearer <token>`")
    key_id: int


class Health(BaseModel):
    status: str
    database: str


Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
Tokens = Annotated[Decimal, Field(gt=0, max_digits=30, decimal_places=18)]


class Funded(BaseModel):
    address: str
    tokens: str = Field(description="token balance after funding, in whole tokens")
    eth: str = Field(description="gas balance after funding, in ether")


class Credit(_In):
    tokens: Annotated[Decimal, Field(ge=0, le=10**9, decimal_places=18)] = Decimal(0)
    eth: Annotated[Decimal, Field(ge=0, le=1000, decimal_places=18)] = Decimal(0)


class JobCreate(_In):
    spec: dict[str, Any] = Field(description="an opendpg-job/1 spec (see the JSON Schema at /jobs/spec-schema)")
    reward_per_round: Tokens = Field(description="paid to each used provider per committed round, whole tokens")
    required_stake: Annotated[Decimal, Field(ge=0, max_digits=30, decimal_places=18)] = Decimal(0)
    coordinator: Address = Field(description="the registered coordinator node that runs the training")
    join_window_s: Annotated[int, Field(ge=60, le=30 * 86400)] = 3600
    round_timeout_s: Annotated[int, Field(ge=30, le=86400)] = 900


class ProviderOut(BaseModel):
    address: str
    dropped: bool
    missed_rounds: int


class UpdateOut(BaseModel):
    provider: str
    hash: str
    cid: str
    rejected: bool = Field(default=False, description="submitted but not used by the coordinator (not paid)")


class RoundOut(BaseModel):
    round: int
    global_hash: str
    global_cid: str
    used: list[str]
    updates: list[UpdateOut]
    loss: float | None = Field(default=None, description="the gateway's own evaluation of this round's global "
                                                         "model on the spec's held-out set (null until computed)")
    accuracy: float | None = None
    metrics_error: str | None = Field(default=None, description="why this round's model could not be evaluated")


class PaymentOut(BaseModel):
    kind: str
    account: str
    amount: str


class JobOut(BaseModel):
    id: int
    state: str
    spec_cid: str
    poster: str
    coordinator: str
    rounds: int
    committed_rounds: int
    budget: str
    credited: str
    reward_per_round: str
    max_providers: int
    tx_hash: str


class SubmissionOut(BaseModel):
    id: str
    status: Literal["queued", "sending", "posted", "failed"]
    job_id: int | None = Field(description="the on-chain job, once posted")
    tx_hash: str | None
    error: dict[str, Any] | None = Field(description="why it failed: the HTTP status and detail a waiting request "
                                                     "would have had")
    status_url: str


class JobDetail(JobOut):
    providers: list[ProviderOut]
    history: list[RoundOut]
    payments: list[PaymentOut]


class RoundVerdictOut(BaseModel):
    round: int
    ok: bool
    problems: list[str]
    used: list[str]


class Verification(BaseModel):
    ok: bool = Field(description="every committed round verified")
    rounds: list[RoundVerdictOut]


class NodeOut(BaseModel):
    address: str
    capabilities: dict[str, Any]
    staked: str = Field(description="whole tokens")
    locked: str = Field(description="whole tokens locked in running jobs")
    reputation: dict[str, int]


class AssetOut(BaseModel):
    id: int
    owner: str
    kind: str
    stage: str
    certified: bool
    certified_until: int | None = Field(description="unix time the certification expires")
    standard_version: int
    metadata_cid: str
    licence: str = Field(description="SPDX identifier")


class ReviewOut(BaseModel):
    number: int = Field(description="the asset's review number, from 1")
    vote_end: int | None = Field(description="unix time the community vote ends")
    for_votes: str = Field(description="whole tokens of voting weight for")
    against_votes: str
    approvals: int = Field(description="committee approvals so far")
    rejections: int
    report_cid: str | None = Field(description="CID of the automated check's report")


class AssetDetail(AssetOut):
    review: ReviewOut | None
    report: dict[str, Any] | None = Field(description="the automated check's report (pass/fail/review per "
                                                      "indicator, with evidence), when one was attested")
    voted: bool = Field(description="whether the caller voted in the current review")
    committee_member: bool = Field(description="whether the caller sits on the expert committee")


class VoteIn(_In):
    support: bool = Field(description="true: certify; false: do not")


class DecisionIn(_In):
    approve: bool
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)] = Field(
        default="", description="published with the decision (pinned to IPFS); required to reject")


class RewardOut(BaseModel):
    voter: str = Field(description="whole tokens paid as a voter")
    committee: str = Field(description="whole tokens paid as a committee member")


class DelegationOut(BaseModel):
    address: str
    votes: str = Field(description="whole tokens of voting weight now delegated to the caller")


class AssetCreate(_In):
    kind: Literal["dataset", "model", "software", "compute-commitment"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=10_000)] = ""
    licence: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.+-]{1,64}$")] = Field(
        description="SPDX licence identifier, e.g. CC-BY-4.0, Apache-2.0, ODbL-1.0")
    metadata: dict[str, Any] = Field(default_factory=dict, description="the rest of the opendpg-asset/2 document "
                                                                       "the DPG checker reads (owner, sdgs, ...)")
    certify: bool = Field(default=True, description="also request certification against the current standard")


class AppConfig(BaseModel):
    chain_id: int
    start_block: int = Field(description="the block the contracts were deployed at (read events from here)")
    contracts: dict[str, dict[str, Any]] = Field(description="address and ABI of each contract, by name")
    rpc_url: str | None = Field(description="where the app may read the chain without a wallet (if anywhere)")


class DataTermsOut(BaseModel):
    """``IJobMarket.DataTerms`` of a job on providers' own data, as ``postJobWithData`` takes them."""

    asset: int
    schema_: str = Field(alias="schema", description="the schema's fingerprint, 0x-hex")
    epsilon: str = Field(description="DP-SGD epsilon per provider in millionths (a decimal string; 0: no DP)")
    delta: str = Field(description="its delta in 1e-18 units (a decimal string)")

    model_config = ConfigDict(populate_by_name=True)


class PinnedSpec(BaseModel):
    cid: str = Field(description="the spec's CID on IPFS: JobParams.specCid")
    spec: dict[str, Any] = Field(description="the spec as validated, with every default filled in")
    data_terms: DataTermsOut | None = Field(
        default=None, description="for a job on providers' own data: post it with postJobWithData and these terms")


class Pinned(BaseModel):
    cid: str


class ReasonIn(_In):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]

