"""Files of a validation run under ``calibrations/validation/``: per market a JSON of every score,
a markdown table, PIT histograms and fan charts against the realised paths; and the summary
``README.md`` (per market and horizon: 50%/90% band coverage, PIT test p, Kupiec p)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from riskmodel.fit.validation import (
    HORIZONS,
    MarketValidation,
    ValidationConfig,
    chosen_candidate,
    select_by_validation,
)
from riskmodel.io import atomic_write_bytes, atomic_write_json, atomic_write_text

SCHEMA = "riskmodel.validation/1"
DPI = 80


def _p(v: Any, nd: int = 3) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(f) else f"{f:.{nd}f}"


def _pct(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(f) else f"{100 * f:.0f}%"


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def guard_text(cfg: ValidationConfig) -> str:
    """How the run's daily guard was set, in words."""
    text = "off" if cfg.guard is None else f"{cfg.guard}% a day"
    if cfg.guard == "calibration":
        text = ("each fit's own guard: max(25%, 1.25 x the largest daily move before the "
                "origin, 6 x its daily sd), riskmodel.fit.guard")
    if getattr(cfg, "vol_level", 0.0):
        text += (f"; volatility-level uncertainty {cfg.vol_level} (sd of log volatility, "
                 "docs/VALIDATION.md)")
    if getattr(cfg, "price_limits", False):
        text += ("; each market's daily price limit known at the origin simulated with its "
                 "latent scale, docs/PRICE_LIMITS.md")
    return text


def market_json(mv: MarketValidation, cfg: ValidationConfig) -> dict[str, Any]:
    """Every score of a market's validation, with the settings that produced it."""
    _, table = select_by_validation(mv.candidates)
    return {"schema": SCHEMA, "settings": {
        "start": cfg.start, "end": cfg.end, "horizons_days": list(cfg.horizons),
        "n_paths": cfg.n_paths, "seed": cfg.seed, "price_drift": cfg.price_drift,
        "guard_pct": cfg.guard, "price_limits": cfg.price_limits,
        "vol_level": cfg.vol_level, "units": {
            "change": "log price change over the horizon, percent",
            "vol": "realised volatility, annualised sd of daily log returns, percent a year",
            "crps": "same unit as the scored quantity"}},
        "selection": table, **mv.to_dict()}


