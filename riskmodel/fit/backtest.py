"""Out-of-sample backtests of one-day VaR (95%, 99%) and ES (97.5%) forecasts.

Scheme: the last ``test_size`` returns (default 500, about two years; at most n - 250 so the first
fit has a year of data) are forecast one day ahead. The model is re-estimated every
``refit_every`` days (default 60, about a quarter; documented trade-off between speed and
freshness: 9 fits per model and market) on an expanding window (or a rolling one of fixed length)
that ends the day before the block; between refits the parameters are held fixed and the
conditional variance is updated daily from the data (``calibration.apply``), so every forecast
for day t uses only returns up to t-1 (arch's initial variance backcast reads the first 75
returns of the window, never the block being forecast).

Tests (losses of a long position; a *hit* is r_t < -VaR_t):
- Kupiec (1995) proportion of failures, LR_uc ~ chi2(1);
- Christoffersen (1998) independence, LR_ind ~ chi2(1) from the first-order Markov transition
  counts of the hit sequence, and conditional coverage LR_cc = LR_uc + LR_ind ~ chi2(2);
- Basel traffic light on the 99% VaR over the last 250 days: green 0–4, yellow 5–9, red >= 10
  exceptions. For shorter windows the zones use the same binomial cumulative-probability cut-offs
  (green below 95%, red from 99.99%), which reproduce 4/9/10 at 250 days exactly;
- ES 97.5%: McNeil & Frey (2000) exceedance-residual test — on days the loss exceeds VaR 97.5,
  e_t = (L_t - ES_t) / s_t has mean zero under a correct model; one-sided bootstrap test of the
  mean against > 0 (ES too small), 2,000 resamples with a fixed seed — and, as a figure, Acerbi &
  Szekely's (2014) Z2 with their reference cut-offs (-0.70 at 5%, -1.8 at 0.01%).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import xlogy

from riskmodel.errors import DataError, FitError, RiskmodelError
from riskmodel.fit.calibration import Calibration, apply

TEST_SIZE = 500
REFIT_EVERY = 60
MIN_TRAIN = 250
#: The longest backtest window ``fit --test-size`` accepts (days: 40 years of trading).
MAX_TEST_SIZE = 10_000
BASEL_DAYS = 250
ES_ALPHA = 0.025
Z2_CUTOFFS = (-0.70, -1.8)


# --------------------------------------------------------------------------- tests


def kupiec_pof(hits: Any, level: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures LR statistic and p-value (chi2, 1 df).

    ``level`` is the VaR confidence (0.99 -> expected hit rate p = 0.01).
    LR = -2 [ (n-x) ln(1-p) + x ln p - (n-x) ln(1-x/n) - x ln(x/n) ].
    """
    h = np.asarray(hits, dtype=bool)
    n, x = h.size, int(h.sum())
    p = 1.0 - level
    if n == 0:
        return math.nan, math.nan
    phat = x / n
    ll0 = xlogy(n - x, 1 - p) + xlogy(x, p)
    ll1 = xlogy(n - x, 1 - phat) + xlogy(x, phat)
    lr = max(-2.0 * (ll0 - ll1), 0.0)
    return float(lr), float(stats.chi2.sf(lr, 1))


def transition_counts(hits: Any) -> tuple[int, int, int, int]:
    """(n00, n01, n10, n11): counts of consecutive (h_{t-1}, h_t) pairs."""
    h = np.asarray(hits, dtype=int)
    prev, cur = h[:-1], h[1:]
    return (
        int(((prev == 0) & (cur == 0)).sum()),
        int(((prev == 0) & (cur == 1)).sum()),
        int(((prev == 1) & (cur == 0)).sum()),
        int(((prev == 1) & (cur == 1)).sum()),
    )


