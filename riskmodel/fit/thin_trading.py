"""Thin trading: a two-state Markov no-trade indicator plus a GARCH family on trading days.

Model (docs/THIN_TRADING.md). A day with a zero percent log return is a *no-trade* day
(``N_t = 1``); ``N`` is a two-state Markov chain with ``p01 = P(N_t = 1 | N_{t-1} = 0)`` and
``p11 = P(N_t = 1 | N_{t-1} = 1)``, fitted in closed form from the transition counts (MLE
``p01 = n01 / (n00 + n01)``, ``p11 = n11 / (n10 + n11)``; stationary share
``p01 / (1 - p11 + p01)``). On a no-trade day the price is unchanged and the variance recursion
does not advance; on a trading day after ``k`` no-trade days
``r = sqrt(1 + kappa k) (mu + sqrt(h) z)``, where ``h`` follows the GARCH / GJR / EGARCH
recursion of ``riskmodel.fit.garch`` on the trading days only, driven by the per-day shock
``sqrt(h) z`` (so ``r / sqrt(1 + kappa k)`` is an ordinary GARCH process in trading time and arch
fits it exactly). kappa = 0: an idle spell adds no variance; kappa = 1: the first return after
k idle days carries k + 1 days of news. kappa is chosen by profile likelihood on a grid (kept only
when the LR test rejects 0 at 5%). The GARCH part is estimated by arch on the non-zero returns,
with the Student-t (skew-t) degrees of freedom bounded below by ``NU_MIN`` (finite fourth moment:
the engine's guard is then a safety net, not the tail model) and the GARCH / GJR persistence
bounded above by ``PERSISTENCE_MAX`` (thin markets otherwise end on the IGARCH bound, where no
unconditional variance exists).

Variance targeting (``-vt`` models, GARCH / GJR): the intercept is reset so that the
unconditional variance equals the realised variance of the trading-day residuals over the last
``VT_YEARS`` years, ``omega = (1 - persistence) s2_recent``; the variance path and the
end-of-sample state are recomputed with it (the level comes from the current regime, the
dynamics from the whole history).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from arch.univariate.distribution import SkewStudent, StudentsT
from arch.univariate.volatility import GARCH
from scipy import stats

from riskmodel.data.price_limits import detect_limit
from riskmodel.errors import FitError
from riskmodel.fit.calibration import (
    ES_LEVEL,
    VAR_LEVELS,
    AppliedResult,
    Calibration,
    _pct,
    standardised_var_es,
)
from riskmodel.fit.garch import (
    GarchFit,
    ModelSpec,
    _problems,
    build_arch_model,
    persistence,
    run_arch_fit,
    to_arch_vector,
    validate_returns,
)
from riskmodel.fit.guard import evidence_guard

#: Lower bound on the Student-t / skew-t degrees of freedom of the trading-day innovations.
NU_MIN = 4.0
#: Years of trading days whose realised variance sets the level of a variance-targeted model.
VT_YEARS = 2.0
#: Gap scalings tried (variance of the first return after k idle days x (1 + kappa k)): 0 = the
#: variance does not grow while the market is idle, 1 = it grows like k + 1 days of news.
KAPPA_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
#: Fewest returns after an idle run before the scaling is estimated at all.
MIN_GAP_DAYS = 20
#: A window-restricted fit keeps at least twice this many returns.
MIN_WINDOW_RETURNS = 250
#: Upper bound on GARCH / GJR persistence (alpha + beta + gamma/2): a variance shock halves in at
#: most ln 0.5 / ln 0.99 = 69 trading days, so the unconditional variance exists and a
#: variance-targeted level is reached within a compliance year.
PERSISTENCE_MAX = 0.99
#: Thin-trading candidates (``z`` prefix; ``-vt`` = variance targeted to recent realised variance).
#: EGARCH only with normal innovations: under t innovations its unconditional variance is infinite
#: (E exp(c|z|) diverges; Nelson 1991), so the engine's guard would be the tail model.
THIN_CANDIDATES = (
    "zgarch-t",
    "zgjr-t",
    "zegarch-normal",
    "zgarch-t-vt",
    "zgjr-t-vt",
    "zgarch-t-vt1",
    "zgarch-t-w4",
    "zegarch-normal-w4",
    "zgarch-t-nu8",
    "zgarch-t-vt1-nu8",
    "zgarch-t-w4-nu8",
    "zgarch-t-nu3",
    "zgjr-t-nu3",
)


class BoundedStudentsT(StudentsT):
    """arch's standardised Student t with nu >= ``nu_min`` (arch's own bound is 2.05)."""

    def __init__(self, nu_min: float = NU_MIN, **kw: Any) -> None:
        super().__init__(**kw)
        self.nu_min = float(nu_min)

    def bounds(self, resids: np.ndarray) -> list[tuple[float, float]]:
        return [(self.nu_min, 500.0)]

    def starting_values(self, std_resid: np.ndarray) -> np.ndarray:
        return np.maximum(super().starting_values(std_resid), self.nu_min + 1.0)


class BoundedSkewStudent(SkewStudent):
    """arch's Hansen skew t with eta (nu) >= ``nu_min``."""

    def __init__(self, nu_min: float = NU_MIN, **kw: Any) -> None:
        super().__init__(**kw)
        self.nu_min = float(nu_min)

    def bounds(self, resids: np.ndarray) -> list[tuple[float, float]]:
        return [(self.nu_min, 300.0), (-1.0, 1.0)]

    def starting_values(self, std_resid: np.ndarray) -> np.ndarray:
        sv = np.asarray(super().starting_values(std_resid), dtype=float)
        sv[0] = max(sv[0], self.nu_min + 1.0)
        return sv


