"""Choosing a market's price model by out-of-sample one-year volatility forecasts.

Candidates are model names of :func:`riskmodel.fit.backtest.fitter_for`: the thin-trading
``z...`` models, and the regime models ``ms2`` and ``msgarch2-t`` (which compete by default).

At each origin (year ends before the sample's last year) every candidate is fitted on the
returns up to the origin, its calibration is simulated one year ahead through the engine's own
price kernels (:func:`riskmodel.sim.thin_trading.simulate_market`), and the realised annualised
volatility of the next 252 returns is scored against the simulated distribution: the PIT and
the CRPS (in percentage points of annualised volatility; lower is better). The guard share of the
full-sample calibration is measured the same way, and the one-day VaR 95 / 99 of the year after
each origin are backtested (Kupiec, pooled over origins). Among candidates whose VaR passes (when
any does) the chosen model has the lowest mean CRPS; a
candidate whose guard binds on fewer than ``GUARD_MAX`` of market-days is preferred when its CRPS
is within ``CRPS_SLACK`` of the best (see :func:`choose`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.errors import RiskmodelError
from riskmodel.fit.backtest import fitter_for
from riskmodel.fit.calibration import Calibration
from riskmodel.fit.thin_trading import NU_MIN, THIN_CANDIDATES, fit_thin

#: Regime models that compete with the thin-trading candidates by default.
REGIME_CANDIDATES = ("ms2", "msgarch2-t")
DEFAULT_CANDIDATES = THIN_CANDIDATES + REGIME_CANDIDATES

GUARD_MAX = 1e-4
#: A candidate within the guard limit is preferred when its CRPS is at most this much worse.
CRPS_SLACK = 0.10
#: ... or, without out-of-sample scores, its BIC at most this many points worse.
BIC_SLACK = 10.0
HORIZON = 252


def crps_sample(samples: np.ndarray, y: float) -> float:
    """CRPS of an ensemble: E|X - y| - E|X - X'| / 2 (sorted-sample formula)."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = x.size
    e1 = float(np.mean(np.abs(x - y)))
    e2 = float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x)) / (n * n)
    return e1 - e2


def annual_vol(returns: np.ndarray) -> np.ndarray:
    """Annualised volatility (percent) of each row of percent daily returns."""
    return np.sqrt(252.0 * np.var(np.atleast_2d(returns), axis=1, ddof=1))


def origins_for(r: pd.Series, n: int = 3) -> list[pd.Timestamp]:
    """The last ``n`` year ends with at least two years of data before and a year after."""
    out = []
    for year in range(r.index[-1].year - 1, r.index[0].year, -1):
        t = pd.Timestamp(f"{year}-12-31")
        if (r.index <= t).sum() >= 500 and (r.index > t).sum() >= HORIZON:
            out.append(t)
        if len(out) == n:
            break
    return sorted(out)


def score_candidate(
    r: pd.Series, name: str, origins: list[pd.Timestamp], *, paths: int = 400, seed: int = 0
) -> dict[str, Any]:
    """Mean CRPS and PITs of the one-year realised volatility over the origins, and the one-day
    VaR 95 / 99 hits of the year after each origin (parameters fixed at the origin, variance
    updated daily: ``calibration.apply``) pooled into Kupiec tests."""
    from riskmodel.fit.backtest import kupiec_pof
    from riskmodel.fit.calibration import apply
    from riskmodel.sim.thin_trading import simulate_market

    pits, crps = [], []
    hits: dict[str, list[np.ndarray]] = {"95": [], "99": []}
    for t in origins:
        train, test = r[r.index <= t], r[r.index > t].iloc[:HORIZON]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cal_obj = fitter_for(name)(train)
            risk = apply(cal_obj, pd.concat([train, test])).risk.loc[test.index]
        for lev in hits:
            hits[lev].append(test.to_numpy() < -risk[f"var{lev}"].to_numpy())
        cal = cal_obj.to_dict()
        cal["state"]["last_price"] = 1.0
        sim = simulate_market(cal, days=len(test), paths=paths, seed=seed)
        v = annual_vol(sim["returns"])
        y = float(annual_vol(test.to_numpy())[0])
        pits.append(float((v < y).mean()))
        crps.append(crps_sample(v, y))
    out: dict[str, Any] = {
        "model": name,
        "crps": float(np.mean(crps)),
        "pits": pits,
        "crps_by_origin": crps,
    }
    for lev, level in (("95", 0.95), ("99", 0.99)):
        h = np.concatenate(hits[lev])
        out[f"var{lev}_hit_rate"] = float(h.mean())
        out[f"kupiec_p_{lev}"] = kupiec_pof(h, level)[1]
    return out


