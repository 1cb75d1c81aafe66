"""Loaders for every price file under ``<data_dir>/prices`` into one tidy long frame.

Each loader reads one source file in place (never copied), checks that the columns it needs
exist, parses dates explicitly (ISO or day-first, detected and reported), and returns

* the tidy frame: columns ``market, series_id, instrument, date, price, currency, source``
  (one row per non-missing price, in file order: sorting and duplicates are the job of
  :mod:`riskmodel.data.cleaning`, which reports them), and
* a :class:`ParseReport` saying what the file looked like and what the loader did with it
  (header layout, footer rows dropped, non-numeric cells, columns used and ignored).

Parsed files are cached per process on ``(loader, path, mtime, size)`` so repeated calls
(the fit layer calls :func:`riskmodel.data.series.load_series` many times) are cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskmodel import config
from riskmodel.errors import DataError

TIDY_COLUMNS = ["market", "series_id", "instrument", "date", "price", "currency", "source"]
INSTRUMENTS = ("secondary_spot", "futures_front_dec", "auction", "administrative", "forward")

SPOT, FRONT_DEC, AUCTION, ADMIN, FORWARD = INSTRUMENTS


@dataclass(frozen=True)
class ColumnSpec:
    """How one column of a source file becomes one series of the tidy frame."""

    column: str
    series_id: str
    market: str
    instrument: str
    currency: str
    frequency: str = "daily"  # daily | irregular | weekly | monthly | auction | admin
    note: str = ""


@dataclass
class ParseReport:
    """What a loader found in one file and what it did (nothing is dropped silently)."""

    file: str
    loader: str
    rows_read: int = 0
    header: str = "one header row"
    date_column: str = ""
    date_format: str = ""
    first_date: str | None = None
    last_date: str | None = None
    rows_out_of_order: int = 0
    duplicated_dates: list[str] = field(default_factory=list)
    rows_dropped: list[dict[str, Any]] = field(default_factory=list)
    non_numeric_cells: dict[str, list[str]] = field(default_factory=dict)
    #: Number of non-empty cells per column that were not numbers (dropped as no price).
    non_numeric_counts: dict[str, int] = field(default_factory=dict)
    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    columns_ignored: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


LoaderResult = tuple[pd.DataFrame, ParseReport]

# --------------------------------------------------------------------------- paths and caching

#: Source files relative to ``<data_dir>/prices``, keyed by loader name.
FILES: dict[str, str] = {
    "load_icap_allowance": "icap/allowance_price.csv",
    "load_icap_raw_secondary": "icap_raw/Secondary.csv",
    "load_clearblue_eu_ets": "clearblue/eu_ets.csv",
    "load_clearblue_uk_ets": "clearblue/uk_ets.csv",
    "load_clearblue_wci": "clearblue/WCI.csv",
    "load_clearblue_rggi": "clearblue/RGGI.csv",
    "load_clearblue_south_korea": "clearblue/south_korea.csv",
    "load_clearblue_china": "clearblue/china.csv",
    "load_clearblue_new_zealand": "clearblue/new_zealand.csv",
    "load_clearblue_washington": "clearblue/washington.csv",
    "load_clearblue_merged": "clearblue/Clearblue_market_data.csv",
    "load_hubei_refinitiv": "hubei_refinitiv/Refinitiv_HUBEI.csv",
    "load_nzu_spot": "nzu/spotprices.csv",
    "load_nzu_weekly": "nzu/weeklymeanprice.csv",
    "load_nzu_monthly": "nzu/nzu-month-price.csv",
    "load_nzu_raw": "nzu/nzu-edited-raw-prices-data.csv",
}


def prices_dir(data_dir: str | Path | None = None) -> Path:
    """``<data_dir>/prices`` (the data directory resolved by :func:`riskmodel.config.data_dir`).

    A data directory that holds none of the known price files (an empty folder, a wrong
    ``--data-dir``) is refused here, so it is not reported as a missing market or series."""
    base = config.data_dir(data_dir)
    prices = base / "prices"
    if not any((prices / rel).is_file() for rel in FILES.values()):
        raise DataError(
            "holds no price files (expected prices/<source>/<file>, such as "
            f"prices/{FILES['load_nzu_spot']}); check --data-dir or {config.ENV_DATA}",
            file=_dir_label(base), field="data_dir")
    return prices


def _dir_label(path: Path) -> str:
    """A folder as given when it lies under the working folder (``e``), else in full."""
    try:
        return str(path.relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


def _resolve(loader: str, path: str | Path | None, data_dir: str | Path | None) -> Path:
    p = Path(path) if path is not None else prices_dir(data_dir) / FILES[loader]
    if not p.is_file():
        raise DataError("price file not found", file=p, field=loader)
    return p


def _label(path: Path) -> str:
    """Short, machine-independent name of a file: ``<folder>/<file>``."""
    return f"{path.parent.name}/{path.name}"


def _cached(loader: str, parse: Callable[[Path], LoaderResult]) -> Callable[..., LoaderResult]:
    """Wrap a parser as a public loader ``f(path=None, *, data_dir=None)`` with a file cache."""

    @lru_cache(maxsize=64)
    def _parse_key(path_str: str, mtime_ns: int, size: int) -> LoaderResult:
        return parse(Path(path_str))

    def load(path: str | Path | None = None, *, data_dir: str | Path | None = None) -> LoaderResult:
        p = _resolve(loader, path, data_dir)
        st = p.stat()
        frame, report = _parse_key(str(p.resolve()), st.st_mtime_ns, st.st_size)
        return frame.copy(), ParseReport(**report.to_dict())

    load.__name__ = loader
    load.__doc__ = (parse.__doc__ or "").strip() + (
        f"\n\nDefault file: ``<data_dir>/prices/{FILES[loader]}``. Returns (tidy frame, report)."
    )
    load.cache_clear = _parse_key.cache_clear  # type: ignore[attr-defined]
    return load


# --------------------------------------------------------------------------- shared helpers

_ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_SLASH = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_YSLASH = re.compile(r"^\d{4}/\d{1,2}/\d{1,2}$")
#: Latest date a price file may hold: today plus this many days (a file written in a time zone
#: ahead of this machine's may be dated tomorrow).
MAX_DAYS_AHEAD = 1


def parse_dates(
    values: pd.Series, *, file: str, column: str, dayfirst: bool | None = None
) -> tuple[pd.Series, str]:
    """Parse a date column with an explicit, detected format; return (dates, format used).

    ISO ``YYYY-MM-DD`` and ``YYYY/MM/DD`` are unambiguous. ``D/M/YYYY`` is read day-first
    (``dayfirst=None`` or ``True``); pass ``dayfirst=False`` for month-first files. A value
    matching no format raises :class:`DataError` naming file, column and the value; so do dates
    written in more than one format and a date after today (+ ``MAX_DAYS_AHEAD``).
    """
    text = values.astype("string").str.strip()
    if len(text) == 0:
        return pd.Series([], dtype="datetime64[ns]"), "empty"
    if text.isna().any():
        bad = int(text.isna().sum())
        raise DataError(f"{bad} empty date cell(s)", file=file, field=column)
    if text.str.match(_ISO).all():
        fmt, label = "%Y-%m-%d", "ISO YYYY-MM-DD"
    elif text.str.match(_YSLASH).all():
        fmt, label = "%Y/%m/%d", "YYYY/MM/DD"
    elif text.str.match(_SLASH).all():
        if dayfirst is False:
            fmt, label = "%m/%d/%Y", "month-first M/D/YYYY"
        else:
            fmt, label = "%d/%m/%Y", "day-first D/M/YYYY"
    else:
        pats = {"ISO YYYY-MM-DD": _ISO, "YYYY/MM/DD": _YSLASH, "D/M/YYYY": _SLASH}
        hits = {name: text.str.match(p).to_numpy(dtype=bool) for name, p in pats.items()}
        bad = text[~np.logical_or.reduce(list(hits.values()))]
        if len(bad):
            raise DataError(f"unrecognised date {bad.iloc[0]!r} (row {bad.index[0]})",
                            file=file, field=column)
        # every value has a known format, but not all the same one: name the first row's
        # format and the first row in another
        first = next(name for name, hit in hits.items() if hit[0])
        other = int(np.flatnonzero(~hits[first])[0])
        second = next(name for name, hit in hits.items() if hit[other])
        raise DataError(f"dates in more than one format ({first} and {second}, e.g. "
                        f"{text.iloc[other]!r} row {text.index[other]}); write every date the "
                        "same way", file=file, field=column)
    try:
        out = pd.to_datetime(text, format=fmt).astype("datetime64[ns]")
    except (ValueError, TypeError) as exc:
        raise DataError(f"date not in format {label}: {exc}", file=file, field=column) from exc
    latest = pd.Timestamp.today().normalize() + pd.Timedelta(days=MAX_DAYS_AHEAD)
    if len(out) and out.max() > latest:  # a typo (2099 for 2019) or a forward curve, no price
        i = int(np.argmax((out > latest).to_numpy()))
        raise DataError(f"{out.iloc[i].date()} (row {text.index[i]}) is in the future; a price "
                        "file holds observed prices", file=file, field=column)
    return out, label


#: Range of a price cell, in any currency per tonne: the calibrations' largest starting price
#: (riskmodel.fit.calibration_schema.MAX_PRICE, 1e7) and the scenarios' smallest price level
#: (a thousandth of a unit; the real files' smallest positive price is 0.01, the EUA of 2007).
#: Zero and negative prices are the cleaning's (rule non_positive), not refused here.
MAX_PRICE, MIN_PRICE = 1e7, 1e-3


def _numeric(col: pd.Series, report: ParseReport, name: str) -> pd.Series:
    """Numbers from a column; non-empty cells that are not numbers are reported, then NaN.
    An infinite price (``inf``, or a number too large for a float) is refused, and so is a
    finite one outside ``MIN_PRICE``..``MAX_PRICE`` (zero and below: the cleaning's)."""
    if pd.api.types.is_numeric_dtype(col):
        num = col.astype(float)
    else:
        text = col.astype("string").str.strip()
        num = pd.to_numeric(text, errors="coerce").astype(float)
        bad = text[num.isna() & text.notna() & (text != "") & (text.str.upper() != "NA")]
        if len(bad):
            report.non_numeric_cells[name] = sorted(set(bad.astype(str)))[:10]
            report.non_numeric_counts[name] = int(len(bad))
    values = num.to_numpy()
    inf = np.isinf(values)
    if inf.any():
        i = int(np.argmax(inf))
        raise DataError(f"{num.iloc[i]:g} (row {col.index[i]}) is not a finite price",
                        file=report.file, field=name)
    # a finite number no carbon price reaches (1e308, 5e-324) is a typo: kept, it became a
    # return of hundreds of log points that the fits met as "no model converged"
    with np.errstate(invalid="ignore"):
        absurd = (values > MAX_PRICE) | ((values > 0) & (values < MIN_PRICE))
    if absurd.any():
        i = int(np.argmax(absurd))
        what = (f"above {MAX_PRICE:g}, beyond any carbon price" if values[i] > MAX_PRICE else
                f"positive but below {MIN_PRICE:g}, under any carbon price")
        raise DataError(f"{float(num.iloc[i])!r} (row {col.index[i]}) is {what} in any "
                        "currency per tonne; fix the cell (or empty it: no price that day)",
                        file=report.file, field=name)
    return num


def _require(frame: pd.DataFrame, columns: Iterable[str], file: str) -> None:
    for c in columns:
        if c not in frame.columns:
            raise DataError("required column missing", file=file, field=c)


def _read_csv(path: Path, **kw: Any) -> pd.DataFrame:
    """A price file as text cells: only an empty cell is missing (pandas' default NA words,
    'nan', 'NULL', 'N/A', '-1.#IND', ... would silently drop a price; as text they are
    refused as non-numbers, like 'abc')."""
    kw = {"keep_default_na": False, "na_values": [""], **kw}
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **kw)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                        f"{exc.start}); a CSV file is expected", file=_short(path)) from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"unreadable CSV ({exc.__class__.__name__}: {exc})",
                        file=_short(path)) from None


