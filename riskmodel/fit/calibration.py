"""Calibrations: fitted models saved as readable JSON, loaded without refitting, applied to data.

A ``Calibration`` follows Contract 2 of docs/ARCHITECTURE.md (``calibrations/<market>.json``).
``apply`` runs the model on any return series with the parameters FIXED (no estimation) and gives
the conditional variances, standardised residuals, regime probabilities (regime models) and the
one-day-ahead VaR 95/99 and ES 97.5 of every date and of the day after the sample.

Risk measures are for a long position, in percent log-return units and positive when a loss:
VaR_a = -(m + s q_{1-a}) and ES_a = -(m + s E[z | z <= q_{1-a}]), with q the quantile of the
standardised innovation law (arch's ``ppf``) and the tail mean obtained by integrating the quantile
function over (0, 1-a) (Gauss–Legendre after a substitution that removes the tail
singularity). Regime models have a mixture predictive law; its quantile
is found by root-finding the mixture CDF and its ES from the exact partial moments of each part.

Auction-only markets are never fitted: ``proxy_calibration`` copies the model of the market they
are linked to, states the conversion to their currency and the reason (``proxy`` block).
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from riskmodel import __version__, config
from riskmodel.data.price_limits import detect_limit
from riskmodel.errors import FitError, InputError
from riskmodel.fit.calibration_schema import validate_calibration
from riskmodel.fit.garch import (
    ModelSpec,
    build_arch_model,
    dist_parameters,
    innovation_distribution,
    to_arch_vector,
)
from riskmodel.fit.guard import evidence_guard
from riskmodel.io import atomic_write_json, atomic_write_text

SCHEMA = "riskmodel.calibration/1"
VAR_LEVELS = (0.95, 0.975, 0.99)
ES_LEVEL = 0.975
SINGLE_FAMILIES = ("garch", "gjr", "egarch")
REGIME_FAMILIES = ("ms", "msgarch")
REQUIRED = ("market", "model", "params")
#: Files in the calibrations folder that are not per-market calibrations.
NOT_MARKETS = config.NOT_MARKET_CALIBRATIONS


def library_versions() -> dict[str, str]:
    """Versions of the libraries a calibration depends on (provenance)."""
    import arch
    import scipy
    import statsmodels

    return {
        "riskmodel": __version__,
        "arch": arch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "statsmodels": statsmodels.__version__,
        "python": platform.python_version(),
    }


@dataclass
class Calibration:
    """A fitted (or proxied) price process of one market, Contract 2."""

    market: str
    model: dict[str, Any]
    params: dict[str, float]
    series_id: str = ""
    instrument: str = ""
    currency: str = ""
    std_errors: dict[str, float | None] = field(default_factory=dict)
    loglik: float | None = None
    aic: float | None = None
    bic: float | None = None
    nobs: int | None = None
    sample: dict[str, Any] = field(default_factory=dict)
    data_hash: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    price_level: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    proxy: dict[str, Any] | None = None
    versions: dict[str, str] = field(default_factory=library_versions)
    fit: dict[str, Any] = field(default_factory=dict)
    selection: list[dict[str, Any]] | None = None
    backtest: dict[str, Any] | None = None
    #: Thin-trading component (docs/THIN_TRADING.md); None = every day trades.
    thin_trading: dict[str, Any] | None = None
    #: The engine's daily guard for this market, tied to its largest move (riskmodel.fit.guard).
    guard: dict[str, Any] | None = None
    #: The exchange's daily price limit the fitted series shows (riskmodel.data.price_limits);
    #: None = no limit. The engine simulates it with carry-over (docs/PRICE_LIMITS.md).
    price_limit: dict[str, Any] | None = None
    schema: str = SCHEMA

    # ----------------------------------------------------------------- views
    @property
    def family(self) -> str:
        return str(self.model["family"])

    @property
    def dist(self) -> str:
        return str(self.model.get("dist", "normal"))

    @property
    def spec(self) -> ModelSpec:
        """The single-regime spec (``FitError`` for regime families)."""
        if self.family not in SINGLE_FAMILIES:
            raise FitError(f"{self.market}: family {self.family} is not a single-regime model")
        return ModelSpec(self.model.get("mean", "constant"), self.family, self.dist)

    @property
    def model_name(self) -> str:
        """``gjr-t``, ``ar1-egarch-skewt``, ``ms2``, ``msgarch2-t``, ..."""
        if self.family in SINGLE_FAMILIES:
            if self.thin_trading:
                return str(self.model.get("name") or "z" + self.spec.name)
            return self.spec.name
        k = self.model.get("k_regimes", 2)
        if self.family == "ms":
            return f"ms{k}"
        return str(self.model.get("name") or f"msgarch{k}-{self.dist}")

    # ----------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """Plain dict in Contract-2 order (schema, identity, model, parameters, ...)."""
        d = asdict(self)
        order = ["schema", "market", "series_id", "instrument", "currency", "model", "params"]
        return {**{k: d.pop(k) for k in order}, **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | Path | None = None) -> Calibration:
        """Build from a loaded dict, naming the file and field of anything missing or wrong."""
        if not isinstance(d, dict):
            raise InputError("calibration must be a JSON object", file=file)
        if d.get("schema", SCHEMA) != SCHEMA:
            raise InputError(
                f"unknown schema {d.get('schema')!r}; expected {SCHEMA}", file=file, field="schema"
            )
        for key in REQUIRED:
            if key not in d:
                raise InputError("required field missing", file=file, field=key)
        fam = d["model"].get("family") if isinstance(d["model"], dict) else None
        if fam not in SINGLE_FAMILIES + REGIME_FAMILIES:
            raise InputError(f"unknown model family {fam!r}", file=file, field="model.family")
        validate_calibration(d, file=file)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    def save(self, directory: str | Path | None = None) -> Path:
        """Write ``<directory>/<market>.json`` atomically (default ``calibrations/``)."""
        directory = Path(directory) if directory is not None else config.CALIBRATIONS_DIR
        return atomic_write_json(directory / f"{self.market}.json", self.to_dict())

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_fit(
        cls,
        fit: Any,
        series: Any,
        *,
        diagnostics: dict[str, Any] | None = None,
        selection: pd.DataFrame | None = None,
    ) -> Calibration:
        """A calibration from a ``GarchFit`` (or a regime result) and its ``PriceSeries``."""
        from riskmodel.fit.diagnostics import diagnose

        family = fit_family(fit)
        if family in SINGLE_FAMILIES:
            model = {"family": family, "mean": fit.spec.mean, "dist": fit.spec.dist, "k_regimes": 1}
            fit_info: dict[str, Any] = {
                "converged": bool(fit.converged),
                "requested": fit.requested or fit.name,
                "fallbacks": [{"model": n, "reason": r} for n, r in fit.fallbacks],
                "cov_type": "robust (Bollerslev-Wooldridge)",
                "library": "arch",
                "arch_warnings": fit.arch_warnings,
            }
        else:
            model = {
                "family": family,
                "mean": "constant",
                "dist": getattr(fit, "dist", "normal"),
                "k_regimes": int(getattr(fit, "k_regimes", 2)),
            }
            if getattr(fit, "moment4", False):
                model["name"] = f"msgarch{model['k_regimes']}-{model['dist']}-m4"
                model["moment4"] = True
            fit_info = {
                "converged": bool(getattr(fit, "converged", True)),
                "library": f"riskmodel.fit.{'markov' if family == 'ms' else 'msgarch'}",
            }
        returns = getattr(series, "returns", None)
        if returns is None:
            returns = getattr(fit, "returns", None)
        prices = getattr(series, "prices", None)
        state = dict(fit.state())
        sample: dict[str, Any] = {}
        if returns is not None and len(returns):
            sample = {
                "start": _iso(returns.index[0]),
                "end": _iso(returns.index[-1]),
                "n_returns": len(returns),
            }
        price_level: dict[str, Any] = {}
        if prices is not None and len(prices):
            last_year = prices[prices.index > prices.index[-1] - pd.Timedelta(days=365)]
            state["last_price"] = float(prices.iloc[-1])
            state["last_price_date"] = _iso(prices.index[-1])
            price_level = {
                "mean_last_year": float(last_year.mean()),
                "last": float(prices.iloc[-1]),
                "n_prices": len(prices),
            }
        return cls(
            market=str(getattr(series, "market", "") or ""),
            series_id=str(getattr(series, "series_id", "") or ""),
            instrument=str(getattr(series, "instrument", "") or ""),
            currency=str(getattr(series, "currency", "") or ""),
            model=model,
            params={k: float(v) for k, v in fit.params.items()},
            std_errors={k: _finite_or_none(v) for k, v in fit.std_errors.items()},
            loglik=float(fit.loglik),
            aic=float(fit.aic),
            bic=float(fit.bic),
            nobs=int(fit.nobs),
            sample=sample,
            data_hash=getattr(series, "data_hash", None),
            state=state,
            price_level=price_level,
            diagnostics=diagnostics if diagnostics is not None else diagnose(fit),
            fit=fit_info,
            selection=_selection_rows(selection),
            guard=evidence_guard(returns),
            price_limit=detect_limit(returns),
        )


def fit_family(fit: Any) -> str:
    """Contract-2 family of a fit result (``.family`` or ``.model["family"]``)."""
    fam = getattr(fit, "family", None)
    if fam is None:
        fam = getattr(fit, "model", {}).get("family")
    if fam not in SINGLE_FAMILIES + REGIME_FAMILIES:
        raise FitError(f"cannot tell the model family of {type(fit).__name__}")
    return str(fam)


def _finite_or_none(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _iso(x: Any) -> Any:
    return x.date().isoformat() if hasattr(x, "date") and callable(x.date) else x


def _selection_rows(table: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    if table is None:
        return None
    cols = [
        c
        for c in ("loglik", "k", "aic", "bic", "persistence", "converged", "chosen", "note")
        if c in table.columns
    ]
    rows = table[cols].reset_index().to_dict(orient="records")
    return [
        {k: (_finite_or_none(v) if isinstance(v, float) else v) for k, v in r.items()} for r in rows
    ]


def load_calibration(
    market_or_path: str | Path, directory: str | Path | None = None
) -> Calibration:
    """Load ``calibrations/<market>.json`` (or a path to a calibration file) without refitting."""
    p = Path(market_or_path)
    if p.suffix != ".json" and not p.exists():
        p = (Path(directory) if directory is not None else config.CALIBRATIONS_DIR) / f"{p}.json"
    if not p.is_file():
        raise InputError("calibration file not found (run `riskmodel fit MARKET`)", file=p)
    from riskmodel.io import read_json

    return Calibration.from_dict(read_json(p), file=p)


# --------------------------------------------------------------------------- risk measures


#: Gauss–Legendre nodes and power of the substitution u = p s^m used to integrate the quantile
#: function over (0, p): the substitution tames the u^(-1/nu) tail singularity of the t laws
#: (integrand ~ s^(m-1-m/nu), smooth for nu > 2), so one vectorised ppf call is exact to ~1e-12.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(400)
_GL_POWER = 6


@lru_cache(maxsize=1024)
def _std_quantile_es(dist: str, shape: tuple[float, ...], level: float) -> tuple[float, float]:
    """(q_{1-level}, E[z | z <= q_{1-level}]) of the standardised law, by quantile integration."""
    law = innovation_distribution(dist)
    pars = np.array(shape) if shape else None
    p = 1.0 - level
    s = (_GL_NODES + 1.0) / 2.0
    u = p * s**_GL_POWER
    integrand = np.asarray(law.ppf(u, pars), dtype=float) * p * _GL_POWER * s ** (_GL_POWER - 1)
    tail = float(_GL_WEIGHTS @ integrand) / 2.0
    q = float(np.asarray(law.ppf(np.array([p]), pars))[0])
    return q, tail / p


def standardised_var_es(dist: str, params: dict[str, float], level: float) -> tuple[float, float]:
    """Quantile q_{1-level} and tail mean E[z | z <= q] of the unit-variance innovation law."""
    shape = dist_parameters(params, dist)
    key = tuple(float(x) for x in shape) if shape is not None else ()
    return _std_quantile_es(dist, key, float(level))


def location_scale_risk(
    mean: np.ndarray, sd: np.ndarray, dist: str, params: dict[str, float]
) -> pd.DataFrame:
    """VaR at ``VAR_LEVELS`` and ES 97.5 (positive losses) for r = mean + sd z."""
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    out = {}
    for a in VAR_LEVELS:
        q, _ = standardised_var_es(dist, params, a)
        out[f"var{_pct(a)}"] = -(mean + sd * q)
    _, tail = standardised_var_es(dist, params, ES_LEVEL)
    out[f"es{_pct(ES_LEVEL)}"] = -(mean + sd * tail)
    return pd.DataFrame(out)


def _pct(a: float) -> str:
    return f"{a * 100:g}".replace(".", "")


def mixture_risk(
    weights: np.ndarray,
    means: np.ndarray,
    sds: np.ndarray,
    dist: str,
    params: dict[str, float],
) -> pd.DataFrame:
    """VaR/ES of a mixture sum_k w_k law(m_k, s_k) per row (regime models' predictive law).

    Quantiles by bracketing root-finding of the mixture CDF; ES from the exact partial moments
    E[z 1{z <= c}] of each standardised component (arch's ``partial_moment``).
    """
    law = innovation_distribution(dist)
    pars = dist_parameters(params, dist)
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    m = np.atleast_2d(np.asarray(means, dtype=float))
    s = np.atleast_2d(np.asarray(sds, dtype=float))
    rows = []
    for wi, mi, si in zip(w, m, s, strict=True):

        def cdf(x: float, wi=wi, mi=mi, si=si) -> float:
            return float(wi @ np.asarray(law.cdf((x - mi) / si, pars)))

        lo, hi = float((mi - 50 * si).min()), float((mi + 50 * si).max())
        row = {}
        for a in VAR_LEVELS:
            q = optimize.brentq(lambda x, a=a: cdf(x) - (1 - a), lo, hi, xtol=1e-12)
            row[f"var{_pct(a)}"] = -q
        q = -row[f"var{_pct(ES_LEVEL)}"]
        c = (q - mi) / si
        pm = np.array([law.partial_moment(1, float(ck), pars) for ck in c])
        cd = np.asarray(law.cdf(c, pars))
        tail = float(wi @ (mi * cd + si * pm)) / (1 - ES_LEVEL)
        row[f"es{_pct(ES_LEVEL)}"] = -tail
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- apply


@dataclass
class AppliedResult:
    """A calibration run on a return series with fixed parameters."""

    conditional_variance: pd.Series
    conditional_mean: pd.Series
    std_resid: pd.Series
    risk: pd.DataFrame
    next_day: dict[str, float]
    loglik: float | None = None
    filtered_probs: pd.DataFrame | None = None
    smoothed_probs: pd.DataFrame | None = None
    #: Thin-trading calibrations: the law of a day's return *given that the market trades*
    #: (columns ``mean``, ``sd`` and the ``risk`` columns), which a backtest on non-zero-return
    #: days must use; None where the predictive law has no mass at zero.
    risk_traded: pd.DataFrame | None = None

    @property
    def conditional_volatility(self) -> pd.Series:
        return np.sqrt(self.conditional_variance)


def apply(calibration: Calibration, returns: pd.Series) -> AppliedResult:
    """Run ``calibration`` on ``returns`` (percent log returns) with its parameters FIXED.

    ``risk`` holds, for every date t, the VaR 95/97.5/99 and ES 97.5 of r_t forecast at t-1;
    ``next_day`` the same for the day after the last return. Single-regime models use arch's
    ``fix`` (same backcast of the initial variance as the fit, so on the fitting sample the
    variances equal the fit's exactly); regime models call their own fixed-parameter filters.
    """
    r = pd.Series(returns, dtype=float).dropna()
    if calibration.thin_trading:
        from riskmodel.fit.thin_trading import apply_thin

        return apply_thin(calibration, r)
    if calibration.family in SINGLE_FAMILIES:
        return _apply_single(calibration, r)
    return _apply_regime(calibration, r)


def _apply_single(cal: Calibration, r: pd.Series) -> AppliedResult:
    spec = cal.spec
    model = build_arch_model(r, spec)
    res = model.fix(to_arch_vector(cal.params, spec))
    vol = res.conditional_volatility
    resid = res.resid
    keep = vol.notna() & resid.notna()
    vol, resid = vol[keep], resid[keep]
    mean = r[keep] - resid
    risk = location_scale_risk(mean.to_numpy(), vol.to_numpy(), spec.dist, cal.params)
    risk.index = vol.index
    fc = res.forecast(horizon=1, reindex=False)
    m1, v1 = float(fc.mean.iloc[-1, 0]), float(fc.variance.iloc[-1, 0])
    nxt = location_scale_risk(np.array([m1]), np.array([math.sqrt(v1)]), spec.dist, cal.params)
    next_day = {"mean": m1, "variance": v1, **{k: float(v) for k, v in nxt.iloc[0].items()}}
    return AppliedResult(
        conditional_variance=vol**2,
        conditional_mean=mean,
        std_resid=resid / vol,
        risk=risk,
        next_day=next_day,
        loglik=float(res.loglikelihood),
    )


def _apply_regime(cal: Calibration, r: pd.Series) -> AppliedResult:
    """Regime models: the regime module's fixed-parameter filter (``filter_with_params``) gives
    the one-step predictive regime probabilities P(s_t | F_{t-1}); the predictive law of r_t is
    the mixture of the regimes' laws, whose quantiles and ES follow (``mixture_risk``)."""
    if cal.family == "ms":
        from riskmodel.fit.markov import filter_with_params
    else:
        from riskmodel.fit.msgarch import filter_with_params
    res = filter_with_params(r, cal.params)
    k = int(cal.model.get("k_regimes", res.k_regimes))
    weights = np.asarray(res.predicted, dtype=float)
    means, variances = _regime_moments(cal, res, k, len(r))
    risk = mixture_risk(weights, means, np.sqrt(variances), cal.dist, cal.params)
    risk.index = r.index
    fc = res.forecast(1)
    w1 = np.array([[float(fc[f"prob_{j}"].iloc[0]) for j in range(k)]])
    state = res.state()
    v1 = np.atleast_2d(np.asarray(state["regime_variances"], dtype=float))
    m1 = means[-1:] if cal.family == "msgarch" else means[:1]
    nxt = mixture_risk(w1, m1, np.sqrt(v1), cal.dist, cal.params)
    next_day = {
        "mean": float(fc["mean"].iloc[0]),
        "variance": float(fc["variance"].iloc[0]),
        **{c: float(v) for c, v in nxt.iloc[0].items()},
    }
    return AppliedResult(
        conditional_variance=res.conditional_volatility**2,
        conditional_mean=_regime_mean(res, means, r.index),
        std_resid=res.std_resid,
        risk=risk,
        next_day=next_day,
        loglik=float(res.loglik),
        filtered_probs=_prob_frame(res.filtered, r.index),
        smoothed_probs=_prob_frame(res.smoothed, r.index),
    )


def _regime_mean(res: Any, means: np.ndarray, index: pd.Index) -> pd.Series:
    cm = getattr(res, "conditional_mean", None)
    if cm is not None:
        return pd.Series(np.asarray(cm, dtype=float), index=index)
    w = np.asarray(res.predicted, dtype=float)
    return pd.Series((w * means).sum(axis=1), index=index)


def _regime_moments(cal: Calibration, res: Any, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, K) arrays of each regime's conditional mean and variance of r_t given F_{t-1}."""
    p = cal.params
    if cal.family == "ms":
        means = np.tile([p[f"mu_{j}"] for j in range(k)], (n, 1))
        variances = np.tile([p[f"sigma2_{j}"] for j in range(k)], (n, 1))
        return means, variances
    means = np.full((n, k), p["mu"])
    for name in ("regime_variances", "variances", "sigma2"):
        v = getattr(res, name, None)
        if v is not None and np.ndim(v) == 2:
            return means, np.asarray(v, dtype=float)
    raise FitError("the MS-GARCH result does not expose its per-regime variance paths")


def _prob_frame(a: np.ndarray, index: pd.Index) -> pd.DataFrame:
    a = np.asarray(a, dtype=float)
    return pd.DataFrame(a, index=index, columns=[f"regime_{k}" for k in range(a.shape[1])])


# --------------------------------------------------------------------------- proxies

#: Auction-only markets and the market whose process stands in for them.
PROXIES: dict[str, dict[str, str]] = {
    "swiss_ets": {
        "of": "eu_ets",
        "currency": "CHF",
        "fx": "EURCHF",
        "link_start": "2020-01-01",
        "reason": "Switzerland publishes only CHU auction prices (about 20 irregular points, "
        "gaps of up to a year): too few for a fit. Its ETS has been linked to the EU ETS since "
        "2020-01-01, so its allowance price follows the EUA; the EUA process is used, converted "
        "to CHF.",
    },
    "quebec": {
        "of": "california",
        "currency": "CAD",
        "fx": "USDCAD",
        "link_start": "2014-01-01",
        "reason": "Quebec has only quarterly joint-auction settlement prices (about 40 points). "
        "It has been linked with California (WCI) since 2014-01-01 with a common auction, so "
        "its price follows the CCA; the California process is used, converted to CAD.",
    },
    "ontario": {
        "of": "california",
        "currency": "CAD",
        "fx": "USDCAD",
        "link_start": "2018-01-01",
        "reason": "Ontario held six auctions (2017-03 to 2018-05) and was linked with "
        "California-Quebec from 2018-01-01 until it left in mid-2018; the California process is "
        "used, converted to CAD.",
    },
    "washington": {
        "of": "california",
        "currency": "USD",
        "fx": "USDUSD",
        "link_start": "2023-01-01",
        "reason": "Washington's cap-and-invest market opened in 2023: the data hold about 20 "
        "front-December futures prices (December 2022), far too few to fit. Its design follows "
        "the WCI (California-Quebec) programme it intends to link with; the California process "
        "is used (both in USD).",
    },
    # Markets with no price series at all: the dynamics of a comparable market, rescaled to
    # the last price level the seeds report (documented, never fitted).
    "tokyo": {
        "of": "k_ets",
        "currency": "JPY",
        "price_level": "1500",
        "level_source": "seeds/aspi-2017-next-generation-carbon-market-cooperation-zh.txt:803-804",
        "reason": "Tokyo has no public price series: trades are bilateral and undisclosed "
        "(seeds/aspi-2018-carbon-market-cooperation-northeast-asia.txt:590). The K-ETS process "
        "(the nearest absolute-cap Northeast Asian market, also thinly traded) stands in for its "
        "dynamics, rescaled to the last average traded price the seeds give, JPY 1,500/t in "
        "2016.",
    },
    "saitama": {
        "of": "k_ets",
        "currency": "JPY",
        "price_level": "1500",
        "level_source": "seeds/aspi-2017-next-generation-carbon-market-cooperation-zh.txt:803-804",
        "reason": "Saitama has no public price series and has been linked with Tokyo since 2011, "
        "so it takes Tokyo's proxy: the K-ETS process rescaled to JPY 1,500/t (the Tokyo average "
        "traded price in 2016 the seeds give).",
    },
}


def implied_conversion(own: pd.Series, of: pd.Series, *, since: str) -> tuple[float | None, str]:
    """Conversion factor implied by the proxy market's own (auction) prices: the median ratio
    of its price to the linked market's last price on or before each date since the link.

    Used when the data have no exchange rate for the pair; it includes the FX rate and any
    auction-versus-secondary basis, and says so.
    """
    own = own[own.index >= pd.Timestamp(since)].dropna()
    of = of.sort_index().dropna()
    if own.empty or of.empty:
        return None, f"no FX rate in the data and no auction prices since {since}"
    matched = of.reindex(own.index, method="ffill")
    ratio = (own / matched).dropna()
    if ratio.empty:
        return None, f"no FX rate in the data and no overlapping prices since {since}"
    return float(ratio.median()), (
        f"median ratio of {len(ratio)} auction prices since "
        f"{since} to the linked market's price on the same day (FX plus any auction basis; "
        f"range {ratio.min():.3f}-{ratio.max():.3f})"
    )


def proxy_calibration(
    market: str,
    of: Calibration,
    *,
    fx_rate: float | None,
    fx_source: str,
    auction: dict[str, Any] | None = None,
) -> Calibration:
    """A calibration of auction-only ``market``: ``of``'s process in ``market``'s currency.

    Log returns in the proxy currency are those of the linked market plus the FX log return;
    the FX part (a few percent a year against tens of percent for allowances) is not modelled:
    the parameters are ``of``'s and only the price level is converted with ``fx_rate`` (proxy
    currency per unit of ``of``'s currency, source stated in ``fx_source``).
    """
    info = PROXIES.get(market)
    if info is None:
        raise InputError(f"no proxy defined for {market!r}", field="market")
    conv = fx_rate if fx_rate is not None else math.nan
    state = dict(of.state)
    level = dict(of.price_level)
    for d, keys in ((state, ("last_price",)), (level, ("mean_last_year", "last"))):
        for key in keys:
            if key in d and d[key] is not None:
                d[key] = float(d[key]) * conv
    return Calibration(
        market=market,
        series_id=f"proxy:{of.series_id}",
        instrument="proxy",
        currency=info["currency"],
        model=dict(of.model),
        params=dict(of.params),
        std_errors=dict(of.std_errors),
        loglik=of.loglik,
        aic=of.aic,
        bic=of.bic,
        nobs=of.nobs,
        sample=dict(of.sample),
        data_hash=of.data_hash,
        state=state,
        price_level=level,
        diagnostics=dict(of.diagnostics),
        proxy={
            "of": info["of"],
            "fx": info.get("fx", "level"),
            "fx_rate": fx_rate,
            "fx_source": fx_source,
            "link_start": info.get("link_start"),
            "reason": info["reason"],
            "auction_prices": auction,
        },
        fit={"proxied": True},
        thin_trading=dict(of.thin_trading) if of.thin_trading else None,
        guard=dict(of.guard) if of.guard else None,
    )


# --------------------------------------------------------------------------- README


def _fmt(v: Any, nd: int = 2) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "∞"
        return f"{v:,.{nd}f}"
    return str(v)


def calibrations_table(cals: list[Calibration]) -> str:
    """Markdown table of the chosen models (one row per market)."""
    head = (
        "| market | series | model | nobs | sample | persistence | half-life (days) | "
        "annualised vol (%) | BIC | LB p z² (10) | traffic light |\n"
        "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |\n"
    )
    rows = []
    for c in sorted(cals, key=lambda c: c.market):
        d = c.diagnostics or {}
        bt = c.backtest or {}
        model = c.model_name + (f" (proxy of {c.proxy['of']})" if c.proxy else "")
        sample = f"{c.sample.get('start', '')} – {c.sample.get('end', '')}"
        rows.append(
            f"| {c.market} | {c.series_id} | {model} | {_fmt(c.nobs)} | {sample} | "
            f"{_fmt(d.get('persistence'), 4)} | {_fmt(d.get('half_life_days'), 1)} | "
            f"{_fmt(d.get('annualised_vol_pct'), 1)} | {_fmt(c.bic, 1)} | "
            f"{_fmt(d.get('lb_z2_10_p'), 3)} | {bt.get('traffic_light', '–')} |"
        )
    return head + "\n".join(rows) + "\n"


def calibrations_readme(
    cals: list[Calibration], backtest_table: str | None = None, notes: list[str] | None = None
) -> str:
    """The text of ``calibrations/README.md``."""
    parts = [
        "# Calibrations\n",
        "Written by `riskmodel fit --all` (do not edit by hand). One JSON file per market "
        "(Contract 2 in docs/ARCHITECTURE.md): model, parameters, robust standard errors, "
        "log-likelihood, information criteria, diagnostics, sample, the hash of the cleaned "
        "price series and library versions. Returns are percent log returns; persistence is "
        "alpha + beta + gamma·E[z²1{z<0}] (beta for EGARCH), half-life ln 0.5 / ln persistence, "
        "annualised volatility sqrt(252 · unconditional variance) (for EGARCH with t or skew-t "
        "innovations, where that variance is infinite, sqrt(252 · exp(E[ln s²])); see "
        "`diagnostics.annualised_vol_method`). The model of each market is chosen by BIC over "
        "18 single-regime candidates (constant/AR(1) mean × GARCH/GJR/EGARCH × normal/t/skew-t) "
        "among those that converged (optimiser flag, positive-definite covariance, persistence "
        "below 1, t degrees of freedom off arch's lower bound 2.05); `selection` in each file "
        "keeps the whole table with the reason for every rejected candidate.\n",
        "## Chosen models\n",
        calibrations_table(cals),
    ]
    proxies = [c for c in cals if c.proxy]
    if proxies:
        parts.append("\n## Proxies (auction-only markets, never fitted)\n")
        for c in proxies:
            p = c.proxy or {}
            parts.append(
                f"- **{c.market}** → `{p.get('of')}` in {c.currency} "
                f"(FX {p.get('fx')} = {_fmt(p.get('fx_rate'), 4)}, {p.get('fx_source')}): "
                f"{p.get('reason')}\n"
            )
    if backtest_table:
        parts += ["\n## Backtests\n", backtest_table]
    if notes:
        parts += ["\n## Notes\n", "".join(f"- {n}\n" for n in notes)]
    return "\n".join(parts)


def load_all(directory: str | Path | None = None) -> list[Calibration]:
    """Every per-market calibration in a folder (JSON files of this schema; others, such as
    ``dependence.json`` or ``fundamentals.json``, are skipped)."""
    directory = Path(directory) if directory is not None else config.CALIBRATIONS_DIR
    out = []
    for p in sorted(directory.glob("*.json")):
        if p.stem in NOT_MARKETS:
            continue
        try:
            schema = json.loads(p.read_text(encoding="utf-8")).get("schema")
        except (json.JSONDecodeError, AttributeError):
            continue
        if schema == SCHEMA:
            out.append(load_calibration(p))
    return out


def write_readme(
    directory: str | Path | None = None,
    backtest_table: str | None = None,
    notes: list[str] | None = None,
) -> Path:
    """Generate ``calibrations/README.md`` from the calibration files in ``directory``."""
    directory = Path(directory) if directory is not None else config.CALIBRATIONS_DIR
    text = calibrations_readme(load_all(directory), backtest_table, notes)
    return atomic_write_text(directory / "README.md", text)
