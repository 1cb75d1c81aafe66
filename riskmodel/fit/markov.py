"""K-state Markov switching in mean and variance (``ms``): filter, smoother, MLE, forecast, sim.

Model (Contract 2, percent log returns)::

    r_t = mu_{s_t} + sqrt(sigma2_{s_t}) z_t,   z_t ~ N(0, 1) i.i.d.
    P[i, j] = P(s_t = j | s_{t-1} = i)          (rows sum to one)

Initial regime distribution: ``P(s_0 = k)`` is the ergodic (stationary) distribution of ``P``
(``pi' P = pi'``), computed exactly as statsmodels' ``MarkovRegression`` does for its default
``initialization="steady-state"``. statsmodels applies its initial probabilities one step earlier
(to ``s_{-1}``) and predicts ``s_0`` through ``P``; for the ergodic distribution both coincide, so
the log-likelihoods agree at the same parameters.

Estimation maximises the exact likelihood (Hamilton filter, numba) over an unconstrained vector:
means as they are, log variances, and each row of ``P`` as a multinomial logit with the diagonal
as reference (``P[i, j] = exp(a_ij) / (1 + sum_{l != i} exp(a_il))`` for ``j != i``). Several
starting points; BFGS. Standard errors: the numerical Hessian of the negative log-likelihood in the
unconstrained space (central differences, ``statsmodels.tools.numdiff.approx_hess3``), inverted,
and carried to the natural parameters by the delta method ``J V J'`` with ``J`` the numerical
Jacobian (central differences) of the map from unconstrained to natural parameters. Regimes are
ordered by variance so regime 0 is the calm one.

Real series with many exact zero returns (stale prices) make Gaussian regime likelihoods
unbounded (a regime's variance collapses onto the zeros). In estimation every variance is
therefore at least ``VAR_FLOOR_REL`` x the sample variance; a fit that ends on that floor is
marked ``converged=False`` and says so in ``message`` and ``warnings`` (as does a zero share
above 5%). Nothing is dropped or repaired here.

The helpers for input checks, transition parameterisation, multi-start optimisation, delta-method
standard errors and regime path simulation are shared with :mod:`riskmodel.fit.msgarch`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numba import njit
from scipy import optimize, stats
from statsmodels.tools.numdiff import approx_fprime, approx_hess3

from riskmodel.errors import FitError, InputError

LOG_2PI = math.log(2.0 * math.pi)
MIN_OBS_PER_PARAM = 10
MIN_OBS = 100
#: In estimation every regime variance is at least VAR_FLOOR_REL x the sample variance: Gaussian
#: regime likelihoods are unbounded when a regime's variance collapses onto repeated (e.g. zero,
#: stale-price) returns; the floor keeps the likelihood bounded and the fit reports hitting it.
VAR_FLOOR_REL = 1e-4
ZERO_SHARE_WARN = 0.05


# --------------------------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def hamilton_step(
    t: int,
    logdens: np.ndarray,
    P: np.ndarray,
    init: np.ndarray,
    filtered: np.ndarray,
    predicted: np.ndarray,
    w: np.ndarray,
) -> float:
    """One Hamilton filter step at date t; returns log f(y_t | F_{t-1}) (-inf if impossible).

    ``logdens[k]`` is log f(y_t | s_t = k, F_{t-1}); ``predicted[t]`` is P(s_t | F_{t-1})
    (``init`` at t = 0) and ``filtered[t]`` is P(s_t | F_t). Densities are scaled by their
    maximum before exponentiating so the step never underflows.
    """
    K = P.shape[0]
    if t == 0:
        for k in range(K):
            predicted[0, k] = init[k]
    else:
        for k in range(K):
            acc = 0.0
            for i in range(K):
                acc += filtered[t - 1, i] * P[i, k]
            predicted[t, k] = acc
    m = -np.inf
    for k in range(K):
        if logdens[k] > m:
            m = logdens[k]
    if not np.isfinite(m):
        return -np.inf
    s = 0.0
    for k in range(K):
        w[k] = predicted[t, k] * math.exp(logdens[k] - m)
        s += w[k]
    if not (s > 0.0) or not np.isfinite(s):
        return -np.inf
    for k in range(K):
        filtered[t, k] = w[k] / s
    return m + math.log(s)


@njit(cache=True)
def hamilton_filter(
    y: np.ndarray, mu: np.ndarray, sigma2: np.ndarray, P: np.ndarray, init: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Hamilton filter for switching mean and variance with normal errors.

    Returns (loglik, filtered P(s_t | F_t) (T, K), predicted P(s_t | F_{t-1}) (T, K)),
    with ``init`` = P(s_0). loglik is -inf for impossible parameters.
    """
    T = y.shape[0]
    K = mu.shape[0]
    filtered = np.full((T, K), np.nan)
    predicted = np.full((T, K), np.nan)
    w = np.empty(K)
    logd = np.empty(K)
    const = np.empty(K)
    inv = np.empty(K)
    for k in range(K):
        if not (sigma2[k] > 0.0):
            return -np.inf, filtered, predicted
        const[k] = -0.5 * (LOG_2PI + math.log(sigma2[k]))
        inv[k] = 0.5 / sigma2[k]
    ll = 0.0
    for t in range(T):
        for k in range(K):
            d = y[t] - mu[k]
            logd[k] = const[k] - d * d * inv[k]
        step = hamilton_step(t, logd, P, init, filtered, predicted, w)
        if not np.isfinite(step):
            return -np.inf, filtered, predicted
        ll += step
    return ll, filtered, predicted