def _short(path: Path) -> str:
    """``<source folder>/<file>`` as the other price-file errors name a file."""
    return f"{path.parent.name}/{path.name}"


def _empty_tidy() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else
                                      float if c == "price" else object) for c in TIDY_COLUMNS})


def _tidy(
    dates: pd.Series,
    frame: pd.DataFrame,
    specs: Iterable[ColumnSpec],
    report: ParseReport,
    *,
    source: str,
) -> pd.DataFrame:
    """Melt the spec'd columns of a wide frame into the tidy long form (NaN = no price)."""
    parts = []
    for spec in specs:
        values = _numeric(frame[spec.column], report, spec.column)
        ok = values.notna().to_numpy()
        n = int(ok.sum())
        report.series[spec.series_id] = {
            "column": spec.column, "market": spec.market, "instrument": spec.instrument,
            "currency": spec.currency, "frequency": spec.frequency, "n": n,
            **({"note": spec.note} if spec.note else {}),
        }
        if n == 0:
            report.notes.append(f"column {spec.column!r} has no prices; series {spec.series_id} "
                                "left out")
            continue
        parts.append(pd.DataFrame({
            "market": spec.market, "series_id": spec.series_id, "instrument": spec.instrument,
            "date": dates.to_numpy()[ok], "price": values.to_numpy()[ok],
            "currency": spec.currency, "source": f"{source}#{spec.column}",
        }))
    if not parts:
        return _empty_tidy()
    out = pd.concat(parts, ignore_index=True)
    out["date"] = out["date"].astype("datetime64[ns]")
    return out[TIDY_COLUMNS]


