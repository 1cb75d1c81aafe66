"""The firm risk report: a self-contained HTML page (figures embedded as base64 PNG, no external
resources), the same numbers as JSON and CSV beside it, every file written atomically.

``<out>/report.html``, ``report.json`` (summary, risk table, event effects, hedges, each
figure's data), ``risk_table.csv`` (tidy: variant, year, measure, value, unit; year −1 =
horizon; money in the report's one unit),
``events.csv``, ``figures/<name>.png`` and ``figures/<name>.csv``; ``report.pdf`` on request
(headless Chromium).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from riskmodel.firm.cost import PRICE_QUANTILES, STRATEGIES, FirmRisk, event_effects, firm_costs
from riskmodel.firm.figures import LABELS, FigureOut, all_figures
from riskmodel.firm.firm import Firm
from riskmodel.firm.inputs import FirmInputs
from riskmodel.firm.units import money_scale, scale_value, unit_of
from riskmodel.io import atomic_write_bytes, atomic_write_json, atomic_write_text

SCHEMA = "riskmodel.firm_report/2"
#: Every variant a scenario can simulate (``simulation.variants`` names any non-empty subset).
ALL_VARIANTS = ("autarky", "linked", "linked_events")
#: Sections (HTML ids) and figures (names) every report has, in order.
SECTIONS = ("summary", "prices", "key-figures", "price-scenarios", "emissions", "cost",
            "decomposition", "events", "hedge", "method")
FIGURES = ("fan_chart", "emissions", "cost", "decomposition", "events", "hedge")
#: Horizon key figures: (measure, label); money labelled hedged or unhedged.
KEY_MEASURES = [("mean", "expected cost", "with the firm's hedges"),
                ("sd", "standard deviation", "with the firm's hedges"),
                ("var95", "VaR 95", "with the firm's hedges"),
                ("var99", "VaR 99", "with the firm's hedges"),
                ("es975", "ES 97.5", "with the firm's hedges"),
                ("car95", "cost at risk 95 (VaR 95 − mean)", "with the firm's hedges"),
                ("car95_share", "cost at risk 95 / expected cost", "with the firm's hedges"),
                ("mean_unhedged", "expected cost", "unhedged"),
                ("es975_unhedged", "ES 97.5", "unhedged"),
                ("es975_mv_hedged", "ES 97.5", "bounded min-variance hedge"),
                ("p_shortfall", "P(needs allowances beyond the bank)", "position"),
                ("bought_mean", "expected net purchase (net short), Mt", "position"),
                ("emissions_mean", "emissions after own abatement, Mt", "position"),
                ("abatement_mean", "own abatement, Mt", "position")]
YEAR_MEASURES = [("price_mean", "mean price"), ("bought_mean", "net short, Mt"),
                 ("bought_q95", "net short q95, Mt"), ("mean", "mean"), ("sd", "sd"),
                 ("var95", "VaR 95"), ("es975", "ES 97.5"), ("car95_share", "CaR 95 / mean"),
                 ("p_shortfall", "P(shortfall)")]
STRATEGY_MEASURES = [("mean", "expected cost"), ("sd", "sd"), ("var95", "VaR 95"),
                     ("es975", "ES 97.5"), ("car95", "CaR 95"),
                     ("var_reduction", "variance reduction"),
                     ("es_reduction", "ES 97.5 reduction")]
DEFINITIONS = [
    "Compliance cost per year = own abatement cost + price × allowances bought beyond the free "
    "allocation and the bank (+ penalty where it caps the price) + (forward − price) × hedged "
    "volume; the horizon cost is the (discounted) sum. Every money figure of the report (tables, "
    "charts, CSV, JSON) is in one unit, stated at the top; each is labelled with the hedges it "
    "includes: with the firm's hedges (its contracts in the firm file), unhedged, the bounded "
    "minimum-variance hedge, or a hedge of the expected net purchase.",
    "Losses are costs. VaR q = the q-quantile of the cost across paths; ES q = the mean of the "
    "worst ⌈n(1 − q)⌉ costs; cost at risk CaR 95 = VaR 95 − expected cost. P(shortfall) = "
    "probability that the firm needs more allowances than it holds in its bank (in a year; "
    "horizon: in any year). Net short = the allowances the firm expects to buy.",
    "Where the risk comes from (Shapley): v(S) = the variance of the cost with the factors outside "
    "S (price; the firm's volume; under linked with events, the change the events make to the "
    "price on the same path) fixed at their mean per year; each factor's share is its average "
    "marginal contribution over all orders, so the shares sum to 100% and interactions are "
    "shared equally between the factors in them.",
    "Minimum-variance hedge per year h* = Cov(cost, price) / Var(price) (futures bought at the "
    "fair forward, the mean price of the variant, on the unhedged cost), bounded to [0, the "
    "expected net short position] unless the firm's hedge_policy says otherwise; compared with "
    "hedging the expected net purchase and with no hedge.",
    "All variants share their random numbers (common random numbers); the firm's idiosyncratic "
    "emission shocks come from its own seeded stream, common to all variants.",
    "Money is converted from the market currency to the reporting currency at one fixed rate "
    "(the firm's fx_rate, else the scenario's); exchange-rate risk is not modelled.",
]


@dataclass
class Report:
    """A built report, not yet written."""

    html: str
    data: dict[str, Any]
    figures: list[FigureOut]
    risk: FirmRisk
    effects: pd.DataFrame
    summary: list[str]
    table: pd.DataFrame


# --------------------------------------------------------------------------- formatting


def num(x: float) -> str:
    """4 significant digits with thousands separators (tables)."""
    if x is None or not np.isfinite(x):
        return "–"
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    return f"{x:,.4g}"


@dataclass
class Unit:
    """The report's money unit: divisor of millions and its name."""

    scale: float
    name: str

    def money(self, x: float) -> str:
        """An amount given in millions, in the report's unit."""
        return "n/a" if not np.isfinite(x) else f"{num(x / self.scale)} {self.name}"


