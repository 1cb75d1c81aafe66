"""The report's figures: each is a PNG (matplotlib, Agg, no pyplot state) plus the data it
plots as a tidy frame, so the HTML embeds the picture and the JSON / CSV carry the numbers.

Figures: price fan chart (autarky vs linked), emissions distribution, compliance-cost
distribution (with VaR / ES marks), variance decomposition, regulatory-event effects, hedge
analysis.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from riskmodel.firm.cost import FirmRisk

#: Quantile bands of the fan chart.
FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
COLORS = {"autarky": "#4c72b0", "linked": "#dd8452", "linked_events": "#c44e52"}
LABELS = {"autarky": "autarky", "linked": "linked", "linked_events": "linked, with events"}
BINS = 60


@dataclass
class FigureOut:
    """One figure: a stable name, a caption, the PNG bytes and the plotted data."""

    name: str
    title: str
    caption: str
    png: bytes
    data: pd.DataFrame


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _fig(w: float = 7.0, h: float = 3.6) -> tuple[Figure, object]:
    fig = Figure(figsize=(w, h))
    return fig, fig.add_subplot(1, 1, 1)


def label(variant: str) -> str:
    """Human name of a variant."""
    return LABELS.get(variant, variant)


def fan_chart(r: FirmRisk, daily: np.ndarray | None = None, *, max_daily: int = 5) -> FigureOut:
    """Quantile fan of the compliance price per year, autarky vs linked (and with events);
    a few kept daily paths drawn thin when the engine kept them."""
    mp = r.market
    yrs = np.asarray(r.years, dtype=float)
    show = [v for v in ("autarky", "linked", "linked_events") if v in mp.variants] or \
        mp.variants
    rows = []
    fig, ax = _fig()
    for v in show:
        k = mp.index(v)
        q = np.quantile(mp.price[k], FAN_QUANTILES, axis=0)  # [q, year]
        for j, y in enumerate(r.years):
            rows.append({"variant": v, "year": y, **{f"q{int(p * 100):02d}": q[i, j]
                                                     for i, p in enumerate(FAN_QUANTILES)},
                         "mean": float(mp.price[k, :, j].mean())})
        c = COLORS.get(v, None)
        if v == "linked_events" and "linked" in show:
            ax.plot(yrs, q[2], color=c, lw=1.5, ls="--", label=f"{label(v)}: median")
            ax.plot(yrs, q[0], color=c, lw=0.8, ls=":")
            ax.plot(yrs, q[4], color=c, lw=0.8, ls=":", label=f"{label(v)}: 5-95%")
            continue
        ax.fill_between(yrs, q[0], q[4], color=c, alpha=0.18, lw=0, label=f"{label(v)}: 5-95%")
        ax.fill_between(yrs, q[1], q[3], color=c, alpha=0.35, lw=0, label=f"{label(v)}: 25-75%")
        ax.plot(yrs, q[2], color=c, lw=2, label=f"{label(v)}: median")
    if daily is not None and daily.shape[-1] > 1:
        nd = daily.shape[-1]
        t = yrs[0] - 1 + np.arange(1, nd + 1) * len(yrs) / nd
        for v in show[:2]:
            k = mp.index(v)
            for p in range(min(max_daily, daily.shape[1])):
                ax.plot(t, daily[k, p], color=COLORS.get(v), lw=0.4, alpha=0.45)
    ax.set_xticks(yrs, [str(y) for y in r.years])
    ax.set_xlabel("end of compliance year")
    ax.set_ylabel(f"price ({mp.currency or 'market currency'}/t)")
    ax.set_title(f"Compliance price in {mp.market or 'the firm market'}")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              frameon=False)
    return FigureOut("fan_chart", "Price fan chart",
                     "Quantiles of the compliance price across paths, per compliance year "
                     "(thin lines: kept daily sample paths).", _png(fig), pd.DataFrame(rows))


#: Share of paths left out of each histogram's x-range, at each end.
HIST_TAIL = 0.005


def _hist(ax: object, data: dict[str, np.ndarray], unit: str,
          labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Densities over the central 99% of all paths (the tails are reported, not drawn)."""
    allv = np.concatenate(list(data.values()))
    lo, hi = np.quantile(allv, [HIST_TAIL, 1 - HIST_TAIL])
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, BINS + 1)
    rows = []
    for v, x in data.items():
        cnt, _ = np.histogram(x, bins=edges)
        dens = cnt / (len(x) * np.diff(edges))  # density of all paths (tails excluded)
        ax.stairs(dens, edges, color=COLORS.get(v), lw=1.5, label=(labels or {}).get(v, label(v)))
        rows += [{"variant": v, "bin_lo": a, "bin_hi": b, "density": d}
                 for a, b, d in zip(edges[:-1], edges[1:], dens, strict=True)]
    ax.set_xlim(lo, hi)
    ax.set_xlabel(unit)
    ax.set_ylabel("density")
    return pd.DataFrame(rows)


