"""Result tables for people: every statistic with its unit, the horizon named by its years,
rounding noise shown as 0, and tables that fit the terminal's width.

The tidy result table (``SimulationResult.table``, a run's ``results.parquet``) keeps ``year``
-1 for the whole horizon (a stable key for code); :func:`add_units` adds a ``unit`` and a
``period`` column ("2024" or "2024–2026") so that each number says what it is. :func:`render`
turns one table (or a run's several sweep points) into narrow rich tables: prices, days at a
bound, quantities and money.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

#: Statistic -> unit ({cur}: the market's currency, {num}: the numeraire). Quantities are per
#: compliance year, or summed over the horizon in its row (``period`` says which).
_UNITS: dict[str, str] = {
    "price_mean": "{cur}/t", "price_sd": "{cur}/t", "price_avg_mean": "{cur}/t",
    "price_autarky_uncollared_mean": "{cur}/t",
    "volatility": "annualised sd of daily log returns",
    "p_floor": "share of days", "p_ceiling": "share of days", "p_quota": "share of days",
    "p_zero": "share of days", "p_guard": "share of days",
    "output_cv": "ratio (sd/mean)", "bau_cv": "ratio (sd/mean)",
    "gain_effort": "M {num}", "gain_risk": "M {num}", "gain_mean": "M {num}",
    "transfer_mean": "M {num}",
    "noncompliance_share": "share of path-years",
}
_MT = ("emissions_", "supply_", "flow_", "bau_mean", "bau_sd", "bank_", "noncompliance_mean")

#: A value this small relative to its column's largest (or in absolute terms) is rounding noise.
NOISE_REL, NOISE_ABS = 1e-9, 1e-10


def unit(statistic: str, currency: str | None, numeraire: str) -> str:
    """The unit of one statistic (``price_q05`` -> ``KRW/t``; ``flow_mean`` -> ``Mt``)."""
    tmpl = _UNITS.get(statistic)
    if tmpl is None and statistic.startswith("price_q"):
        tmpl = "{cur}/t"
    if tmpl is None and statistic.startswith(_MT):
        tmpl = "Mt"
    if tmpl is None:
        return ""
    return tmpl.format(cur=currency or numeraire, num=numeraire)


def period_label(year: int, start_year: int, years: int) -> str:
    """``2025`` for a compliance year, ``2024–2026`` for the whole horizon (year -1)."""
    if year == -1:
        return f"{start_year}–{start_year + years - 1}" if years > 1 else str(start_year)
    return str(year)


def add_units(table: pd.DataFrame, currencies: dict[str, str], numeraire: str,
              start_year: int, years: int) -> pd.DataFrame:
    """The table with ``unit`` and ``period`` columns (after ``statistic`` and ``year``)."""
    t = table.copy()
    t["unit"] = [unit(s, currencies.get(m), numeraire)
                 for s, m in zip(t["statistic"], t["market"], strict=True)]
    t["period"] = [period_label(int(y), start_year, years) for y in t["year"]]
    return t


def denoise(values: np.ndarray) -> np.ndarray:
    """Rounding noise to exact 0: ``|v|`` below 1e-9 of the column's largest, or below 1e-10
    (e.g. a total net flow of -6.3e-14 Mt beside flows of 60 Mt)."""
    v = np.asarray(values, dtype=float).copy()
    finite = np.isfinite(v)
    scale = float(np.max(np.abs(v[finite]))) if finite.any() else 0.0
    noise = finite & ((np.abs(v) <= NOISE_REL * scale) | (np.abs(v) < NOISE_ABS))
    v[noise] = 0.0
    return v


def fmt(v: float) -> str:
    """4 significant figures, thousands separated, no exponent for everyday magnitudes."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 1e-3:
        return f"{v:.4g}"
    return f"{v:.2e}"


def terminal_width(default: int = 100) -> int:
    """``COLUMNS`` when set (the shell's width), else ``default``."""
    try:
        return max(40, int(os.environ["COLUMNS"]))
    except (KeyError, ValueError):
        return default


# --------------------------------------------------------------------------- tables

_PRICE = [("price_mean", "mean"), ("price_q05", "5%"), ("price_q95", "95%"),
          ("volatility", "vol. (ann.)")]
_DAYS = [("p_floor", "floor"), ("p_ceiling", "ceiling"), ("p_quota", "quota binds"),
         ("p_zero", "price 0")]
_QTY = [("emissions_mean", "emissions"), ("emissions_sd", "emissions sd"),
        ("flow_mean", "net imports")]
_MONEY = [("transfer_mean", "transfers"), ("gain_mean", "gains")]
_BANK = [("bank_mean", "bank"), ("bank_sd", "bank sd"), ("noncompliance_mean", "non-compl."),
         ("noncompliance_share", "non-compl. share")]