def _pct(new: float, old: float) -> str:
    return f" ({(new - old) / abs(old) * 100:+.1f}%)" if old and np.isfinite(old) else ""


def _change(new: float, old: float, u: Unit, what: str, *, plural: bool = False) -> str:
    verb = ("lower" if new < old else "raise") + ("" if plural else "s")
    return f"{verb} {what} by {u.money(abs(new - old))}{_pct(new, old)}"


def report_unit(r: FirmRisk) -> Unit:
    """One money unit for the whole report, from the largest expected unhedged cost."""
    typical = float(np.nanmax(np.abs(r.total_unhedged.mean(axis=1))))
    return Unit(*money_scale(typical, r.currency))


# --------------------------------------------------------------------------- summary


def partners(inputs: FirmInputs, market: str) -> list[str]:
    """Markets the firm's market is linked with (directly) in the scenario."""
    out = []
    for lk in inputs.scenario.all_links():
        if market in lk.markets:
            out += [m for m in lk.markets if m != market and m not in out]
    return out


def events_touch(r: FirmRisk, inputs: FirmInputs) -> bool:
    """True when the scenario has regulatory events that move the firm's market price."""
    vs = r.variants
    if not (inputs.scenario.events.links or inputs.scenario.events.markets):
        return False
    if "linked" in vs and "linked_events" in vs:
        p = r.market.price  # the linked_events solve may differ from linked by rounding only
        a, b = p[vs.index("linked")], p[vs.index("linked_events")]
        return not np.allclose(a, b, rtol=1e-9, atol=1e-9 * float(np.abs(a).max() or 1.0))
    return True


def main_variant(r: FirmRisk, inputs: FirmInputs) -> str:
    """The variant the summary describes: linked with events when events touch the market."""
    vs = r.variants
    if "linked_events" in vs and events_touch(r, inputs):
        return "linked_events"
    return "linked" if "linked" in vs else vs[0]