def _date_facts(dates: pd.Series, report: ParseReport) -> None:
    """Record range, order and duplicates of a file's date column (repairs happen in cleaning)."""
    if len(dates) == 0:
        return
    report.first_date = str(dates.min().date())
    report.last_date = str(dates.max().date())
    report.rows_out_of_order = int((dates.diff().dt.days < 0).sum())
    dup = dates[dates.duplicated(keep=False)].drop_duplicates()
    report.duplicated_dates = [str(d.date()) for d in dup]


def _simple_wide(
    path: Path,
    loader: str,
    date_col: str,
    specs: list[ColumnSpec],
    ignored: dict[str, str] | None = None,
    *,
    dayfirst: bool | None = None,
) -> LoaderResult:
    """Shared parser for one-header-row wide files: a date column and one column per series."""
    file = _label(path)
    raw = _read_csv(path, dtype={date_col: "string"} if date_col else None)
    report = ParseReport(file=file, loader=loader, rows_read=len(raw), date_column=date_col)
    _require(raw, [date_col, *[s.column for s in specs]], file)
    dates, report.date_format = parse_dates(raw[date_col], file=file, column=date_col,
                                            dayfirst=dayfirst)
    _date_facts(dates, report)
    used = {date_col, *[s.column for s in specs]}
    for c in raw.columns:
        if c not in used:
            report.columns_ignored[c] = (ignored or {}).get(c, "not a price series")
    return _tidy(dates, raw, specs, report, source=f"prices/{file}"), report


# --------------------------------------------------------------------------- ICAP explorer

