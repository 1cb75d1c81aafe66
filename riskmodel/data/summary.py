"""``riskmodel data summary``: per price series, what the data look like and what cleaning did.

For every series of every price file: first and last date, observations, share of stale days,
longest gap, flagged outliers (misprints), large moves kept, returns kept and excluded, and
the cleaning steps date by date. Plus the per-file parse reports, the exchange-rate coverage,
and a check-list of the known traps of the data README / PROVENANCE files, each matched
against what cleaning actually did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from riskmodel.data import cleaning as cl
from riskmodel.data.fx import fx_table
from riskmodel.data.prices import load_all
from riskmodel.data.series import read_registry
from riskmodel.errors import DataError
from riskmodel.io import atomic_write_json

SCHEMA = "riskmodel.price_summary/1"


@dataclass(frozen=True)
class Trap:
    """A known data problem (from PROVENANCE) and where cleaning should show it."""

    trap: str
    series_id: str
    rule: str            # a cleaning step, or "file:<attribute>" of the file's parse report
    dates: tuple[str, ...] = ()   # dates (or [start, end] of a run/gap) given in PROVENANCE


#: Known traps, with the dates PROVENANCE gives (documentation, not output of this code).
KNOWN_TRAPS: tuple[Trap, ...] = (
    Trap("EUA Phase I collapse and jump to ~22 EUR (spot)", "icap.eu", "phase_breaks",
         ("2008-03-25",)),
    Trap("EUA Phase I -> II boundary (front December)", "clearblue.eua_front_dec",
         "phase_breaks", ("2008-01-01",)),
    Trap("Shenzhen single-day misprints / moves beyond +-50%", "icap.shenzhen", "misprints"),
    Trap("Chongqing 2019-12-26 = 13.23 between ~38 and 35.74", "icap.chongqing", "misprints",
         ("2019-12-26",)),
    Trap("Chongqing constant 31.45 from 2022-11-03", "icap.chongqing", "stale_runs",
         ("2022-11-03",)),
    Trap("Hubei 2023-11-24 = 15.48 single print", "icap.hubei", "misprints", ("2023-11-24",)),
    Trap("Tianjin constant 28.0 for 60 obs from 2022-03-16", "icap.tianjin", "stale_runs",
         ("2022-03-16",)),
    Trap("Tianjin 398-day gap ending 2019-07-17", "icap.tianjin", "gaps", ("2019-07-17",)),
    Trap("Shanghai 142-day gap ending 2016-11-18", "icap.shanghai", "gaps", ("2016-11-18",)),
    Trap("Fujian 135-day gap ending 2020-07-01", "icap.fujian", "gaps", ("2020-07-01",)),
    Trap("NZU constant 20.0 NZD for 214 obs from 2009-03-09 (ICAP)", "icap.new_zealand",
         "stale_runs", ("2009-03-09",)),
    Trap("KAU constant 10,300 KRW for 113 obs from 2015-04-23", "clearblue.kau", "stale_runs",
         ("2015-04-23",)),
    Trap("KAU constant 10,300 KRW (ICAP)", "icap.south_korea", "stale_runs", ("2015-04-23",)),
    Trap("KCU 278-day gap ending 2021-06-16", "clearblue.kcu", "gaps", ("2021-06-16",)),
    Trap("K-ETS auction 2022-07-13 = 2,400 KRW", "icap_raw.kr_primary", "misprints",
         ("2022-07-13",)),
    Trap("EU auction year-end placeholder 2011-12-31 = 13.81", "clearblue.eua_auction",
         "misprints", ("2011-12-31",)),
    Trap("EU auction 366-day gap before 2009-12-31", "clearblue.eua_auction", "gaps",
         ("2009-12-31",)),
    Trap("WCI duplicated date 2024-07-17", "clearblue.cca_front_dec", "duplicates",
         ("2024-07-17",)),
    Trap("WCI auction reserve price (floor) is administrative", "clearblue.cca_floor",
         "administrative"),
    Trap("RGGI cost containment reserve price is administrative", "clearblue.rga_ccr_price",
         "administrative"),
    Trap("Germany nEHS fixed price is administrative", "icap.germany_nehs", "administrative"),
    Trap("ICAP raw stability / trigger levels are administrative",
         "icap_raw.nz_secondary_stability_5", "administrative"),
    Trap("ICAP raw export: two header rows", "icap_raw.eu_secondary", "file:header"),
    Trap("ICAP raw export: rows not sorted", "icap_raw.hubei_secondary", "sort"),
    Trap("Refinitiv Hubei: day-first dates and 'Close' footer", "refinitiv.hbea",
         "file:date_format"),
    Trap("NZU raw quotes: header on the last line", "nzu.raw", "file:header"),
)


def _rules() -> dict[str, Any]:
    return {
        "max_gap_bdays": cl.GAP_BY_FREQUENCY,
        "stale_min_run": cl.STALE_MIN_RUN,
        "misprint": {"k": cl.MISPRINT_K, "window": cl.MISPRINT_WINDOW,
                     "min_move_log": cl.MISPRINT_MIN_MOVE, "reversal": cl.MISPRINT_REVERSAL},
        "large_move_pct": cl.LARGE_MOVE_PCT,
        "phase_breaks": {k: [vars(b) for b in v] for k, v in cl.PHASE_BREAKS.items()},
        "series_phase_breaks": {k: [vars(b) for b in v]
                                for k, v in cl.SERIES_PHASE_BREAKS.items()},
        "returns": "percent log returns 100*diff(log P), only where no rule excluded them",
    }


def _entry(sid: str, meta: dict[str, Any], res: cl.CleanResult, rep_market: bool
           ) -> dict[str, Any]:
    r = res.report
    return {
        "series_id": sid, "market": meta["market"], "instrument": meta["instrument"],
        "currency": meta["currency"], "frequency": meta["frequency"],
        "source": f"prices/{meta['file']}#{meta['column']}", "representative": rep_market,
        "first_date": r.first_date, "last_date": r.last_date,
        "n_raw": r.n_raw, "n_obs": r.n_clean, "stale_share": round(r.stale_share, 4)
        if r.n_clean > 1 else None, "longest_stale_run": r.longest_stale_run,
        "longest_gap_days": r.longest_gap_days, "longest_gap_bdays": r.longest_gap_bdays,
        "longest_gap_end": r.longest_gap_end, "n_outliers": r.n_outliers,
        "n_large_moves": r.n_large_moves, "large_moves_by_year": r.large_moves_by_year,
        "n_returns": r.n_returns, "n_returns_excluded": r.n_returns_excluded,
        "cleaning": {s.rule: {k: v for k, v in s.to_dict().items() if k != "rule"}
                     for s in r.steps},
    }


def _match(events: list[dict[str, Any]], dates: tuple[str, ...]) -> list[dict[str, Any]]:
    """Events whose date, date..end run, or (previous, date] return span holds a given date."""
    out = []
    for e in events:
        lo, hi = e["date"], e.get("end", e["date"])
        prev = e.get("previous")          # a return excluded over (previous, date]
        if any(lo <= d <= hi or (prev is not None and prev < d <= hi) for d in dates):
            out.append(e)
    return out


def _check_trap(t: Trap, series: dict[str, dict[str, Any]], files: dict[str, dict[str, Any]]
                ) -> dict[str, Any]:
    out: dict[str, Any] = {"trap": t.trap, "series_id": t.series_id, "rule": t.rule,
                           "dates": list(t.dates)}
    s = series.get(t.series_id)
    if t.rule.startswith("file:"):
        attr = t.rule.removeprefix("file:")
        rep = next((f for f in files.values() if t.series_id in f.get("series", {})), None)
        if rep is None:
            missing = [f for f in files.values() if f["loader"] == "load_nzu_raw"
                       and t.series_id == "nzu.raw"]
            out.update(status="file not in this data directory" if missing else "not found",
                       handled=None)
            return out
        out.update(status="handled", handled=True, file=rep["file"], found=rep[attr],
                   rows_dropped=rep["rows_dropped"], rows_out_of_order=rep["rows_out_of_order"])
        return out
    if s is None:
        out.update(status="series not in this data directory", handled=None)
        return out
    step = s["cleaning"].get(t.rule)
    if t.dates and s["last_date"] and min(t.dates) > s["last_date"]:
        out.update(status=f"not in this copy (data end {s['last_date']})", handled=None,
                   rule_ran=step is not None)
        return out
    if step is None:
        out.update(status="rule did not run", handled=False)
        return out
    if t.rule == "administrative":
        out.update(status="kept apart", handled=True, n_returns=s["n_returns"])
        return out
    hits = _match(step["events"], t.dates) if t.dates else step["events"]
    out.update(status="handled" if hits else "not flagged", handled=bool(hits),
               n_events=step["n"], events=hits[:10])
    if t.rule == "misprints":
        out.update(n_large_moves_kept=s["n_large_moves"],
                   large_moves_by_year=s["large_moves_by_year"])
        if not t.dates:
            out["status"] = (f"{step['n']} misprints dropped; {s['n_large_moves']} returns "
                             f"beyond {cl.LARGE_MOVE_PCT:g}% kept (not single-day reversals)")
    return out


def summarise(data_dir: str | Path | None = None, market: str | None = None
              ) -> dict[str, Any]:
    """The summary dict of every price series (optionally one market's series only)."""
    tidy, reports = load_all(data_dir)
    reg = read_registry()
    rep_ids = {e.series_id: m for m, e in reg.markets.items()}
    metas = {sid: {"file": rel, **m} for rel, r in reports.items()
             for sid, m in r.series.items()}
    series: dict[str, dict[str, Any]] = {}
    for sid, g in tidy.groupby("series_id", sort=True):
        meta = metas[sid]
        if market and meta["market"] != market and rep_ids.get(sid) != market:
            continue
        raw = pd.Series(g["price"].to_numpy(), index=pd.DatetimeIndex(g["date"]), name=sid)
        res = cl.clean_series(raw, series_id=sid, market=meta["market"],
                              instrument=meta["instrument"], frequency=meta["frequency"])
        series[sid] = _entry(sid, meta, res, sid in rep_ids)
    if market and not series:
        raise DataError(f"no price series for market {market!r}", field="market")
    files = {rel: r.to_dict() for rel, r in reports.items()}
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "note": "derived statistics of ../shared/data/prices (read in place, never copied)",
        "rules": _rules(),
        "representative": {m: e.series_id for m, e in reg.markets.items()
                           if not market or m == market},
        "n_series": len(series),
        "series": series,
        "files": files,
    }
    if not market:
        out["known_traps"] = [_check_trap(t, series, files) for t in KNOWN_TRAPS]
        try:
            out["fx"] = fx_table(data_dir).report()
        except DataError as exc:
            out["fx"] = {"error": str(exc)}
    return out


