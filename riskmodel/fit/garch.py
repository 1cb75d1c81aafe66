"""Single-regime GARCH family through ``arch``: fit, refuse bad series, fall back, select by BIC.

Models (percent log returns, Contract 2 of docs/ARCHITECTURE.md):

- mean: constant ``r_t = mu + e_t`` or AR(1) ``r_t = mu + phi r_{t-1} + e_t``;
- variance: GARCH(1,1), GJR-GARCH(1,1,1) or EGARCH(1,1,1), exactly arch's recursions;
- innovations ``z_t = e_t / s_t``: standardised normal, Student t (``nu``) or Hansen's skew t
  (``nu`` = arch's ``eta``, ``lambda``).

Standard errors are arch's robust (Bollerslev–Wooldridge) ones. A fit is *not converged* when
arch's optimiser flag is non-zero, when the parameter covariance is not positive definite (or has
non-finite entries), when the variance process is at or beyond the stationarity bound
(persistence >= 1), or when nu sits at arch's lower bound 2.05 (a boundary solution, typical of
thin markets with many zero returns). ``fit_garch`` then warns, records why, and falls back along
a stated chain of simpler models: requested -> GARCH with the same mean and law -> GARCH-t ->
constant-mean GARCH-normal.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from arch import arch_model
from arch.univariate.base import ARCHModelResult
from arch.univariate.distribution import Distribution, Normal, SkewStudent, StudentsT

from riskmodel.errors import DataError, FitError

MEANS = ("constant", "ar1")
VOLS = ("garch", "gjr", "egarch")
DISTS = ("normal", "t", "skewt")
#: Fewest returns a GARCH fit accepts (about one year of trading days).
MIN_RETURNS = 250
#: Smallest share of non-zero returns before a series counts as constant (administrative price).
MIN_MOVING_SHARE = 0.05
#: A persistence at or above this is treated as the stationarity bound (IGARCH-like, no
#: unconditional variance): not converged for the purpose of the fallback.
PERSISTENCE_BOUND = 1.0 - 1e-6
COV_TYPE = "robust"
#: arch bounds the t / skew-t degrees of freedom below at 2.05; an estimate within this of the
#: bound is a boundary solution (not an interior optimum) and counts as not converged.
NU_LOWER_BOUND = 2.05 + 1e-3


class FitWarning(UserWarning):
    """A fit did not converge and a simpler model was used instead."""


@dataclass(frozen=True)
class ModelSpec:
    """One single-regime model: mean, variance process and innovation law."""

    mean: str = "constant"
    vol: str = "garch"
    dist: str = "t"

    def __post_init__(self) -> None:
        for value, allowed, what in (
            (self.mean, MEANS, "mean"),
            (self.vol, VOLS, "vol"),
            (self.dist, DISTS, "dist"),
        ):
            if value not in allowed:
                raise FitError(f"unknown {what} {value!r}: expected one of {', '.join(allowed)}")

    @property
    def name(self) -> str:
        """Short name: ``[ar1-]{garch|gjr|egarch}-{normal|t|skewt}``, e.g. ``ar1-gjr-skewt``."""
        prefix = "ar1-" if self.mean == "ar1" else ""
        return f"{prefix}{self.vol}-{self.dist}"

    @property
    def family(self) -> str:
        """Contract-2 family (``garch``, ``gjr`` or ``egarch``)."""
        return self.vol

    @classmethod
    def parse(cls, name: str) -> ModelSpec:
        """Inverse of ``name`` (``garch-t``, ``ar1-egarch-normal``, ...)."""
        parts = name.strip().lower().split("-")
        mean = "constant"
        if parts and parts[0] == "ar1":
            mean, parts = "ar1", parts[1:]
        if len(parts) != 2:
            raise FitError(
                f"model name {name!r} not understood: expected [ar1-]VOL-DIST with VOL in "
                f"{'|'.join(VOLS)} and DIST in {'|'.join(DISTS)}"
            )
        return cls(mean=mean, vol=parts[0], dist=parts[1])


ALL_SPECS: tuple[ModelSpec, ...] = tuple(
    ModelSpec(m, v, d) for m in MEANS for v in VOLS for d in DISTS
)


def innovation_distribution(dist: str) -> Distribution:
    """arch's standardised innovation law for a Contract-2 ``dist`` name."""
    if dist == "normal":
        return Normal()
    if dist == "t":
        return StudentsT()
    if dist == "skewt":
        return SkewStudent()
    raise FitError(f"unknown dist {dist!r}: expected one of {', '.join(DISTS)}")