def _wide(t: pd.DataFrame, cols: list[tuple[str, str]]) -> pd.DataFrame:
    stats = [s for s, _ in cols if s in set(t["statistic"])]
    if not stats:
        return pd.DataFrame()
    w = t[t["statistic"].isin(stats)].pivot_table(
        index=["market", "variant"], columns="statistic", values="value", sort=False,
        dropna=False)
    w = w[stats]
    for s in stats:
        w[s] = denoise(w[s].to_numpy())
    return w.dropna(how="all")


def _table(title: str, w: pd.DataFrame, cols: list[tuple[str, str]], units: dict[str, str],
           with_unit: bool = False) -> Table:
    tb = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    tb.add_column("market")
    tb.add_column("variant")
    if with_unit:
        tb.add_column("unit")
    names = dict(cols)
    for s in w.columns:
        tb.add_column(names[s], justify="right")
    for (m, var), row in w.iterrows():
        cells = [str(m), str(var)]
        if with_unit:
            cells.append(units.get(m, ""))
        tb.add_row(*cells, *[fmt(float(x)) for x in row.to_numpy()])
    return tb


def render_point(t: pd.DataFrame, *, width: int, year: int = -1,
                 period: str | None = None) -> str:
    """One result table (one sweep point) for one year or the whole horizon (year -1), as
    narrow text tables."""
    t = t[t["year"] == year]
    if "period" in t.columns and period is None and len(t):
        period = str(t["period"].iloc[0])
    period = period or ("horizon" if year == -1 else str(year))
    has_unit = "unit" in t.columns
    note = ""
    exp = t[t["variant"] == "exposure"]
    if len(exp) and np.all(denoise(exp["value"].to_numpy()) == 0):
        t = t[~t["variant"].isin(["exposure", "linked_events"])]
        note = ("linked_events equals linked on every path (no regulatory event acted): "
                "those rows and the exposure are left out.")
    price_units = {}
    money = "M numeraire"
    if has_unit:
        pu = t[t["statistic"] == "price_mean"]
        price_units = dict(zip(pu["market"], pu["unit"], strict=False))
        g = t[t["statistic"] == "gain_mean"]["unit"]
        money = str(g.iloc[0]) if len(g) else money
    con = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False,
                  legacy_windows=False)
    at = "the last compliance date" if year == -1 else "the compliance date"
    total = " total" if year == -1 else ""
    parts: list[tuple[str, list[tuple[str, str]], bool]] = [
        (f"Prices, {period} (price: at {at}, in each market's currency per tonne; vol.: "
         "annualised sd of daily log returns, 0.25 = 25%)", _PRICE, True),
        (f"Share of trading days, {period} (0-1): price at the floor / ceiling, a transfer "
         "quota binding, price 0", _DAYS, False),
        (f"Quantities, {period}{total} (Mt CO2e): emissions, their sd across paths, net "
         "permit imports", _QTY, False),
        (f"Money, {period}{total} ({money}): payments for imported permits, gains from "
         "linking", _MONEY, False),
        (f"Banking, {period} (Mt CO2e): bank at the end of the "
         f"{'horizon' if year == -1 else 'year'}, its sd across paths, "
         f"non-compliance{total} (Mt emitted without permits), share of path-years with any "
         "(0-1)", _BANK, False),
    ]
    for title, cols, with_unit in parts:
        w = _wide(t, cols)
        if w.empty:
            continue
        con.print(_table(title, w, cols, price_units, with_unit=with_unit and has_unit))
    text = con.file.getvalue()  # type: ignore[attr-defined]
    text = "\n".join(line.rstrip() for line in text.splitlines()).strip("\n") + "\n"
    if note:
        text += "\n" + _wrap(note, width) + "\n"
    return text


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width=width))


def render(results: pd.DataFrame, *, width: int | None = None,
           labels: dict[int, str] | None = None) -> str:
    """A run's results (all sweep points) or one simulation's table, for a terminal of
    ``width`` columns (default: ``COLUMNS`` or 100)."""
    width = width or terminal_width()
    if "sweep_point" not in results.columns:
        return render_point(results, width=width)
    out: list[str] = []
    points = sorted(set(results["sweep_point"]))
    for k in points:
        t = results[results["sweep_point"] == k]
        label = (labels or {}).get(int(k))
        if label is None and "sweep" in t.columns and len(t):
            label = str(t["sweep"].iloc[0])
        body = render_point(t, width=width)
        if len(points) > 1 or (label and label != "base"):
            body = _wrap(f"## sweep point {k}: {label}", width) + "\n" + body
        out.append(body)
    return "\n".join(out)