@njit(cache=True)
def kim_smoother(filtered: np.ndarray, predicted: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Kim (1994) smoother: P(s_t | F_T) from the filter output.

    smoothed_T = filtered_T; smoothed_t[i] = filtered_t[i] sum_j P[i, j] smoothed_{t+1}[j] /
    predicted_{t+1}[j] (terms with a zero prediction contribute nothing).
    """
    T, K = filtered.shape
    smoothed = np.empty((T, K))
    ratio = np.empty(K)
    for k in range(K):
        smoothed[T - 1, k] = filtered[T - 1, k]
    for t in range(T - 2, -1, -1):
        for j in range(K):
            ratio[j] = smoothed[t + 1, j] / predicted[t + 1, j] if predicted[t + 1, j] > 0 else 0.0
        for i in range(K):
            acc = 0.0
            for j in range(K):
                acc += P[i, j] * ratio[j]
            smoothed[t, i] = filtered[t, i] * acc
    return smoothed


@njit(cache=True)
def draw_regime(cum: np.ndarray, u: float) -> int:
    """Inverse-CDF draw: the first k with u < cum[k] (the last regime if rounding leaves none)."""
    K = cum.shape[0]
    for k in range(K - 1):
        if u < cum[k]:
            return k
    return K - 1


@njit(cache=True)
def simulate_ms_paths(
    mu: np.ndarray,
    sigma2: np.ndarray,
    P: np.ndarray,
    p_start: np.ndarray,
    u: np.ndarray,
    z: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate Markov-switching returns from given uniforms ``u`` (npaths, nsteps + 1), normals z.

    Recursion, per path: s_T = draw(cumsum(p_start), u[:, 0]); then for step t = 1..nsteps:
    s = draw(cumsum(P[s]), u[:, t]); r = mu[s] + sqrt(sigma2[s]) z[:, t - 1].
    Returns (returns (npaths, nsteps), regimes (npaths, nsteps)).
    """
    npaths, nsteps = z.shape
    K = mu.shape[0]
    cumP = np.empty((K, K))
    for i in range(K):
        acc = 0.0
        for j in range(K):
            acc += P[i, j]
            cumP[i, j] = acc
    cum0 = np.cumsum(p_start)
    out = np.empty((npaths, nsteps))
    regimes = np.empty((npaths, nsteps), dtype=np.int64)
    sd = np.sqrt(sigma2)
    for p in range(npaths):
        s = draw_regime(cum0, u[p, 0])
        for t in range(nsteps):
            s = draw_regime(cumP[s], u[p, t + 1])
            regimes[p, t] = s
            out[p, t] = mu[s] + sd[s] * z[p, t]
    return out, regimes


# --------------------------------------------------------------------------------------------
# shared helpers (also used by msgarch)
# --------------------------------------------------------------------------------------------


def as_returns(
    returns: Any, n_params: int, name: str = "returns", min_obs: int = MIN_OBS
) -> tuple[np.ndarray, pd.Index]:
    """Validate a return series: 1-D, numeric, finite, not constant, long enough.

    Long enough: ``max(min_obs, 10 * n_params)`` observations (fits use the default minimum of
    100; applying fixed parameters needs only one observation).

    Raises InputError naming the field and what is wrong (never repairs silently: cleaning is the
    data layer's job, and a fit on repaired data must say so there).
    """
    label = name
    if isinstance(returns, pd.Series) and returns.name is not None:
        label = f"{name} ({returns.name})"
    if isinstance(returns, pd.Series):
        index = returns.index
        values = returns.to_numpy()
    else:
        values = np.asarray(returns)
        index = pd.RangeIndex(values.shape[0]) if values.ndim == 1 else pd.RangeIndex(0)
    if values.ndim != 1:
        raise InputError(f"must be one-dimensional, got shape {values.shape}", field=label)
    try:
        y = values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"must be numeric ({exc})", field=label) from exc
    bad = ~np.isfinite(y)
    if bad.any():
        first = index[int(np.argmax(bad))]
        raise InputError(
            f"{int(bad.sum())} NaN/inf value(s), first at {first}; drop or repair them before "
            "fitting",
            field=label,
        )
    need = max(min_obs, MIN_OBS_PER_PARAM * n_params)
    if y.shape[0] < need:
        raise InputError(
            f"too short: {y.shape[0]} observations, need at least {need} "
            f"({MIN_OBS_PER_PARAM} per parameter, minimum {min_obs})",
            field=label,
        )
    if n_params > 0 and not np.std(y) > 0:
        raise InputError("is constant; a regime model cannot be fitted", field=label)
    return np.ascontiguousarray(y), index