def emissions_hist(r: FirmRisk) -> FigureOut:
    """Distribution of the firm's emissions after abatement over the horizon, per variant."""
    fig, ax = _fig()
    em = (r.gross - r.abatement).sum(-1)
    data = _hist(ax, {v: em[k] for k, v in enumerate(r.variants)}, "Mt CO2e over the horizon")
    ax.set_title("Firm emissions (after own abatement), horizon total")
    ax.legend(fontsize=8)
    return FigureOut("emissions", "Emissions distribution",
                     "Density of the firm's emissions after its own abatement, summed over "
                     "the horizon (central 99% of paths).", _png(fig), data)


def cost_hist(r: FirmRisk, scale: float, unit: str) -> FigureOut:
    """Distribution of the horizon compliance cost per variant (with the firm's hedges), with
    VaR 95 and ES 97.5, in the report's unit."""
    fig, ax = _fig()
    labels = {v: f"{label(v)}: VaR 95 {r.value(v, 'var95') / scale:,.4g}, ES 97.5 "
                 f"{r.value(v, 'es975') / scale:,.4g}" for v in r.variants}
    data = _hist(ax, {v: r.total[k] / scale for k, v in enumerate(r.variants)},
                 f"compliance cost over the horizon, {unit}", labels)
    lo, hi = ax.get_xlim()
    for v in r.variants:
        for m, ls in (("var95", "--"), ("es975", ":")):
            x = r.value(v, m) / scale
            if lo <= x <= hi:
                ax.axvline(x, color=COLORS.get(v), ls=ls, lw=1.0)
    hedged = "with the firm's hedges" if r.firm.hedges else "unhedged"
    ax.set_title(f"Compliance cost, {hedged} (dashed: VaR 95, dotted: ES 97.5)", fontsize=10)
    ax.legend(fontsize=7)
    _plain_axis(ax)
    data["unit"] = unit
    return FigureOut("cost", "Compliance-cost distribution",
                     f"Density of the horizon compliance cost ({hedged}) in {unit} over the "
                     "central 99% of paths; VaR and ES (in the legend) use every path.",
                     _png(fig), data)


def _plain_axis(ax: object) -> None:
    """No offset or scientific multiplier on the axes: the axis label carries the unit."""
    for axis in (ax.xaxis, ax.yaxis):  # type: ignore[attr-defined]
        fmt = axis.get_major_formatter()
        if hasattr(fmt, "set_scientific"):
            fmt.set_scientific(False)
            fmt.set_useOffset(False)


#: Factors of the Shapley decomposition: (measure suffix, name, colour).
FACTORS = (("price", "price", "#4c72b0"), ("volume", "firm volume", "#55a868"),
           ("events", "regulatory events", "#c44e52"))


def decomposition(r: FirmRisk) -> FigureOut:
    """Shapley shares of the horizon cost variance (price, volume, events), per variant."""
    fig, ax = _fig(6.0, 3.2)
    rows = []
    x = np.arange(len(r.variants))
    base = np.zeros(len(r.variants))
    for key, name, color in FACTORS:
        vals = []
        for v in r.variants:
            tot, part = r.value(v, "var_total"), r.value(v, f"var_{key}")
            share = part / tot if tot > 0 and np.isfinite(part) else 0.0
            vals.append(100 * share)
            rows.append({"variant": v, "factor": key, "share": share})
        ax.barh(x, vals, left=base, color=color, label=name)
        base += np.asarray(vals)
    ax.set_yticks(x, [label(v) for v in r.variants])
    ax.invert_yaxis()
    ax.set_xlim(min(0.0, float(base.min())), max(100.0, float(base.max())))
    ax.set_xlabel("share of the variance of the horizon cost, %")
    hedged = "with the firm's hedges" if r.firm.hedges else "unhedged"
    ax.set_title(f"Where the risk comes from ({hedged})", fontsize=10)
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.25),
              frameon=False)
    return FigureOut("decomposition", "Variance decomposition",
                     "Shapley shares of the horizon cost variance: each factor's average "
                     "marginal contribution over all orders (the others fixed at their mean), "
                     "so the shares sum to 100% with interactions shared.", _png(fig),
                     pd.DataFrame(rows))