def dist_parameters(params: dict[str, float], dist: str) -> np.ndarray | None:
    """The shape parameters arch's distribution expects, from Contract-2 keys."""
    if dist == "normal":
        return None
    if dist == "t":
        return np.array([params["nu"]])
    return np.array([params["nu"], params["lambda"]])


def negative_square_share(dist: str, params: dict[str, float]) -> float:
    """E[z^2 1{z < 0}] for the innovation law (1/2 when symmetric): GJR persistence weight."""
    if dist in ("normal", "t"):
        return 0.5
    return float(
        innovation_distribution(dist).partial_moment(2, 0.0, dist_parameters(params, dist))
    )


def persistence(spec: ModelSpec | str, params: dict[str, float]) -> float:
    """alpha + beta (GARCH), alpha + beta + gamma E[z^2 1{z<0}] (GJR), beta (EGARCH)."""
    family = spec.vol if isinstance(spec, ModelSpec) else spec
    if family == "egarch":
        return float(params["beta"])
    dist = spec.dist if isinstance(spec, ModelSpec) else "t"
    gamma = params.get("gamma", 0.0) if family == "gjr" else 0.0
    return float(params["alpha"] + params["beta"] + gamma * negative_square_share(dist, params))


# --------------------------------------------------------------------------- input checks


def _name_of(obj: Any) -> str:
    return str(getattr(obj, "series_id", None) or getattr(obj, "name", None) or "returns")


def validate_returns(
    returns: Any, prices: pd.Series | None = None, *, source: str | None = None
) -> pd.Series:
    """Check a return series (or a ``PriceSeries``) is fit for a GARCH fit; return it as a Series.

    Refuses, with a ``DataError`` naming the series and field: non-positive prices, non-finite
    returns, fewer than ``MIN_RETURNS`` returns, and (near-)constant series where fewer than
    ``MIN_MOVING_SHARE`` of the returns move (a fixed administrative price has no volatility
    to model).
    """
    if hasattr(returns, "returns") and hasattr(returns, "prices"):
        source = source or _name_of(returns)
        prices = returns.prices if prices is None else prices
        returns = returns.returns
    source = source or _name_of(returns)
    if prices is not None:
        p = pd.Series(prices, dtype=float)
        bad = p[~(p > 0)]
        if len(bad):
            raise DataError(
                f"{len(bad)} non-positive or missing price(s) (first at {bad.index[0]}: "
                f"{bad.iloc[0]}); log returns need positive prices",
                file=source,
                field="prices",
            )
    if isinstance(returns, pd.Series):
        r = returns.astype(float)
    else:
        r = pd.Series(np.asarray(returns, dtype=float).ravel(), name="returns")
    if r.name is None:
        r = r.rename("returns")
    nonfinite = int((~np.isfinite(r.to_numpy())).sum())
    if nonfinite:
        raise DataError(
            f"{nonfinite} missing or non-finite return(s); clean the series first",
            file=source,
            field="returns",
        )
    if len(r) < MIN_RETURNS:
        raise DataError(
            f"only {len(r)} returns; a GARCH fit needs at least {MIN_RETURNS}",
            file=source,
            field="returns",
        )
    moving = float((r.to_numpy() != 0).mean())
    if moving < MIN_MOVING_SHARE or float(r.std()) == 0.0:
        raise DataError(
            f"series is (nearly) constant: {moving:.1%} of returns are non-zero; there is no "
            "volatility to model",
            file=source,
            field="returns",
        )
    return r


# --------------------------------------------------------------------------- arch bridge


