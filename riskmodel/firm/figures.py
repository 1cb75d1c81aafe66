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


def cost_hist(r: FirmRisk) -> FigureOut:
    """Distribution of the horizon compliance cost per variant, with VaR 95 and ES 97.5."""
    fig, ax = _fig()
    labels = {v: f"{label(v)}: VaR 95 {r.value(v, 'var95'):,.4g}, ES 97.5 "
                 f"{r.value(v, 'es975'):,.4g}" for v in r.variants}
    data = _hist(ax, {v: r.total[k] for k, v in enumerate(r.variants)},
                 f"compliance cost, million {r.currency}", labels)
    lo, hi = ax.get_xlim()
    for v in r.variants:
        for m, ls in (("var95", "--"), ("es975", ":")):
            x = r.value(v, m)
            if lo <= x <= hi:
                ax.axvline(x, color=COLORS.get(v), ls=ls, lw=1.0)
    ax.set_title("Compliance cost over the horizon (dashed: VaR 95, dotted: ES 97.5)")
    ax.legend(fontsize=7)
    return FigureOut("cost", "Compliance-cost distribution",
                     "Density of the horizon compliance cost (with the firm's hedges) over the "
                     "central 99% of paths; VaR and ES (in the legend) use every path.",
                     _png(fig), data)


def decomposition(r: FirmRisk) -> FigureOut:
    """Stacked variance parts (price, volume, interaction, events) of the horizon cost."""
    fig, ax = _fig(6.0, 3.4)
    parts = ["var_price", "var_volume", "var_interaction", "var_events"]
    names = {"var_price": "price", "var_volume": "volume", "var_interaction": "interaction",
             "var_events": "regulatory events"}
    colors = {"var_price": "#4c72b0", "var_volume": "#55a868", "var_interaction": "#8172b2",
              "var_events": "#c44e52"}
    rows = []
    x = np.arange(len(r.variants))
    pos_base = np.zeros(len(r.variants))
    neg_base = np.zeros(len(r.variants))
    for p in parts:
        vals = []
        for v in r.variants:
            try:
                val = r.value(v, p)
            except KeyError:
                val = float("nan")
            if v == "linked_events" and p != "var_events" and "linked" in r.variants:
                # linked_events = linked's parts + the events part
                val = r.value("linked", p)
            vals.append(0.0 if not np.isfinite(val) else val)
            rows.append({"variant": v, "part": names[p], "variance": vals[-1]})
        vals_a = np.asarray(vals)
        base = np.where(vals_a >= 0, pos_base, neg_base)
        ax.bar(x, vals_a, bottom=base, color=colors[p], label=names[p])
        pos_base += np.maximum(vals_a, 0)
        neg_base += np.minimum(vals_a, 0)
    ax.set_xticks(x, [label(v) for v in r.variants])
    ax.set_ylabel(f"variance, (million {r.currency})²")
    ax.set_title("Variance of the horizon cost by source")
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=8)
    return FigureOut("decomposition", "Variance decomposition",
                     "Price part: volume fixed at its mean; volume part: price fixed at its "
                     "mean; interaction: the rest; events: Var(linked with events) − "
                     "Var(linked). The linked-with-events bar shows linked's parts plus the "
                     "events part.", _png(fig), pd.DataFrame(rows))


def event_effects_fig(effects: pd.DataFrame, r: FirmRisk) -> FigureOut:
    """Change in mean and ES 97.5 of the horizon cost from each event alone (and all)."""
    rows = effects.copy()
    if "linked" in r.variants and "linked_events" in r.variants:
        allrow = {"event": "all events together",
                  "mean_linked": r.value("linked", "mean"),
                  "mean_change": r.value("linked_events", "mean") - r.value("linked", "mean"),
                  "sd_change": r.value("linked_events", "sd") - r.value("linked", "sd"),
                  "es975_change": r.value("linked_events", "es975") - r.value("linked", "es975"),
                  "p_changed": float(np.mean(np.abs(
                      r.total_unhedged[r.variants.index("linked_events")]
                      - r.total_unhedged[r.variants.index("linked")])
                      > 1e-9 * (1 + np.abs(r.total_unhedged[r.variants.index("linked")]))))}
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
        ax.set_xlabel(f"million {r.currency} over the horizon, vs linked without events")
        ax.legend(fontsize=8)
    ax.set_title("Effect of regulatory events on the horizon cost")
    return FigureOut("events", "Regulatory-event effects",
                     "Each event simulated alone (with versus without it, common random "
                     "numbers); the last row is the scenario's events together.",
                     _png(fig), rows)


def hedge_fig(r: FirmRisk) -> FigureOut:
    """Sd and ES 97.5 of the horizon cost: unhedged, the firm's hedges, minimum-variance."""
    fig = Figure(figsize=(7.5, 3.4))
    rows = []
    kinds = [("unhedged", "_unhedged"), ("firm's hedges", ""), ("minimum variance", "_mv_hedged")]
    cols = ["#999999", "#4c72b0", "#55a868"]
    for i, meas in enumerate(("sd", "es975")):
        ax = fig.add_subplot(1, 2, i + 1)
        x = np.arange(len(r.variants))
        for j, (name, suf) in enumerate(kinds):
            vals = [r.value(v, f"{meas}{suf}") for v in r.variants]
            ax.bar(x + (j - 1) * 0.27, vals, width=0.26, color=cols[j], label=name)
            rows += [{"variant": v, "measure": meas, "hedge": name, "value": val}
                     for v, val in zip(r.variants, vals, strict=True)]
        ax.set_xticks(x, [label(v) for v in r.variants], fontsize=7)
        ax.set_title({"sd": "standard deviation", "es975": "ES 97.5"}[meas], fontsize=9)
        ax.set_ylabel(f"million {r.currency}")
        if i == 0:
            ax.legend(fontsize=7)
    fig.suptitle("Hedging the horizon cost with futures", fontsize=10)
    return FigureOut("hedge", "Hedge analysis",
                     "Minimum-variance futures per year, jointly over the horizon "
                     "(h = Cov(p)⁻¹ Cov(p, C)), at the fair forward.", _png(fig),
                     pd.DataFrame(rows))


def all_figures(r: FirmRisk, effects: pd.DataFrame, daily: np.ndarray | None) -> list[FigureOut]:
    """Every figure of the report, in report order."""
    return [fan_chart(r, daily), emissions_hist(r), cost_hist(r), decomposition(r),
            event_effects_fig(effects, r), hedge_fig(r)]
