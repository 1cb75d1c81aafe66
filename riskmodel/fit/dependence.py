"""Dependence across markets: CCC and DCC(1,1) correlation, nearest-PD repair, copulas.

Input is a frame of standardised residuals (columns = markets, index = dates, NaN where a market
has no observation that day), as produced by the single-market fits.

* CCC: Pearson correlation of each pair on its overlapping dates (``pairwise_correlation``); a pair
  with too few common dates gets 0 and is reported. A matrix assembled pair by pair need not be
  positive definite, so it is repaired to the nearest correlation matrix (Higham 2002) and the
  repair is recorded.
* DCC(1,1) (Engle 2002): ``Q_t = (1-a-b) Qbar + a z_{t-1} z_{t-1}' + b Q_{t-1}``,
  ``R_t = diag(Q_t)^{-1/2} Q_t diag(Q_t)^{-1/2}``, second step of the two-step QMLE on the dates
  where every market trades; ``Qbar`` = sample correlation there, ``Q_1 = Qbar``.
* Copula for simulation: Gaussian, or Student t with degrees of freedom from a profile
  likelihood on rank pseudo-observations (``fit_t_copula_nu``).

The numba kernels (``correlate_normals``, ``norm_cdf``, ``dcc_simulate``) are the building
blocks the engine uses; the Cholesky factor is computed once in numpy (``cholesky_factor``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numba import njit
from scipy import optimize, special, stats

from riskmodel.errors import FitError, InputError

SCHEMA = "riskmodel.dependence/1"
#: A matrix counts as positive definite when its smallest eigenvalue exceeds this; repairs
#: aim higher (``eps``, default 1e-8) so that a repaired matrix passes after a JSON round trip.
PD_TOL = 1e-12
Copula = Literal["gaussian", "t"]


# ---------------------------------------------------------------------------------------------
# validation and nearest positive-definite repair


@dataclass(frozen=True)
class RepairInfo:
    """What ``nearest_pd`` did: distances and eigenvalues before and after."""

    repaired: bool
    frobenius: float  # ||after - before||_F
    min_eig_before: float
    min_eig_after: float
    iterations: int
    converged: bool

    @property
    def note(self) -> str:
        """One line for reports and calibration files."""
        if not self.repaired:
            return f"positive definite as estimated (min eigenvalue {self.min_eig_before:.3g})"
        return (
            f"repaired to the nearest correlation matrix (Higham 2002): min eigenvalue "
            f"{self.min_eig_before:.3g} -> {self.min_eig_after:.3g}, Frobenius distance "
            f"{self.frobenius:.3g}, {self.iterations} iterations"
            + ("" if self.converged else " (NOT converged)")
        )


def _min_eig(a: np.ndarray) -> float:
    return float(np.linalg.eigvalsh((a + a.T) / 2).min())


def nearest_pd(
    corr: np.ndarray, eps: float = 1e-8, max_iter: int = 10_000, tol: float = 1e-12
) -> tuple[np.ndarray, RepairInfo]:
    """Nearest correlation matrix (Frobenius norm) with eigenvalues >= ``eps``.

    Higham (2002) alternating projections with Dykstra's correction between the positive
    semidefinite cone (eigenvalues clipped at ``eps``) and the unit-diagonal matrices. A matrix
    that is already a correlation matrix with min eigenvalue >= ``eps`` is returned unchanged.
    Input must be symmetric with finite entries (use ``validate_corr`` for user input).
    """
    a = np.array(corr, dtype=float)
    a = (a + a.T) / 2
    before = _min_eig(a)
    if before >= eps and np.allclose(np.diag(a), 1.0, rtol=0, atol=1e-12):
        return a, RepairInfo(False, 0.0, before, before, 0, True)
    y = a.copy()
    ds = np.zeros_like(a)
    x = a
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (it is reported)
        r = y - ds
        w, v = np.linalg.eigh(r)
        x = (v * np.maximum(w, eps)) @ v.T
        x = (x + x.T) / 2
        ds = x - r
        y_new = x.copy()
        np.fill_diagonal(y_new, 1.0)
        change = np.linalg.norm(y_new - y, "fro") / max(np.linalg.norm(y, "fro"), 1.0)
        y = y_new
        if change < tol:
            converged = True
            break
    # y has a unit diagonal; x is PSD with eigenvalues >= eps. Finish with a PD unit-diagonal
    # matrix: clip y's spectrum at eps and rescale to unit diagonal (a change of order eps).
    w, v = np.linalg.eigh(y)
    out = (v * np.maximum(w, eps)) @ v.T
    d = np.sqrt(np.diag(out))
    out = out / np.outer(d, d)
    out = (out + out.T) / 2
    np.fill_diagonal(out, 1.0)
    info = RepairInfo(
        True, float(np.linalg.norm(out - a, "fro")), before, _min_eig(out), it, converged
    )
    return out, info


def validate_corr(
    corr: Any,
    *,
    field: str = "corr",
    file: str | Path | None = None,
    require_pd: bool = True,
    repair: bool = False,
    tol: float = 1e-8,
    eps: float = 1e-8,
) -> tuple[np.ndarray, RepairInfo | None]:
    """Check a correlation matrix; repair a non-PD one only when ``repair=True``.

    Positive definite means min eigenvalue > ``PD_TOL``; a repair lifts it to ``eps``.

    Raises ``InputError`` naming ``file`` and ``field`` for a non-square, non-finite or
    non-symmetric matrix, |rho| > 1, a diagonal that is not 1, or (when ``require_pd``) a matrix
    that is not positive definite and ``repair`` is False.
    """
    try:
        a = np.asarray(corr, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError("not a numeric matrix", file=file, field=field) from exc
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise InputError(
            f"must be a non-empty square matrix, got shape {a.shape}", file=file, field=field
        )
    if not np.isfinite(a).all():
        i, j = np.argwhere(~np.isfinite(a))[0]
        raise InputError(f"entry [{i}][{j}] is not finite", file=file, field=field)
    asym = np.abs(a - a.T)
    if asym.max() > tol:
        i, j = np.unravel_index(np.argmax(asym), a.shape)
        raise InputError(
            f"not symmetric: [{i}][{j}]={a[i, j]:.6g} but [{j}][{i}]={a[j, i]:.6g}",
            file=file,
            field=field,
        )
    if np.abs(a).max() > 1 + tol:
        i, j = np.unravel_index(np.argmax(np.abs(a)), a.shape)
        raise InputError(f"|rho| > 1 at [{i}][{j}] ({a[i, j]:.6g})", file=file, field=field)
    dev = np.abs(np.diag(a) - 1)
    if dev.max() > tol:
        i = int(np.argmax(dev))
        raise InputError(f"diagonal must be 1, [{i}][{i}]={a[i, i]:.6g}", file=file, field=field)
    a = (a + a.T) / 2
    np.fill_diagonal(a, 1.0)
    if not require_pd:
        return a, None
    m = _min_eig(a)
    if m > PD_TOL:
        return a, RepairInfo(False, 0.0, m, m, 0, True)
    if not repair:
        raise InputError(
            f"not positive definite (min eigenvalue {m:.3g}); pass repair=True to use the "
            "nearest correlation matrix",
            file=file,
            field=field,
        )
    return nearest_pd(a, eps=eps)


# ---------------------------------------------------------------------------------------------
# pairwise (CCC) correlation


def _check_resid(resid: Any, name: str = "resid") -> pd.DataFrame:
    if not isinstance(resid, pd.DataFrame):
        raise InputError("must be a pandas DataFrame (columns = markets)", field=name)
    if resid.shape[1] < 2:
        raise InputError(f"needs at least 2 markets, got {resid.shape[1]}", field=name)
    if resid.columns.duplicated().any():
        raise InputError(
            f"duplicate market {resid.columns[resid.columns.duplicated()][0]!r}", field=name
        )
    vals = resid.to_numpy(dtype=float)
    if np.isinf(vals).any():
        col = resid.columns[np.isinf(vals).any(axis=0)][0]
        raise InputError("infinite standardised residual", field=f"{name}.{col}")
    return resid.astype(float)


def pairwise_correlation(
    resid: pd.DataFrame, min_overlap: int = 100
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pearson correlation of each pair of markets on the dates both observe.

    Returns ``(corr, overlap_counts)``. Pairs with fewer than ``min_overlap`` common dates get 0;
    they are listed in ``corr.attrs["low_overlap"]`` as ``(m1, m2, n)``. The result is not
    necessarily positive definite (see ``nearest_pd``).
    """
    resid = _check_resid(resid)
    obs = resid.notna().astype(np.int64)
    overlap = obs.T @ obs
    corr = resid.corr(method="pearson", min_periods=max(int(min_overlap), 2))
    cols = list(resid.columns)
    low = [
        (cols[i], cols[j], int(overlap.iloc[i, j]))
        for i in range(len(cols))
        for j in range(i + 1, len(cols))
        if overlap.iloc[i, j] < min_overlap or pd.isna(corr.iloc[i, j])
    ]
    corr = corr.fillna(0.0)
    arr = corr.to_numpy(copy=True)
    np.fill_diagonal(arr, 1.0)
    corr = pd.DataFrame(arr, index=cols, columns=cols)
    corr.attrs["low_overlap"] = low
    return corr, overlap


