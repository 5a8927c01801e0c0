"""The auditor: recompute a job's history from the chain and IPFS, and evaluate its models independently."""

from opendpg.audit.disputes import EVIDENCE_KIND, UpdateCheck, check_excluded_update
from opendpg.audit.metrics import NoHeldOutSet, RoundMetrics, evaluate_global
from opendpg.audit.verify import RoundVerdict, verify_job

__all__ = ["EVIDENCE_KIND", "NoHeldOutSet", "RoundMetrics", "RoundVerdict", "UpdateCheck", "check_excluded_update",
           "evaluate_global", "verify_job"]
