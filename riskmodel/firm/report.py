"""The firm risk report: a self-contained HTML page (figures embedded as base64 PNG, no external
resources), the same numbers as JSON and CSV beside it, every file written atomically.

``<out>/report.html``, ``report.json`` (summary, risk table, event effects, hedges, each
figure's data), ``risk_table.csv`` (tidy: variant, year, measure, value; year −1 = horizon),
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

from riskmodel.firm.cost import FirmRisk, event_effects, firm_costs
from riskmodel.firm.figures import LABELS, FigureOut, all_figures
from riskmodel.firm.firm import Firm
from riskmodel.firm.inputs import FirmInputs
from riskmodel.io import atomic_write_bytes, atomic_write_json, atomic_write_text

SCHEMA = "riskmodel.firm_report/1"
#: Sections (HTML ids) and figures (names) every report has, in order.
SECTIONS = ("summary", "prices", "key-figures", "emissions", "cost", "decomposition", "events",
            "hedge", "method")
FIGURES = ("fan_chart", "emissions", "cost", "decomposition", "events", "hedge")
KEY_MEASURES = [("mean", "expected cost"), ("sd", "standard deviation"), ("var95", "VaR 95"),
                ("var99", "VaR 99"), ("es975", "ES 97.5"), ("p_shortfall", "P(shortfall)"),
                ("emissions_mean", "emissions, Mt"), ("abatement_mean", "own abatement, Mt"),
                ("es975_mv_hedged", "ES 97.5, min-var hedge")]
YEAR_MEASURES = [("price_mean", "mean price"), ("bought_mean", "bought, Mt"),
                 ("mean", "mean"), ("sd", "sd"), ("var95", "VaR 95"), ("var99", "VaR 99"),
                 ("es975", "ES 97.5"), ("p_shortfall", "P(shortfall)")]
DEFINITIONS = [
    "Compliance cost per year = own abatement cost + price × allowances bought beyond the free "
    "allocation and the bank (+ penalty where it caps the price) + (forward − price) × hedged "
    "volume; the horizon cost is the (discounted) sum.",
    "Losses are costs. VaR q = the q-quantile of the cost across paths; ES q = the mean of the "
    "worst ⌈n(1 − q)⌉ costs. P(shortfall) = probability that the firm needs more allowances "
    "than it holds in its bank (in a year; horizon: in any year).",
    "Variance decomposition (sequential, same paths): price part = variance with emissions fixed "
    "at their mean per year; volume part = variance with the price fixed at its mean; "
    "interaction = the rest; events part = Var(linked with events) − Var(linked).",
    "Minimum-variance hedge h* = Cov(cost, price) / Var(price) per year (futures at the fair "
    "forward, the mean price of the variant); over the horizon all years jointly, "
    "h = Cov(p)⁻¹ Cov(p, total cost).",
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


# --------------------------------------------------------------------------- formatting


def money(x: float, ccy: str) -> str:
    """An amount in millions, in words a reader takes in at once (``1.23 bn KRW``)."""
    a = abs(x)
    if not np.isfinite(x):
        return "n/a"
    if a >= 1e6:
        return f"{x / 1e6:,.2f} tn {ccy}"
    if a >= 1e3:
        return f"{x / 1e3:,.2f} bn {ccy}"
    if a >= 1:
        return f"{x:,.1f} m {ccy}"
    return f"{x * 1e3:,.0f} thousand {ccy}"


def num(x: float) -> str:
    """4 significant digits with thousands separators (tables)."""
    if x is None or not np.isfinite(x):
        return "–"
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    return f"{x:,.4g}"


def _pct(new: float, old: float) -> str:
    return f" ({(new - old) / abs(old) * 100:+.1f}%)" if old and np.isfinite(old) else ""


def _change(new: float, old: float, ccy: str, what: str, *, plural: bool = False) -> str:
    verb = ("lower" if new < old else "raise") + ("" if plural else "s")
    return f"{verb} {what} by {money(abs(new - old), ccy)}{_pct(new, old)}"


#: Money measures of the tables (shown in ``table_unit``).
MONEY = {"mean", "sd", "var95", "var99", "es975", "es975_unhedged", "es975_mv_hedged",
         "mean_unhedged", "mean_mv_hedged", "sd_unhedged", "sd_mv_hedged"}


def table_unit(typical: float, ccy: str) -> tuple[float, str]:
    """Scale (of millions) and unit name for the tables, so numbers stay short."""
    if typical >= 1e6:
        return 1e6, f"trillion {ccy}"
    if typical >= 1e4:
        return 1e3, f"billion {ccy}"
    return 1.0, f"million {ccy}"


# --------------------------------------------------------------------------- summary


def partners(inputs: FirmInputs, market: str) -> list[str]:
    """Markets the firm's market is linked with (directly) in the scenario."""
    out = []
    for lk in inputs.scenario.all_links():
        if market in lk.markets:
            out += [m for m in lk.markets if m != market and m not in out]
    return out