class BoundedGARCH(GARCH):
    """arch's GARCH / GJR recursion with persistence alpha + gamma/2 + beta <= PERSISTENCE_MAX."""

    def constraints(self) -> tuple[np.ndarray, np.ndarray]:
        a, b = super().constraints()
        b = b.copy()
        b[-1] = -PERSISTENCE_MAX
        return a, b

    def starting_values(self, resids: np.ndarray) -> np.ndarray:
        sv = np.asarray(super().starting_values(resids), dtype=float)
        pers = sv[1 : 1 + self.p].sum() + 0.5 * sv[1 + self.p : 1 + self.p + self.o].sum()
        pers += sv[1 + self.p + self.o :].sum()
        if pers > PERSISTENCE_MAX - 0.01:
            sv[1:] *= (PERSISTENCE_MAX - 0.01) / pers
        return sv


# --------------------------------------------------------------------------- names


@dataclass(frozen=True)
class ThinName:
    """A thin-trading model name: ``z<vol>-<dist>[-vt[Y]][-w<Y>][-icss][-nu<min>]``."""

    spec: ModelSpec
    vt_years: float | None = None
    window_years: float | None = None
    nu_min: float = NU_MIN
    #: Estimated on the data after the last variance break (ICSS, riskmodel.fit.icss).
    icss: bool = False

    @property
    def name(self) -> str:
        out = "z" + self.spec.name
        if self.vt_years is not None:
            out += "-vt" + ("" if self.vt_years == VT_YEARS else f"{self.vt_years:g}")
        if self.window_years is not None:
            out += f"-w{self.window_years:g}"
        if self.icss:
            out += "-icss"
        if self.nu_min != NU_MIN:
            out += f"-nu{self.nu_min:g}"
        return out


def parse_thin_name(name: str) -> ThinName:
    """``zgjr-t-vt`` -> GJR-t, variance targeted to the last ``VT_YEARS`` years; ``-vt1``: to the
    last year; ``-w4``: estimated on the last four years only; ``-icss``: on the data after the
    last variance break (ICSS); ``-nu8``: nu >= 8 instead of ``NU_MIN``."""
    text = name.strip().lower()
    if not text.startswith("z"):
        raise FitError(f"{name!r} is not a thin-trading model name (z<vol>-<dist>[-vt][-wY])")
    parts = text[1:].split("-")
    vt = window = None
    nu_min = NU_MIN
    icss = False
    try:
        while len(parts) > 2 and parts[-1][:1] in ("v", "w", "n", "i"):
            tail = parts.pop()
            if tail == "icss":
                icss = True
            elif tail.startswith("vt"):
                vt = float(tail[2:]) if tail[2:] else VT_YEARS
            elif tail.startswith("nu"):
                nu_min = float(tail[2:])
            elif tail.startswith("w"):
                window = float(tail[1:])
            else:
                raise ValueError(tail)
    except ValueError:
        raise FitError(
            f"{name!r}: suffix not understood (-vt, -vt<years>, -w<years>, -icss, -nu<min>)"
        ) from None
    spec = ModelSpec.parse("-".join(parts))
    if spec.mean != "constant":
        raise FitError(f"{name!r}: thin-trading models have a constant mean")
    if vt is not None and spec.vol == "egarch":
        raise FitError(f"{name!r}: variance targeting is defined for garch and gjr only")
    if (vt is not None and vt <= 0) or (window is not None and window < 2):
        raise FitError(f"{name!r}: target window > 0 years, estimation window >= 2 years")
    if not 2.5 <= nu_min <= 100:
        raise FitError(f"{name!r}: nu lower bound must be in [2.5, 100]")
    if icss and window is not None:
        raise FitError(f"{name!r}: -icss and -w<years> both set the estimation window")
    return ThinName(spec, vt, window, nu_min, icss)