def christoffersen(hits: Any, level: float) -> dict[str, float]:
    """Christoffersen's independence and conditional-coverage tests.

    LR_ind = -2 [ ln L(pi) - ln L(pi01, pi11) ] with L(pi) = (1-pi)^(n00+n10) pi^(n01+n11) and
    L(pi01, pi11) = (1-pi01)^n00 pi01^n01 (1-pi11)^n10 pi11^n11 (0^0 = 1); LR_cc = LR_uc + LR_ind.
    """
    n00, n01, n10, n11 = transition_counts(hits)
    pi = (n01 + n11) / max(n00 + n01 + n10 + n11, 1)
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    ll0 = xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
    ll1 = xlogy(n00, 1 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1 - pi11) + xlogy(n11, pi11)
    lr_ind = max(-2.0 * (ll0 - ll1), 0.0)
    lr_uc, _ = kupiec_pof(hits, level)
    lr_cc = lr_uc + lr_ind
    return {
        "ind_lr": float(lr_ind),
        "ind_p": float(stats.chi2.sf(lr_ind, 1)),
        "cc_lr": float(lr_cc),
        "cc_p": float(stats.chi2.sf(lr_cc, 2)) if math.isfinite(lr_cc) else math.nan,
    }


def traffic_light_bounds(n: int = BASEL_DAYS, p: float = 0.01) -> tuple[int, int]:
    """(last green count, last yellow count): binomial cumulative cut-offs 95% and 99.99%."""
    cdf = stats.binom.cdf(np.arange(n + 1), n, p)
    green = int(np.argmax(cdf >= 0.95)) - 1
    yellow = int(np.argmax(cdf >= 0.9999)) - 1
    return green, yellow


def traffic_light(exceptions: int, n: int = BASEL_DAYS) -> str:
    """Basel zone of a 99% VaR with ``exceptions`` in ``n`` days (250: green 0–4, yellow 5–9)."""
    green, yellow = traffic_light_bounds(n)
    if exceptions <= green:
        return "green"
    return "yellow" if exceptions <= yellow else "red"


def mcneil_frey(
    losses: Any, var: Any, es: Any, sd: Any, *, n_boot: int = 2000, seed: int = 0
) -> dict[str, float]:
    """McNeil–Frey exceedance-residual test of ES (one-sided bootstrap, H1: ES too small)."""
    L, v, e, s = (np.asarray(a, dtype=float) for a in (losses, var, es, sd))
    mask = L > v
    resid = (L[mask] - e[mask]) / s[mask]
    n = resid.size
    out = {"n_exceed": float(n), "mean_resid": float(resid.mean()) if n else math.nan}
    if n < 3 or resid.std(ddof=1) == 0:
        return {**out, "t": math.nan, "p": math.nan}
    t_obs = resid.mean() / (resid.std(ddof=1) / math.sqrt(n))
    centred = resid - resid.mean()
    rng = np.random.default_rng(seed)
    draws = centred[rng.integers(0, n, size=(n_boot, n))]
    sdb = draws.std(axis=1, ddof=1)
    # a resample of identical residuals has sd 0: its t statistic is taken as 0
    tb = np.divide(draws.mean(axis=1), sdb / math.sqrt(n), out=np.zeros(n_boot), where=sdb > 0)
    return {**out, "t": float(t_obs), "p": float((tb >= t_obs).mean())}


def acerbi_szekely_z2(returns: Any, var: Any, es: Any, alpha: float = ES_ALPHA) -> float:
    """Z2 = sum_t r_t 1{r_t < -VaR_t} / (T alpha ES_t) + 1 (0 when right; negative: ES too low)."""
    r, v, e = (np.asarray(a, dtype=float) for a in (returns, var, es))
    hit = r < -v
    return float(np.sum(r * hit / e) / (r.size * alpha) + 1.0)


def z2_zone(z2: float) -> str:
    """Acerbi–Szekely reference zones of Z2."""
    if not math.isfinite(z2):
        return "–"
    if z2 > Z2_CUTOFFS[0]:
        return "green"
    return "yellow" if z2 > Z2_CUTOFFS[1] else "red"


# --------------------------------------------------------------------------- rolling forecasts

Fitter = Callable[[pd.Series], Calibration]


def garch_fitter(model: str) -> Fitter:
    """Re-estimate a single-regime model (with its fallback chain) and return a calibration."""
    from riskmodel.fit.garch import ModelSpec, fit_garch

    spec = ModelSpec.parse(model)

    def fit(train: pd.Series) -> Calibration:
        try:
            g = fit_garch(train, spec.mean, spec.vol, spec.dist)
        except FitError as exc:
            # nothing in the fallback chain converged (typically IGARCH-like persistence at
            # the bound): the requested model's estimates still give one-day forecasts
            g = fit_garch(train, spec.mean, spec.vol, spec.dist, fallback=False)
            cal = Calibration.from_fit(g, None, diagnostics={})
            cal.fit["notes"] = [f"not converged, estimates used as they are ({exc})"]
            return cal
        return Calibration.from_fit(g, None, diagnostics={})

    return fit