def data_warnings(y: np.ndarray) -> list[str]:
    """Warnings about features of the data that regime likelihoods handle badly."""
    zero = float(np.mean(y == 0.0))
    if zero > ZERO_SHARE_WARN:
        return [
            f"{zero:.1%} of returns are exactly zero (stale or discrete prices): Gaussian regime "
            "likelihoods reward a near-zero-variance regime there"
        ]
    return []


def ergodic_probs(P: np.ndarray) -> np.ndarray:
    """Stationary distribution pi of a row-stochastic P (pi' P = pi'), as in statsmodels."""
    K = P.shape[0]
    if K == 1:
        return np.ones(1)
    if K == 2 and P[0, 1] + P[1, 0] > 0:  # closed form, same value as the general formula
        return np.array([P[1, 0], P[0, 1]]) / (P[0, 1] + P[1, 0])
    A = np.vstack([np.eye(K) - P.T, np.ones((1, K))])
    return np.linalg.pinv(A)[:, -1]


def transition_from_logits(a: np.ndarray, K: int) -> np.ndarray:
    """Row-wise multinomial logit with the diagonal as reference: K(K-1) logits -> P (K, K)."""
    P = np.empty((K, K))
    idx = 0
    for i in range(K):
        logits = np.zeros(K)
        for j in range(K):
            if j != i:
                logits[j] = a[idx]
                idx += 1
        logits -= logits.max()
        e = np.exp(logits)
        P[i] = e / e.sum()
    return P


def logits_from_transition(P: np.ndarray) -> np.ndarray:
    """Inverse of :func:`transition_from_logits` (probabilities clipped to [1e-8, 1])."""
    K = P.shape[0]
    Q = np.clip(P, 1e-8, 1.0)
    return np.array([math.log(Q[i, j] / Q[i, i]) for i in range(K) for j in range(K) if j != i])


def transition_keys(K: int) -> list[str]:
    """Parameter keys p_ij in row-major order."""
    return [f"p_{i}{j}" for i in range(K) for j in range(K)]


def transition_from_params(params: dict[str, float], K: int, source: str = "params") -> np.ndarray:
    """Read P from p_ij keys; check it is a stochastic matrix."""
    try:
        P = np.array([[float(params[f"p_{i}{j}"]) for j in range(K)] for i in range(K)])
    except KeyError as exc:
        raise InputError(f"missing transition probability {exc.args[0]}", field=source) from exc
    if np.any(P < 0) or np.any(np.abs(P.sum(axis=1) - 1.0) > 1e-6):
        raise InputError("transition rows must be non-negative and sum to 1", field=source)
    return P / P.sum(axis=1, keepdims=True)


def count_regimes(params: dict[str, float], key: str) -> int:
    """Number of regimes K from keys ``<key>_0 .. <key>_{K-1}``."""
    K = 0
    while f"{key}_{K}" in params:
        K += 1
    if K == 0:
        raise InputError(f"no '{key}_0' key: not a regime-model parameter set", field="params")
    return K


