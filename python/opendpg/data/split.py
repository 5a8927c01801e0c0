"""Each holder's local validation split: seeded by the spec, so anyone can say which share of a holder's
records was held back (though only the holder can see them)."""

from __future__ import annotations

import numpy as np

__all__ = ["validation_split"]


def validation_split(records: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, validation indices) of ``records`` records: a seeded permutation, ``fraction`` of it
    (at least one record when ``fraction`` > 0 and there are two or more) held back for validation."""
    order = np.random.default_rng(seed).permutation(records)
    held = 0 if fraction <= 0 or records < 2 else min(max(round(records * fraction), 1), records - 1)
    return np.sort(order[held:]), np.sort(order[:held])