def summary_lines(r: FirmRisk, effects: pd.DataFrame, inputs: FirmInputs) -> list[str]:
    """The plain-language summary at the top of the report."""
    ccy, vs = r.currency, r.variants
    span = f"{r.years[0]}–{r.years[-1]}" if len(r.years) > 1 else str(r.years[0])
    lines = []
    no_events = not (inputs.scenario.events.links or inputs.scenario.events.markets)
    if "autarky" in vs and "linked" in vs:
        who = ", ".join(partners(inputs, r.firm.market)) or "its partners"
        a_m, l_m = r.value("autarky", "mean"), r.value("linked", "mean")
        a_e, l_e = r.value("autarky", "es975"), r.value("linked", "es975")
        what = f"expected compliance cost over {span}"
        lines.append(f"Linking {r.firm.market} with {who} {_change(l_m, a_m, ccy, what)} and "
                     f"{_change(l_e, a_e, ccy, 'ES 97.5')} (autarky: expected "
                     f"{money(a_m, ccy)}, ES 97.5 {money(a_e, ccy)}).")
    if "linked" in vs and "linked_events" in vs and no_events:
        lines.append("The scenario has no regulatory events (linked with events equals linked); "
                     "run one with events (e.g. regulatory_events) for that exposure.")
    elif "linked" in vs and "linked_events" in vs:
        l_m, e_m = r.value("linked", "mean"), r.value("linked_events", "mean")
        l_e, e_e = r.value("linked", "es975"), r.value("linked_events", "es975")
        line = (f"Regulatory events (a partner restricting or ending the link, exemptions) "
                f"{_change(e_m, l_m, ccy, 'expected cost', plural=True)} and "
                f"{_change(e_e, l_e, ccy, 'ES 97.5', plural=True)}")
        if not effects.empty:
            top = effects.loc[effects["es975_change"].abs().idxmax()]
            line += (f"; the largest single effect on ES 97.5 is “{top['event']}” "
                     f"({'+' if top['es975_change'] >= 0 else '−'}"
                     f"{money(abs(top['es975_change']), ccy)})")
        lines.append(line + ".")
    main = "linked_events" if "linked_events" in vs and not no_events else \
        ("linked" if "linked" in vs else vs[0])
    tot = r.value(main, "var_total")
    if tot > 0:
        half = r.value(main, "var_interaction") / 2  # Shapley: the interaction split evenly
        lines.append(
            f"Under {LABELS.get(main, main)}, the price explains "
            f"{(r.value(main, 'var_price') + half) / tot:.0%} of the cost variance and the firm's "
            f"own volume {(r.value(main, 'var_volume') + half) / tot:.0%} (Shapley split of their "
            f"interaction, {r.value(main, 'var_interaction') / tot:.0%})"
            + (f", regulatory events {r.value(main, 'var_events') / tot:.0%}"
               if main == "linked_events" and "linked" in vs else "") + ".")
    k = vs.index(main)
    # the per-year ratio h* = Cov(C_y, p_y)/Var(p_y) is what a desk would trade; the horizon
    # hedge behind the ES figure solves all years jointly (its yearly legs can offset each other
    # because yearly prices along a path are nearly collinear, so they are not quoted here)
    h0 = r.hedge_ratio[k, 0]
    buy0 = float(r.bought[k, :, 0].mean())
    ratio = f"; expected purchase {buy0:,.3g} Mt" if buy0 > 0 else ""
    lines.append(
        f"A minimum-variance futures hedge ({h0:,.3g} Mt for {r.years[0]}{ratio}; all years "
        f"hedged jointly for the horizon) changes ES 97.5 under {LABELS.get(main, main)} from "
        f"{money(r.value(main, 'es975_unhedged'), ccy)} "
        f"to {money(r.value(main, 'es975_mv_hedged'), ccy)}"
        + (f"; the firm's own hedges give {money(r.value(main, 'es975'), ccy)}"
           if r.firm.hedges else "") + ".")
    lines.append(
        f"Probability of needing allowances beyond the bank in at least one year: "
        f"{r.value(main, 'p_shortfall'):.0%}; expected emissions after own abatement "
        f"{r.value(main, 'emissions_mean'):,.3g} Mt (own abatement "
        f"{r.value(main, 'abatement_mean'):,.3g} Mt) over {span}.")
    return lines


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

    r = firm_costs(firm, inputs.market, fx=inputs.fx, currency=inputs.currency)
    effects = event_effects(firm, inputs.per_event, fx=inputs.fx)
    figs = all_figures(r, effects, inputs.daily)
    summary = summary_lines(r, effects, inputs)
    t = r.table
    wide = t.pivot_table(index=["variant", "year"], columns="measure", values="value",
                         sort=False)
    scale, unit = table_unit(float(np.nanmax(np.abs(r.total.mean(axis=1)))), r.currency)

    def cell(m: str, x: float) -> str:
        if m in ("p_shortfall",):
            return f"{x:.1%}"
        if m == "hedge_mv_ratio":
            return f"{x:.0%}" if np.isfinite(x) else "–"
        return num(x / scale if m in MONEY else x)

    key = {v: {m: cell(m, wide.loc[(v, -1), m]) for m, _ in KEY_MEASURES} for v in r.variants}
    per_year = [{"year": y, "variant": v, **{m: cell(m, wide.loc[(v, y), m])
                                             for m, _ in YEAR_MEASURES}}
                for y in r.years for v in r.variants]
    hedge_rows = [{"year": y, "variant": v,
                   **{m: cell(m, wide.loc[(v, y), m])
                      for m in ("hedge_mv_mt", "hedge_mv_ratio", "hedge_joint_mt",
                                "es975_unhedged", "es975_mv_hedged")}}
                  for y in r.years for v in r.variants]
    events_rows = [{"event": e["event"], "mean_change": cell("mean", e["mean_change"]),
                    "sd_change": cell("sd", e["sd_change"]),
                    "es975_change": cell("es975", e["es975_change"]),
                    "p_changed": f"{e['p_changed']:.1%}"} for e in effects.to_dict("records")]
    meta = {"version": __version__, "paths": f"{inputs.market.n_paths:,}",
            "source": inputs.source,
            "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    page = _env().get_template("report.html.j2").render(
        firm=firm, market=firm.market, market_currency=inputs.market.currency,
        scenario=inputs.scenario, years=r.years, currency=r.currency, fx=r.fx,
        variants=r.variants, labels={v: LABELS.get(v, v) for v in r.variants},
        summary=summary, figs={f.name: _img(f) for f in figs}, key_measures=KEY_MEASURES,
        key=key, year_measures=YEAR_MEASURES, per_year=per_year, hedge_rows=hedge_rows,
        hedges=r.hedges[r.variants.index("linked")] if "linked" in r.variants else r.hedges[0],
        events_rows=events_rows, notes=inputs.notes, definitions=DEFINITIONS, meta=meta,
        unit=unit)
    data = {
        "schema": SCHEMA, "firm": firm.model_dump(mode="json"), "scenario": inputs.scenario.name,
        "market": firm.market, "market_currency": inputs.market.currency,
        "currency": r.currency, "fx": r.fx, "unit": f"million {r.currency}",
        "paths": inputs.market.n_paths, "years": r.years, "variants": r.variants,
        "source": inputs.source, "notes": inputs.notes, "summary": summary,
        "definitions": DEFINITIONS, "table": t.to_dict("records"),
        "events": effects.to_dict("records"),
        "hedges": dict(zip(r.variants, r.hedges, strict=True)),
        "figures": {f.name: {"title": f.title, "caption": f.caption,
                             "data": f.data.to_dict("records")} for f in figs},
        "generated": meta["generated"], "version": meta["version"],
    }
    return Report(page, data, figs, r, effects, summary)


def write_report(rep: Report, out: str | Path, *, pdf: bool = False) -> dict[str, Path]:
    """Write the report's files under ``out`` (atomically); returns name → path."""
    out = Path(out)
    files = {
        "html": atomic_write_text(out / "report.html", rep.html),
        "json": atomic_write_json(out / "report.json", rep.data),
        "csv": atomic_write_text(out / "risk_table.csv", rep.risk.table.to_csv(index=False)),
        "events": atomic_write_text(out / "events.csv", rep.effects.to_csv(index=False)),
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