#: ICAP system name (column prefix) -> (series slug, market, instrument, currency, note).
ICAP_SYSTEMS: dict[str, tuple[str, str, str, str, str]] = {
    "European Union": ("eu", "eu_ets", SPOT, "EUR",
                       "Phase I spot until 2008-03-20, Phase II+ from 2008-03-25"),
    "California": ("california", "california", AUCTION, "USD", "quarterly auction settlement"),
    "Québec": ("quebec", "quebec", AUCTION, "CAD", "auction settlement"),
    "Ontario": ("ontario", "ontario", AUCTION, "CAD", "auction settlement 2017-18"),
    "New Zealand": ("new_zealand", "nz_ets", SPOT, "NZD", "daily secondary NZU"),
    "Kazakhstan": ("kazakhstan", "kazakhstan", SPOT, "KZT", "empty in the export"),
    "South Korea": ("south_korea", "k_ets", SPOT, "KRW", "daily KAU secondary (KRX)"),
    "Switzerland": ("switzerland", "swiss_ets", AUCTION, "CHF", "CHU auctions, irregular"),
    "RGGI": ("rggi", "rggi", AUCTION, "USD", "quarterly auction clearing price"),
    "Nova Scotia": ("nova_scotia", "nova_scotia", AUCTION, "CAD", "auction"),
    "United Kingdom": ("uk", "uk_ets", AUCTION, "GBP", "UKA auction clearing prices"),
    "China": ("china", "china_ets", SPOT, "CNY", "CEA daily closing (national ETS)"),
    "Germany": ("germany_nehs", "germany_nehs", ADMIN, "EUR",
                "nEHS fixed-price national ETS (25/30 EUR): administrative, not a market price"),
    "Washigton": ("washington", "washington", AUCTION, "USD", "auction (column typo in source)"),
    "Shenzhen": ("shenzhen", "shenzhen", SPOT, "CNY", "pilot, daily"),
    "Shanghai": ("shanghai", "shanghai", SPOT, "CNY", "pilot, daily"),
    "Beijing": ("beijing", "beijing", SPOT, "CNY", "pilot, daily"),
    "Guangdong": ("guangdong", "guangdong", SPOT, "CNY", "pilot, daily"),
    "Tianjin": ("tianjin", "tianjin", SPOT, "CNY", "pilot, daily"),
    "Hubei": ("hubei", "hubei", SPOT, "CNY", "pilot, daily"),
    "Chongqing": ("chongqing", "chongqing", SPOT, "CNY", "pilot, daily"),
    "Fujian": ("fujian", "fujian", SPOT, "CNY", "pilot, daily"),
}
_ICAP_CCY = re.compile(r"\(([A-Z ]*)\)\s*$")


def _parse_icap_allowance(path: Path) -> LoaderResult:
    """ICAP Allowance Price Explorer: one row per calendar day, one column per system."""
    loader, file = "load_icap_allowance", _label(path)
    raw = _read_csv(path, dtype={"Date": "string"})
    _require(raw, ["Date"], file)
    report = ParseReport(file=file, loader=loader, rows_read=len(raw), date_column="Date")
    dates, report.date_format = parse_dates(raw["Date"], file=file, column="Date")
    _date_facts(dates, report)
    specs = []
    for system, (slug, market, instr, ccy, note) in ICAP_SYSTEMS.items():
        cols = [c for c in raw.columns if c.startswith(f"{system}_Allowance Price")]
        if len(cols) != 1:
            raise DataError("required column missing", file=file,
                            field=f"{system}_Allowance Price_Domestic Currency (...)")
        m = _ICAP_CCY.search(cols[0])
        label = (m.group(1).strip() if m else "")
        if label and label != ccy:
            raise DataError(f"currency {label} in header, expected {ccy}", file=file,
                            field=cols[0])
        if not label:
            note = f"{note}; currency blank in header, {ccy} assumed (domestic)"
        freq = {AUCTION: "auction", ADMIN: "admin"}.get(instr, "daily")
        specs.append(ColumnSpec(cols[0], f"icap.{slug}", market, instr, ccy, freq, note))
    used = {"Date", *[s.column for s in specs]}
    for c in raw.columns:
        if c in used:
            continue
        report.columns_ignored[c] = ("row index" if c.startswith("Unnamed")
                                     else "placeholder system (no prices)")
    all_na = int(raw.drop(columns=[c for c in raw.columns if c not in used or c == "Date"])
                 .isna().all(axis=1).sum())
    report.notes.append(f"{all_na} calendar days without any price (weekends, holidays)")
    return _tidy(dates, raw, specs, report, source=f"prices/{file}"), report


load_icap_allowance = _cached("load_icap_allowance", _parse_icap_allowance)


# --------------------------------------------------------------------------- ICAP raw export