def multistart_minimise(
    fun: Callable[[np.ndarray], float], starts: Sequence[np.ndarray], maxiter: int = 2000
) -> tuple[optimize.OptimizeResult, list[float]]:
    """Minimise ``fun`` with BFGS from each start; return the best result and every start's value.

    Starts where ``fun`` is not finite are skipped. Raises FitError if no start gives a finite
    optimum.
    """
    best: optimize.OptimizeResult | None = None
    values: list[float] = []
    for x0 in starts:
        if not np.isfinite(fun(x0)):
            values.append(float("nan"))
            continue
        with np.errstate(all="ignore"):
            res = optimize.minimize(
                fun, x0, method="BFGS", options={"gtol": 1e-6, "maxiter": maxiter}
            )
        values.append(float(res.fun))
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    if best is None:
        raise FitError("no starting point gave a finite likelihood")
    return best, values


def delta_method_cov(
    negll: Callable[[np.ndarray], float],
    theta: np.ndarray,
    to_natural: Callable[[np.ndarray], np.ndarray],
    free: np.ndarray | None = None,
) -> tuple[np.ndarray, bool]:
    """Covariance of the natural parameters: J H^{-1} J' at the optimum.

    ``H`` is the central-difference Hessian of the total negative log-likelihood in the
    unconstrained space, ``J`` the central-difference Jacobian of ``to_natural``. ``free`` (a
    boolean mask over theta) holds the other coordinates fixed (e.g. a parameter on a bound): they
    get zero variance. Returns (cov, ok); ok is False (and cov NaN) when H is not positive
    definite.
    """
    mask = np.ones(theta.shape[0], bool) if free is None else np.asarray(free, bool)
    base = theta.copy()

    def full(sub: np.ndarray) -> np.ndarray:
        th = base.copy()
        th[mask] = sub
        return th

    sub0 = theta[mask]
    H = approx_hess3(sub0, lambda s: negll(full(s)))
    H = 0.5 * (H + H.T)
    n_nat = to_natural(theta).shape[0]
    try:
        np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        return np.full((n_nat, n_nat), np.nan), False
    V = np.linalg.inv(H)
    J = np.atleast_2d(approx_fprime(sub0, lambda s: to_natural(full(s)), centered=True))
    J = J.reshape(n_nat, sub0.shape[0])
    return J @ V @ J.T, True


def param_table(
    params: dict[str, float], std_errors: dict[str, float]
) -> list[tuple[str, float, float, float, float, float, float]]:
    """Rows (name, coef, se, z, p, lo, hi) for a statsmodels-like summary."""
    rows = []
    for k, v in params.items():
        se = std_errors.get(k, float("nan"))
        z = v / se if se and np.isfinite(se) and se > 0 else float("nan")
        p = 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else float("nan")
        rows.append((k, v, se, z, p, v - 1.96 * se, v + 1.96 * se))
    return rows


def format_summary(
    title: str,
    header: list[tuple[str, str]],
    params: dict[str, float],
    std_errors: dict[str, float],
    footer: list[str],
) -> str:
    """A statsmodels-like text block: header pairs, coefficient table, footer lines."""
    width = 78
    lines = [title.center(width), "=" * width]
    for i in range(0, len(header), 2):
        pair = header[i : i + 2]
        cells = [f"{k + ':':<18}{v:>19}" for k, v in pair]
        lines.append("   ".join(cells))
    lines.append("=" * width)
    lines.append(
        f"{'':<12}{'coef':>10}{'std err':>11}{'z':>9}{'P>|z|':>9}{'[0.025':>12}{'0.975]':>12}"
    )
    lines.append("-" * width)
    for name, v, se, z, p, lo, hi in param_table(params, std_errors):
        lines.append(f"{name:<12}{v:>10.4f}{se:>11.4f}{z:>9.3f}{p:>9.3f}{lo:>12.4f}{hi:>12.4f}")
    lines.append("=" * width)
    lines.extend(footer)
    return "\n".join(lines)


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A numpy Generator from a Generator, a seed or None."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def regime_frame(a: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """(T, K) probabilities as a DataFrame with columns regime_0 .. regime_{K-1}."""
    return pd.DataFrame(a, index=index, columns=[f"regime_{k}" for k in range(a.shape[1])])


class SimulatedPaths(NamedTuple):
    """Simulated paths: returns (npaths, nsteps), regimes, and the active regime's variance."""

    returns: np.ndarray
    regimes: np.ndarray
    variance: np.ndarray


# --------------------------------------------------------------------------------------------
# the ms model
# --------------------------------------------------------------------------------------------


def _n_free(K: int) -> int:
    return K * (K + 1)


