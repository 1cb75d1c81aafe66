"""Gains from linking and their split into effort sharing and risk sharing (Doda & Taschini 2017).

Per step, market i's gain is ``G_i = (c_i / 2)(p_i^A - q_i)^2`` with ``p_i^A`` its autarky price
(under its own collar) and ``q_i`` its price after linking; it is exact (abatement cost saved plus
trade surplus) for linear abatement when neither collar binds. Quota rents and fee revenue are
reported separately by the solver. Over paths, with the gap ``d_i = p_i^A - q_i``,

    E[G_i] = (c_i / 2) E[d_i]^2 + (c_i / 2) Var(d_i)
           = effort sharing      + risk sharing,

so the engine only needs to accumulate the first two moments of the gap.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def gain(c: float, p_autarky: float, q: float) -> float:
    """Gain from linking of one market on one step: (c / 2)(p_autarky - q)^2."""
    d = p_autarky - q
    return 0.5 * c * d * d


def split_gains(
    c: np.ndarray | float, mean_gap: np.ndarray | float, var_gap: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Effort-sharing and risk-sharing parts of the expected gain, from the gap's moments."""
    c = np.asarray(c, dtype=float)
    m = np.asarray(mean_gap, dtype=float)
    v = np.asarray(var_gap, dtype=float)
    return 0.5 * c * m * m, 0.5 * c * v


def split_gains_from_samples(
    c: np.ndarray | float, p_autarky: np.ndarray, q: np.ndarray, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The same split from samples of autarky and linked prices (population variance, ddof = 0),
    so that effort + risk equals the sample mean of :func:`gain` exactly."""
    d = np.asarray(p_autarky, dtype=float) - np.asarray(q, dtype=float)
    return split_gains(c, d.mean(axis=axis), d.var(axis=axis))
