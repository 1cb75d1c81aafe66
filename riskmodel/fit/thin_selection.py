"""Choosing a market's price model by its rolling-origin multi-horizon validation score.

Candidates are model names of :func:`riskmodel.fit.backtest.fitter_for`: the thin-trading
``z...`` models (GARCH / GJR / EGARCH families, variance-targeted ``-vt``, windowed ``-w4``,
``-nu8`` tail bounds), and the regime models ``ms2`` and ``msgarch2-t`` (which compete by
default). Each is scored by :func:`riskmodel.fit.validation.validate_candidate` (refitted at each
origin on the causally cleaned data before it, simulated by the engine, CRPS of the log price
change at 1, 5, 21, 63 and 252 days: ``multi_horizon_score``), screened at yearly origins with
200 paths; the issue-11 checks and BIC are reported beside it (:func:`compare`). The choice
(:func:`choose`): finite variance and converged; one-day VaR 95 / 99 passing Kupiec when any
candidate does; the lowest score, preferring a candidate whose guard binds on fewer than
``GUARD_MAX`` of market-days when its score is within ``SCORE_SLACK`` of the best.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.errors import RiskmodelError
from riskmodel.fit.calibration import Calibration
from riskmodel.fit.thin_trading import THIN_CANDIDATES, fit_thin

#: Regime models that compete with the thin-trading candidates by default: the MS-GARCH-t also
#: with every regime's fourth moment finite (``-m4``, riskmodel.fit.msgarch.fourth_moment_margin:
#: an unconstrained fit can make one regime an ARCH(1) with alpha near 1, which feeds a large
#: move back into the next day's variance one for one; docs/VALIDATION.md), and the three-state
#: switching mean/variance model ``ms3``: a mixture of normals, whose tail ends with its most
#: volatile regime (Hubei, where every GARCH-type candidate feeds the market's reversing moves
#: back into the variance and binds the guard; docs/THIN_TRADING.md).
REGIME_CANDIDATES = ("ms2", "ms3", "msgarch2-t", "msgarch2-t-m4")
#: Variance-break windows (ICSS, riskmodel.fit.icss): the three base families estimated on the
#: data after the last break. Not combined with ``-vt`` (that sets the level from the last years
#: already) nor ``-w4`` (both choose the window; refused by ``parse_thin_name``); with the bounded
#: t(>= 4) and EGARCH-normal laws of the base candidates, so the variance is finite.
ICSS_CANDIDATES = ("zgarch-t-icss", "zgjr-t-icss", "zegarch-normal-icss")
DEFAULT_CANDIDATES = THIN_CANDIDATES + ICSS_CANDIDATES + REGIME_CANDIDATES

GUARD_MAX = 1e-4
#: No candidate with a t law of nu below this competes: variance finite and bounded away from
#: the infinite-variance limit nu = 2 (heavier tails than t(4), e.g. the ``-nu3`` candidates or
#: an MS-GARCH-t, compete by their validation score and VaR backtests).
NU_FLOOR = 2.5
#: Without validation scores: a candidate within the guard limit is preferred when its BIC is at
#: most this many points worse.
BIC_SLACK = 10.0


def crps_sample(samples: np.ndarray, y: float) -> float:
    """CRPS of an ensemble: E|X - y| - E|X - X'| / 2 (sorted-sample formula)."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = x.size
    e1 = float(np.mean(np.abs(x - y)))
    e2 = float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x)) / (n * n)
    return e1 - e2


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


#: Screening settings: every 4th quarterly origin (yearly), 200 engine paths per origin. The
#: chosen model is then validated at every quarter with 1,000 paths (``riskmodel validate``).
SCREEN_ORIGIN_EVERY = 4
SCREEN_PATHS = 200
#: A candidate whose guard binds on fewer than GUARD_MAX of market-days is preferred when its
#: multi-horizon score is at most this much worse than the best.
SCORE_SLACK = 0.05