#: ICAP raw block (system header) -> (slug, market, expected currency).
ICAP_RAW_BLOCKS: dict[str, tuple[str, str, str]] = {
    "New Zealand Emissions Trading System": ("nz", "nz_ets", "NZD"),
    "European Union Emissions Trading System": ("eu", "eu_ets", "EUR"),
    "Korean Emissions Trading System": ("kr", "k_ets", "KRW"),
    "United Kingdom Emissions Trading Scheme": ("uk", "uk_ets", "GBP"),
    "China National Emissions Trading System": ("cn", "china_ets", "CNY"),
    "Hubei (Pilot) Emissions Trading System": ("hubei", "hubei", "CNY"),
}
_RAW_FIELDS: dict[str, tuple[str, str, str]] = {
    # field -> (series suffix, instrument, frequency)
    "Primary Market": ("primary", AUCTION, "auction"),
    "Secondary Market": ("secondary", SPOT, "daily"),
    "Primary Stability 1": ("primary_stability_1", ADMIN, "admin"),
    "Primary Stability 2": ("primary_stability_2", ADMIN, "admin"),
    "Primary Stability 3": ("primary_stability_3", ADMIN, "admin"),
    "Secondary Stability 5": ("secondary_stability_5", ADMIN, "admin"),
}


def read_icap_raw(path: Path) -> tuple[pd.DataFrame, pd.Series, ParseReport]:
    """Read the two-header-row ICAP raw export: (wide frame with (system, field) columns,
    parsed dates, report). The system level is forward-filled across each block."""
    file = _label(path)
    raw = _read_csv(path, header=[0, 1], dtype=str)
    report = ParseReport(file=file, loader="load_icap_raw_secondary", rows_read=len(raw),
                         header="two header rows (system, field); system forward-filled")
    systems, fields, current = [], [], ""
    for top, sub in raw.columns:
        if not str(top).startswith("Unnamed"):
            current = str(top)
        sub = "" if str(sub).startswith("Unnamed") else str(sub)
        systems.append(current if sub and sub != "Date" else "")
        fields.append(sub)
    raw.columns = pd.MultiIndex.from_arrays([systems, fields])
    if ("", "Date") not in raw.columns:
        raise DataError("required column missing", file=file, field="Date")
    missing = [s for s in ICAP_RAW_BLOCKS if s not in set(systems)]
    if missing:
        raise DataError("required system block missing", file=file, field=missing[0])
    report.date_column = "Date"
    dates, report.date_format = parse_dates(raw[("", "Date")], file=file, column="Date")
    _date_facts(dates, report)
    empty = [c for c in raw.columns if c[1] == ""]
    raw = raw.drop(columns=empty)
    report.columns_ignored["(unnamed separators)"] = f"{len(empty)} empty separator columns"
    return raw, dates, report


def _parse_icap_raw(path: Path) -> LoaderResult:
    """ICAP raw export: primary (auction), secondary and stability levels for six systems."""
    raw, dates, report = read_icap_raw(path)
    file = report.file
    flat = pd.DataFrame(index=raw.index)
    specs = []
    for system, (slug, market, ccy) in ICAP_RAW_BLOCKS.items():
        block = raw[system]
        _require(block, ["Primary Market", "Secondary Market", "Market Currency"], file)
        labels = set(block["Market Currency"].dropna().str.strip())
        if labels - {ccy}:
            raise DataError(f"currency {sorted(labels - {ccy})} in {system}, expected {ccy}",
                            file=file, field="Market Currency")
        for fld in block.columns:
            if fld in _RAW_FIELDS:
                suffix, instr, freq = _RAW_FIELDS[fld]
                if slug == "eu" and instr == AUCTION:
                    freq = "daily"  # EU auctions are held (almost) every trading day
                name = f"{system} | {fld}"
                flat[name] = block[fld]
                note = ("ICAP stability / trigger level, not a traded price"
                        if instr == ADMIN else "")
                specs.append(ColumnSpec(name, f"icap_raw.{slug}_{suffix}", market, instr, ccy,
                                        freq, note))
            elif fld.startswith("Exchange rate"):
                report.columns_ignored[f"{system} | {fld}"] = "monthly FX (riskmodel.data.fx)"
            elif fld == "Market Currency":
                report.columns_ignored[f"{system} | {fld}"] = f"currency label, checked = {ccy}"
            else:
                report.columns_ignored[f"{system} | {fld}"] = "unknown field"
    if report.rows_out_of_order:
        report.notes.append(f"{report.rows_out_of_order} rows out of date order in the file "
                            "(appended at the end); sorted in cleaning")
    return _tidy(dates, flat, specs, report, source=f"prices/{file}"), report


load_icap_raw_secondary = _cached("load_icap_raw_secondary", _parse_icap_raw)


# --------------------------------------------------------------------------- Clearblue


def _cb(loader: str, specs: list[ColumnSpec], ignored: dict[str, str] | None = None
        ) -> Callable[..., LoaderResult]:
    def parse(path: Path) -> LoaderResult:
        return _simple_wide(path, loader, "DateTime", specs, ignored)

    parse.__doc__ = (f"Clearblue Markets export ``{FILES[loader]}`` "
                     "(DateTime, one column per series).")
    return _cached(loader, parse)


_CB_FD = "front-December continuation; roll-day jumps not adjusted"
_CB_FM = "front-month futures (ICE), the nearest contract: closest to spot"