def build_arch_model(returns: pd.Series, spec: ModelSpec, *, hold_back: int | None = None):
    """The arch model object for a spec (no rescaling: returns are already in percent)."""
    return arch_model(
        returns,
        mean="AR" if spec.mean == "ar1" else "Constant",
        lags=1 if spec.mean == "ar1" else 0,
        vol="EGARCH" if spec.vol == "egarch" else "GARCH",
        p=1,
        o=0 if spec.vol == "garch" else 1,
        q=1,
        dist={"normal": "normal", "t": "t", "skewt": "skewt"}[spec.dist],
        hold_back=hold_back,
        rescale=False,
    )


def _contract_key(arch_name: str) -> str:
    if arch_name in ("mu", "Const"):
        return "mu"
    if arch_name.endswith("[1]"):
        base = arch_name[:-3]
        return base if base in ("alpha", "gamma", "beta") else "phi"
    return {"eta": "nu", "nu": "nu", "lambda": "lambda", "omega": "omega"}[arch_name]


def to_contract(series: pd.Series, spec: ModelSpec, *, fill_gamma: float | None = 0.0) -> dict:
    """arch's parameter vector -> Contract-2 dict (``gamma`` = 0 added for plain GARCH)."""
    out = {_contract_key(k): float(v) for k, v in series.items()}
    if spec.vol == "garch" and "gamma" not in out:
        out["gamma"] = fill_gamma
    return out


def arch_param_names(spec: ModelSpec) -> list[str]:
    """Contract-2 keys in arch's parameter order (gamma omitted for plain GARCH)."""
    names = ["mu"] + (["phi"] if spec.mean == "ar1" else []) + ["omega", "alpha"]
    names += ["gamma"] if spec.vol != "garch" else []
    names += ["beta"]
    names += {"normal": [], "t": ["nu"], "skewt": ["nu", "lambda"]}[spec.dist]
    return names


def to_arch_vector(params: dict[str, float], spec: ModelSpec) -> np.ndarray:
    """Contract-2 dict -> arch's parameter vector (for ``model.fix``)."""
    try:
        return np.array([float(params[k]) for k in arch_param_names(spec)])
    except KeyError as exc:
        raise FitError(f"parameter {exc.args[0]!r} missing for model {spec.name}") from exc


# --------------------------------------------------------------------------- fit result


@dataclass
class GarchFit:
    """A fitted single-regime model: arch's result plus Contract-2 views and convergence record."""

    spec: ModelSpec
    result: ARCHModelResult
    returns: pd.Series
    converged: bool
    problems: list[str] = field(default_factory=list)
    fallbacks: list[tuple[str, str]] = field(default_factory=list)
    requested: str | None = None
    arch_warnings: list[str] = field(default_factory=list)

    family = property(lambda self: self.spec.family)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def params(self) -> dict[str, float]:
        """Contract-2 parameters (``mu, phi, omega, alpha, gamma, beta, nu, lambda``)."""
        return to_contract(self.result.params, self.spec)

    @property
    def std_errors(self) -> dict[str, float | None]:
        se = to_contract(self.result.std_err, self.spec, fill_gamma=None)
        return {k: (v if v is None or np.isfinite(v) else None) for k, v in se.items()}

    @property
    def loglik(self) -> float:
        return float(self.result.loglikelihood)

    @property
    def aic(self) -> float:
        return float(self.result.aic)

    @property
    def bic(self) -> float:
        return float(self.result.bic)

    @property
    def nobs(self) -> int:
        return int(self.result.nobs)

    @property
    def num_params(self) -> int:
        return int(self.result.num_params)

    @property
    def conditional_volatility(self) -> pd.Series:
        """s_t in percent, on the estimation sample (NaN rows held back dropped)."""
        return self.result.conditional_volatility.dropna()

    @property
    def resid(self) -> pd.Series:
        return self.result.resid.dropna()

    @property
    def std_resid(self) -> pd.Series:
        """z_t = e_t / s_t on the estimation sample."""
        return self.result.std_resid.dropna()

    @property
    def persistence(self) -> float:
        return persistence(self.spec, self.params)

    def forecast(self, horizon: int = 1) -> pd.DataFrame:
        """Mean and variance of r_{T+h}, h = 1..horizon (EGARCH beyond one day: simulation)."""
        method = "simulation" if (self.spec.vol == "egarch" and horizon > 1) else "analytic"
        kw: dict[str, Any] = {"simulations": 2000} if method == "simulation" else {}
        fc = self.result.forecast(horizon=horizon, reindex=False, method=method, **kw)
        return pd.DataFrame(
            {"mean": fc.mean.iloc[-1].to_numpy(), "variance": fc.variance.iloc[-1].to_numpy()},
            index=pd.RangeIndex(1, horizon + 1, name="h"),
        )

    def state(self) -> dict[str, Any]:
        """End-of-sample state for simulation; ``last_price`` is filled by the caller.

        ``last_variance`` is the conditional variance of the day *after* the sample, s2_{T+1}
        (so a simulation starts from it directly); ``variance_T`` is s2_T; ``last_resid`` is
        e_T = r_T - E[r_T | F_{T-1}]; ``last_std_resid`` is z_T; ``last_return`` is r_T (AR(1)).
        """
        fc = self.forecast(1)
        vol = self.conditional_volatility
        return {
            "last_date": _iso(self.returns.index[-1]),
            "last_return": float(self.returns.iloc[-1]),
            "last_resid": float(self.resid.iloc[-1]),
            "last_std_resid": float(self.std_resid.iloc[-1]),
            "variance_T": float(vol.iloc[-1] ** 2),
            "last_variance": float(fc["variance"].iloc[0]),
            "next_mean": float(fc["mean"].iloc[0]),
            "regime_probs": [1.0],
            "regime_variances": [float(fc["variance"].iloc[0])],
        }

    def summary(self) -> str:
        """arch's summary plus the convergence record."""
        lines = [str(self.result.summary())]
        if self.fallbacks:
            lines.append(
                "Fallbacks: "
                + "; ".join(f"{name} not used ({why})" for name, why in self.fallbacks)
            )
        return "\n".join(lines)