def regime_fitter(model: str) -> Fitter:
    """Re-estimate ``ms<K>`` or ``msgarch<K>-<dist>`` (regime modules) as a calibration."""
    name = model.lower()
    if name.startswith("msgarch"):
        from riskmodel.fit.msgarch import fit_msgarch, parse_msgarch_name

        k, dist, m4 = parse_msgarch_name(name)

        def fit(train: pd.Series) -> Calibration:
            return Calibration.from_fit(
                fit_msgarch(train, k_regimes=k, dist=dist, moment4=m4), None, diagnostics={}
            )

        return fit
    from riskmodel.fit.markov import fit_markov

    k = int(name[2:] or 2)

    def fit_ms(train: pd.Series) -> Calibration:
        return Calibration.from_fit(fit_markov(train, k_regimes=k), None, diagnostics={})

    return fit_ms


def thin_fitter(model: str) -> Fitter:
    """Re-estimate a thin-trading model (``zgarch-t``, ``zgjr-t-vt``, ...) as a calibration."""
    from riskmodel.fit.thin_trading import fit_thin, parse_thin_name

    parse_thin_name(model)  # refuse a bad name now, not at the first refit

    def fit(train: pd.Series) -> Calibration:
        return fit_thin(train, model)

    return fit


def fitter_for(model: str) -> Fitter:
    """The re-estimation function for a model name (``garch-t``, ``ms2``, ``msgarch2-t``,
    ``zgarch-t``, ``zgjr-t-vt``, ...)."""
    name = model.lower().strip()
    if name.startswith("ms"):
        return regime_fitter(model)
    if name.startswith("z"):
        return thin_fitter(model)
    return garch_fitter(model)


def rolling_forecasts(
    returns: pd.Series,
    fitter: Fitter,
    *,
    test_size: int = TEST_SIZE,
    refit_every: int = REFIT_EVERY,
    window: str = "expanding",
    min_train: int = MIN_TRAIN,
) -> tuple[pd.DataFrame, list[str]]:
    """One-day-ahead VaR/ES forecasts of the last ``test_size`` returns, and notes on refits.

    Columns: ``return, mean, sd, var95, var975, var99, es975``. A refit that fails keeps the
    previous block's parameters (noted); a failure on the first block is raised.
    """
    r = pd.Series(returns, dtype=float).dropna()
    n = len(r)
    test = min(test_size, n - min_train)
    if test < 20:
        raise DataError(
            f"only {n} returns: a backtest needs at least {min_train + 20}",
            field="returns",
        )
    start = n - test
    blocks = []
    notes: list[str] = []
    if test < test_size:
        notes.append(f"test window {test} days, not the {test_size} asked: the series has {n} "
                     f"returns and the first fit needs {min_train}")
    cal: Calibration | None = None
    for b0 in range(start, n, refit_every):
        b1 = min(b0 + refit_every, n)
        lo = 0 if window == "expanding" else max(0, b0 - max(min_train, test_size))
        try:
            cal = fitter(r.iloc[lo:b0])
            notes += [f"refit at {_iso(r.index[b0])}: {n}" for n in cal.fit.get("notes", [])]
            fb = cal.fit.get("fallbacks") or []
            if fb:
                notes.append(f"refit at {_iso(r.index[b0])}: fell back to {cal.model_name}")
        except RiskmodelError as exc:
            if cal is None:
                raise
            notes.append(f"refit at {r.index[b0]} failed ({exc}); previous parameters kept")
        applied = apply(cal, r.iloc[lo:b1])
        risk = applied.risk.loc[r.index[b0:b1]]
        frame = pd.DataFrame(
            {
                "return": r.iloc[b0:b1],
                "mean": applied.conditional_mean.loc[risk.index],
                "sd": applied.conditional_volatility.loc[risk.index],
            }
        ).join(risk)
        blocks.append(frame)
    return pd.concat(blocks), notes