def compare(
    series: Any,
    candidates: tuple[str, ...] = DEFAULT_CANDIDATES,
    *,
    paths: int = SCREEN_PATHS,
    origin_every: int = SCREEN_ORIGIN_EVERY,
) -> pd.DataFrame:
    """Every candidate on one market: its rolling-origin multi-horizon validation score
    (``riskmodel.fit.validation``: refitted at each origin, simulated by the engine, CRPS of the
    log price change at 1-252 days), the issue-11 checks (Kupiec, PIT KS, 90% coverage), the
    guard share at the origins, and the full-sample fit's BIC, convergence, nu and guard share
    in a one-year run (2,000 paths)."""
    from riskmodel.fit.validation import ValidationConfig, validate_candidate
    from riskmodel.sim.thin_trading import guard_share

    cfg = ValidationConfig(n_paths=paths, origin_every=origin_every)
    rows = []
    origins: list[str] = []
    for name in candidates:
        row: dict[str, Any] = {"model": name}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    v = validate_candidate(
                        series.market,
                        series.prices,
                        series.returns,
                        name,
                        cfg=cfg,
                        currency=series.currency,
                    )
                    origins = [o["origin"] for o in v.origins]
                    row.update(_validation_row(v))
                except RiskmodelError as exc:  # too short for any origin: BIC only
                    row["validation_error"] = str(exc)
            cal = fit_full(series, name)
            row["guard_pct"] = float((cal.guard or {}).get("max_daily_return", math.nan))
            row["guard_share_1y"] = guard_share(cal.to_dict(), paths=2000, seed=1)
            row["converged"] = bool(cal.fit.get("converged", True))
            row["nu"] = cal.params.get("nu")
            row["finite_variance"] = finite_variance(cal)
            row["bic"] = cal.bic
        except (RiskmodelError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            row = {"model": name, "error": str(exc)}
        rows.append(row)
    df = pd.DataFrame(rows).set_index("model")
    df.attrs["origins"] = origins
    return df


def _validation_row(v: Any) -> dict[str, Any]:
    """The selection-table columns of one candidate's validation result."""
    s = v.summary
    c90 = [c["cover90"] for c in s["horizons"].values()]
    out = {
        "score": v.score,
        "n_origins": len(v.origins),
        "checks_passed": sum(1 for k, c in v.checks.items() if k != "all_pass" and c["pass"]),
        "pooled_change_ks_p": s.get("pooled_change", {}).get("ks_p"),
        "pooled_vol_ks_p": s.get("pooled_vol", {}).get("ks_p"),
        "cover90_min": min(c90) if c90 else None,
        "cover90_max": max(c90) if c90 else None,
        "guard_share_origins": v.clipped_share,
    }
    for tag, d in (("", v.var_all), ("nz_", v.var_nonzero)):
        for lv in ("95", "99"):
            out[f"kupiec_{tag}p_{lv}"] = d.get(f"kupiec_p_{lv}")
    return out


def choose(table: pd.DataFrame) -> str:
    """The chosen candidate: converged fits with finite variance only (t laws nu >= NU_FLOOR);
    of those, the ones whose one-day VaR 95 and 99 pass Kupiec on all days (p > 0.05) when any
    does; then the lowest multi-horizon validation score, except that a candidate whose guard
    binds on fewer than ``GUARD_MAX`` of market-days in a one-year run is preferred when its
    score is within ``SCORE_SLACK`` of the best. Without validation scores (series too short for
    an origin): the lowest BIC among the full-sample ``z`` models (comparable likelihoods), with
    the same guard preference within ``BIC_SLACK`` points."""
    ok = table[
        table.get("converged", pd.Series(True, index=table.index)).fillna(False).astype(bool)
    ]
    if "nu" in ok:  # finite variance, bounded away from 2: no t law with nu below NU_FLOOR
        ok = ok[~(ok["nu"].astype(float) < NU_FLOOR)]
    if "finite_variance" in ok:
        ok = ok[ok["finite_variance"].fillna(False).astype(bool)]
    if ok.empty:
        return str(table.index[0])
    if "kupiec_p_99" in ok:  # one-day VaR 95 and 99 must pass Kupiec where any candidate does
        var_ok = (ok["kupiec_p_95"].fillna(0) > 0.05) & (ok["kupiec_p_99"].fillna(0) > 0.05)
        if var_ok.any():
            ok = ok[var_ok]
    guard = ok.get("guard_share_1y", pd.Series(0.0, index=ok.index)).fillna(np.inf)
    if "score" in ok and ok["score"].notna().any():
        score = ok["score"].fillna(np.inf)
        best = str(score.idxmin())
        good = score[(guard < GUARD_MAX) & (score <= score.min() * (1.0 + SCORE_SLACK))]
        return str(good.idxmin()) if not good.empty else best
    comparable = [m for m in ok.index if str(m).startswith("z") and "-w" not in str(m)]
    bic = ok.loc[comparable, "bic"] if comparable else ok["bic"]
    bic = bic.fillna(np.inf)
    good = bic[(guard.loc[bic.index] < GUARD_MAX) & (bic <= bic.min() + BIC_SLACK)]
    return str(good.idxmin()) if not good.empty else str(bic.idxmin())


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) and math.isfinite(v) else str(v)