def is_thin_name(name: str) -> bool:
    """True for ``z...`` model names."""
    return name.strip().lower().startswith("z")


# --------------------------------------------------------------------------- the no-trade chain


def no_trade(returns: pd.Series) -> np.ndarray:
    """1 where the return is exactly zero (the price did not change: no trade), else 0."""
    return (np.asarray(returns, dtype=float) == 0.0).astype(np.int64)


def fit_trade_chain(indicator: Any) -> dict[str, Any]:
    """Closed-form MLE of the two-state no-trade chain from its transition counts.

    Returns ``p01``, ``p11``, ``zero_share`` (stationary P(N = 1)), ``last_state``, ``last_gap``
    (trailing run of no-trade days), the counts, the empirical share and the log-likelihood
    (conditional on the first state). A state never left or never entered gets the natural
    estimate 0 (no transitions seen).
    """
    n_t = np.asarray(indicator, dtype=np.int64)
    if n_t.size < 2:
        raise FitError("the no-trade chain needs at least two days")
    prev, cur = n_t[:-1], n_t[1:]
    n00 = int(((prev == 0) & (cur == 0)).sum())
    n01 = int(((prev == 0) & (cur == 1)).sum())
    n10 = int(((prev == 1) & (cur == 0)).sum())
    n11 = int(((prev == 1) & (cur == 1)).sum())
    p01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    p11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    zero_share = p01 / (1.0 - p11 + p01) if (1.0 - p11 + p01) > 0 else 0.0

    def xlog(k: int, p: float) -> float:
        return k * math.log(p) if k else 0.0

    loglik = xlog(n00, 1 - p01) + xlog(n01, p01) + xlog(n10, 1 - p11) + xlog(n11, p11)
    gap = 0
    for v in n_t[::-1]:
        if v != 1:
            break
        gap += 1
    return {
        "model": "markov",
        "p01": float(p01),
        "p11": float(p11),
        "zero_share": float(zero_share),
        "empirical_share": float(n_t.mean()),
        "last_state": int(n_t[-1]),
        "last_gap": int(gap),
        "counts": {"n00": n00, "n01": n01, "n10": n10, "n11": n11},
        "loglik": float(loglik),
    }


def gap_lengths(indicator: Any) -> np.ndarray:
    """For every trading day, the number of no-trade days immediately before it."""
    n_t = np.asarray(indicator, dtype=np.int64)
    out = []
    k = 0
    for v in n_t:
        if v == 1:
            k += 1
        else:
            out.append(k)
            k = 0
    return np.asarray(out, dtype=float)


# --------------------------------------------------------------------------- the GARCH part


def _arch_model(r: pd.Series, spec: ModelSpec, nu_min: float = NU_MIN):
    model = build_arch_model(r, spec)
    if spec.vol in ("garch", "gjr"):
        model.volatility = BoundedGARCH(p=1, o=1 if spec.vol == "gjr" else 0, q=1)
    if spec.dist == "t":
        model.distribution = BoundedStudentsT(nu_min)
    elif spec.dist == "skewt":
        model.distribution = BoundedSkewStudent(nu_min)
    return model


class _TradedFit(GarchFit):
    """A GarchFit whose standard errors are None (not an exception) when arch cannot invert
    the Hessian (short or degenerate trading-day samples in rolling refits)."""

    @property
    def std_errors(self) -> dict[str, float | None]:
        try:
            return super().std_errors
        except np.linalg.LinAlgError:
            return {k: None for k in self.params}


