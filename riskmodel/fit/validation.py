"""Rolling-origin validation of price-process candidates at horizons of 1 day to 1 year.

Scheme (issue 11). Origins are the first days of every quarter from 2016 (or the series start
plus two years, whichever is later) to the end of the evaluation data (default 2022-12-31, the
calibrations' training data; no later data is read). At each origin every candidate is fitted on
the causally cleaned returns before it (:mod:`riskmodel.data.cleaning`: the past a fit sees does
not depend on later data), its state is the end of that sample, and the ENGINE simulates
``n_paths`` one-year paths from it (:func:`riskmodel.sim.single_market.simulate_log_prices`:
its innovation tables, guard, martingale compensator). Horizons count the market's own
observation steps (the model's and the engine's days): 1, 5, 21, 63 and 252. A window is
scored only if it ends before the evaluation end.

Scores (:mod:`riskmodel.fit.scores`):

- PIT of the log price change at each horizon, and of realised volatility (annualised sd of the
  daily log returns in the window, percent; a window without trades has 0, and so does a
  simulated one) for h >= 5; coverage of the central 50% and 90% bands; uniformity by the KS
  test with its null simulated on the same (overlapping) window layout, per horizon and pooled
  over horizons;
- CRPS of the log price change (percent) against the simulated sample;
- one-day VaR 95/99 (Kupiec, Christoffersen) and ES 97.5 (McNeil–Frey, Acerbi–Szekely Z2) of
  ``riskmodel.fit.backtest.evaluate`` on all days and on non-zero-return days (a thin-trading
  model's non-zero days against its law given a trade, not the all-days mixture), parameters fixed
  between origins and the variance updated daily (``calibration.apply``).

The multi-horizon score of a candidate is the mean over horizons of its mean CRPS divided by
sqrt(h) (so each horizon weighs about the same; lower is better). :func:`select_by_validation`
returns the best candidate on it, with the BIC of its fit on all the evaluation data beside it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.errors import DataError, RiskmodelError
from riskmodel.fit import scores as sc
from riskmodel.fit.backtest import Fitter, evaluate, fitter_for
from riskmodel.fit.calibration import Calibration, apply

HORIZONS = (1, 5, 21, 63, 252)
#: Realised volatility needs a few returns: horizons from 5 days.
VOL_HORIZONS = tuple(h for h in HORIZONS if h >= 5)
#: Horizons whose realised-volatility PITs are pooled for the "done when" check.
POOLED_VOL_HORIZONS = (21, 63, 252)
START = "2016-01-01"
END = "2022-12-31"
MIN_YEARS = 2
#: Fewest returns a fit needs; a series shorter than MIN_YEARS falls back to this (noted).
MIN_TRAIN = 250
N_PATHS = 1000
SEED = 20261204
FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass
class ValidationConfig:
    """Settings of one validation run."""

    start: str = START
    end: str = END
    horizons: tuple[int, ...] = HORIZONS
    n_paths: int = N_PATHS
    seed: int = SEED
    price_drift: str = "martingale"
    #: Percent log return a day, None (off) or "calibration": the fit's own evidence-based guard
    #: (riskmodel.fit.guard; from the data before each origin), what the engine uses by default.
    guard: float | str | None = "calibration"
    #: Use every k-th quarterly origin (4: yearly; cheaper screening of many candidates).
    origin_every: int = 1
    #: Simulate the exchange's daily price limit the data before each origin show, with its
    #: latent scale (riskmodel.fit.price_limits; docs/PRICE_LIMITS.md), as a scenario's
    #: ``price_limit: calibration`` does. Off by default, as in the engine.
    price_limits: bool = False
    #: Volatility-level uncertainty (``simulation.vol_level_sd``): 0 = off, a number, or
    #: "causal" = at each origin the pooled spread that the stored validation's one-year
    #: windows ended before it imply (riskmodel.fit.vol_spread.pooled_s; 0 before ten exist).
    vol_level: float | str = 0.0


def default_candidates(market: str) -> list[str]:
    """Candidate model names validated for a market: the committed calibration's model (the
    baseline). Extend here (or pass ``--candidates``) to let new models compete."""
    from riskmodel.fit.calibration import load_calibration

    try:
        return [load_calibration(market).model_name]
    except RiskmodelError:
        return ["garch-t"]


def validation_markets() -> list[str]:
    """Markets validated by ``--all``: daily series with a fitted (not proxy) calibration."""
    from riskmodel.fit.calibration import load_calibration
    from riskmodel.fit.cli import daily_markets

    out = []
    for m in daily_markets():
        try:
            if load_calibration(m).proxy:
                continue
        except RiskmodelError:
            pass
        out.append(m)
    return out


def quarterly_origins(dates: pd.DatetimeIndex, start: str = START, end: str = END,
                      min_years: int = MIN_YEARS) -> tuple[list[pd.Timestamp], list[str]]:
    """Quarter starts from max(start, first date + min_years) up to ``end`` with at least
    MIN_TRAIN returns before them; notes when the series is too short for ``min_years``."""
    notes: list[str] = []
    first = dates.min()
    lo = max(pd.Timestamp(start), first + pd.DateOffset(years=min_years))
    qs = pd.date_range(lo, end, freq="QS")
    if len(qs) == 0:
        lo = max(pd.Timestamp(start), dates[min(MIN_TRAIN, len(dates) - 1)])
        qs = pd.date_range(lo, end, freq="QS")
        notes.append(f"series starts {first.date()}: fewer than {min_years} years before the "
                     f"evaluation end, origins start after {MIN_TRAIN} returns instead")
    out = [q for q in qs if int((dates < q).sum()) >= MIN_TRAIN and (dates >= q).any()]
    return out, notes


@dataclass
class CandidateResult:
    """Everything measured for one candidate on one market."""

    market: str
    model: str
    origins: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    var_all: dict[str, Any] = field(default_factory=dict)
    var_nonzero: dict[str, Any] = field(default_factory=dict)
    score: float = math.nan
    bic: float | None = None
    notes: list[str] = field(default_factory=list)
    fans: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    clipped_share: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (fans kept out: they are drawn, not tabulated)."""
        return {"market": self.market, "model": self.model, "score": self.score,
                "bic": self.bic, "clipped_share": self.clipped_share, "checks": self.checks,
                "summary": self.summary, "var_all_days": self.var_all,
                "var_nonzero_days": self.var_nonzero, "origins": self.origins,
                "notes": self.notes}


