"""The auditor: recompute a job's history from the chain and IPFS, and evaluate its models independently."""

from opendpg.audit.metrics import RoundMetrics, evaluate_global
from opendpg.audit.verify import RoundVerdict, verify_job

__all__ = ["RoundMetrics", "RoundVerdict", "evaluate_global", "verify_job"]