load_clearblue_eu_ets = _cb("load_clearblue_eu_ets", [
    ColumnSpec("Front December - ICE", "clearblue.eua_front_dec", "eu_ets", FRONT_DEC, "EUR",
               note=_CB_FD),
    ColumnSpec("Front Month - ICE", "clearblue.eua_front_month", "eu_ets", FORWARD, "EUR",
               note=_CB_FM),
    ColumnSpec("Auction Price - ICE/EEX", "clearblue.eua_auction", "eu_ets", AUCTION, "EUR",
               "daily", "daily auctions; year-end placeholders before 2013 (PROVENANCE)"),
])
load_clearblue_uk_ets = _cb("load_clearblue_uk_ets", [
    ColumnSpec("Front December - ICE", "clearblue.uka_front_dec", "uk_ets", FRONT_DEC, "GBP",
               note=_CB_FD),
    ColumnSpec("Auction Price - ICE", "clearblue.uka_auction", "uk_ets", AUCTION, "GBP",
               "auction"),
])
load_clearblue_wci = _cb("load_clearblue_wci", [
    ColumnSpec("CCA - Front December - ICE", "clearblue.cca_front_dec", "california", FRONT_DEC,
               "USD", note=_CB_FD),
    ColumnSpec("CCA - Spot - Evolution Markets", "clearblue.cca_spot", "california", SPOT, "USD"),
    ColumnSpec("Auction Current Vintage - Spot - ARB", "clearblue.cca_auction_current",
               "california", AUCTION, "USD", "auction", "joint CARB/Quebec auction settlement"),
    ColumnSpec("Auction Future Vintage - Spot - ARB", "clearblue.cca_auction_advance",
               "california", AUCTION, "USD", "auction", "advance auction settlement"),
    ColumnSpec("Floor - Spot - ARB", "clearblue.cca_floor", "california", ADMIN, "USD", "admin",
               "auction reserve price: administrative step function"),
    ColumnSpec("CCO3 - Spot - Evolution Markets", "clearblue.cco3_spot", "california", SPOT,
               "USD", note="offset credit, not an allowance"),
    ColumnSpec("CCO8 - Spot - Evolution Markets", "clearblue.cco8_spot", "california", SPOT,
               "USD", note="offset credit, not an allowance"),
    ColumnSpec("Golden CCO - Spot - Evolution Markets", "clearblue.golden_cco_spot", "california",
               SPOT, "USD", note="offset credit, not an allowance"),
    ColumnSpec("DEBS CCO-0 – Front Month – Nodal", "clearblue.debs_cco_front_month",
               "california", FORWARD, "USD", note="offset futures"),
])
load_clearblue_rggi = _cb("load_clearblue_rggi", [
    ColumnSpec("Front Month - ICE", "clearblue.rga_front_month", "rggi", FORWARD, "USD",
               note=_CB_FM + "; USD per short ton"),
    ColumnSpec("Front December - ICE", "clearblue.rga_front_dec", "rggi", FRONT_DEC, "USD",
               note=_CB_FD + "; only from 2021-10"),
    ColumnSpec("Auction Clearing Price - Spot", "clearblue.rga_auction", "rggi", AUCTION, "USD",
               "auction"),
    ColumnSpec("Cost Containment Reserve Price", "clearblue.rga_ccr_price", "rggi", ADMIN, "USD",
               "admin", "cost containment reserve trigger: administrative step function"),
])
load_clearblue_south_korea = _cb("load_clearblue_south_korea", [
    ColumnSpec("KAU Closing Price", "clearblue.kau", "k_ets", SPOT, "KRW", note="KRX close"),
    ColumnSpec("KCU Closing Price", "clearblue.kcu", "k_ets", SPOT, "KRW",
               note="converted offset credits"),
    ColumnSpec("KOC20-22 Closing Price", "clearblue.koc20_22", "k_ets", SPOT, "KRW",
               note="offset credits"),
    ColumnSpec("KOC21-23 Closing Price", "clearblue.koc21_23", "k_ets", SPOT, "KRW",
               note="offset credits"),
    ColumnSpec("I-KCU20 Closing Price", "clearblue.i_kcu20", "k_ets", SPOT, "KRW",
               note="illiquid (constant)"),
    ColumnSpec("I-KCU21 Closing Price", "clearblue.i_kcu21", "k_ets", SPOT, "KRW",
               note="illiquid (constant)"),
    ColumnSpec("I-KOC20-22 Closing Price", "clearblue.i_koc20_22", "k_ets", SPOT, "KRW",
               note="illiquid (constant)"),
    ColumnSpec("I-KOC21-23 Closing Price", "clearblue.i_koc21_23", "k_ets", SPOT, "KRW",
               note="illiquid (constant)"),
])
load_clearblue_china = _cb("load_clearblue_china", [
    ColumnSpec("CEA Closing Price", "clearblue.cea", "china_ets", SPOT, "CNY"),
])
load_clearblue_new_zealand = _cb(
    "load_clearblue_new_zealand",
    [ColumnSpec("NZUs - Spot", "clearblue.nzu_spot", "nz_ets", SPOT, "NZD")]
    + [ColumnSpec(f"NZUs - April {y}", f"clearblue.nzu_apr{y}", "nz_ets", FORWARD, "NZD",
                  note="forward for April delivery") for y in range(2022, 2030)],
    {"NZU Volatility Prices - Percentages": "a volatility in percent, not a price"},
)
load_clearblue_washington = _cb("load_clearblue_washington", [
    ColumnSpec("Washington Carbon Allowance Front December", "clearblue.wca_front_dec",
               "washington", FRONT_DEC, "USD", note=_CB_FD),
    ColumnSpec("Washington Carbon Allowance Front Month", "clearblue.wca_front_month",
               "washington", FORWARD, "USD", note=_CB_FM),
])


