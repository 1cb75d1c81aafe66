"""Exact perfect-foresight optimum of one market's deterministic banking problem (reference).

    min_p  Σ_t (1+r)^-t c p_t^2 / 2     (abatement a_t = c p_t, linear marginal cost a / c)
    s.t.   B_0 + Σ_{j<=k} (c p_j - n_j) >= ℓ_k   for every year k,     p_t >= 0.

A strictly convex QP with 2T linear constraints: it is solved exactly by enumerating active sets
(KKT: stationarity, primal feasibility, non-negative multipliers), independent of the closed form
in ``hotelling``. Meant for small T (<= 7) in tests and validation.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np


def perfect_foresight(
    bank0: float, n: np.ndarray, ell: np.ndarray, c: float, r: float, tol: float = 1e-9
) -> np.ndarray:
    """The optimal price path (len T) of the deterministic problem above."""
    n = np.asarray(n, dtype=float)
    ell = np.asarray(ell, dtype=float)
    t_n = len(n)
    q = c * (1.0 + r) ** -np.arange(t_n)  # Hessian diagonal
    # constraints G p >= h: cumulative banks, then p >= 0
    g = np.vstack([c * np.tril(np.ones((t_n, t_n))), np.eye(t_n)])
    h = np.concatenate([np.cumsum(n) - bank0 + ell, np.zeros(t_n)])
    scale = 1.0 + np.abs(h).max()
    for size in range(t_n + 1):
        for act in combinations(range(2 * t_n), size):
            ga = g[list(act)]
            kkt = np.zeros((t_n + size, t_n + size))
            kkt[:t_n, :t_n] = np.diag(q)
            kkt[:t_n, t_n:] = -ga.T
            kkt[t_n:, :t_n] = ga
            rhs = np.concatenate([np.zeros(t_n), h[list(act)]])
            try:
                sol = np.linalg.solve(kkt, rhs)
            except np.linalg.LinAlgError:
                continue
            p, lam = sol[:t_n], sol[t_n:]
            if np.all(lam >= -tol * scale) and np.all(g @ p - h >= -tol * scale):
                return p
    raise RuntimeError("no KKT point found (infeasible instance?)")
