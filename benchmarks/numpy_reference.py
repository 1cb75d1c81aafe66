"""What a user would write: a vectorised numpy simulation (paths as arrays, a loop over days) of
the simplified benchmark model, GARCH(1,1)-t prices in two markets plus a two-market pool with
an import/export quota, two variants (autarky and linked), with the engine's daily statistics
(price sums and squares, squared log returns, quota-binding days) and compliance-date
histograms. Issue #14 compares the engine's full kernel with it on the same scenario
(``bench_engine.simple_scenario``)."""

from __future__ import annotations

import math

import numpy as np

NBINS = 2000


def numpy_paths(paths: int, years: int, dpy: int, *, omega: float, alpha: float, beta: float,
                nu: float, last: tuple[float, float], c: tuple[float, float], rho: float,
                quota: float, seed: int = 0) -> dict[str, np.ndarray]:
    """Simulate and return the statistics (sums over paths) per variant and market."""
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(np.array([[1.0, rho], [rho, 1.0]]))
    ca = np.asarray(c)
    h = np.full((paths, 2), omega / (1.0 - alpha - beta))
    logp = np.tile(np.log(np.asarray(last)), (paths, 1))
    s1 = np.zeros((2, 2, 3))
    hist = np.zeros((2, 2, NBINS + 2), np.int64)
    prev = np.full((2, paths, 2), np.nan)
    quota_days = 0
    scale = math.sqrt((nu - 2.0) / nu)
    for _yr in range(years):
        acc = np.zeros((2, paths, 2, 2))
        for _t in range(dpy):
            g = rng.standard_normal((paths, 2)) @ chol.T
            z = g * np.sqrt(nu / rng.chisquare(nu, (paths, 2))) * scale
            eps = np.sqrt(h) * z
            logp += (eps - h / 200.0) / 100.0
            h = omega + alpha * eps * eps + beta * h
            p = np.exp(logp)
            # linked: one price unless the quota binds
            pool = (p * ca).sum(axis=1) / ca.sum()
            flow = ca[1] * (p[:, 1] - pool)  # imports of market 1 at the pool price
            over = np.abs(flow) > quota
            quota_days += int(over.sum())
            f = np.clip(flow, -quota, quota)
            q = np.where(over[:, None], np.stack([p[:, 0] + f / ca[0], p[:, 1] - f / ca[1]], 1),
                         pool[:, None])
            for v, price in enumerate((p, q)):
                lp = np.log(price)
                acc[v, :, :, 0] += price
                acc[v, :, :, 1] += np.nan_to_num((lp - prev[v]) ** 2)
                prev[v] = lp
        for v, price in enumerate((p, q)):
            s1[v, :, :2] += acc[v].sum(axis=0)
            s1[v, :, 2] += (price * price).sum(axis=0)
            b = np.clip(((np.log(price) + 2.0) / (14.0 / NBINS)).astype(np.int64) + 1, 0,
                        NBINS + 1)
            for i in range(2):
                hist[v, i] += np.bincount(b[:, i], minlength=NBINS + 2)
    return {"s1": s1, "hist": hist, "quota_days": np.array(quota_days)}