def market_markdown(mv: MarketValidation, cfg: ValidationConfig) -> str:
    """Per candidate and horizon: coverage, PIT tests, CRPS; then the one-day VaR backtests."""
    _, table = select_by_validation(mv.candidates)
    lines = [f"# Validation: {mv.market}", "",
             f"Rolling origins every quarter, {cfg.start} to {cfg.end}; {cfg.n_paths} engine "
             f"paths per origin (price drift {cfg.price_drift}, guard {guard_text(cfg)}). "
             "Horizons in trading days (the series' own steps). PIT KS p accounts for "
             "overlapping windows (null simulated on the same window layout).", "",
             "| model | multi-horizon CRPS score | BIC | checks passed |",
             "| --- | ---: | ---: | ---: |"]
    for t in table:
        lines.append(f"| {t['model']}{' (chosen)' if t['model'] == mv.chosen else ''} | "
                     f"{_p(t['score'])} | {_p(t['bic'], 1)} | {t['checks_passed']}/"
                     f"{t['checks']} |")
    for c in mv.candidates:
        lines += ["", f"## {c.model}", "",
                  f"{len(c.origins)} origins; guard acted on {_p(100 * c.clipped_share, 3)}% "
                  "of simulated market-days.", "",
                  "| h (days) | n | change: cover 50 / 90 | PIT mean | KS p | KS p (naive) | "
                  "CRPS (%) | vol: cover 50 / 90 | PIT mean | KS p | CRPS (% a year) |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for h, s in c.summary["horizons"].items():
            lines.append(
                f"| {h} | {s['n']} | {_pct(s['cover50'])} / {_pct(s['cover90'])} | "
                f"{_p(s['pit_mean'], 2)} | {_p(s['ks_p'])} | {_p(s['ks_p_naive'])} | "
                f"{_p(s['crps'], 2)} | {_pct(s.get('vol_cover50'))} / "
                f"{_pct(s.get('vol_cover90'))} | {_p(s.get('vol_pit_mean'), 2)} | "
                f"{_p(s.get('vol_ks_p'))} | {_p(s.get('vol_crps'), 2)} |")
        pc, pv = c.summary.get("pooled_change", {}), c.summary.get("pooled_vol", {})
        lines += ["", f"Pooled over horizons: log price change KS p {_p(pc.get('ks_p'))} "
                  f"(n {pc.get('n', 0)}, cover 90 {_pct(pc.get('cover90'))}); realised "
                  f"volatility at 21/63/252 days KS p {_p(pv.get('ks_p'))} (n {pv.get('n', 0)}, "
                  f"cover 90 {_pct(pv.get('cover90'))}).", "",
                  "| one-day VaR | days | VaR95 hits (exp.) | Kupiec p | CC p | VaR99 hits (exp.) "
                  "| Kupiec p | CC p | ES97.5 MF p | Z2 |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for tag, d in (("all days", c.var_all), ("non-zero days", c.var_nonzero)):
            if not d:
                continue
            lines.append(
                f"| {tag} | {d['n_test']} | {d['hits_95']} ({d['expected_95']:.1f}) | "
                f"{_p(d['kupiec_p_95'])} | {_p(d['cc_p_95'])} | {d['hits_99']} "
                f"({d['expected_99']:.1f}) | {_p(d['kupiec_p_99'])} | {_p(d['cc_p_99'])} | "
                f"{_p(d['es_mcneil_frey_p'])} | {_p(d['es_z2'], 2)} |")
        failed = [k for k, v in c.checks.items() if k != "all_pass" and not v["pass"]]
        lines += ["", "Issue 11 checks failed: " + (", ".join(failed) if failed else "none")]
        if c.notes:
            lines += ["", "Notes:", *[f"- {n}" for n in c.notes[:20]]]
            if len(c.notes) > 20:
                lines.append(f"- ... {len(c.notes) - 20} more in the JSON")
    if mv.notes:
        lines += ["", *[f"- {n}" for n in mv.notes]]
    return "\n".join(lines) + "\n"


def pit_figure(mv: MarketValidation) -> Figure:
    """PIT histograms of the chosen candidate: log price change (top) and realised volatility
    (bottom) by horizon; the dashed line is the uniform density."""
    c = next(x for x in mv.candidates if x.model == mv.chosen)
    hs = list(c.summary["horizons"])
    fig = Figure(figsize=(2.0 * len(hs), 4.2))
    axes = fig.subplots(2, len(hs), squeeze=False)
    for j, h in enumerate(hs):
        for i, (key, lab) in enumerate((("pit", "log price change"), ("vol_pit", "realised vol"))):
            ax = axes[i, j]
            u = [o["h"][h][key] for o in c.origins if key in o["h"].get(h, {})]
            if u:
                ax.hist(u, bins=np.linspace(0, 1, 6), density=True, color="#4c72b0",
                        edgecolor="white")
                ax.axhline(1.0, color="k", ls="--", lw=0.8)
                s = c.summary["horizons"][h]
                p = s["ks_p"] if key == "pit" else s.get("vol_ks_p")
                ax.set_title(f"{lab}, {h} d\nKS p {_p(p, 2)}", fontsize=8)
            else:
                ax.set_axis_off()
            ax.set_xlim(0, 1)
            ax.tick_params(labelsize=7)
    fig.suptitle(f"{mv.market}: PITs of {c.model} (rolling origins)", fontsize=9)
    fig.tight_layout()
    return fig


def fan_figure(mv: MarketValidation, prices: Any | None = None) -> Figure:
    """One-year fans (5–95% and 25–75% of the engine's simulated price) from every fourth
    origin (one a year), against the realised price."""
    c = next(x for x in mv.candidates if x.model == mv.chosen)
    fig = Figure(figsize=(8, 3.4))
    ax = fig.subplots()
    if prices is not None and len(prices):
        ax.plot(prices.index, prices.to_numpy(), color="k", lw=0.8, label="realised price")
    for k, f in enumerate(c.fans):
        if k % 4:
            continue
        d, q, p0 = f["dates"], f["q"], f["start_price"]
        if len(d) < 2:
            continue
        ax.fill_between(d, p0 * np.exp(q[0]), p0 * np.exp(q[4]), color="#4c72b0", alpha=0.18,
                        lw=0)
        ax.fill_between(d, p0 * np.exp(q[1]), p0 * np.exp(q[3]), color="#4c72b0", alpha=0.3,
                        lw=0)
        ax.plot(d, p0 * np.exp(q[2]), color="#4c72b0", lw=0.6)
    ax.set_yscale("log")
    ax.set_ylabel(f"price ({mv.currency or 'own currency'} per tonne, log scale)", fontsize=8)
    ax.set_title(f"{mv.market}: one-year fans of {c.model} (5–95%, 25–75%, median) from every "
                 "fourth origin", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def write_market(mv: MarketValidation, cfg: ValidationConfig, out: Path,
                 prices: Any | None = None) -> list[Path]:
    """Write ``<market>.json``, ``<market>.md``, ``<market>_pit.png``, ``<market>_fan.png``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [atomic_write_json(out / f"{mv.market}.json", market_json(mv, cfg)),
             atomic_write_text(out / f"{mv.market}.md", market_markdown(mv, cfg)),
             _save(pit_figure(mv), out / f"{mv.market}_pit.png")]
    if prices is not None:
        p = prices[(prices.index >= mv.candidates[0].origins[0]["origin"])
                   & (prices.index <= cfg.end)]
        p = p[p.index >= p.index[0] - np.timedelta64(180, "D")]
        paths.append(_save(fan_figure(mv, p), out / f"{mv.market}_fan.png"))
    return paths


def summary_rows(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per market and horizon (chosen candidate) from the per-market JSON documents."""
    rows = []
    for d in docs:
        c = chosen_candidate(d)
        for h in (str(x) for x in HORIZONS):
            s = c["summary"]["horizons"].get(h)
            if s is None:
                continue
            rows.append({"market": d["market"], "model": c["model"], "h": int(h), **s,
                         "kupiec_p_95": c["var_all_days"].get("kupiec_p_95"),
                         "kupiec_p_99": c["var_all_days"].get("kupiec_p_99"),
                         "kupiec_nz_p_95": c["var_nonzero_days"].get("kupiec_p_95"),
                         "kupiec_nz_p_99": c["var_nonzero_days"].get("kupiec_p_99"),
                         "clipped_share": c.get("clipped_share"), "checks": c["checks"],
                         "guard_pct": (c["origins"][-1].get("guard_pct") if c["origins"]
                                       else None)})
    return rows


def _cli_options(cfg: Any) -> str:
    """The ``validate`` options that made a non-default validation (for its README)."""
    out = ""
    if getattr(cfg, "vol_level", 0.0):
        out += f" --vol-level {cfg.vol_level}"
    if getattr(cfg, "price_limits", False):
        out += " --price-limits"
    return out


def readme(docs: list[dict[str, Any]], cfg: ValidationConfig, timing: str = "") -> str:
    """``calibrations/validation/README.md``: the summary table and what it means."""
    head = [
        "# Rolling-origin validation of the price processes", "",
        f"Generated by `riskmodel validate --all{_cli_options(cfg)}`. Origins every quarter from "
        f"{cfg.start} (or "
        f"the series start plus two years) to {cfg.end}; at each origin the candidate is "
        "refitted on the causally cleaned returns before it, and the engine simulates "
        f"{cfg.n_paths} paths of 252 trading days from the fit's end state (price drift "
        f"{cfg.price_drift}, guard {guard_text(cfg)}). Horizons h in trading days.", "",
        "Columns: coverage of the central 50% and 90% bands of the simulated log price change "
        "(should be 50% and 90%); the KS p-value of its PITs (uniform under a correct model), "
        "and the same for realised volatility (annualised sd of daily log returns in the "
        "window, h >= 5). KS p-values account for overlapping windows: the KS statistic's null "
        "is simulated on the same layout of windows (i.i.d. Gaussian steps; exact without "
        "overlap). Kupiec p: one-day VaR 95 / 99 on all days | on non-zero-return days, "
        "parameters refitted at each origin and fixed between, variance updated daily. "
        "`ok` = all issue-11 checks pass for the market (pooled PIT KS p > 0.05 for the log "
        "price change and for realised volatility at 21/63/252 days, 90% coverage within "
        "85–95% at every horizon, the four Kupiec p > 0.05). Guard share: simulated market-days "
        "on which the engine's daily guard acted (mean over origins; the issue asks for "
        "< 1e-4), and R: the guard at the last origin (% log return a day).", "",
        "| market | model | h | n | cover 50 | cover 90 | PIT KS p | vol cover 90 | vol KS p "
        "| Kupiec p 95/99 (all \\| non-zero) | guard share | ok |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"]
    body = []
    for r in summary_rows(docs):
        kup = (f"{_p(r['kupiec_p_95'], 2)}/{_p(r['kupiec_p_99'], 2)} \\| "
               f"{_p(r['kupiec_nz_p_95'], 2)}/{_p(r['kupiec_nz_p_99'], 2)}") if r["h"] == 1 else ""
        ok = ("yes" if r["checks"]["all_pass"] else "no") if r["h"] == 1 else ""
        guard = (f"{float(r['clipped_share']):.1e} (R {_p(r.get('guard_pct'), 1)})"
                 if r["h"] == 1 else "")
        body.append(f"| {r['market'] if r['h'] == 1 else ''} | {r['model'] if r['h'] == 1 else ''}"
                    f" | {r['h']} | {r['n']} | {_pct(r['cover50'])} | {_pct(r['cover90'])} | "
                    f"{_p(r['ks_p'])} | {_pct(r.get('vol_cover90'))} | {_p(r.get('vol_ks_p'))} "
                    f"| {kup} | {guard} | {ok} |")
    tail = ["", "Per market: `<market>.md` (all candidates, VaR/ES backtests, notes), "
            "`<market>.json` (every origin's scores), `<market>_pit.png`, `<market>_fan.png`. "
            "How often a correct model would pass each check on these layouts: `check_size.md` "
            "(`python -m riskmodel.fit.check_size`; all seven together 0-5%). Realised "
            "volatility against its simulated spread by horizon: `vol_spread.md` "
            "(`python -m riskmodel.fit.vol_spread`). Non-zero-day VaR of a thin-trading model "
            "is its law given a trade."]
    failed = []
    for d in docs:
        c = chosen_candidate(d)
        bad = [k for k, v in c["checks"].items() if k != "all_pass" and not v["pass"]]
        if bad:
            failed.append(f"- {d['market']} ({c['model']}): {', '.join(bad)}")
    if failed:
        tail += ["", "Checks failed:", *failed]
    if timing:
        tail += ["", timing]
    return "\n".join(head + body + tail) + "\n"
