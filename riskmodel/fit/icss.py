"""Variance breaks by ICSS (Inclán & Tiao 1994) with the kurtosis-robust kappa-1 statistic.

Inclán & Tiao's iterated cumulative sums of squares locate changes in the unconditional variance
of a series: ``D_k = C_k / C_T - k / T`` with ``C_k`` the cumulative sum of squared (demeaned)
returns. Their test ``sqrt(T / 2) max |D_k|`` assumes i.i.d. normal data and rejects far too often
on fat-tailed returns (Sansó, Aragó & Carrion 2004, "Testing for changes in the unconditional
variance of financial time series", Revista de Economía Financiera 4). We use the kappa-1 form of
Sansó et al., ``max_k |C_k - (k / T) C_T| / sqrt(T (eta4 - sigma4))`` with the sample fourth
moment ``eta4`` and ``sigma4 = (C_T / T)^2``, whose asymptotic 5% critical value is 1.358 (the
supremum of a Brownian bridge) for i.i.d. data of any kurtosis. (Their kappa-2 also allows for
GARCH dependence via a Bartlett long-run variance; kappa-1 is the simple robust step.)

Used to choose an estimation window: :func:`last_break` returns the most recent break, found by
testing the segment after each break found until no break remains (step 2b of the ICSS
algorithm); a ``z...-icss`` model is estimated on the data after it
(``riskmodel.fit.thin_trading``).
"""

from __future__ import annotations

import math

import numpy as np

#: Asymptotic 5% critical value of sup |Brownian bridge|.
CRIT_5PCT = 1.358
#: Fewest observations in a segment before it is tested.
MIN_SEGMENT = 60


def kappa1(a: np.ndarray) -> tuple[float, int]:
    """The kappa-1 statistic of a segment of demeaned returns and the index of its maximum (the
    candidate break: the last observation of the first regime)."""
    a = np.asarray(a, dtype=float)
    t = a.size
    sq = a * a
    c = np.cumsum(sq)
    ct = c[-1]
    sigma4 = (ct / t) ** 2
    eta4 = float(np.mean(sq * sq))
    denom = math.sqrt(t * max(eta4 - sigma4, 1e-300))
    b = np.abs(c - np.arange(1, t + 1) / t * ct) / denom
    k = int(np.argmax(b[:-1]))
    return float(b[k]), k


def last_break(returns: np.ndarray, crit: float = CRIT_5PCT) -> int | None:
    """Index of the first observation after the most recent variance break, or None when the
    series shows no break at the 5% level."""
    a = np.asarray(returns, dtype=float)
    a = a - a.mean()
    start, found = 0, None
    while a.size - start >= MIN_SEGMENT:
        stat, k = kappa1(a[start:])
        if stat <= crit:
            break
        found = start + k + 1
        start = found
    return found