def _parse_clearblue_merged(path: Path) -> LoaderResult:
    """The repository author's merged Clearblue file (one headline series per market)."""
    specs = [
        ColumnSpec("EUA", "clearblue_merged.eua", "eu_ets", FRONT_DEC, "EUR",
                   note="= EUA Front December"),
        ColumnSpec("UKA", "clearblue_merged.uka", "uk_ets", FRONT_DEC, "GBP"),
        ColumnSpec("CCA", "clearblue_merged.cca", "california", FRONT_DEC, "USD",
                   note="= CCA Front December"),
        ColumnSpec("RGGI", "clearblue_merged.rggi", "rggi", FORWARD, "USD",
                   note="= RGGI Front Month"),
        ColumnSpec("KAU", "clearblue_merged.kau", "k_ets", SPOT, "KRW"),
        ColumnSpec("CEA", "clearblue_merged.cea", "china_ets", SPOT, "CNY"),
        ColumnSpec("NZU", "clearblue_merged.nzu", "nz_ets", SPOT, "NZD"),
        ColumnSpec("WCA", "clearblue_merged.wca", "washington", FRONT_DEC, "USD"),
        ColumnSpec("ACCU", "clearblue_merged.accu", "australia", SPOT, "AUD",
                   note="Australian carbon credit unit (offset), not an ETS allowance"),
    ]
    return _simple_wide(path, "load_clearblue_merged", "Date", specs,
                        {"Unnamed: 0": "row index of the merged file"})


load_clearblue_merged = _cached("load_clearblue_merged", _parse_clearblue_merged)


# --------------------------------------------------------------------------- Refinitiv Hubei


def _parse_hubei_refinitiv(path: Path) -> LoaderResult:
    """Refinitiv Hubei allowance trade prices: day-first dates, a 'Close' footer row."""
    loader, file = "load_hubei_refinitiv", _label(path)
    raw = _read_csv(path, dtype=str)
    exch, otc = "HBEHBEA (TRDPRC_1)", "HBEHBEAOTC (TRDPRC_1)"
    _require(raw, ["Date", exch, otc], file)
    report = ParseReport(file=file, loader=loader, rows_read=len(raw), date_column="Date")
    foot = raw["Date"].isna() & raw.drop(columns="Date").apply(
        lambda c: c.str.strip().eq("Close")).any(axis=1)
    for i in raw.index[foot]:
        report.rows_dropped.append({"row": int(i), "reason": "footer row of literal 'Close' cells"})
    raw = raw.loc[~foot].reset_index(drop=True)
    dates, report.date_format = parse_dates(raw["Date"], file=file, column="Date", dayfirst=True)
    _date_facts(dates, report)
    specs = [
        ColumnSpec(exch, "refinitiv.hbea", "hubei", SPOT, "CNY", note="exchange trade price"),
        ColumnSpec(otc, "refinitiv.hbea_otc", "hubei", SPOT, "CNY",
                   note="OTC/negotiated trades, very noisy: not for volatility fitting"),
    ]
    for c in raw.columns:
        if c not in {"Date", exch, otc}:
            report.columns_ignored[c] = ("FX bid (EUR based), not used: ICAP raw FX is the FX "
                                         "source" if "EUR" in c else "stray column")
    return _tidy(dates, raw, specs, report, source=f"prices/{file}"), report


load_hubei_refinitiv = _cached("load_hubei_refinitiv", _parse_hubei_refinitiv)


# --------------------------------------------------------------------------- NZU (theecanmole)


def _nzu(loader: str, series: str, freq: str, note: str) -> Callable[..., LoaderResult]:
    def parse(path: Path) -> LoaderResult:
        spec = ColumnSpec("price", f"nzu.{series}", "nz_ets", SPOT, "NZD", freq, note)
        return _simple_wide(path, loader, "date", [spec], {"week": "ISO week label"})

    parse.__doc__ = f"NZU prices (theecanmole/nzu) ``{FILES[loader]}``: {note}."
    return _cached(loader, parse)


load_nzu_spot = _nzu("load_nzu_spot", "spot", "irregular",
                     "irregular spot quotes scraped from market reports")
load_nzu_weekly = _nzu("load_nzu_weekly", "weekly_mean", "weekly",
                       "weekly mean of spot quotes (Monday of ISO week)")
load_nzu_monthly = _nzu("load_nzu_monthly", "monthly_mean", "monthly",
                        "monthly mean of spot quotes (dated the 15th)")