def _seed(seed: int, *keys: int) -> int:
    return int(np.random.SeedSequence((seed, *keys)).generate_state(1)[0])


def _origin_limit(cal: Calibration, train: pd.Series) -> dict[str, Any] | None:
    """The price-limit block of a calibration fitted at an origin: the limit its fitted sample
    shows (no later data) and the latent scale (riskmodel.fit.price_limits)."""
    from riskmodel.fit.price_limits import attach, sample_limit

    sample = cal.sample or {}
    block = (sample_limit(train, sample) if sample.get("start") and sample.get("end")
             else sample_limit(train, {"start": train.index[0], "end": train.index[-1]}))
    return attach({**cal.to_dict(), "price_limit": block}) if block else None


def _vol_level(cfg: ValidationConfig, origin: pd.Timestamp) -> float:
    """The volatility-level sd simulated at an origin (ValidationConfig.vol_level)."""
    if cfg.vol_level == "causal":
        from riskmodel.fit.vol_spread import pooled_s

        s = pooled_s(_stored_rows(), origin.date())
        return 0.0 if s is None else s
    return float(cfg.vol_level)


@functools.cache
def _stored_rows() -> list[Any]:
    """The stored validation's one-year rows, read once per process."""
    from riskmodel.fit.vol_spread import stored_rows

    return stored_rows()