# ---------------------------------------------------------------------------------------------
# numba building blocks


@njit(cache=True)
def correlate_normals(chol: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """Rows of independent standard normals ``eps`` (n, k) -> rows with covariance L L'."""
    n, k = eps.shape
    out = np.zeros((n, k))
    for t in range(n):
        for i in range(k):
            s = 0.0
            for j in range(i + 1):
                s += chol[i, j] * eps[t, j]
            out[t, i] = s
    return out


@njit(cache=True)
def norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF elementwise (any shape), via erfc."""
    flat = x.ravel()
    out = np.empty(flat.size)
    for i in range(flat.size):
        out[i] = 0.5 * math.erfc(-flat[i] / math.sqrt(2.0))
    return out.reshape(x.shape)


@njit(cache=True)
def _corr_from_q(q: np.ndarray) -> np.ndarray:
    k = q.shape[0]
    r = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            r[i, j] = q[i, j] / math.sqrt(q[i, i] * q[j, j])
    return r


@njit(cache=True)
def dcc_loglik(
    z: np.ndarray, qbar: np.ndarray, a: float, b: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """Gaussian DCC(1,1) log-likelihood of standardised residuals ``z`` (T, k).

    Returns ``(loglik, loglik_t, Q_next)``: the full Gaussian log-likelihood of z given unit
    variances, its per-date terms, and Q for the date after the sample (the simulation state).
    ``-inf`` where some R_t is not positive definite.
    """
    n, k = z.shape
    q = qbar.copy()
    llt = np.empty(n)
    c = 1.0 - a - b
    const = k * math.log(2.0 * math.pi)
    for t in range(n):
        r = _corr_from_q(q)
        # Cholesky by hand (numba's LAPACK cholesky raises on failure)
        chol = np.zeros((k, k))
        for i in range(k):
            for j in range(i + 1):
                s = r[i, j]
                for m in range(j):
                    s -= chol[i, m] * chol[j, m]
                if i == j:
                    if s <= 0.0:
                        return -np.inf, llt, q
                    chol[i, i] = math.sqrt(s)
                else:
                    chol[i, j] = s / chol[j, j]
        logdet = 0.0
        quad = 0.0
        y = np.empty(k)
        for i in range(k):
            s = z[t, i]
            for m in range(i):
                s -= chol[i, m] * y[m]
            y[i] = s / chol[i, i]
            quad += y[i] * y[i]
            logdet += 2.0 * math.log(chol[i, i])
        llt[t] = -0.5 * (const + logdet + quad)
        for i in range(k):
            for j in range(k):
                q[i, j] = c * qbar[i, j] + a * z[t, i] * z[t, j] + b * q[i, j]
    return llt.sum(), llt, q


@njit(cache=True)
def dcc_simulate(
    qbar: np.ndarray, a: float, b: float, eps: np.ndarray, q0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate a DCC(1,1) path: iid standard normals ``eps`` (T, k) -> z_t = chol(R_t) eps_t.

    Starts from ``q0`` (Qbar, or a calibration's ``q_last``); returns ``(z, Q_next)``.
    """
    n, k = eps.shape
    q = q0.copy()
    z = np.empty((n, k))
    c = 1.0 - a - b
    for t in range(n):
        r = _corr_from_q(q)
        chol = np.linalg.cholesky(r)
        for i in range(k):
            s = 0.0
            for j in range(i + 1):
                s += chol[i, j] * eps[t, j]
            z[t, i] = s
        for i in range(k):
            for j in range(k):
                q[i, j] = c * qbar[i, j] + a * z[t, i] * z[t, j] + b * q[i, j]
    return z, q


def cholesky_factor(corr: Any, *, repair: bool = False, field: str = "corr") -> np.ndarray:
    """Validated lower Cholesky factor of a correlation matrix (computed once, in numpy)."""
    a, _ = validate_corr(corr, field=field, repair=repair)
    return np.linalg.cholesky(a)


def sample_copula(
    corr: Any,
    n: int,
    rng: np.random.Generator,
    copula: Copula = "gaussian",
    nu: float | None = None,
) -> np.ndarray:
    """Draw ``n`` rows of uniforms (n, k) from a Gaussian or Student-t copula with ``corr``.

    Draw order (for reproducibility): n x k standard normals, then (t only) n chi-square(nu).
    """
    chol = cholesky_factor(corr)
    if copula not in ("gaussian", "t"):
        raise InputError(f"unknown copula {copula!r} (gaussian or t)", field="copula")
    eps = rng.standard_normal((int(n), chol.shape[0]))
    z = eps @ chol.T
    if copula == "gaussian":
        return special.ndtr(z)
    if nu is None or not np.isfinite(nu) or nu <= 0:
        raise InputError(f"t copula needs nu > 0, got {nu}", field="nu")
    w = np.sqrt(nu / rng.chisquare(nu, size=int(n)))
    return stats.t.cdf(z * w[:, None], df=nu)


# ---------------------------------------------------------------------------------------------
# t copula degrees of freedom


@dataclass(frozen=True)
class CopulaFit:
    """Profile-likelihood estimate of the t copula's nu against the Gaussian copula."""

    nu: float
    loglik_t: float
    loglik_gaussian: float
    nobs: int
    method: str  # "full" (complete rows) or "pairwise" (composite likelihood over pairs)
    copula: Copula  # the choice

    @property
    def lr(self) -> float:
        """2 (ll_t - ll_gaussian)."""
        return 2.0 * (self.loglik_t - self.loglik_gaussian)


NU_MAX = 200.0
#: 5% critical value of the 50:50 mixture of chi2(0) and chi2(1) (nu = inf is on the boundary).
LR_CRITICAL = 2.71


def _pseudo_obs(resid: pd.DataFrame) -> pd.DataFrame:
    """Rank pseudo-observations per column on its own observed dates: rank / (n + 1)."""
    ranks = resid.rank(method="average")
    return ranks / (resid.notna().sum() + 1.0)


def _copula_ll(u: np.ndarray, corr: np.ndarray, nu: float | None) -> float:
    """Log-likelihood of complete rows u (n, k) under a t (nu) or Gaussian (nu None) copula."""
    k = u.shape[1]
    chol = np.linalg.cholesky(corr)
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    if nu is None:
        x = special.ndtri(u)
        y = np.linalg.solve(chol, x.T)
        return float(-0.5 * u.shape[0] * logdet - 0.5 * ((y * y).sum() - (x * x).sum()))
    x = stats.t.ppf(u, df=nu)
    y = np.linalg.solve(chol, x.T)
    quad = (y * y).sum(axis=0)
    n = u.shape[0]
    joint = (
        n
        * (
            special.gammaln((nu + k) / 2)
            - special.gammaln(nu / 2)
            - 0.5 * k * np.log(nu * np.pi)
            - 0.5 * logdet
        )
        - 0.5 * (nu + k) * np.log1p(quad / nu).sum()
    )
    marg = stats.t.logpdf(x, df=nu).sum()
    return float(joint - marg)


def fit_t_copula_nu(
    resid: pd.DataFrame,
    corr: Any,
    min_overlap: int = 100,
    nu_bounds: tuple[float, float] = (2.05, NU_MAX),
) -> CopulaFit:
    """Degrees of freedom of a t copula with correlation ``corr`` by profile likelihood.

    Margins are the empirical distributions (rank pseudo-observations). With no gaps the full
    likelihood is used; with gaps, the composite likelihood over pairs with at least
    ``min_overlap`` common dates. The Gaussian copula is the limit nu -> inf; the t copula is
    chosen when 2 (ll_t - ll_gauss) exceeds 2.71 (boundary-corrected 5% test, indicative only
    for the composite likelihood) and nu is below the upper bound.
    """
    resid = _check_resid(resid)
    r, _ = validate_corr(corr, field="corr")
    if r.shape[0] != resid.shape[1]:
        raise InputError(
            f"corr is {r.shape[0]}x{r.shape[0]} but resid has {resid.shape[1]} markets",
            field="corr",
        )
    u = _pseudo_obs(resid).to_numpy()
    complete = ~np.isnan(u).any(axis=1)
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    if complete.all():
        method = "full"
        blocks.append((u, r))
        nobs = len(u)
    else:
        method = "pairwise"
        nobs = 0
        k = u.shape[1]
        for i in range(k):
            for j in range(i + 1, k):
                both = ~np.isnan(u[:, i]) & ~np.isnan(u[:, j])
                if both.sum() >= min_overlap:
                    blocks.append((u[both][:, [i, j]], r[np.ix_([i, j], [i, j])]))
                    nobs += int(both.sum())
        if not blocks:
            raise FitError(f"no pair of markets with >= {min_overlap} common dates")

    def ll(nu: float | None) -> float:
        return sum(_copula_ll(ub, rb, nu) for ub, rb in blocks)

    lo, hi = np.log(nu_bounds[0]), np.log(nu_bounds[1])
    grid = np.linspace(lo, hi, 12)
    vals = [ll(float(np.exp(g))) for g in grid]
    best = int(np.argmax(vals))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    res = optimize.minimize_scalar(
        lambda g: -ll(float(np.exp(g))), bounds=(a, b), method="bounded", options={"xatol": 1e-4}
    )
    nu_hat, ll_t = float(np.exp(res.x)), float(-res.fun)
    if vals[best] > ll_t:
        nu_hat, ll_t = float(np.exp(grid[best])), float(vals[best])
    ll_g = ll(None)
    choose: Copula = (
        "t" if 2 * (ll_t - ll_g) > LR_CRITICAL and nu_hat < 0.99 * nu_bounds[1] else "gaussian"
    )
    return CopulaFit(nu_hat, ll_t, ll_g, nobs, method, choose)


# ---------------------------------------------------------------------------------------------
# results


@dataclass
class DependenceResult:
    """A fitted dependence model across markets (``calibrations/dependence.json``)."""

    markets: list[str]
    corr: np.ndarray
    method: Literal["ccc", "dcc"]
    copula: Copula = "gaussian"
    nu: float | None = None
    repaired: bool = False
    repair_note: str = ""
    overlap: pd.DataFrame | None = None
    low_overlap: list[tuple[str, str, int]] = field(default_factory=list)
    dcc: dict[str, Any] | None = None
    copula_fit: dict[str, Any] | None = None
    nobs: int = 0
    sample: dict[str, str | None] = field(default_factory=dict)
    loglik: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of Contract 2."""
        from riskmodel import __version__

        return {
            "schema": SCHEMA,
            "markets": list(self.markets),
            "method": self.method,
            "corr": np.asarray(self.corr).tolist(),
            "repaired": bool(self.repaired),
            "repair_note": self.repair_note,
            "dcc": self.dcc,
            "copula": self.copula,
            "nu": self.nu,
            "copula_fit": self.copula_fit,
            "overlap": (
                {m: {n: int(self.overlap.loc[m, n]) for n in self.markets} for m in self.markets}
                if self.overlap is not None
                else None
            ),
            "low_overlap": [list(x) for x in self.low_overlap],
            "nobs": self.nobs,
            "sample": self.sample,
            "loglik": self.loglik,
            "versions": {"riskmodel": __version__, "numpy": np.__version__},
        }

    def save(self, path: str | Path | None = None) -> Path:
        """Write ``calibrations/dependence.json`` (or ``path``) atomically."""
        from riskmodel.config import CALIBRATIONS_DIR
        from riskmodel.io import atomic_write_json

        return atomic_write_json(path or CALIBRATIONS_DIR / "dependence.json", self.to_dict())

    def summary(self) -> str:
        """Plain-text summary: method, copula, repair, DCC parameters, the matrix."""
        lines = [
            f"Dependence across {len(self.markets)} markets: {self.method.upper()}, "
            f"{self.copula} copula" + (f" (nu = {self.nu:.2f})" if self.nu else "")
        ]
        if self.sample:
            lines.append(
                f"  sample {self.sample.get('start')} .. {self.sample.get('end')}, {self.nobs} obs"
            )
        lines.append(f"  {self.repair_note}")
        if self.dcc:
            d = self.dcc
            lines.append(
                f"  DCC a = {d['a']:.4f}, b = {d['b']:.4f}, persistence "
                f"{d['persistence']:.4f}, loglik {d['loglik']:.2f} (CCC "
                f"{d['loglik_ccc']:.2f}, LR {2 * (d['loglik'] - d['loglik_ccc']):.2f})"
            )
        for m1, m2, n in self.low_overlap:
            lines.append(f"  {m1}-{m2}: only {n} common dates, correlation set to 0")
        w = max(len(m) for m in self.markets)
        lines.append(" " * (w + 2) + " ".join(f"{m[:7]:>7}" for m in self.markets))
        for m, row in zip(self.markets, np.asarray(self.corr), strict=True):
            lines.append(f"  {m:<{w}} " + " ".join(f"{v:7.3f}" for v in row))
        return "\n".join(lines)


def load_dependence(path: str | Path | None = None) -> DependenceResult:
    """Read ``calibrations/dependence.json``; bad content raises InputError naming the field."""

    from riskmodel.config import CALIBRATIONS_DIR

    path = Path(path) if path is not None else CALIBRATIONS_DIR / "dependence.json"
    from riskmodel.io import read_json

    doc = read_json(path)
    if not isinstance(doc, dict):
        raise InputError("must be a JSON object", file=path)
    for key in ("markets", "method", "corr", "copula"):
        if key not in doc:
            raise InputError("missing key", file=path, field=key)
    markets = doc["markets"]
    if not isinstance(markets, list) or not all(isinstance(m, str) for m in markets):
        raise InputError("must be a list of market ids", file=path, field="markets")
    if doc["method"] not in ("ccc", "dcc"):
        raise InputError(
            f"unknown method {doc['method']!r} (ccc or dcc)", file=path, field="method"
        )
    if doc["copula"] not in ("gaussian", "t"):
        raise InputError(f"unknown copula {doc['copula']!r}", file=path, field="copula")
    corr, _ = validate_corr(doc["corr"], file=path, field="corr")
    if corr.shape[0] != len(markets):
        raise InputError(
            f"{corr.shape[0]}x{corr.shape[0]} matrix for {len(markets)} markets",
            file=path,
            field="corr",
        )
    nu = doc.get("nu")
    if doc["copula"] == "t" and (nu is None or nu <= 0):
        raise InputError("t copula needs nu > 0", file=path, field="nu")
    overlap = doc.get("overlap")
    return DependenceResult(
        markets=markets,
        corr=corr,
        method=doc["method"],
        copula=doc["copula"],
        nu=nu,
        repaired=bool(doc.get("repaired", False)),
        repair_note=doc.get("repair_note", ""),
        overlap=pd.DataFrame(overlap).loc[markets, markets] if overlap else None,
        low_overlap=[tuple(x) for x in doc.get("low_overlap", [])],
        dcc=doc.get("dcc"),
        copula_fit=doc.get("copula_fit"),
        nobs=int(doc.get("nobs", 0)),
        sample=doc.get("sample", {}),
        loglik=doc.get("loglik"),
    )


# ---------------------------------------------------------------------------------------------
# fitting


def _sample(index: pd.Index) -> dict[str, str | None]:
    if len(index) == 0:
        return {"start": None, "end": None}
    lo, hi = index.min(), index.max()
    f = (lambda x: x.date().isoformat()) if isinstance(lo, pd.Timestamp) else str
    return {"start": f(lo), "end": f(hi)}


def _choose_copula(
    resid: pd.DataFrame, corr: np.ndarray, copula: str, min_overlap: int
) -> tuple[Copula, float | None, dict[str, Any] | None]:
    if copula == "gaussian":
        return "gaussian", None, None
    if copula not in ("t", "auto"):
        raise InputError(f"unknown copula {copula!r} (gaussian, t or auto)", field="copula")
    cf = fit_t_copula_nu(resid, corr, min_overlap=min_overlap)
    info = {
        "nu": cf.nu,
        "loglik_t": cf.loglik_t,
        "loglik_gaussian": cf.loglik_gaussian,
        "lr": cf.lr,
        "nobs": cf.nobs,
        "method": cf.method,
        "rule": f"t if LR > {LR_CRITICAL} and nu < {0.99 * NU_MAX:g}",
    }
    chosen: Copula = cf.copula if copula == "auto" else "t"
    return chosen, (cf.nu if chosen == "t" else None), info


def fit_ccc(
    resid: pd.DataFrame, min_overlap: int = 100, copula: str = "auto", eps: float = 1e-8
) -> DependenceResult:
    """Constant correlation from pairwise overlaps, repaired to PD if needed; copula choice.

    ``copula``: "gaussian", "t" (nu estimated) or "auto" (t only if the likelihood ratio says so).
    """
    corr_df, overlap = pairwise_correlation(resid, min_overlap=min_overlap)
    corr, info = validate_corr(corr_df.to_numpy(), field="corr", repair=True, eps=eps)
    assert info is not None
    markets = [str(c) for c in corr_df.columns]
    chosen, nu, cinfo = _choose_copula(resid, corr, copula, min_overlap)
    any_obs = resid.notna().any(axis=1)
    pair_rows = int((resid.notna().sum(axis=1) >= 2).sum())  # dates that enter some pair
    return DependenceResult(
        markets=markets,
        corr=corr,
        method="ccc",
        copula=chosen,
        nu=nu,
        repaired=info.repaired,
        repair_note=info.note,
        overlap=overlap,
        low_overlap=corr_df.attrs["low_overlap"],
        copula_fit=cinfo,
        nobs=pair_rows,
        sample=_sample(resid.index[any_obs]),
    )


def fit_dcc(
    resid: pd.DataFrame,
    min_obs: int = 250,
    copula: str = "auto",
    starts: tuple[tuple[float, float], ...] = (
        (0.01, 0.97),
        (0.03, 0.94),
        (0.05, 0.90),
        (0.10, 0.80),
        (0.02, 0.50),
    ),
) -> DependenceResult:
    """DCC(1,1) by the second step of Engle's (2002) two-step QMLE, on the common dates.

    ``Qbar`` is the sample correlation on the dates where every market has a residual. Bounds
    a, b >= 0 and a + b < 1 (SLSQP from several starts). Reports a, b, persistence, the
    log-likelihood, that of the CCC model with R = Qbar, naive standard errors (inverse
    Hessian of the second step, ignoring first-step estimation error), and ``q_last`` (Q for
    the date after the sample) and ``z_last`` as simulation state. ``corr`` = Qbar.
    """
    resid = _check_resid(resid)
    common = resid.dropna()
    if len(common) < min_obs:
        counts = resid.notna().sum().sort_values()
        raise FitError(
            f"DCC needs >= {min_obs} dates where every market has a residual, found "
            f"{len(common)} (fewest observations: {counts.index[0]} with {int(counts.iloc[0])})"
        )
    z = np.ascontiguousarray(common.to_numpy(dtype=float))
    qbar, info = validate_corr(np.corrcoef(z, rowvar=False), field="qbar", repair=True)
    assert info is not None

    def nll(p: np.ndarray) -> float:
        a, b = float(p[0]), float(p[1])
        if a < 0 or b < 0 or a + b >= 1:
            return 1e12
        ll = dcc_loglik(z, qbar, a, b)[0]
        return -ll if np.isfinite(ll) else 1e12

    best = None
    cons = [{"type": "ineq", "fun": lambda p: 0.9999 - p[0] - p[1]}]
    for s in starts:
        r = optimize.minimize(
            nll,
            np.array(s),
            method="SLSQP",
            bounds=[(0, 0.9999)] * 2,
            constraints=cons,
            options={"ftol": 1e-10, "maxiter": 500},
        )
        if best is None or r.fun < best.fun:
            best = r
    assert best is not None
    a, b = (float(max(best.x[0], 0.0)), float(max(best.x[1], 0.0)))
    ll, _, q_next = dcc_loglik(z, qbar, a, b)
    ll_ccc = float(dcc_loglik(z, qbar, 0.0, 0.0)[0])
    se = _naive_se(nll, np.array([a, b]))
    dcc = {
        "a": a,
        "b": b,
        "persistence": a + b,
        "loglik": float(ll),
        "loglik_ccc": ll_ccc,
        "se_a": se[0],
        "se_b": se[1],
        "converged": bool(best.success),
        "qbar": qbar.tolist(),
        "q_last": q_next.tolist(),
        "z_last": z[-1].tolist(),
        "note": "second-step QMLE; standard errors ignore first-step (GARCH) estimation"
        + (
            "; a = 0: no dynamic correlation found, b is not identified (use CCC)"
            if a < 1e-4
            else ""
        ),
    }
    markets = [str(c) for c in common.columns]
    chosen, nu, cinfo = _choose_copula(common, qbar, copula, min_obs)
    return DependenceResult(
        markets=markets,
        corr=qbar,
        method="dcc",
        copula=chosen,
        nu=nu,
        repaired=info.repaired,
        repair_note=info.note,
        dcc=dcc,
        copula_fit=cinfo,
        nobs=len(common),
        sample=_sample(common.index),
        loglik=float(ll),
    )


def _naive_se(nll: Any, x: np.ndarray) -> list[float | None]:
    """Standard errors from a central-difference Hessian; None at a bound or if not PD."""
    h = 1e-4
    if (x < 2 * h).any() or x.sum() > 1 - 2 * h:
        return [None, None]
    k = len(x)
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            hess[i, j] = (
                nll(x + ei + ej) - nll(x + ei - ej) - nll(x - ei + ej) + nll(x - ei - ej)
            ) / (4 * h * h)
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return [None, None]
    d = np.diag(cov)
    return [float(np.sqrt(v)) if v > 0 else None for v in d]