def write_summary_json(path: str | Path, summary: dict[str, Any]) -> Path:
    """Write the summary atomically (stable order: no timestamps, reproducible)."""
    return atomic_write_json(path, summary)


def summary_table(summary: dict[str, Any]) -> Any:
    """A rich Table of the per-series statistics."""
    from rich.table import Table

    t = Table(title=f"Price series ({summary['n_series']})", show_lines=False)
    for col, just in (("series", "left"), ("market", "left"), ("instrument", "left"),
                      ("ccy", "left"), ("first", "left"), ("last", "left"), ("obs", "right"),
                      ("stale", "right"), ("gap d", "right"), ("outl.", "right"),
                      (">50%", "right"), ("ret", "right"), ("excl", "right"),
                      ("cleaning", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for sid, s in summary["series"].items():
        did = ", ".join(f"{k} {v['n']}" for k, v in s["cleaning"].items()
                        if v["n"] or k == "administrative")
        stale = "" if s["stale_share"] is None else f"{s['stale_share']:.0%}"
        t.add_row(("* " if s["representative"] else "  ") + sid, s["market"], s["instrument"],
                  s["currency"], s["first_date"] or "", s["last_date"] or "", str(s["n_obs"]),
                  stale, str(s["longest_gap_days"]), str(s["n_outliers"]),
                  str(s["n_large_moves"]), str(s["n_returns"]), str(s["n_returns_excluded"]),
                  did or "-")
    return t


def traps_table(summary: dict[str, Any]) -> Any:
    """A rich Table of the known-trap check-list."""
    from rich.table import Table

    t = Table(title="Known traps (PROVENANCE) and what cleaning did")
    for col in ("trap", "series", "rule", "status"):
        t.add_column(col)
    for tr in summary.get("known_traps", []):
        t.add_row(tr["trap"], tr["series_id"], tr["rule"], tr["status"])
    return t


def dropped_lines(summary: dict[str, Any]) -> list[str]:
    """One printed line per dropped unparseable cell group and per empty series, by file.

    The JSON summary has the same facts under ``files``; the printed summary must not hide
    them (a user reading only the table would not know a price was dropped).
    """
    lines: list[str] = []
    for rel, rep in summary.get("files", {}).items():
        counts = rep.get("non_numeric_counts") or {}
        for col, cells in (rep.get("non_numeric_cells") or {}).items():
            n = counts.get(col, len(cells))
            shown = ", ".join(repr(c) for c in cells[:5])
            lines.append(f"{rel}: {col}: {n} cell(s) not a number, dropped (e.g. {shown})")
        for sid, meta in (rep.get("series") or {}).items():
            if not meta.get("n"):
                lines.append(f"{rel}: {meta.get('column', sid)}: series {sid} is empty "
                             "(no price in the column), left out")
        for row in rep.get("rows_dropped") or []:
            lines.append(f"{rel}: row {row.get('row')}: dropped ({row.get('reason')})")
    return lines