def validate_candidate(
    market: str,
    prices: pd.Series,
    returns: pd.Series,
    model: str,
    *,
    fitter: Fitter | None = None,
    cfg: ValidationConfig | None = None,
    currency: str = "EUR",
    simulate: Callable[..., tuple[np.ndarray, dict[str, Any]]] | None = None,
) -> CandidateResult:
    """Rolling-origin validation of one candidate (``model`` name, or its ``fitter``) on a
    cleaned series (prices and percent log returns)."""
    from riskmodel.sim.single_market import simulate_single_market

    cfg = cfg or ValidationConfig()
    fitter = fitter or fitter_for(model)
    sim = simulate or simulate_single_market
    end = pd.Timestamp(cfg.end)
    r = returns[returns.index <= end].astype(float)
    p = prices[prices.index <= end].astype(float)
    res = CandidateResult(market=market, model=model)
    origins, notes = quarterly_origins(r.index, cfg.start, cfg.end)
    origins = origins[:: max(1, int(cfg.origin_every))]
    res.notes += notes
    if not origins:
        raise DataError(f"{market}: no origin with {MIN_TRAIN} returns before it and data "
                        "after it", field="returns")
    hmax = max(cfg.horizons)
    rv = r.to_numpy()
    blocks = []
    traded_blocks = []
    clipped = []
    cal: Calibration | None = None
    for k, o in enumerate(origins):
        pos = int((r.index < o).sum())
        try:
            cal = fitter(r.iloc[:pos])
        except RiskmodelError as exc:
            res.notes.append(f"{o.date()}: fit failed ({exc}); origin skipped")
            continue
        for n in cal.fit.get("notes", []):
            res.notes.append(f"{o.date()}: {n}")
        if cal.fit.get("fallbacks"):
            res.notes.append(f"{o.date()}: fell back to {cal.model_name}")
        cal.state["last_price"] = float(p[p.index < o].iloc[-1])
        cal.currency = currency
        cal.price_limit = _origin_limit(cal, r.iloc[:pos]) if cfg.price_limits else None
        nxt = origins[k + 1] if k + 1 < len(origins) else end + pd.Timedelta(days=1)
        stop = int((r.index < nxt).sum())
        applied = apply(cal, r.iloc[:stop])
        idx = r.index[pos:stop]
        blocks.append(pd.DataFrame({"return": r.iloc[pos:stop],
                                    "mean": applied.conditional_mean.loc[idx],
                                    "sd": applied.conditional_volatility.loc[idx]}
                                   ).join(applied.risk.loc[idx]))
        rt = applied.risk_traded  # a thin market's law given that it trades
        traded_blocks.append(blocks[-1] if rt is None else
                             pd.DataFrame({"return": r.iloc[pos:stop]}).join(rt.loc[idx]))
        vl = _vol_level(cfg, o)
        extra = {"vol_level_sd": vl} if vl > 0.0 else {}
        try:
            lp, meta = sim(cal.to_dict(), hmax, cfg.n_paths, _seed(cfg.seed, k),
                           price_drift=cfg.price_drift, max_daily_return=cfg.guard, **extra)
        except RiskmodelError as exc:  # a fit outside the engine's bounds (e.g. a regime mean)
            res.notes.append(f"{o.date()}: the engine refuses this origin's fit ({exc}); its "
                             "simulated scores are skipped (its one-day VaR is kept)")
            continue
        clipped.append(meta["clipped_share"])
        if not np.all(np.isfinite(lp)):
            res.notes.append(f"{o.date()}: {int((~np.isfinite(lp[:, -1])).sum())} of "
                             f"{cfg.n_paths} simulated paths not finite (left out of the scores)")
        simr = 100.0 * np.diff(lp, axis=1)
        fut = rv[pos:]
        row: dict[str, Any] = {"origin": str(o.date()), "pos": pos, "n_train": pos,
                               "params": cal.params, "model": cal.model_name,
                               "clipped_share": meta["clipped_share"],
                               "guard_pct": meta["guard"], "h": {}}
        for h in cfg.horizons:
            if len(fut) < h:
                continue
            rng = np.random.default_rng(_seed(cfg.seed, k, h))
            y = float(fut[:h].sum())
            x = 100.0 * (lp[:, h] - lp[:, 0])
            cell = {"change": y, "pit": sc.pit(x, y, rng), "crps": sc.crps_sample(x, y),
                    "sim_median": float(np.median(x))}
            if h in VOL_HORIZONS:
                v = float(sc.realised_vol(fut[:h]))
                xs = sc.realised_vol(simr[:, :h], axis=1)
                cell.update(vol=v, vol_pit=sc.pit(xs, v, rng), vol_crps=sc.crps_sample(xs, v),
                            vol_sim_median=float(np.median(xs)),
                            vol_sim_q05=float(np.quantile(xs, 0.05)),
                            vol_sim_q95=float(np.quantile(xs, 0.95)))
            row["h"][str(h)] = cell
        res.origins.append(row)
        nf = min(hmax, len(fut))
        res.fans.append({"origin": o, "dates": r.index[pos:pos + nf],
                         "start_price": cal.state["last_price"],
                         "q": np.quantile(lp[:, 1:nf + 1] - lp[:, :1], FAN_QUANTILES, axis=0),
                         "realised": np.cumsum(fut[:nf]) / 100.0})
    if not res.origins:
        raise DataError(f"{market}: every fit failed for {model}", field="model")
    fc = pd.concat(blocks)
    res.var_all = evaluate(fc)
    ft = pd.concat(traded_blocks)
    nz = ft[ft["return"] != 0.0]  # non-zero days against the law given a trade
    res.var_nonzero = evaluate(nz) if len(nz) > 20 else {}
    res.clipped_share = float(np.mean(clipped))
    res.summary = summarise(res.origins, cfg.horizons)
    res.score = multi_horizon_score(res.summary)
    res.checks = done_when_checks(res)
    try:
        b = fitter(r).bic
        res.bic = float(b) if b is not None else None
    except RiskmodelError as exc:
        res.notes.append(f"full-sample fit failed ({exc}): no BIC")
    return res