def _unpack_theta(
    theta: np.ndarray, K: int, floor: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """theta = [mu_k, log(sigma2_k - floor), transition logits]."""
    mu = theta[:K]
    sigma2 = floor + np.exp(theta[K : 2 * K])
    P = transition_from_logits(theta[2 * K :], K)
    return mu, sigma2, P


def _pack_theta(
    mu: np.ndarray, sigma2: np.ndarray, P: np.ndarray, floor: float = 0.0
) -> np.ndarray:
    excess = np.maximum(sigma2 - floor, 1e-8 * max(floor, 1e-300))
    return np.concatenate([mu, np.log(excess), logits_from_transition(P)])


def _natural(theta: np.ndarray, K: int, floor: float = 0.0) -> np.ndarray:
    mu, sigma2, P = _unpack_theta(theta, K, floor)
    return np.concatenate([mu, sigma2, P.ravel()])


def _keys(K: int) -> list[str]:
    return [f"mu_{k}" for k in range(K)] + [f"sigma2_{k}" for k in range(K)] + transition_keys(K)


def _params_to_arrays(params: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    K = count_regimes(params, "mu")
    try:
        mu = np.array([float(params[f"mu_{k}"]) for k in range(K)])
        sigma2 = np.array([float(params[f"sigma2_{k}"]) for k in range(K)])
    except KeyError as exc:
        raise InputError(f"missing parameter {exc.args[0]}", field="params") from exc
    if np.any(~(sigma2 > 0)):
        raise InputError("every sigma2_k must be positive", field="params")
    return mu, sigma2, transition_from_params(params, K)


def markov_loglik(returns: Any, params: dict[str, float]) -> float:
    """Log-likelihood of ``returns`` under fixed ``ms`` parameters (ergodic initial regime)."""
    mu, sigma2, P = _params_to_arrays(params)
    y, _ = as_returns(returns, 0, min_obs=1)
    ll, _, _ = hamilton_filter(y, mu, sigma2, P, ergodic_probs(P))
    return float(ll)


class RegimeResultMixin:
    """What every K-regime result derives from its parameters and likelihood: the transition
    matrix, ergodic probabilities, expected durations, information criteria, the start of a
    simulation and the end-of-sample state. Needs ``params``, ``k_regimes``, ``loglik``,
    ``nobs``, ``n_params``, ``returns`` and ``filtered``."""

    params: dict[str, float]
    k_regimes: int
    loglik: float
    nobs: int
    returns: pd.Series
    filtered: pd.DataFrame

    @property
    def n_params(self) -> int:  # pragma: no cover - each result defines its own
        raise NotImplementedError

    @property
    def transition(self) -> np.ndarray:
        """P[i, j] = P(s_t = j | s_{t-1} = i)."""
        return transition_from_params(self.params, self.k_regimes)

    @property
    def ergodic_probs(self) -> np.ndarray:
        return ergodic_probs(self.transition)

    @property
    def expected_durations(self) -> np.ndarray:
        """Expected regime durations in observations, 1 / (1 - p_kk)."""
        with np.errstate(divide="ignore"):
            return 1.0 / (1.0 - np.diag(self.transition))

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + math.log(self.nobs) * self.n_params

    def _start_probs(self, start: str) -> np.ndarray:
        """Regime probabilities a simulation starts from: filtered P(s_T | F_T) ("end") or
        the ergodic distribution ("ergodic")."""
        if start == "end":
            return self.filtered.to_numpy()[-1].copy()
        if start == "ergodic":
            return self.ergodic_probs
        raise InputError(f"start must be 'end' or 'ergodic', got {start!r}", field="start")

    def _end_state(self, last_resid: float, regime_variances: np.ndarray) -> dict[str, Any]:
        """The engine's end-of-sample state (Contract 2) from the model's last residual and
        next regime variances; regime_probs = filtered P(s_T = k | F_T)."""
        out: dict[str, Any] = {
            "last_resid": float(last_resid),
            "regime_variances": [float(v) for v in regime_variances],
            "regime_probs": [float(p) for p in self.filtered.to_numpy()[-1]],
        }
        last = self.returns.index[-1]
        if isinstance(last, pd.Timestamp):
            out["last_date"] = last.date().isoformat()
        return out


@dataclass
class MarkovResult(RegimeResultMixin):
    """A fitted (or fixed-parameter) K-state Markov-switching mean/variance model."""

    params: dict[str, float]
    std_errors: dict[str, float]
    cov: pd.DataFrame
    loglik: float
    nobs: int
    k_regimes: int
    returns: pd.Series
    filtered: pd.DataFrame
    predicted: pd.DataFrame
    smoothed: pd.DataFrame
    converged: bool = True
    message: str = ""
    start_values: list[float] = field(default_factory=list)
    fixed: bool = False
    warnings: list[str] = field(default_factory=list)

    model: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.model = {
            "family": "ms",
            "mean": "constant",
            "dist": "normal",
            "k_regimes": self.k_regimes,
        }

    # --- arrays -----------------------------------------------------------------------------
    @property
    def mu(self) -> np.ndarray:
        return np.array([self.params[f"mu_{k}"] for k in range(self.k_regimes)])

    @property
    def sigma2(self) -> np.ndarray:
        return np.array([self.params[f"sigma2_{k}"] for k in range(self.k_regimes)])

    @property
    def n_params(self) -> int:
        return _n_free(self.k_regimes)

    @property
    def conditional_mean(self) -> pd.Series:
        """E[r_t | F_{t-1}] = sum_k P(s_t = k | F_{t-1}) mu_k."""
        return pd.Series(self.predicted.to_numpy() @ self.mu, index=self.returns.index)

    @property
    def conditional_volatility(self) -> pd.Series:
        """sqrt(Var[r_t | F_{t-1}]) of the one-step predictive mixture."""
        pr = self.predicted.to_numpy()
        m = pr @ self.mu
        v = pr @ (self.sigma2 + self.mu**2) - m**2
        return pd.Series(np.sqrt(v), index=self.returns.index)

    @property
    def std_resid(self) -> pd.Series:
        """(r_t - E[r_t | F_{t-1}]) / sd(r_t | F_{t-1})."""
        return (self.returns - self.conditional_mean) / self.conditional_volatility

    # --- out of sample ----------------------------------------------------------------------
    def forecast(self, horizon: int) -> pd.DataFrame:
        """Analytic h-step forecasts, h = 1..horizon, from the filtered P(s_T | F_T).

        q_h = q_{h-1} P (q_0 = filtered at T); mean = q_h mu; variance = q_h (sigma2 + mu^2) -
        mean^2 (the variance of the predictive mixture). Converges to the ergodic moments.
        """
        if horizon < 1:
            raise InputError("horizon must be at least 1", field="horizon")
        P, mu, s2 = self.transition, self.mu, self.sigma2
        q = self.filtered.to_numpy()[-1].copy()
        rows = []
        for _ in range(horizon):
            q = q @ P
            m = float(q @ mu)
            rows.append([m, float(q @ (s2 + mu**2)) - m * m, *q])
        cols = ["mean", "variance"] + [f"prob_{k}" for k in range(self.k_regimes)]
        return pd.DataFrame(rows, index=pd.RangeIndex(1, horizon + 1, name="h"), columns=cols)

    def simulate(
        self,
        nsteps: int,
        npaths: int,
        rng: np.random.Generator | int | None = None,
        start: str = "end",
    ) -> SimulatedPaths:
        """Simulate ``npaths`` paths of ``nsteps`` returns after the sample (numba).

        start="end": s_T drawn from the filtered P(s_T | F_T); "ergodic": from the ergodic
        distribution. Random numbers, in this order: u = rng.random((npaths, nsteps + 1)),
        z = rng.standard_normal((npaths, nsteps)); see :func:`simulate_ms_paths`.
        """
        p0 = self._start_probs(start)
        g = as_generator(rng)
        u = g.random((npaths, nsteps + 1))
        z = g.standard_normal((npaths, nsteps))
        r, s = simulate_ms_paths(self.mu, self.sigma2, self.transition, p0, u, z)
        return SimulatedPaths(r, s, self.sigma2[s])

    def state(self) -> dict[str, Any]:
        """End-of-sample state for the engine (Contract 2); ``last_price`` is the caller's.

        last_resid = r_T - E[r_T | F_{T-1}]; regime_variances = sigma2_k (constant in ``ms``);
        regime_probs = filtered P(s_T = k | F_T).
        """
        return self._end_state(self.returns.iloc[-1] - self.conditional_mean.iloc[-1],
                               self.sigma2)

    def summary(self) -> str:
        """statsmodels-like text summary."""
        K = self.k_regimes
        header = [
            ("Model", f"MS({K}) mean/var"),
            ("Dist", "normal"),
            ("No. obs.", str(self.nobs)),
            ("Log-lik.", f"{self.loglik:.3f}"),
            ("AIC", f"{self.aic:.3f}"),
            ("BIC", f"{self.bic:.3f}"),
            ("Converged", str(self.converged)),
            ("Fixed params", str(self.fixed)),
        ]
        dur = ", ".join(f"{d:.1f}" for d in self.expected_durations)
        erg = ", ".join(f"{p:.3f}" for p in self.ergodic_probs)
        footer = [
            f"Expected durations (obs): {dur}",
            f"Ergodic probabilities: {erg}",
            "Covariance: numerical Hessian (unconstrained), delta method.",
            *[f"Warning: {w}" for w in self.warnings],
        ]
        return format_summary(
            "Markov switching mean/variance results", header, self.params, self.std_errors, footer
        )


def _build(
    y: np.ndarray,
    index: pd.Index,
    name: Any,
    mu: np.ndarray,
    sigma2: np.ndarray,
    P: np.ndarray,
    cov: np.ndarray,
    **kw: Any,
) -> MarkovResult:
    K = mu.shape[0]
    ll, filt, pred = hamilton_filter(y, mu, sigma2, P, ergodic_probs(P))
    if not np.isfinite(ll):
        raise FitError("the likelihood is not finite at these parameters")
    smooth = kim_smoother(filt, pred, P)
    keys = _keys(K)
    nat = np.concatenate([mu, sigma2, P.ravel()])
    se = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), np.nan))
    return MarkovResult(
        params={k: float(v) for k, v in zip(keys, nat, strict=True)},
        std_errors={k: float(v) for k, v in zip(keys, se, strict=True)},
        cov=pd.DataFrame(cov, index=keys, columns=keys),
        loglik=float(ll),
        nobs=y.shape[0],
        k_regimes=K,
        returns=pd.Series(y, index=index, name=name),
        filtered=regime_frame(filt, index),
        predicted=regime_frame(pred, index),
        smoothed=regime_frame(smooth, index),
        **kw,
    )