def event_effects_fig(effects: pd.DataFrame, r: FirmRisk, scale: float, unit: str
                      ) -> FigureOut:
    """Change in mean and ES 97.5 of the horizon cost from each event alone (and all)."""
    rows = effects.copy()
    for c in ("mean_linked", "mean_change", "sd_change", "es975_change"):
        if c in rows:
            rows[c] = rows[c] / scale
    if "linked" in r.variants and "linked_events" in r.variants:
        lk, ev = r.variants.index("linked"), r.variants.index("linked_events")
        allrow = {"event": "all events together",
                  "mean_linked": r.value("linked", "mean") / scale,
                  "mean_change": (r.value("linked_events", "mean")
                                  - r.value("linked", "mean")) / scale,
                  "sd_change": (r.value("linked_events", "sd") - r.value("linked", "sd")) / scale,
                  "es975_change": (r.value("linked_events", "es975")
                                   - r.value("linked", "es975")) / scale,
                  "p_changed": float(np.mean(np.abs(r.total_unhedged[ev] - r.total_unhedged[lk])
                                             > 1e-9 * (1 + np.abs(r.total_unhedged[lk]))))}
        rows = pd.concat([rows, pd.DataFrame([allrow])], ignore_index=True)
    fig, ax = _fig(7.0, 0.9 + 0.45 * max(1, len(rows)))
    if rows.empty:
        ax.text(0.5, 0.5, "no regulatory events in this scenario", ha="center", va="center")
        ax.set_axis_off()
    else:
        y = np.arange(len(rows))
        ax.barh(y - 0.2, rows["mean_change"], height=0.38, color="#4c72b0",
                label="change in mean")
        ax.barh(y + 0.2, rows["es975_change"], height=0.38, color="#c44e52",
                label="change in ES 97.5")
        ax.set_yticks(y, list(rows["event"]))
        ax.axvline(0, color="k", lw=0.5)
        ax.invert_yaxis()
        ax.set_xlabel(f"{unit} over the horizon, vs linked without events")
        ax.legend(fontsize=8)
        _plain_axis(ax)
    hedged = "with the firm's hedges" if r.firm.hedges else "unhedged"
    ax.set_title(f"Effect of regulatory events on the horizon cost ({hedged})", fontsize=10)
    rows["unit"] = unit
    return FigureOut("events", "Regulatory-event effects",
                     "Each event simulated alone (with versus without it, common random "
                     "numbers) where the report simulated them; the last row is the scenario's "
                     f"events together. Money in {unit}.", _png(fig), rows)


def hedge_fig(r: FirmRisk, main: str, scale: float, unit: str) -> FigureOut:
    """Sd and ES 97.5 of the horizon cost under each hedge strategy (one variant)."""
    from riskmodel.firm.cost import STRATEGIES

    fig = Figure(figsize=(7.5, 3.2))
    rows = []
    order = ["_unhedged", "_expected_hedged", "_mv_hedged"] + ([""] if r.firm.hedges else [])
    cols = {"_unhedged": "#999999", "_expected_hedged": "#8172b2", "_mv_hedged": "#55a868",
            "": "#4c72b0"}
    for i, meas in enumerate(("sd", "es975")):
        ax = fig.add_subplot(1, 2, i + 1)
        vals = [r.value(main, f"{meas}{s}") / scale for s in order]
        ax.barh(np.arange(len(order)), vals, color=[cols[s] for s in order])
        ax.set_yticks(np.arange(len(order)),
                      [STRATEGIES[s] if i == 0 else "" for s in order], fontsize=7)
        ax.invert_yaxis()
        ax.set_title({"sd": "standard deviation", "es975": "ES 97.5"}[meas], fontsize=9)
        ax.set_xlabel(unit, fontsize=8)
        _plain_axis(ax)
        rows += [{"variant": main, "measure": meas, "hedge": STRATEGIES[s], "value": val,
                  "unit": unit} for s, val in zip(order, vals, strict=True)]
    fig.suptitle(f"Hedging the horizon cost with futures ({label(main)})", fontsize=10)
    return FigureOut("hedge", "Hedge analysis",
                     "Per-year futures at the fair forward: the bounded minimum-variance hedge "
                     "(0 ≤ h ≤ expected net short), a hedge of the expected net purchase, the "
                     f"firm's own hedges, and none. Money in {unit}.", _png(fig),
                     pd.DataFrame(rows))


def all_figures(r: FirmRisk, effects: pd.DataFrame, daily: np.ndarray | None,
                scale: float = 1.0, unit: str = "", main: str | None = None) -> list[FigureOut]:
    """Every figure of the report, in report order (money in ``unit`` = millions / scale)."""
    unit = unit or f"million {r.currency}"
    main = main or ("linked_events" if "linked_events" in r.variants else r.variants[-1])
    return [fan_chart(r, daily), emissions_hist(r), cost_hist(r, scale, unit), decomposition(r),
            event_effects_fig(effects, r, scale, unit), hedge_fig(r, main, scale, unit)]