def _collect(origins: list[dict[str, Any]], h: int, key: str) -> tuple[list[float], list[int]]:
    u, s = [], []
    for o in origins:
        c = o["h"].get(str(h))
        if c is not None and key in c:
            u.append(c[key])
            s.append(o["pos"])
    return u, s


def summarise(origins: list[dict[str, Any]], horizons: Sequence[int]) -> dict[str, Any]:
    """Per horizon: n, PIT KS (overlap-corrected) p, coverage 50/90, mean CRPS, for the log price
    change and (h >= 5) realised volatility; plus pooled tests over horizons."""
    out: dict[str, Any] = {"horizons": {}}
    pooled: dict[str, tuple[list[float], list[tuple[int, int]]]] = {
        "change": ([], []), "vol": ([], [])}
    for h in horizons:
        u, s = _collect(origins, h, "pit")
        if not u:
            continue
        ks = sc.ks_overlap(u, [(x, h) for x in s], kind="sum")
        crps = [o["h"][str(h)]["crps"] for o in origins if str(h) in o["h"]]
        cell: dict[str, Any] = {
            "n": len(u), "pit_mean": float(np.mean(u)), "ks": ks["ks"], "ks_p": ks["p"],
            "ks_p_naive": ks["p_naive"], "cover50": sc.coverage(u, 0.5),
            "cover90": sc.coverage(u, 0.9), "crps": float(np.mean(crps))}
        pooled["change"][0].extend(u)
        pooled["change"][1].extend((x, h) for x in s)
        vu, vs = _collect(origins, h, "vol_pit")
        if vu:
            vks = sc.ks_overlap(vu, [(x, h) for x in vs], kind="sumsq")
            cell.update(vol_pit_mean=float(np.mean(vu)), vol_ks=vks["ks"], vol_ks_p=vks["p"],
                        vol_ks_p_naive=vks["p_naive"], vol_cover50=sc.coverage(vu, 0.5),
                        vol_cover90=sc.coverage(vu, 0.9),
                        vol_crps=float(np.mean([o["h"][str(h)]["vol_crps"] for o in origins
                                                if "vol_crps" in o["h"].get(str(h), {})])))
            if h in POOLED_VOL_HORIZONS:
                pooled["vol"][0].extend(vu)
                pooled["vol"][1].extend((x, h) for x in vs)
        out["horizons"][str(h)] = cell
    for key, kind in (("change", "sum"), ("vol", "sumsq")):
        u, w = pooled[key]
        if u:
            ks = sc.ks_overlap(u, w, kind=kind)
            out[f"pooled_{key}"] = {"n": len(u), "ks": ks["ks"], "ks_p": ks["p"],
                                    "ks_p_naive": ks["p_naive"], "cover50": sc.coverage(u, 0.5),
                                    "cover90": sc.coverage(u, 0.9)}
    return out