def filter_with_params(returns: Any, params: dict[str, float]) -> MarkovResult:
    """Apply fixed ``ms`` parameters (e.g. a saved calibration) to a series.

    Returns a MarkovResult (filtered, smoothed, forecast, simulate, state) with NaN standard
    errors and ``fixed=True``.
    """
    mu, sigma2, P = _params_to_arrays(params)
    y, index = as_returns(returns, 0, min_obs=1)
    K = mu.shape[0]
    n = 2 * K + K * K
    return _build(
        y, index, getattr(returns, "name", None), mu, sigma2, P, np.full((n, n), np.nan), fixed=True
    )


#: Generated starts by number of regimes: 5 up to two regimes (as the committed two-regime fits
#: were made), 20 above (more local optima); fits with three or more regimes also try
#: :func:`_stale_start`. Evidence on the 15 real series: ``benchmarks/study_ms_starts.py``
#: (``benchmarks/results/ms_starts.md``).
N_STARTS_K2, N_STARTS_K3 = 5, 20


def default_starts(k_regimes: int) -> int:
    """How many generated starts :func:`fit_markov` uses for ``k_regimes`` regimes
    (``N_STARTS_K2`` up to two, ``N_STARTS_K3`` above), the stale start not counted."""
    return N_STARTS_K2 if k_regimes <= 2 else N_STARTS_K3


