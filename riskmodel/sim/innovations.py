"""Copula innovations: the joint correlation of price and output shocks, inverse-CDF tables.

Every trading day the kernel draws ``N + J`` independent standard normals ``g`` and forms
``x = L g`` with ``L`` the Cholesky factor of the joint correlation of the N markets' price
innovations and the J jurisdictions' output shocks. With a t copula the price components are
scaled by ``sqrt(nu / W)``, ``W ~ chi2(nu)``, common to all markets. Market i's standardised
innovation is ``z_i = G_i(x_i)`` with ``G_i = F_i^{-1} o Phi`` (Gaussian copula) or
``F_i^{-1} o T_nu`` (t copula), F_i the standardised normal / t / skew-t law of its calibration.
``G_i`` is tabulated once (scipy/arch, exact ppf) on a uniform grid of x (Gaussian copula) or of
``asinh(x)`` (t copula) and interpolated linearly in the kernel; :func:`table_error` measures the
interpolation error at the grid midpoints.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy import special

#: Table modes: identity (normal marginal, Gaussian copula), linear grid in x, grid in asinh(x).
MODE_IDENTITY, MODE_LINEAR, MODE_ASINH = 0, 1, 2
#: Grid points of each table and the tabulated range.
TABLE_SIZE = 8193
X_MAX = 9.0
ASINH_MAX = math.asinh(1.0e4)
#: A t copula with more degrees of freedom than this is simulated as Gaussian. Only the
#: dependence changes (marginals are the calibrations' in both cases): the t copula's tail
#: dependence coefficient 2 t_{nu+1}(-sqrt((nu+1)(1-rho)/(1+rho))) is 0.026 at nu = 30 and
#: rho = 0.7 (3e-4 at rho = 0.3), while the chi-square mixing draw and the asinh tables cost
#: about a sixth of the full kernel (issue #14).
T_COPULA_GAUSSIAN_NU = 30.0


def effective_copula(copula: str, nu: float | None, notes: list[str]) -> tuple[str, float | None]:
    """The copula the kernel simulates: a t copula with ``nu > T_COPULA_GAUSSIAN_NU`` becomes
    Gaussian, with a note saying so."""
    if copula == "t" and nu is not None and nu > T_COPULA_GAUSSIAN_NU:
        notes.append(
            f"dependence: t copula with nu = {nu:.4g} > {T_COPULA_GAUSSIAN_NU:g} "
            "simulated as Gaussian (tail dependence negligible)"
        )
        return "gaussian", nu
    return copula, nu


#: The normal density's constant as scipy.stats writes it (``norm.pdf`` is
#: ``exp(-x**2/2.0) / sqrt(2 pi)``, and ``norm.ppf`` / ``cdf``, ``t.ppf`` / ``cdf`` are these
#: ``scipy.special`` functions, so the tables are scipy.stats' bit for bit): the engine imports
#: ``scipy.special`` only, not ``scipy.stats`` (about 0.45 s of every run's start-up);
#: ``tests/test_innovations.py`` holds them equal.
_NORM_PDF_C = np.sqrt(2 * np.pi)


def _norm_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-x**2 / 2.0) / _NORM_PDF_C


def standardised_ppf(dist: str, u: np.ndarray, nu: float | None, lam: float | None) -> np.ndarray:
    """Quantiles of the unit-variance innovation law (arch's conventions)."""
    if dist == "normal":
        return special.ndtri(u)
    if dist == "t":
        return special.stdtrit(nu, u) * math.sqrt((nu - 2.0) / nu)
    if dist == "skewt":
        from arch.univariate.distribution import SkewStudent

        return np.asarray(SkewStudent().ppf(u, np.array([nu, lam])), dtype=float)
    raise ValueError(f"unknown dist {dist!r}")


def _grid_u(x: np.ndarray, copula: str, cnu: float | None) -> np.ndarray:
    if copula == "t":
        return special.stdtr(cnu, x)
    return special.ndtr(x)


def build_table(
    dist: str, nu: float | None, lam: float | None, copula: str, cnu: float | None
) -> tuple[int, float, float, np.ndarray]:
    """(mode, lo, step, values) of G = F^{-1}(copula cdf(x)) on its grid."""
    if dist == "normal" and copula == "gaussian":
        return MODE_IDENTITY, 0.0, 1.0, np.zeros(TABLE_SIZE)
    if copula == "gaussian":
        s = np.linspace(-X_MAX, X_MAX, TABLE_SIZE)
        x = s
        mode = MODE_LINEAR
    else:
        s = np.linspace(-ASINH_MAX, ASINH_MAX, TABLE_SIZE)
        x = np.sinh(s)
        mode = MODE_ASINH
    u = np.clip(_grid_u(x, copula, cnu), 1e-300, 1.0 - 1e-16)
    vals = _finite_tails(standardised_ppf(dist, u, nu, lam))
    return mode, float(s[0]), float(s[1] - s[0]), np.ascontiguousarray(vals, dtype=float)


def _finite_tails(vals: np.ndarray) -> np.ndarray:
    """The table with non-finite entries at either end replaced by the nearest finite one.

    scipy's t quantile overflows (inf / NaN) at copula probabilities near 1e-250 for nu near 2;
    such grid points are reached with probability far below 1e-16, but a NaN there would make
    the martingale compensator table NaN. Finite tables are returned unchanged."""
    ok = np.isfinite(vals)
    if ok.all():
        return vals
    idx = np.flatnonzero(ok)
    if idx.size == 0 or not ok[idx[0]:idx[-1] + 1].all():
        raise ValueError("innovation table is not finite inside its range")
    out = vals.copy()
    out[:idx[0]] = vals[idx[0]]
    out[idx[-1] + 1:] = vals[idx[-1]]
    return out


def table_error(
    dist: str, nu: float | None, lam: float | None, copula: str, cnu: float | None,
    prob: float = 1e-6,
) -> float:
    """Largest absolute interpolation error of the table at grid midpoints whose copula
    probability lies in [prob, 1 - prob] (the tails beyond are reached with probability 2*prob)."""
    mode, lo, step, vals = build_table(dist, nu, lam, copula, cnu)
    if mode == MODE_IDENTITY:
        return 0.0
    mid_s = lo + step * (np.arange(TABLE_SIZE - 1) + 0.5)
    x = mid_s if mode == MODE_LINEAR else np.sinh(mid_s)
    u = _grid_u(x, copula, cnu)
    keep = (u >= prob) & (u <= 1 - prob)
    exact = standardised_ppf(dist, u[keep], nu, lam)
    approx = 0.5 * (vals[:-1] + vals[1:])[keep]
    return float(np.max(np.abs(exact - approx)))


#: Points of the martingale compensator grid (log conditional variance, percent^2 units).
COMP_GRID = 161
COMP_LOG_H = (math.log(1e-4), math.log(1e4))


def compensator_table(
    mode: int, lo: float, step: float, vals: np.ndarray, copula: str, cnu: float | None,
    max_resid: float,
) -> tuple[float, float, np.ndarray]:
    """(grid lo, grid step, kappa) with kappa(h) = 100 log E[exp(clip(sqrt(h) z, -R, R) / 100)]
    on a grid of log h: the exact daily compensator that makes the price a martingale for this
    market's innovation law z = G(x) as the kernel draws it (the same table, the same guard R).

    For normal innovations kappa(h) = h/200 up to the guard; for Student t laws it is smaller
    than h/200 where the guard or the table's range cuts the tails (their MGF is infinite)."""
    if mode == MODE_IDENTITY:
        x = np.linspace(-X_MAX, X_MAX, TABLE_SIZE)
        z = x
        w = _norm_pdf(x)
    else:
        s = lo + step * np.arange(vals.shape[0])
        z = vals
        if mode == MODE_LINEAR:
            w = _norm_pdf(s)
        else:  # asinh grid of a t-copula variable x = sinh(s)
            from scipy import stats  # t copulas only (its density has no special function)

            w = stats.t.pdf(np.sinh(s), cnu) * np.cosh(s)
    w = w / w.sum()
    logh = np.linspace(COMP_LOG_H[0], COMP_LOG_H[1], COMP_GRID)
    sd = np.exp(0.5 * logh)[:, None]
    e = np.clip(sd * z[None, :], -max_resid, max_resid) / 100.0
    emax = e.max(axis=1, keepdims=True)  # log-sum-exp for stability
    kappa = 100.0 * (np.log((w[None, :] * np.exp(e - emax)).sum(axis=1)) + emax[:, 0])
    return float(logh[0]), float(logh[1] - logh[0]), np.ascontiguousarray(kappa)


@njit(cache=True)
def lookup(mode: int, lo: float, step: float, vals: np.ndarray, x: float) -> float:
    """Interpolate the table at x (linear extrapolation beyond the grid ends)."""
    return lookup_at(mode, lo, step, vals.reshape((1, vals.shape[0])), 0, x)


@njit(cache=True, inline="always")
def lookup_at(mode: int, lo: float, step: float, tab: np.ndarray, i: int, x: float) -> float:
    """:func:`lookup` on row ``tab[i]`` (no array view in the hot loop)."""
    if mode == 0:
        return x
    s = x if mode == 1 else math.asinh(x)
    f = (s - lo) / step
    n = tab.shape[1]
    k = int(math.floor(f))
    if k < 0:
        k = 0
    elif k > n - 2:
        k = n - 2
    w = f - k
    return tab[i, k] + w * (tab[i, k + 1] - tab[i, k])


def nearest_correlation(a: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Nearest positive-definite correlation matrix by eigenvalue clipping and rescaling."""
    try:  # prefer the dependence helper's repair when it exists
        from riskmodel.fit.dependence import nearest_pd  # type: ignore[attr-defined]

        out = np.asarray(nearest_pd(a)[0], dtype=float)
        if np.linalg.eigvalsh(out).min() > 0:
            return out
    except Exception:  # noqa: BLE001 - fall back to clipping
        pass
    w, v = np.linalg.eigh((a + a.T) / 2)
    b = (v * np.maximum(w, eps)) @ v.T
    d = np.sqrt(np.diag(b))
    return b / np.outer(d, d)


def joint_correlation(
    price_corr: np.ndarray, output_corr: np.ndarray, jur_of: np.ndarray, rho_py: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Joint correlation of (price innovations, output shocks): corr(z_i, y_j) = rho_i *
    corr(y_{J(i)}, y_j). Returns (matrix, repaired)."""
    n, j = price_corr.shape[0], output_corr.shape[0]
    m = np.eye(n + j)
    m[:n, :n] = price_corr
    m[n:, n:] = output_corr
    cross = rho_py[:, None] * output_corr[jur_of, :]
    m[:n, n:] = cross
    m[n:, :n] = cross.T
    if np.linalg.eigvalsh(m).min() > 1e-10:
        return m, False
    return nearest_correlation(m), True
