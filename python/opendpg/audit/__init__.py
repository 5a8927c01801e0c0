"""The auditor: recompute a job's history from the chain and IPFS."""

from opendpg.audit.verify import RoundVerdict, verify_job

__all__ = ["RoundVerdict", "verify_job"]