def _stale_start(y: np.ndarray, K: int, floor: float) -> np.ndarray:
    """A start with regime 0 a regime of unchanged days (mean 0, variance 1.5 x the floor, its
    persistence and entry probability the data's zero-after-zero and zero-after-move shares) and
    the other regimes spread around the variance of the days that moved."""
    zero = y == 0.0
    prev, nxt = zero[:-1], zero[1:]
    stay = float(np.clip((prev & nxt).sum() / max(prev.sum(), 1), 0.05, 0.95))
    enter = float(np.clip((~prev & nxt).sum() / max((~prev).sum(), 1), 0.01, 0.5))
    moved = y[~zero] if (~zero).sum() > 1 else y
    mu = np.full(K, float(moved.mean()))
    mu[0] = 0.0
    sig = np.empty(K)
    sig[0] = 1.5 * floor
    sig[1:] = float(moved.var()) * np.geomspace(0.2, 2.5, K - 1)
    P = np.empty((K, K))
    P[0] = (1.0 - stay) / (K - 1)
    P[0, 0] = stay
    for i in range(1, K):
        P[i] = 0.1 * (1.0 - enter) / max(K - 2, 1)
        P[i, 0] = enter
        P[i, i] = 0.9 * (1.0 - enter)
    return _pack_theta(mu, sig, P / P.sum(axis=1, keepdims=True), floor)