def summary_lines(r: FirmRisk, effects: pd.DataFrame, inputs: FirmInputs, u: Unit) -> list[str]:
    """The plain-language summary at the top of the report (every figure labelled)."""
    vs = r.variants
    span = f"{r.years[0]}–{r.years[-1]}" if len(r.years) > 1 else str(r.years[0])
    lines = []
    no_events = not events_touch(r, inputs)
    hedged = "with the firm's hedges" if r.firm.hedges else "unhedged (the firm has no hedges)"
    if "autarky" in vs and "linked" in vs:
        who = ", ".join(partners(inputs, r.firm.market)) or "its partners"
        a_m, l_m = r.value("autarky", "mean"), r.value("linked", "mean")
        a_e, l_e = r.value("autarky", "es975"), r.value("linked", "es975")
        what = f"expected compliance cost over {span}"
        lines.append(f"Linking {r.firm.market} with {who} {_change(l_m, a_m, u, what)} and "
                     f"{_change(l_e, a_e, u, 'ES 97.5')} (autarky: expected "
                     f"{u.money(a_m)}, ES 97.5 {u.money(a_e)}; {hedged}).")
    if "linked" in vs and "linked_events" in vs and no_events:
        lines.append(f"No regulatory event of the scenario moves {r.firm.market}'s price "
                     "(linked with events equals linked); run one with events on this market "
                     "for that exposure.")
    elif "linked" in vs and "linked_events" in vs:
        l_m, e_m = r.value("linked", "mean"), r.value("linked_events", "mean")
        l_e, e_e = r.value("linked", "es975"), r.value("linked_events", "es975")
        line = (f"Regulatory events (a partner restricting or ending the link, exemptions) "
                f"{_change(e_m, l_m, u, 'expected cost', plural=True)} and "
                f"{_change(e_e, l_e, u, 'ES 97.5', plural=True)} ({hedged})")
        if not effects.empty:
            top = effects.loc[effects["es975_change"].abs().idxmax()]
            line += (f"; the largest single effect on ES 97.5 is “{top['event']}” "
                     f"({'+' if top['es975_change'] >= 0 else '−'}"
                     f"{u.money(abs(top['es975_change']))})")
        lines.append(line + ".")
    main = main_variant(r, inputs)
    lab = LABELS.get(main, main)
    mean, car = r.value(main, "mean"), r.value(main, "car95")
    extra = "".join(f", {r.value(main, f'car95_per_{w}'):.1%} of {span} {w}"
                    for w in ("revenue", "ebitda") if getattr(r.firm, w) is not None)
    lines.append(f"Under {lab} the firm expects to buy {r.value(main, 'bought_mean'):,.3g} Mt "
                 f"over {span} (net short); its expected cost is {u.money(mean)} and its cost "
                 f"at risk (VaR 95 − mean) {u.money(car)}, "
                 f"{r.value(main, 'car95_share'):.0%} of the expected cost{extra} ({hedged}).")
    tot = r.value(main, "var_total")
    if tot > 0:
        parts = [("price", "var_price"), ("the firm's own volume", "var_volume")]
        if main == "linked_events" and "linked" in vs:
            parts.append(("regulatory events", "var_events"))
        lines.append(f"Under {lab}, the cost variance comes from " + ", ".join(
            f"{name} {r.value(main, m) / tot:.0%}" for name, m in parts)
            + " (Shapley shares, summing to 100%, interactions shared).")
    lines.append(
        f"A minimum-variance futures hedge bounded by the net short position "
        f"({r.value(main, 'hedge_mv_mt'):,.3g} Mt over {span}, "
        f"{r.value(main, 'hedge_mv_ratio'):.0%} of the expected purchase) changes ES 97.5 under "
        f"{lab} from {u.money(r.value(main, 'es975_unhedged'))} unhedged to "
        f"{u.money(r.value(main, 'es975_mv_hedged'))} (variance −"
        f"{r.value(main, 'var_reduction_mv_hedged'):.0%}); hedging the expected purchase gives "
        f"{u.money(r.value(main, 'es975_expected_hedged'))}"
        + (f"; the firm's own hedges give {u.money(r.value(main, 'es975'))}"
           if r.firm.hedges else "") + ".")
    lines.append(
        f"Probability of needing allowances beyond the bank in at least one year: "
        f"{r.value(main, 'p_shortfall'):.0%}; expected emissions after own abatement "
        f"{r.value(main, 'emissions_mean'):,.3g} Mt (own abatement "
        f"{r.value(main, 'abatement_mean'):,.3g} Mt) over {span}.")
    return lines


def scaled_table(r: FirmRisk, u: Unit) -> pd.DataFrame:
    """The risk table in the report's unit, with a unit column."""
    t = r.table.copy()
    t["value"] = [scale_value(m, x, u.scale) for m, x in zip(t["measure"], t["value"],
                                                              strict=True)]
    t["unit"] = [unit_of(m, r.currency, u.name, r.market.currency) for m in t["measure"]]
    return t


# --------------------------------------------------------------------------- build and write


def _img(f: FigureOut) -> str:
    b64 = base64.b64encode(f.png).decode("ascii")
    return (f'<figure id="fig-{f.name}"><img alt="{html.escape(f.title)}" '
            f'src="data:image/png;base64,{b64}"><figcaption>{html.escape(f.caption)}'
            f"</figcaption></figure>")


