"""The chain layer: deployment file, local chains, the transaction sender, revert decoding, event streams,
and typed contract clients. Knows nothing of IPFS or federated learning."""

from opendpg.chain.clock import ChainClock
from opendpg.chain.contracts import (
    DELTA_UNIT,
    EPSILON_UNIT,
    ZERO_ADDRESS,
    Capabilities,
    Chain,
    DataTerms,
    Dispute,
    DisputeState,
    Holding,
    Job,
    JobParams,
    JobState,
    MarketLimits,
    Participant,
    Requirements,
    bitmap,
    dataset_id,
    job_budget,
)
from opendpg.chain.deploy import deploy_suite
from opendpg.chain.deployment import Deployment
from opendpg.chain.events import (
    ChainEvent,
    EventStream,
    FileCheckpoint,
    MemoryCheckpoint,
    PollingHeads,
    Position,
    WebsocketHeads,
)
from opendpg.chain.local import LocalChain, dev_accounts, start_local_chain
from opendpg.chain.reverts import RevertDecoder, revert_type
from opendpg.chain.sender import TxSender, connect
from opendpg.chain.suite import SuiteParams

__all__ = [
    "DELTA_UNIT",
    "EPSILON_UNIT",
    "ZERO_ADDRESS",
    "Capabilities",
    "Chain",
    "ChainClock",
    "ChainEvent",
    "DataTerms",
    "Deployment",
    "Dispute",
    "DisputeState",
    "EventStream",
    "FileCheckpoint",
    "Holding",
    "Job",
    "JobParams",
    "JobState",
    "LocalChain",
    "MarketLimits",
    "MemoryCheckpoint",
    "Participant",
    "PollingHeads",
    "Position",
    "Requirements",
    "RevertDecoder",
    "SuiteParams",
    "TxSender",
    "WebsocketHeads",
    "bitmap",
    "connect",
    "dataset_id",
    "deploy_suite",
    "dev_accounts",
    "job_budget",
    "revert_type",
    "start_local_chain",
]
