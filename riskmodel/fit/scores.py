"""Scores of forecast distributions given as simulated samples: PIT, band coverage, CRPS, and a
uniformity test of PITs that accounts for overlapping forecast windows.

- **PIT** (probability integral transform) of an outcome y against a sample x_1..x_n:
  ``u = (#{x < y} + V (#{x = y} + 1)) / (n + 1)`` with V ~ U(0, 1) (randomised for ties, e.g. a
  window with no trade has realised volatility exactly 0). Under a correct forecast u is
  uniform on (0, 1) exactly when y and the sample are exchangeable.
- **Coverage** of the central band of level c: the share of outcomes with
  ``(1 - c)/2 <= u <= (1 + c)/2``.
- **CRPS** (continuous ranked probability score, Gneiting & Raftery 2007) of a sample:
  ``E|X - y| - E|X - X'| / 2``, computed exactly for the empirical law in O(n log n); for a
  normal law the closed form ``s [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)]`` (tests).
- **Uniformity with overlapping windows** (:func:`ks_overlap`). PITs of forecasts made at
  origins ``o_i`` for windows ``[o_i, o_i + h)`` are independent when the windows do not
  overlap (Diebold, Gunther & Tay 1998), but a one-year horizon from quarterly origins overlaps
  three later windows and the plain KS test then rejects far too often. We keep the KS
  statistic and take its null distribution by Monte Carlo on the SAME window layout: i.i.d.
  Gaussian steps at the same positions, the exact PITs of their window sums (log price change)
  or window sums of squares (realised variance), and the KS statistic of each replicate. The
  p-value is the share of replicates at least as extreme. This is exact for i.i.d. Gaussian
  steps and approximate otherwise (the dependence between overlapping-window PITs depends on
  the model only through the copula of overlapping sums); with non-overlapping windows it
  reduces to the ordinary KS test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import stats

#: Annualisation of daily volatility (trading days per year, the engine's default clock).
DAYS_PER_YEAR = 252
#: Monte Carlo replicates of the overlapping-window KS null distribution.
KS_NULL_REPS = 2000


def pit(sample: np.ndarray, y: float, rng: np.random.Generator) -> float:
    """Randomised PIT of ``y`` against the sample (see the module docstring)."""
    x = np.asarray(sample, dtype=float)
    x = x[np.isfinite(x)]
    below = int(np.sum(x < y))
    ties = int(np.sum(x == y))
    return (below + rng.uniform() * (ties + 1)) / (x.size + 1)


def coverage(pits: Sequence[float], level: float) -> float:
    """Share of PITs inside the central band of probability ``level``."""
    u = np.asarray(pits, dtype=float)
    if u.size == 0:
        return math.nan
    lo, hi = (1 - level) / 2, (1 + level) / 2
    return float(np.mean((u >= lo) & (u <= hi)))


def crps_sample(sample: np.ndarray, y: float) -> float:
    """CRPS of the empirical law of ``sample`` at ``y`` (exact, O(n log n))."""
    x = np.sort(np.asarray(sample, dtype=float))
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return math.nan
    term1 = float(np.mean(np.abs(x - y)))
    i = np.arange(1, n + 1)
    term2 = float(np.sum((2 * i - n - 1) * x)) / (n * n)  # = E|X - X'| / 2
    return term1 - term2


def crps_normal(mu: float, sigma: float, y: float) -> float:
    """Closed-form CRPS of N(mu, sigma^2) at ``y``."""
    z = (y - mu) / sigma
    return float(sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z)
                          - 1 / math.sqrt(math.pi)))


def realised_vol(returns_pct: np.ndarray, axis: int = -1) -> np.ndarray:
    """Annualised standard deviation of daily percent log returns (percent a year)."""
    r = np.asarray(returns_pct, dtype=float)
    return np.std(r, axis=axis, ddof=1) * math.sqrt(DAYS_PER_YEAR)


def ks_stat(u: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance of a sample from U(0, 1)."""
    x = np.sort(np.asarray(u, dtype=float))
    n = x.size
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - x), np.max(x - (i - 1) / n)))


def _ks_rows(u: np.ndarray) -> np.ndarray:
    """KS distance of each row of ``u`` from U(0, 1)."""
    x = np.sort(u, axis=1)
    n = x.shape[1]
    i = np.arange(1, n + 1)
    return np.maximum(np.max(i / n - x, axis=1), np.max(x - (i - 1) / n, axis=1))


@lru_cache(maxsize=512)
def ks_null(windows: tuple[tuple[int, int], ...], kind: str, reps: int = KS_NULL_REPS,
            seed: int = 0) -> np.ndarray:
    """Null distribution (``reps`` KS distances) of the PITs of windows ``(start, h)`` =
    steps ``[start, start + h)`` over i.i.d. N(0, 1) steps: ``kind`` "sum" (log price change)
    or "sumsq" (realised variance)."""
    st = np.array([w[0] for w in windows], dtype=np.int64)
    hh = np.array([w[1] for w in windows], dtype=np.int64)
    st = st - st.min()
    n_steps = int((st + hh).max())
    rng = np.random.default_rng(seed)
    out = np.empty(reps)
    block = max(1, min(reps, 2_000_000 // max(n_steps, 1)))
    done = 0
    while done < reps:
        b = min(block, reps - done)
        z = rng.standard_normal((b, n_steps))
        if kind == "sum":
            c = np.concatenate([np.zeros((b, 1)), np.cumsum(z, axis=1)], axis=1)
            u = stats.norm.cdf((c[:, st + hh] - c[:, st]) / np.sqrt(hh))
        else:
            c = np.concatenate([np.zeros((b, 1)), np.cumsum(z * z, axis=1)], axis=1)
            u = stats.chi2.cdf(c[:, st + hh] - c[:, st], hh)
        out[done:done + b] = _ks_rows(u)
        done += b
    return out


def overlaps(windows: Sequence[tuple[int, int]]) -> bool:
    """True when two windows ``(start, h)`` share a step."""
    w = sorted((int(a), int(a) + int(h)) for a, h in windows)
    ends = np.maximum.accumulate([e for _, e in w])
    return any(w[i + 1][0] < ends[i] for i in range(len(w) - 1))


def ks_overlap(pits: Sequence[float], windows: Sequence[tuple[int, int]], *,
               kind: str = "sum", reps: int = KS_NULL_REPS) -> dict[str, float]:
    """KS test of uniformity for PITs of windows ``(start, h)`` (step positions) that may
    overlap: the KS distance with its p-value from :func:`ks_null` on the same layout (the
    ordinary exact KS p-value when no windows overlap). ``p_naive``: scipy's KS p-value, which
    ignores overlap (shown for comparison)."""
    u = np.asarray(pits, dtype=float)
    if u.size < 2:
        return {"n": int(u.size), "ks": math.nan, "p": math.nan, "p_naive": math.nan}
    d = ks_stat(u)
    p_naive = float(stats.kstest(u, "uniform").pvalue)
    if overlaps(windows):
        null = ks_null(tuple((int(a), int(h)) for a, h in windows), kind, reps)
        p = float((1 + np.sum(null >= d - 1e-12)) / (null.size + 1))
    else:
        p = p_naive
    return {"n": int(u.size), "ks": d, "p": p, "p_naive": p_naive}