def _fit_traded(r: pd.Series, spec: ModelSpec, nu_min: float = NU_MIN) -> GarchFit:
    """arch fit of ``spec`` on the trading-day returns with the bounded innovation law."""
    model = _arch_model(r, spec, nu_min)
    res, caught = run_arch_fit(model)
    try:
        problems = [p for p in _problems(res, spec) if not p.startswith("nu ")]
    except np.linalg.LinAlgError:
        problems = ["parameter covariance not computable (singular Hessian)"]
    return _TradedFit(
        spec=spec,
        result=res,
        returns=r,
        converged=not problems,
        problems=problems,
        requested=spec.name,
        arch_warnings=caught,
    )


def profile_kappa(
    traded: pd.Series, gaps: np.ndarray, spec: ModelSpec, nu_min: float = NU_MIN
) -> tuple[GarchFit, dict[str, Any]]:
    """Profile likelihood of the gap scaling over ``KAPPA_GRID``.

    With ``r = sqrt(1 + kappa k) r~`` the scaled return ``r~`` is an ordinary GARCH process on
    trading days, so for each kappa arch fits ``r~`` exactly and the log-likelihood of ``r`` is
    arch's minus ``sum log(1 + kappa k) / 2`` (the Jacobian). kappa is kept only when the LR test
    rejects ``kappa = 0`` at 5%. Returns the fit at the chosen kappa and the profile.
    """
    fits: dict[float, tuple[GarchFit, float]] = {}
    grid = KAPPA_GRID if int((gaps > 0).sum()) >= MIN_GAP_DAYS else (0.0,)
    for kappa in grid:
        scale = np.sqrt(1.0 + kappa * gaps)
        fit = _fit_traded(traded / scale, spec, nu_min)
        fits[kappa] = (fit, fit.loglik - float(np.log(scale).sum()))
    ll0 = fits[0.0][1]
    best = max(fits, key=lambda k: fits[k][1])
    lr = max(2.0 * (fits[best][1] - ll0), 0.0)
    p = float(stats.chi2.sf(lr, 1)) if best > 0 else 1.0
    kappa = best if p < 0.05 else 0.0
    profile = {
        "kappa_hat": float(best),
        "lr": float(lr),
        "p": p,
        "grid": [float(k) for k in fits],
        "loglik": [float(fits[k][1]) for k in fits],
    }
    return fits[kappa][0], {"kappa": float(kappa), **profile}


def _target_omega(fit: GarchFit, years: float) -> tuple[float, float, str]:
    """(omega, target variance, window) so that the unconditional variance equals the realised
    variance of the last ``years`` years of trading-day residuals."""
    resid = fit.result.resid.dropna()
    since = resid.index[-1] - pd.Timedelta(days=round(365.25 * years))
    recent = resid[resid.index > since] if isinstance(resid.index, pd.DatetimeIndex) else resid
    if not isinstance(resid.index, pd.DatetimeIndex):
        recent = resid.iloc[-int(252 * years) :]
    target = float(np.mean(recent.to_numpy() ** 2))
    pers = persistence(fit.spec, fit.params)
    window = f"{_iso(recent.index[0])}..{_iso(recent.index[-1])} ({len(recent)} trading days)"
    return (1.0 - pers) * target, target, window


def _iso(x: Any) -> Any:
    return x.date().isoformat() if hasattr(x, "date") and callable(x.date) else x


def _refix(fit: GarchFit, params: dict[str, float]) -> GarchFit:
    model = _arch_model(fit.returns, fit.spec)
    res = model.fix(to_arch_vector(params, fit.spec))
    return _TradedFit(
        spec=fit.spec,
        result=res,
        returns=fit.returns,
        converged=fit.converged,
        problems=list(fit.problems),
        requested=fit.requested,
        arch_warnings=list(fit.arch_warnings),
    )


# --------------------------------------------------------------------------- the whole model