def _parse_nzu_raw(path: Path) -> LoaderResult:
    """NZU raw quotes whose header line is the LAST line of the file (read headerless)."""
    loader, file = "load_nzu_raw", _label(path)
    names = ["date", "price", "reference", "month", "week"]
    raw = _read_csv(path, header=None, dtype=str)
    if raw.shape[1] != len(names):
        raise DataError(f"expected {len(names)} columns, found {raw.shape[1]}", file=file,
                        field="header")
    raw.columns = names
    report = ParseReport(file=file, loader=loader, rows_read=len(raw), date_column="date",
                         header="no header row at the top")
    is_head = raw["date"].str.strip().str.lower().eq("date")
    if not is_head.any():
        report.notes.append("no header line found anywhere; column order assumed")
    for i in raw.index[is_head]:
        where = "last line" if i == raw.index[-1] else f"line {i + 1}"
        report.header = f"header on the {where} (dropped)" if where == "last line" else (
            report.header)
        report.rows_dropped.append({"row": int(i), "reason": f"header line at {where}"})
    raw = raw.loc[~is_head].reset_index(drop=True)
    dates, report.date_format = parse_dates(raw["date"], file=file, column="date")
    _date_facts(dates, report)
    spec = ColumnSpec("price", "nzu.raw", "nz_ets", SPOT, "NZD", "irregular",
                      "raw scraped quotes (same prices as spotprices.csv)")
    for c in ("reference", "month", "week"):
        report.columns_ignored[c] = "metadata"
    return _tidy(dates, raw, [spec], report, source=f"prices/{file}"), report


load_nzu_raw = _cached("load_nzu_raw", _parse_nzu_raw)


# --------------------------------------------------------------------------- everything

LOADERS: dict[str, Callable[..., LoaderResult]] = {
    name: globals()[name] for name in FILES
}


def price_file(base: Path, rel: str) -> Path | None:
    """The known price file ``rel`` under ``base``, or None when it is absent. A folder, a
    broken (or looping) link or another non-file at its place is damage, not absence: a
    ``DataError`` naming the file, the same for every command that reads it (``data summary``
    skipped it as absent while ``data show`` failed on it)."""
    path = base / rel
    if path.is_file():
        return path
    if not (path.exists() or path.is_symlink()):
        return None
    what, short = (("a broken symbolic link (its target is missing, or a loop)", "link")
                   if path.is_symlink() and not path.exists()
                   else ("a folder", "folder") if path.is_dir()
                   else ("something not a regular file", "entry"))
    raise DataError(f"{what} where the price file belongs: restore the file, or delete the "
                    f"{short} to go without it", file=rel)


class SeriesFileAbsent(DataError):
    """No loader produced the series, and a file its series may come from is absent."""


def load_all(data_dir: str | Path | None = None) -> tuple[pd.DataFrame, dict[str, ParseReport]]:
    """Every price file present under ``<data_dir>/prices``: (tidy frame, reports by file).

    A known file that is absent is reported (report with a note) and skipped; a present file
    that cannot be parsed raises :class:`DataError`. Series ids are unique across files.
    """
    base = prices_dir(data_dir)
    frames, reports = [], {}
    for name, rel in FILES.items():
        path = price_file(base, rel)
        if path is None:
            rep = ParseReport(file=rel, loader=name)
            rep.notes.append("file not present in this data directory: skipped")
            reports[rel] = rep
            continue
        frame, rep = LOADERS[name](path)
        frames.append(frame)
        reports[rel] = rep
    tidy = pd.concat(frames, ignore_index=True) if frames else _empty_tidy()
    return tidy, reports


def series_specs(data_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Series id -> metadata (file, column, market, instrument, currency, frequency, n)."""
    _, reports = load_all(data_dir)
    out: dict[str, dict[str, Any]] = {}
    for rel, rep in reports.items():
        for sid, meta in rep.series.items():
            out[sid] = {"file": rel, **meta}
    return out


def load_file_of_series(
    series_id: str, data_dir: str | Path | None = None
) -> tuple[pd.DataFrame, ParseReport]:
    """The tidy rows of one series (all dates, raw, file order) and its file's parse report."""
    prefix = series_id.split(".", 1)[0]
    candidates = [n for n in FILES if _loader_prefix(n) == prefix]
    base = prices_dir(data_dir)
    absent = []
    for name in candidates:
        path = price_file(base, FILES[name])
        if path is None:
            absent.append(FILES[name])
            continue
        frame, rep = LOADERS[name](path)
        if series_id in rep.series:
            return frame[frame["series_id"] == series_id].reset_index(drop=True), rep
    if absent:  # not "no loader produces it": its file may be the one missing
        raise SeriesFileAbsent(f"unknown price series, or its file is not in the data folder "
                        f"{base}: {', '.join(absent)} (where {prefix} series are read from) "
                        f"{'is' if len(absent) == 1 else 'are'} absent", field=series_id)
    raise DataError("unknown price series (no loader produces it)", field=series_id)


def _loader_prefix(loader: str) -> str:
    if loader.startswith("load_clearblue_merged"):
        return "clearblue_merged"
    if loader.startswith("load_clearblue"):
        return "clearblue"
    if loader.startswith("load_icap_raw"):
        return "icap_raw"
    if loader.startswith("load_icap"):
        return "icap"
    if loader.startswith("load_hubei"):
        return "refinitiv"
    return "nzu"