def _env() -> Environment:
    return Environment(loader=PackageLoader("riskmodel.firm", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=False)


def build_report(firm: Firm, inputs: FirmInputs) -> Report:
    """Costs, risk, figures and the HTML page for a firm on the given paths."""
    from riskmodel import __version__

    firm = inputs.firm or firm
    r = firm_costs(firm, inputs.market, fx=inputs.fx, currency=inputs.currency)
    absent = [v for v in ALL_VARIANTS if v not in r.variants]
    notes = list(inputs.notes)
    if absent:  # a scenario may simulate any subset (simulation.variants): say what is missing
        notes.append(f"variants not simulated (simulation.variants: "
                     f"{', '.join(r.variants)}): {', '.join(absent)}; the report shows the "
                     "variants that were, and comparisons that need a missing one are left out")
    u = report_unit(r)
    effects = event_effects(firm, inputs.per_event, fx=inputs.fx)
    figs = all_figures(r, effects, inputs.daily, u.scale, u.name, main_variant(r, inputs))
    summary = summary_lines(r, effects, inputs, u)
    t = scaled_table(r, u)
    # dropna=False: a measure that is NaN for every variant (var_events without linked_events
    # and linked; any measure of a variant subset) keeps its column, read as "–"
    wide = t.pivot_table(index=["variant", "year"], columns="measure", values="value",
                         sort=False, dropna=False)

    def val(m: str, v: str, y: int = -1) -> float:
        return float(wide.loc[(v, y), m]) if m in wide.columns else float("nan")

    def cell(m: str, v: str, y: int = -1) -> str:
        x = val(m, v, y)
        if not np.isfinite(x):
            return "–"
        if m.startswith("p_") or "_share" in m or "_reduction" in m or "_ratio" in m \
                or "_per_" in m:
            return f"{x:.1%}"
        return num(x)

    key_measures = KEY_MEASURES[:7] + [(f"car95_per_{w}", f"cost at risk 95 / {w}",
                                        "with the firm's hedges")
                                       for w in ("revenue", "ebitda")
                                       if getattr(firm, w) is not None] + KEY_MEASURES[7:]
    if not firm.hedges:  # the firm's position is its unhedged one: say so, once
        key_measures = [(m, n, "no hedges (the firm holds none)" if g.startswith("with") else g)
                        for m, n, g in key_measures if g != "unhedged"]
    key = {v: {m: cell(m, v) for m, _, _ in key_measures} for v in r.variants}
    per_year = [{"year": y, "variant": v, **{m: cell(m, v, y) for m, _ in YEAR_MEASURES}}
                for y in r.years for v in r.variants]
    qs = [f"price_q{round(q * 100):02d}" for q in PRICE_QUANTILES]
    price_rows = [{"year": y, "variant": v, "mean": cell("price_mean", v, y),
                   **{q: cell(q, v, y) for q in qs}} for y in r.years for v in r.variants]
    main = main_variant(r, inputs)
    hedge_rows = []
    for y in [*r.years, -1]:
        row = {"year": "horizon" if y == -1 else y}
        for m in ("bought_mean", "hedge_mv_free_mt", "hedge_mv_mt", "hedge_mv_ratio",
                  "sd_unhedged", "sd_mv_hedged", "var_reduction_mv_hedged", "es975_unhedged",
                  "es975_mv_hedged", "es_reduction_mv_hedged"):
            row[m] = cell(m, main, y)
        row["spot"] = num(val("bought_mean", main, y) - val("hedge_mv_mt", main, y))
        hedge_rows.append(row)
    strategies = [{"name": name, **{m: cell(f"{m}{suf}", main) for m, _ in STRATEGY_MEASURES}}
                  for suf, name in STRATEGIES.items() if suf != "" or firm.hedges]
    for row in strategies:
        if row["name"] == STRATEGIES["_unhedged"]:
            row["var_reduction"] = row["es_reduction"] = "–"
    decomp_rows = []
    for v in r.variants:
        tot = val("var_total", v)
        decomp_rows.append({"variant": v, "sd": num(np.sqrt(tot) if tot >= 0 else np.nan), **{
            k: (f"{val(f'var_{k}', v) / tot:.1%}"
                if tot > 0 and np.isfinite(val(f"var_{k}", v)) else "–")
            for k in ("price", "volume", "events")}})
    events_rows = [{"event": e["event"], "mean_change": num(e["mean_change"] / u.scale),
                    "sd_change": num(e["sd_change"] / u.scale),
                    "es975_change": num(e["es975_change"] / u.scale),
                    "p_changed": f"{e['p_changed']:.1%}"} for e in effects.to_dict("records")]
    meta = {"version": __version__, "paths": f"{inputs.market.n_paths:,}",
            "source": inputs.source,
            "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    page = _env().get_template("report.html.j2").render(
        firm=firm, market=firm.market, market_currency=inputs.market.currency,
        scenario=inputs.scenario, years=r.years, currency=r.currency, fx=r.fx,
        variants=r.variants, labels={v: LABELS.get(v, v) for v in r.variants},
        summary=summary, figs={f.name: _img(f) for f in figs}, key_measures=key_measures,
        key=key, year_measures=YEAR_MEASURES, per_year=per_year, hedge_rows=hedge_rows,
        price_rows=price_rows, quantiles=qs, strategies=strategies,
        strategy_measures=STRATEGY_MEASURES, decomp_rows=decomp_rows, main=main,
        hedges=r.hedges[r.variants.index(main)], emissions_law=inputs.emissions_law,
        events_rows=events_rows, notes=notes, definitions=DEFINITIONS, meta=meta,
        unit=u.name)
    data = {
        "schema": SCHEMA, "firm": firm.model_dump(mode="json"), "scenario": inputs.scenario.name,
        "market": firm.market, "market_currency": inputs.market.currency,
        "currency": r.currency, "fx": r.fx, "unit": u.name, "unit_in_millions": u.scale,
        "paths": inputs.market.n_paths, "years": r.years, "variants": r.variants,
        "main_variant": main, "source": inputs.source, "notes": notes,
        "variants_absent": absent,
        "emissions_law": inputs.emissions_law, "summary": summary,
        "definitions": DEFINITIONS, "table": t.to_dict("records"),
        "events": [{**e, **{k: e[k] / u.scale for k in ("mean_linked", "mean_change",
                                                         "sd_change", "es975_change")},
                    "unit": u.name} for e in effects.to_dict("records")],
        "hedges": dict(zip(r.variants, r.hedges, strict=True)),
        "figures": {f.name: {"title": f.title, "caption": f.caption,
                             "data": f.data.to_dict("records")} for f in figs},
        "generated": meta["generated"], "version": meta["version"],
    }
    return Report(page, data, figs, r, effects, summary, t)


def write_report(rep: Report, out: str | Path, *, pdf: bool = False) -> dict[str, Path]:
    """Write the report's files under ``out`` (atomically); returns name → path."""
    out = Path(out)
    files = {
        "html": atomic_write_text(out / "report.html", rep.html),
        "json": atomic_write_json(out / "report.json", rep.data),
        "csv": atomic_write_text(out / "risk_table.csv", rep.table.to_csv(index=False)),
        "events": atomic_write_text(out / "events.csv",
                                    pd.DataFrame(rep.data["events"],
                                                 columns=[*rep.effects.columns, "unit"])
                                    .to_csv(index=False)),
    }
    for f in rep.figures:
        files[f"{f.name}.png"] = atomic_write_bytes(out / "figures" / f"{f.name}.png", f.png)
        files[f"{f.name}.csv"] = atomic_write_text(out / "figures" / f"{f.name}.csv",
                                                   f.data.to_csv(index=False))
    if pdf:
        from riskmodel.firm.browser import print_pdf

        files["pdf"] = print_pdf(files["html"], out / "report.pdf")
    return files


def make_report(
    firm_file: str | Path,
    *,
    out: str | Path,
    run: str | Path | None = None,
    scenario: str | Path | None = None,
    paths: int | None = None,
    point: int = 0,
    events: bool = True,
    event_paths: int | None = None,
    pdf: bool = False,
) -> dict[str, Path]:
    """Load the firm, get the paths (run or scenario), build and write the report."""
    from riskmodel.firm.firm import load_firm
    from riskmodel.firm.inputs import load_inputs

    firm = load_firm(firm_file)
    inputs = load_inputs(firm, run=run, scenario=scenario, paths=paths, point=point,
                         events=events, event_paths_n=event_paths, firm_file=firm_file)
    return write_report(build_report(firm, inputs), out, pdf=pdf)