def fit_thin(
    returns: Any,
    name: str = "zgarch-t",
    *,
    series: Any = None,
    source: str | None = None,
) -> Calibration:
    """Fit a thin-trading model (``zgarch-t``, ``zgjr-t-vt``, ...) and return its calibration.

    ``returns``: percent log returns (all days, zeros included) or a ``PriceSeries``.
    Non-convergence is never silent: the calibration's ``fit.converged`` is False and
    ``fit.notes`` says why (the caller prints it).
    """
    tn = parse_thin_name(name)
    spec, vt = tn.spec, tn.vt_years is not None
    r_all = validate_returns(returns, source=source)
    if series is None and hasattr(returns, "prices"):
        series = returns
    window_note = None
    if tn.window_years is not None and isinstance(r_all.index, pd.DatetimeIndex):
        since = r_all.index[-1] - pd.Timedelta(days=round(365.25 * tn.window_years))
        recent = r_all[r_all.index > since]
        if len(recent) >= 2 * MIN_WINDOW_RETURNS or len(recent) == len(r_all):
            r_all = recent
        else:
            r_all = r_all.iloc[-min(len(r_all), 2 * MIN_WINDOW_RETURNS) :]
        window_note = (
            f"estimated on the last {tn.window_years:g} years ({_iso(r_all.index[0])} on, "
            f"{len(r_all)} returns; at least {2 * MIN_WINDOW_RETURNS})"
        )
    if tn.icss:
        r_all, window_note = _icss_window(r_all)
    ind = no_trade(r_all)
    chain = fit_trade_chain(ind)
    traded = r_all[ind == 0]
    gaps = gap_lengths(ind)
    fit, kap = profile_kappa(traded, gaps, spec, tn.nu_min)
    notes = [f"{p}" for p in fit.problems]
    params = dict(fit.params)
    nu_note = None
    pers = persistence(spec, params)
    if spec.vol != "egarch" and pers >= PERSISTENCE_MAX - 1e-4:
        notes.append(
            f"persistence at its upper bound {PERSISTENCE_MAX:g} (the unbounded fit is "
            "IGARCH-like: no unconditional variance)"
        )
    if spec.dist != "normal" and params["nu"] <= tn.nu_min + 1e-3:
        what = "finite fourth moment" if tn.nu_min >= NU_MIN else "finite variance"
        nu_note = f"nu at its lower bound {tn.nu_min:g} ({what} imposed)"
    target_info: dict[str, Any] | None = None
    used = fit
    if vt:
        omega, target, window = _target_omega(fit, float(tn.vt_years or VT_YEARS))
        target_info = {
            "omega_fitted": params["omega"],
            "target_variance": target,
            "target_annualised_vol": math.sqrt(252.0 * target),
            "window": window,
        }
        params["omega"] = omega
        used = _refix(fit, params)
    cal = Calibration.from_fit(fit, series, diagnostics=_diagnose(fit))
    cal.guard = evidence_guard(validate_returns(returns, source=source))  # all days it was given
    cal.price_limit = detect_limit(validate_returns(returns, source=source))
    cal.params = {k: float(v) for k, v in params.items()}
    if vt:
        cal.std_errors["omega"] = None
        fc = used.result.forecast(horizon=1, reindex=False)
        vol = used.result.conditional_volatility.dropna()
        cal.state.update(
            variance_T=float(vol.iloc[-1] ** 2),
            last_variance=float(fc.variance.iloc[-1, 0]),
            last_std_resid=float(used.result.std_resid.dropna().iloc[-1]),
            regime_variances=[float(fc.variance.iloc[-1, 0])],
        )
        cal.diagnostics["annualised_vol_pct_fitted_omega"] = cal.diagnostics.get(
            "annualised_vol_pct"
        )
    _thin_vol_diagnostics(cal, spec, params, chain["zero_share"])
    ll_garch = float(used.result.loglikelihood) - 0.5 * float(np.log1p(kap["kappa"] * gaps).sum())
    k_par = used.num_params + 2 + (1 if kap["kappa"] > 0 else 0)
    n = len(r_all)
    cal.loglik = ll_garch + chain["loglik"]
    cal.nobs = n
    cal.bic = -2.0 * cal.loglik + k_par * math.log(n)
    cal.aic = -2.0 * cal.loglik + 2.0 * k_par
    cal.model["thin_trading"] = True
    cal.model["variance_target"] = bool(vt)
    cal.model["name"] = tn.name
    if tn.vt_years is not None:
        cal.model["variance_target_years"] = tn.vt_years
    if tn.window_years is not None:
        cal.model["window_years"] = tn.window_years
    cal.sample = {
        "start": _iso(r_all.index[0]),
        "end": _iso(r_all.index[-1]),
        "n_returns": n,
        "n_traded": len(traded),
    }
    cal.state["last_date"] = _iso(r_all.index[-1])
    cal.state["last_return"] = float(r_all.iloc[-1])
    cal.thin_trading = {
        **{k: chain[k] for k in ("model", "p01", "p11", "zero_share", "last_state")},
        "last_gap": chain["last_gap"],
        "kappa": kap["kappa"],
        "empirical_share": chain["empirical_share"],
        "counts": chain["counts"],
        "loglik_chain": chain["loglik"],
        "kappa_profile": {k: v for k, v in kap.items() if k != "kappa"},
        "source": (
            "closed-form Markov MLE from transition counts of zero-return days; GARCH part "
            f"fitted by arch on the {len(traded)} non-zero returns scaled by sqrt(1 + kappa k) "
            f"(nu >= {tn.nu_min:g}, persistence <= {PERSISTENCE_MAX:g}); kappa by profile "
            "likelihood (LR test at 5%)"
        ),
    }
    if target_info:
        cal.thin_trading["variance_target"] = target_info
    cal.fit.update(
        {
            "converged": bool(fit.converged),
            "requested": name,
            "library": "arch (trading days) + riskmodel.fit.thin_trading",
            "notes": notes + [n for n in (nu_note, window_note) if n],
            "bic_note": (
                "log-likelihood = trading-day GARCH density + Markov no-trade chain; "
                "comparable with other z models, not with models fitted on all days"
            ),
        }
    )
    return cal