def _iso(x: Any) -> Any:
    return x.date().isoformat() if hasattr(x, "date") and callable(x.date) else x


def _problems(res: ARCHModelResult, spec: ModelSpec) -> list[str]:
    """Why a fit does not count as converged (empty when it does)."""
    problems = []
    if res.convergence_flag != 0:
        msg = getattr(res.optimization_result, "message", "")
        problems.append(f"optimiser did not converge (flag {res.convergence_flag}: {msg})")
    cov = np.asarray(res.param_cov, dtype=float)
    if not np.all(np.isfinite(cov)):
        problems.append("parameter covariance has non-finite entries")
    else:
        eig = np.linalg.eigvalsh((cov + cov.T) / 2)
        if eig.min() <= 0:
            problems.append(
                f"parameter covariance not positive definite (min eigenvalue {eig.min():.3g})"
            )
    params = to_contract(res.params, spec)
    if spec.dist != "normal" and params["nu"] <= NU_LOWER_BOUND:
        problems.append(
            f"nu {params['nu']:.3f} at arch's lower bound: the t law degenerates (typically a "
            "mass of zero returns in a thin market); standard errors are not valid there"
        )
    pers = persistence(spec, params)
    if not np.isfinite(pers) or pers >= PERSISTENCE_BOUND:
        problems.append(f"persistence {pers:.6f} at or beyond the stationarity bound")
    elif spec.vol == "gjr" and spec.dist == "skewt":
        # arch constrains alpha + gamma/2 + beta <= 1 whatever the law; when that binds the
        # estimate is a boundary solution even if the skew-t persistence is just below 1
        sym = params["alpha"] + params["gamma"] / 2 + params["beta"]
        if sym >= PERSISTENCE_BOUND:
            problems.append(
                f"arch's stationarity constraint alpha + gamma/2 + beta = {sym:.6f} is binding "
                f"(skew-t persistence {pers:.6f}): a boundary solution"
            )
    return problems


