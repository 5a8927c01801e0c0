"""What DP-SGD spends: the (epsilon, delta) of a provider's whole part in a job, from Opacus's RDP accountant.

A provider with ``records`` training records samples batches by Poisson sampling at rate 1 / ceil(records /
batch_size) (as Opacus's DPDataLoader does), for that many steps per local epoch, ``local_epochs`` per round,
``rounds`` rounds. Fewer records mean a higher sampling rate and a larger epsilon, so each agent computes its
own spend before joining.
"""

from __future__ import annotations

import math

from opendpg.spec import DpSgdSpec, JobSpec

__all__ = ["dp_sgd_epsilon", "dp_sgd_steps", "job_epsilon"]


def dp_sgd_steps(records: int, batch_size: int) -> tuple[float, int]:
    """(sample rate, steps per epoch) of Opacus's Poisson-sampled loader over ``records`` records."""
    batches = max(math.ceil(records / batch_size), 1)
    return 1.0 / batches, batches


def dp_sgd_epsilon(dp: DpSgdSpec, records: int, batch_size: int, local_epochs: int, rounds: int) -> float:
    """Epsilon at ``dp.delta`` spent by training ``rounds`` x ``local_epochs`` epochs on ``records`` records."""
    from opacus.accountants import RDPAccountant

    rate, steps = dp_sgd_steps(records, batch_size)
    accountant = RDPAccountant()
    accountant.history = [(dp.noise_multiplier, rate, steps * local_epochs * rounds)]
    return float(accountant.get_epsilon(dp.delta))


def job_epsilon(spec: JobSpec, records: int) -> float | None:
    """The epsilon a provider with ``records`` training records spends on the job (None: no DP-SGD)."""
    dp = spec.privacy.dp_sgd
    if dp is None:
        return None
    return dp_sgd_epsilon(dp, records, spec.training.batch_size, spec.training.local_epochs, spec.training.rounds)