@dataclass
class BacktestResult:
    """Forecasts and test statistics of one model on one series."""

    model: str
    forecasts: pd.DataFrame
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def evaluate(forecasts: pd.DataFrame, *, seed: int = 0) -> dict[str, Any]:
    """All coverage and ES tests on a forecast frame (see the module docstring)."""
    r = forecasts["return"].to_numpy()
    out: dict[str, Any] = {"n_test": len(r)}
    for level, col in ((0.95, "var95"), (0.99, "var99")):
        hits = r < -forecasts[col].to_numpy()
        lr, p = kupiec_pof(hits, level)
        tag = col[3:]
        out[f"hits_{tag}"] = int(hits.sum())
        out[f"expected_{tag}"] = float(len(r) * (1 - level))
        out[f"kupiec_lr_{tag}"], out[f"kupiec_p_{tag}"] = lr, p
        ch = christoffersen(hits, level)
        out.update({f"{k}_{tag}": v for k, v in ch.items()})
    last = forecasts.iloc[-BASEL_DAYS:]
    exc = int((last["return"] < -last["var99"]).sum())
    out["basel_days"] = len(last)
    out["basel_exceptions"] = exc
    out["traffic_light"] = traffic_light(exc, len(last))
    mf = mcneil_frey(-r, forecasts["var975"], forecasts["es975"], forecasts["sd"], seed=seed)
    out["es_n_exceed"] = int(mf["n_exceed"])
    out["es_mcneil_frey_p"] = mf["p"]
    z2 = acerbi_szekely_z2(r, forecasts["var975"], forecasts["es975"])
    out["es_z2"], out["es_z2_zone"] = z2, z2_zone(z2)
    return out


def backtest(
    returns: pd.Series,
    model: str,
    *,
    test_size: int = TEST_SIZE,
    refit_every: int = REFIT_EVERY,
    window: str = "expanding",
    fitter: Fitter | None = None,
) -> BacktestResult:
    """Backtest one model (``garch-t``, ``ar1-gjr-skewt``, ``ms2``, ...) on a return series."""
    fc, notes = rolling_forecasts(
        returns,
        fitter or fitter_for(model),
        test_size=test_size,
        refit_every=refit_every,
        window=window,
    )
    summary = {
        "model": model,
        "window": window,
        "refit_every": refit_every,
        "test_start": _iso(fc.index[0]),
        "test_end": _iso(fc.index[-1]),
        "refits": math.ceil(len(fc) / refit_every),
        "refits_fallback": sum("fell back" in n for n in notes),
        "refits_not_converged": sum("not converged" in n for n in notes),
        **evaluate(fc),
    }
    return BacktestResult(model=model, forecasts=fc, summary=summary, notes=notes)


def _iso(x: Any) -> Any:
    return x.date().isoformat() if hasattr(x, "date") and callable(x.date) else x


def backtest_markdown(rows: list[dict[str, Any]]) -> str:
    """Markdown table of backtest summaries (each with ``market`` and ``model``)."""
    head = (
        "| market | model | test days | VaR95 hits (exp.) | Kupiec p | CC p | VaR99 hits (exp.) "
        "| Kupiec p | CC p | Basel (250 d) | ES 97.5 MF p | Z2 |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n"
    )
    lines = []
    for s in rows:
        flag = ""
        if s.get("refits_fallback") or s.get("refits_not_converged"):
            flag = f" ({s.get('refits_fallback', 0) + s.get('refits_not_converged', 0)}/"
            flag += f"{s.get('refits', '?')} refits †)"
        lines.append(
            f"| {s.get('market', '')} | {s['model']}{flag} | {s['n_test']} | "
            f"{s['hits_95']} ({s['expected_95']:.1f}) | {_p(s['kupiec_p_95'])} | "
            f"{_p(s['cc_p_95'])} | {s['hits_99']} ({s['expected_99']:.1f}) | "
            f"{_p(s['kupiec_p_99'])} | {_p(s['cc_p_99'])} | "
            f"{s['traffic_light']} ({s['basel_exceptions']}/{s['basel_days']}) | "
            f"{_p(s['es_mcneil_frey_p'])} | {s['es_z2']:.2f} |"
        )
    foot = (
        "\n† refits where the model did not converge: the fallback chain's model was used, or, "
        "when nothing converged (persistence at 1), the estimates as they were; see "
        "`backtest.json`.\n"
    )
    return head + "\n".join(lines) + "\n" + foot


def _p(v: Any) -> str:
    return "–" if v is None or not math.isfinite(float(v)) else f"{float(v):.3f}"