def _thin_vol_diagnostics(
    cal: Calibration, spec: ModelSpec, params: dict[str, float], zero_share: float
) -> None:
    """Unconditional variance of a trading day and annualised vol over calendar days."""
    from riskmodel.fit.diagnostics import TRADING_DAYS, unconditional_variance

    var = unconditional_variance(spec.vol, params, spec.dist)
    cal.diagnostics["unconditional_variance"] = var
    cal.diagnostics["annualised_vol_pct"] = (
        math.sqrt(TRADING_DAYS * (1.0 - zero_share) * var) if math.isfinite(var) else math.inf
    )
    cal.diagnostics["annualised_vol_note"] = (
        "sqrt(252 x (1 - zero_share) x unconditional trading-day variance), percent"
    )


def _diagnose(fit: GarchFit) -> dict[str, Any]:
    from riskmodel.fit.diagnostics import diagnose

    try:
        return diagnose(fit)
    except Exception as exc:  # noqa: BLE001 - diagnostics are a report, never block a fit
        return {"error": str(exc)}


# --------------------------------------------------------------------------- applying a calibration


def trade_probability(tt: dict[str, Any], prev_state: np.ndarray) -> np.ndarray:
    """P(trade today | yesterday's state)."""
    p = np.where(np.asarray(prev_state) == 1, float(tt["p11"]), float(tt["p01"]))
    return 1.0 - p


def _icss_window(r: pd.Series) -> tuple[pd.Series, str]:
    """The returns after the last variance break of the trading-day returns (ICSS, kappa-1 at
    5%), at least ``2 * MIN_WINDOW_RETURNS`` of them; and a note saying so."""
    from riskmodel.fit.icss import last_break

    traded = r[r != 0.0]
    k = last_break(traded.to_numpy())
    if k is None:
        return r, "ICSS (kappa-1, 5%): no variance break; estimated on all data"
    since = traded.index[k]
    recent = r[r.index >= since]
    if len(recent) < 2 * MIN_WINDOW_RETURNS:
        recent = r.iloc[-min(len(r), 2 * MIN_WINDOW_RETURNS) :]
    return recent, (
        f"ICSS (kappa-1, 5%): last variance break before {_iso(since)}; estimated on "
        f"{_iso(recent.index[0])} on ({len(recent)} returns; at least {2 * MIN_WINDOW_RETURNS})"
    )