def multi_horizon_score(summary: dict[str, Any]) -> float:
    """Mean over horizons of mean CRPS / sqrt(h) (percent log price change; lower is better)."""
    vals = [c["crps"] / math.sqrt(int(h)) for h, c in summary["horizons"].items()]
    return float(np.mean(vals)) if vals else math.nan


def done_when_checks(res: CandidateResult) -> dict[str, Any]:
    """Issue 11's acceptance criteria for this candidate: each check, its value and pass/fail."""
    s = res.summary
    checks: dict[str, Any] = {}
    pv = s.get("pooled_vol", {})
    pc = s.get("pooled_change", {})
    checks["pooled_vol_ks_p>0.05"] = {"value": pv.get("ks_p"), "pass": _gt(pv.get("ks_p"), 0.05)}
    checks["pooled_change_ks_p>0.05"] = {"value": pc.get("ks_p"),
                                         "pass": _gt(pc.get("ks_p"), 0.05)}
    c90 = [c["cover90"] for c in s["horizons"].values()]
    checks["cover90_in_85_95"] = {"value": c90, "pass": all(0.85 <= c <= 0.95 for c in c90)}
    for tag, d in (("all", res.var_all), ("nonzero", res.var_nonzero)):
        for lv in ("95", "99"):
            v = d.get(f"kupiec_p_{lv}")
            checks[f"kupiec{lv}_{tag}_p>0.05"] = {"value": v, "pass": _gt(v, 0.05)}
    checks["all_pass"] = all(c["pass"] for c in checks.values())
    return checks


def _gt(v: Any, thr: float) -> bool:
    return v is not None and math.isfinite(float(v)) and float(v) > thr


@dataclass
class MarketValidation:
    """All candidates of one market, and the one chosen."""

    market: str
    candidates: list[CandidateResult]
    chosen: str
    notes: list[str] = field(default_factory=list)
    currency: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"market": self.market, "currency": self.currency, "chosen": self.chosen,
                "notes": self.notes,
                "candidates": [c.to_dict() for c in self.candidates]}


def chosen_candidate(doc: dict[str, Any]) -> dict[str, Any]:
    """The chosen candidate's record in a market's validation JSON (``MarketValidation``)."""
    return next(c for c in doc["candidates"] if c["model"] == doc["chosen"])


def stored_docs(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every market's validation JSON in ``directory`` (default calibrations/validation/), in
    file-name order."""
    import json

    from riskmodel import config

    directory = directory or config.CALIBRATIONS_DIR / "validation"
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))]
    return [d for d in docs if "candidates" in d]


def select_by_validation(results: Sequence[CandidateResult]) -> tuple[CandidateResult,
                                                                      list[dict[str, Any]]]:
    """The best candidate on the multi-horizon score, and a table (model, score, BIC, checks
    passed) of all, best first."""
    ok = [c for c in results if math.isfinite(c.score)]
    if not ok:
        raise DataError("no candidate has a finite validation score", field="candidates")
    ranked = sorted(ok, key=lambda c: c.score)
    table = [{"model": c.model, "score": c.score, "bic": c.bic,
              "checks_passed": sum(1 for k, v in c.checks.items() if k != "all_pass"
                                   and v["pass"]),
              "checks": sum(1 for k in c.checks if k != "all_pass")} for c in ranked]
    return ranked[0], table


def validate_market(market: str, candidates: Sequence[str] | None = None,
                    cfg: ValidationConfig | None = None, data_dir: Any = None
                    ) -> MarketValidation:
    """Validate every candidate of a market on its cleaned series."""
    from riskmodel.data.series import load_series

    ps = load_series(market, data_dir)
    names = list(candidates) if candidates else default_candidates(market)
    res = [validate_candidate(market, ps.prices, ps.returns, m, cfg=cfg, currency=ps.currency)
           for m in names]
    best, _ = select_by_validation(res)
    return MarketValidation(market=market, candidates=res, chosen=best.model,
                            currency=ps.currency)