def run_arch_fit(model: Any, start: np.ndarray | None = None) -> tuple[ARCHModelResult, list[str]]:
    """arch's fit with the project's settings, and the first line of each warning it raised
    (kept with the fit instead of printed)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(
            disp="off", cov_type=COV_TYPE, options={"maxiter": 1000}, starting_values=start
        )
    return res, [str(w.message).strip().splitlines()[0] for w in caught]


def _fit_once(
    r: pd.Series, spec: ModelSpec, hold_back: int | None, start: np.ndarray | None = None
) -> GarchFit:
    model = build_arch_model(r, spec, hold_back=hold_back)
    res, caught = run_arch_fit(model, start)
    problems = _problems(res, spec)
    return GarchFit(
        spec=spec,
        result=res,
        returns=r,
        converged=not problems,
        problems=problems,
        arch_warnings=caught,
    )


def fallback_chain(spec: ModelSpec) -> list[ModelSpec]:
    """Requested -> GARCH (same mean, law) -> GARCH-t (same mean) -> constant GARCH-normal."""
    chain = [
        spec,
        ModelSpec(spec.mean, "garch", spec.dist),
        ModelSpec(spec.mean, "garch", "t"),
        ModelSpec("constant", "garch", "normal"),
    ]
    out: list[ModelSpec] = []
    for s in chain:
        if s not in out:
            out.append(s)
    return out


def fit_garch(
    returns: Any,
    mean: str = "constant",
    vol: str = "garch",
    dist: str = "t",
    *,
    prices: pd.Series | None = None,
    fallback: bool = True,
    hold_back: int | None = None,
    source: str | None = None,
) -> GarchFit:
    """Fit one single-regime model with arch (robust standard errors).

    ``returns`` is a Series of percent log returns (or a ``PriceSeries``; its prices are then
    checked too). With ``fallback`` a non-converged fit warns (``FitWarning``) and the next model
    of ``fallback_chain`` is fitted; the result records every model passed over and why. Without
    it the non-converged fit is returned with ``converged=False``. ``FitError`` when nothing in
    the chain converges.
    """
    r = validate_returns(returns, prices, source=source)
    spec = ModelSpec(mean, vol, dist)
    if not fallback:
        return _fit_once(r, spec, hold_back)
    passed: list[tuple[str, str]] = []
    for candidate in fallback_chain(spec):
        fit = _fit_once(r, candidate, hold_back)
        if fit.converged:
            fit.fallbacks = passed
            fit.requested = spec.name
            if passed:
                warnings.warn(
                    f"{source or _name_of(returns)}: {spec.name} did not converge "
                    f"({passed[0][1]}); using {candidate.name}",
                    FitWarning,
                    stacklevel=2,
                )
            return fit
        passed.append((candidate.name, "; ".join(fit.problems)))
    raise FitError(
        f"{source or _name_of(returns)}: no model converged: "
        + "; ".join(f"{n}: {why}" for n, why in passed)
    )


# --------------------------------------------------------------------------- selection


@dataclass
class Selection:
    """BIC table of the candidate models and the chosen fit."""

    table: pd.DataFrame
    chosen: GarchFit
    fits: dict[str, GarchFit]
    criterion: str = "bic"
    notes: list[str] = field(default_factory=list)


def select_model(
    returns: Any,
    candidates: Iterable[ModelSpec | str] | None = None,
    *,
    criterion: str = "bic",
    prices: pd.Series | None = None,
    source: str | None = None,
) -> Selection:
    """Fit every candidate (default: all 18) and choose the converged one with the lowest BIC.

    All candidates are estimated on the same sample: when an AR(1) candidate is present, the
    constant-mean candidates hold back the first return too, so the criteria compare like with
    like. The chosen model is then refitted on the full sample when its mean is constant (the
    calibration uses all data and equals a plain arch fit). Non-converged candidates stay in the
    table with the reason and are never chosen; when none converges, the chosen model is the end
    of the fallback chain (with ``FitError`` if that fails too).
    """
    if criterion not in ("bic", "aic"):
        raise FitError(f"unknown criterion {criterion!r}: expected bic or aic")
    r = validate_returns(returns, prices, source=source)
    specs = [ModelSpec.parse(c) if isinstance(c, str) else c for c in (candidates or ALL_SPECS)]
    if not specs:
        raise FitError("no candidate models given")
    hold_back = 1 if any(s.mean == "ar1" for s in specs) else None
    fits: dict[str, GarchFit] = {}
    rows = []
    for spec in specs:
        try:
            fit = _fit_once(r, spec, hold_back)
        except (ValueError, np.linalg.LinAlgError) as exc:  # arch raises on degenerate input
            rows.append({"model": spec.name, "converged": False, "note": f"error: {exc}"})
            continue
        fits[spec.name] = fit
        rows.append(
            {
                "model": spec.name,
                "mean": spec.mean,
                "vol": spec.vol,
                "dist": spec.dist,
                "nobs": fit.nobs,
                "k": fit.num_params,
                "loglik": fit.loglik,
                "aic": fit.aic,
                "bic": fit.bic,
                "persistence": fit.persistence,
                "converged": fit.converged,
                "note": "; ".join(fit.problems),
            }
        )
    _repair_nested(r, fits, hold_back, rows)
    table = pd.DataFrame(rows).set_index("model")
    ok = table[table["converged"]]
    notes: list[str] = []
    if len(ok):
        best = ModelSpec.parse(str(ok[criterion].idxmin()))
        chosen = fits[best.name]
        if hold_back is not None and best.mean == "constant":
            notes.append(
                "criteria compare all candidates on a common sample (first return held back); "
                f"the chosen {best.name} was refitted on all {len(r)} returns"
            )
            chosen = _fit_once(r, best, None)
            if not chosen.converged:
                chosen = fit_garch(r, best.mean, best.vol, best.dist, source=source)
    else:
        notes.append("no candidate converged; using the fallback chain of the first candidate")
        first = specs[0]
        chosen = fit_garch(r, first.mean, first.vol, first.dist, source=source)
        chosen.fallbacks = [(s.name, str(table.loc[s.name, "note"])) for s in specs] + [
            f for f in chosen.fallbacks if f[0] not in table.index
        ]
    table["chosen"] = table.index == chosen.name
    table = table.sort_values(criterion, na_position="last")
    return Selection(table=table, chosen=chosen, fits=fits, criterion=criterion, notes=notes)


def _nested_base(spec: ModelSpec) -> ModelSpec | None:
    """The model nested in ``spec`` by its innovation law (t in skew t, normal in t)."""
    inner = {"skewt": "t", "t": "normal"}.get(spec.dist)
    return ModelSpec(spec.mean, spec.vol, inner) if inner else None


def _repair_nested(
    r: pd.Series, fits: dict[str, GarchFit], hold_back: int | None, rows: list[dict]
) -> None:
    """A fat-tailed model can never fit worse than the model it nests (normal in t, t in skew
    t); when arch's optimiser stops below it (nu drifting to hundreds), refit from the nested
    model's estimates (nu = 30, lambda = 0) and keep the better of the two fits."""
    for name in [s.name for s in ALL_SPECS if s.dist == "t"] + [
        s.name for s in ALL_SPECS if s.dist == "skewt"
    ]:
        fit = fits.get(name)
        base_spec = _nested_base(fit.spec) if fit is not None else None
        base = fits.get(base_spec.name) if base_spec is not None else None
        if fit is None or base is None or fit.loglik >= base.loglik - 1e-8:
            continue
        start = base.result.params.to_numpy()
        start = np.concatenate([start, [30.0] if base_spec.dist == "normal" else [0.0]])
        refit = _fit_once(r, fit.spec, hold_back, start)
        if refit.loglik > fit.loglik:
            refit.arch_warnings.append(
                f"refitted from the {base_spec.name} estimates (first fit stopped below it)"
            )
            fits[name] = refit
            for row in rows:
                if row.get("model") == name:
                    row.update(
                        loglik=refit.loglik,
                        aic=refit.aic,
                        bic=refit.bic,
                        persistence=refit.persistence,
                        converged=refit.converged,
                        note="; ".join(refit.problems + ["refitted from nested start"]),
                    )


def candidate_specs(names: Sequence[str] | None) -> list[ModelSpec]:
    """Parse model names into specs (all 18 when ``names`` is empty)."""
    return [ModelSpec.parse(n) for n in names] if names else list(ALL_SPECS)