def apply_thin(cal: Calibration, r: pd.Series) -> AppliedResult:
    """One-day predictive law of a thin-trading calibration with its parameters fixed.

    The variance of the next trading day follows arch's recursion on the non-zero returns (the
    same backcast as the fit); a day's law is the mixture of a point mass at 0 (no trade, prob.
    ``1 - pi``) and ``mu + sqrt(h (1 + kappa k)) z`` (trade, prob. ``pi``). Its VaR at tail
    probability a is ``-(mu + s q_z(a / pi))`` while that is a loss, else 0 (the mass at zero);
    ES is the continuous part's ES at tail probability ``a / pi``. ``risk_traded`` is the law
    given that the day trades (pi = 1), the one a backtest on non-zero-return days checks.
    """
    tt = cal.thin_trading or {}
    spec = cal.spec
    ind = no_trade(r)
    kappa = float(tt.get("kappa", 0.0))
    traded = r[ind == 0] / np.sqrt(1.0 + kappa * gap_lengths(ind))
    model = _arch_model(traded, spec)
    res = model.fix(to_arch_vector(cal.params, spec))
    h_tr = (res.conditional_volatility**2).to_numpy()
    fc = res.forecast(horizon=1, reindex=False)
    h_next = float(fc.variance.iloc[-1, 0])
    # the variance that applies to each calendar day: that of the next trading day on/after it
    pos = np.cumsum(ind == 0) - (ind == 0)  # index into traded of the next trading day
    h_all = np.where(pos < len(h_tr), h_tr[np.minimum(pos, len(h_tr) - 1)], h_next)
    k = np.zeros(len(r))
    run = 0
    for t, v in enumerate(ind):
        k[t] = run
        run = run + 1 if v == 1 else 0
    h_all = h_all * (1.0 + kappa * k)
    prev = np.concatenate([[0], ind[:-1]])  # the state before the first day: trading
    pi = trade_probability(tt, prev)
    mu = float(cal.params.get("mu", 0.0))  # (the mean scales with sqrt(1 + kappa k): ignored)
    sd = np.sqrt(h_all)
    risk = _mixture_risk(mu, sd, pi, spec.dist, cal.params)
    risk.index = r.index
    traded_risk = _mixture_risk(mu, sd, np.ones_like(pi), spec.dist, cal.params)
    traded_risk.index = r.index
    traded_risk.insert(0, "sd", sd)
    traded_risk.insert(0, "mean", mu)
    cond_mean = pd.Series(pi * mu, index=r.index)
    var_mix = pi * (h_all + mu**2) - (pi * mu) ** 2
    std_resid = pd.Series(
        np.where(ind == 0, (r.to_numpy() - mu) / sd, np.nan), index=r.index
    ).dropna()
    pi1 = float(trade_probability(tt, np.array([ind[-1]]))[0])
    k1 = run
    h1 = h_next * (1.0 + kappa * k1)
    nxt = _mixture_risk(mu, np.array([math.sqrt(h1)]), np.array([pi1]), spec.dist, cal.params)
    next_day = {
        "mean": pi1 * mu,
        "variance": pi1 * (h1 + mu**2) - (pi1 * mu) ** 2,
        **{c: float(v) for c, v in nxt.iloc[0].items()},
    }
    return AppliedResult(
        conditional_variance=pd.Series(var_mix, index=r.index),
        conditional_mean=cond_mean,
        std_resid=std_resid,
        risk=risk,
        next_day=next_day,
        loglik=None,
        risk_traded=traded_risk,
    )


def _mixture_risk(
    mu: float, sd: np.ndarray, pi: np.ndarray, dist: str, params: dict[str, float]
) -> pd.DataFrame:
    """VaR (``VAR_LEVELS``) and ES 97.5 of the no-trade / trade mixture, row by row."""
    out: dict[str, np.ndarray] = {}
    cache: dict[tuple[float, float], tuple[float, float]] = {}

    def q_es(level: float, p: float) -> tuple[float, float]:
        key = (level, p)
        if key not in cache:
            a = min((1.0 - level) / max(p, 1e-12), 0.999999)
            cache[key] = standardised_var_es(dist, params, 1.0 - a)
        return cache[key]

    for level in (*VAR_LEVELS, ES_LEVEL):
        q = np.array([q_es(level, float(p))[0] for p in pi])
        t = np.array([q_es(level, float(p))[1] for p in pi])
        var = -(mu + sd * q)
        es = -(mu + sd * t)
        if level in VAR_LEVELS:
            out[f"var{_pct(level)}"] = np.maximum(var, 0.0)
        if level == ES_LEVEL:
            out[f"es{_pct(level)}"] = np.maximum(es, 0.0)
    return pd.DataFrame(out)