def _starts(y: np.ndarray, K: int, n_starts: int, seed: int, floor: float) -> list[np.ndarray]:
    """Deterministic first start (variances spread around the sample variance, p_kk = 0.95),
    random perturbations, and with three or more regimes :func:`_stale_start` last, so that a
    fit that collapses onto the unchanged days is found and reported (``converged: false``)
    rather than an interior optimum below it (Tianjin: 58 log-likelihood points). Two-regime
    fits keep their five starts (docs/THIN_TRADING.md: what the stale start would change)."""
    rng = np.random.default_rng(seed)
    m, v = float(y.mean()), float(y.var())
    scales = np.geomspace(0.4, 2.5, K) if K > 1 else np.ones(1)
    qs = np.quantile(y, np.linspace(0.3, 0.7, K)) if K > 1 else np.array([m])
    out = []
    for s in range(n_starts):
        if s == 0:
            mu, sig, pkk = np.full(K, m), v * scales, np.full(K, 0.95)
        else:
            mu = m + 0.5 * (qs - m) * rng.uniform(-1, 1, K)
            sig = np.sort(v * scales * np.exp(rng.normal(0, 0.4, K)))
            pkk = rng.uniform(0.8, 0.99, K)
        P = np.full((K, K), 0.0)
        for i in range(K):
            P[i] = (1 - pkk[i]) / max(K - 1, 1)
            P[i, i] = pkk[i] if K > 1 else 1.0
        out.append(_pack_theta(mu, sig, P, floor))
    if K >= 3 and n_starts > 0:
        out.append(_stale_start(y, K, floor))
    return out


def fit_markov(
    returns: Any,
    k_regimes: int = 2,
    n_starts: int | None = None,
    seed: int = 0,
    start: dict[str, float] | None = None,
) -> MarkovResult:
    """Maximum likelihood fit of the K-state switching mean/variance model.

    ``start`` (optional ms params) is tried in addition to ``n_starts`` generated starts (the
    first deterministic, the others random with ``seed``; default :func:`default_starts`) and,
    with three or more regimes, the stale start (:func:`_stale_start`); ``n_starts=0`` uses
    ``start`` alone. Regimes are ordered by variance (regime 0 calm). Raises FitError if no
    start works.
    """
    if k_regimes < 1:
        raise InputError("k_regimes must be at least 1", field="k_regimes")
    if n_starts is None:
        n_starts = default_starts(k_regimes)
    if n_starts < 0 or (n_starts == 0 and start is None):
        raise InputError("n_starts must be >= 1 (or 0 with an explicit start)", field="n_starts")
    K = k_regimes
    y, index = as_returns(returns, _n_free(K))
    T = y.shape[0]
    floor = VAR_FLOOR_REL * float(y.var())

    def negll_mean(theta: np.ndarray) -> float:
        mu, s2, P = _unpack_theta(theta, K, floor)
        ll, _, _ = hamilton_filter(y, mu, s2, P, ergodic_probs(P))
        return -ll / T if np.isfinite(ll) else np.inf

    starts = _starts(y, K, n_starts, seed, floor)
    if start is not None:
        mu0, s20, P0 = _params_to_arrays(start)
        starts.insert(0, _pack_theta(mu0, s20, P0, floor))
    best, values = multistart_minimise(negll_mean, starts)
    mu, s2, P = _unpack_theta(best.x, K, floor)
    order = np.argsort(s2, kind="stable")
    mu, s2, P = mu[order], s2[order], P[np.ix_(order, order)]
    theta = _pack_theta(mu, s2, P, floor)
    cov, ok = delta_method_cov(
        lambda th: T * negll_mean(th), theta, lambda th: _natural(th, K, floor)
    )
    warn = data_warnings(y)
    degenerate = bool(np.any(s2 < floor * 1.01))
    if degenerate:
        warn.append(
            f"a regime variance sits at the floor {floor:.3g} (VAR_FLOOR_REL x sample variance): "
            "degenerate regime, likely capturing repeated/zero returns"
        )
    converged = ok and (bool(best.success) or float(np.max(np.abs(best.jac))) < 1e-4)
    msg = str(best.message) + ("" if ok else "; Hessian not positive definite: SE are NaN")
    if degenerate:  # the optimum is on an artificial bound, not an interior MLE
        converged = False
        msg += "; degenerate: a regime variance is at the floor"
    return _build(
        y,
        index,
        getattr(returns, "name", None),
        mu,
        s2,
        P,
        cov,
        converged=converged,
        message=msg,
        warnings=warn,
        start_values=values,
    )