def fit_full(series: Any, name: str) -> Calibration:
    """The candidate fitted on the whole series, as a calibration with the series' identity."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name.strip().lower().startswith("z"):
            return fit_thin(series, name)
        if name.strip().lower().startswith("ms"):
            from riskmodel.fit.cli import fit_regime
            from riskmodel.fit.diagnostics import diagnose

            res = fit_regime(series.returns, name)
            return Calibration.from_fit(res, series, diagnostics=diagnose(res))
        from riskmodel.fit.diagnostics import diagnose
        from riskmodel.fit.garch import ModelSpec, fit_garch

        spec = ModelSpec.parse(name)
        g = fit_garch(series, spec.mean, spec.vol, spec.dist)
        return Calibration.from_fit(g, series, diagnostics=diagnose(g))


def finite_variance(cal: Calibration) -> bool:
    """Whether the calibration's process has a finite unconditional variance: not EGARCH with a
    t or skew-t law (E exp(c|z|) diverges), GARCH / GJR persistence below 1, t laws nu > 2."""
    from riskmodel.fit.garch import persistence

    nu = cal.params.get("nu")
    if nu is not None and cal.dist != "normal" and not float(nu) > 2.0:
        return False
    if cal.family == "egarch":
        return cal.dist == "normal" and abs(float(cal.params["beta"])) < 1.0
    if cal.family in ("garch", "gjr"):
        return persistence(cal.spec, cal.params) < 1.0
    if cal.family == "msgarch":
        k = int(cal.model.get("k_regimes", 2))
        return all(cal.params[f"alpha_{j}"] + cal.params[f"beta_{j}"] < 1.0 for j in range(k))
    return True


def compare(
    series: Any, candidates: tuple[str, ...] = DEFAULT_CANDIDATES, *, paths: int = 400
) -> pd.DataFrame:
    """Out-of-sample score and full-sample guard share of every candidate on one market."""
    from riskmodel.sim.thin_trading import guard_share

    r = series.returns
    origins = origins_for(r)
    rows = []
    for name in candidates:
        try:
            row = score_candidate(r, name, origins, paths=paths) if origins else {"model": name}
            cal = fit_full(series, name)
            row["guard_share_1y"] = guard_share(cal.to_dict(), paths=2000, seed=1)
            row["converged"] = bool(cal.fit.get("converged", True))
            row["nu"] = cal.params.get("nu")
            row["finite_variance"] = finite_variance(cal)
            row["bic"] = cal.bic
        except (RiskmodelError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            row = {"model": name, "error": str(exc)}
        rows.append(row)
    df = pd.DataFrame(rows).set_index("model")
    df.attrs["origins"] = [t.date().isoformat() for t in origins]
    return df


def choose(table: pd.DataFrame) -> str:
    """The chosen candidate (module docstring): converged fits with finite variance only; of
    those, the ones whose out-of-sample one-day VaR 95 and 99 pass Kupiec (p > 0.05) when any
    does; then the lowest mean CRPS, except
    that a candidate whose guard share is below ``GUARD_MAX`` is preferred when its CRPS is
    within ``CRPS_SLACK`` of the best (the guard requirement never buys a much worse forecast).
    Without out-of-sample scores (short series): the lowest BIC among the full-sample ``z``
    models (comparable likelihoods), with the same preference for a small guard share within
    ``BIC_SLACK`` points."""
    ok = table[
        table.get("converged", pd.Series(True, index=table.index)).fillna(False).astype(bool)
    ]
    if "nu" in ok:  # finite variance by construction: no t law with nu below NU_MIN
        ok = ok[~(ok["nu"].astype(float) < NU_MIN)]
    if "finite_variance" in ok:
        ok = ok[ok["finite_variance"].fillna(False).astype(bool)]
    if ok.empty:
        return str(table.index[0])
    if "kupiec_p_99" in ok:  # one-day VaR 95 and 99 must pass Kupiec where any candidate does
        var_ok = (ok["kupiec_p_95"].fillna(0) > 0.05) & (ok["kupiec_p_99"].fillna(0) > 0.05)
        if var_ok.any():
            ok = ok[var_ok]
    guard = ok.get("guard_share_1y", pd.Series(0.0, index=ok.index)).fillna(np.inf)
    if "crps" in ok and ok["crps"].notna().any():
        crps = ok["crps"].fillna(np.inf)
        best = str(crps.idxmin())
        good = crps[(guard < GUARD_MAX) & (crps <= crps.min() * (1.0 + CRPS_SLACK))]
        return str(good.idxmin()) if not good.empty else best
    comparable = [m for m in ok.index if str(m).startswith("z") and "-w" not in str(m)]
    bic = ok.loc[comparable, "bic"] if comparable else ok["bic"]
    bic = bic.fillna(np.inf)
    good = bic[(guard.loc[bic.index] < GUARD_MAX) & (bic <= bic.min() + BIC_SLACK)]
    return str(good.idxmin()) if not good.empty else str(bic.idxmin())


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) and math.isfinite(v) else str(v)
