"""Monthly exchange rates from the ICAP raw export, to express any price in EUR or USD.

``icap_raw/Secondary.csv`` carries, per system block, ``Exchange rate XXX/EUR`` and
``XXX/USD``: monthly values repeated on every row (1 unit of XXX = x EUR / USD). They are
reduced to one value per month (a month with two different values is an error). Currencies
in the file: NZD, EUR, KRW, GBP, CNY (CNY from the China-national and Hubei blocks, which
must agree where both exist), plus USD through EUR/USD.

Rules for a rate ``from -> to``:

* same currency: 1;
* to EUR or USD: the direct column; else via the other base (``X/USD / EUR/USD`` for EUR);
  USD -> EUR is ``1 / (EUR/USD)``;
* any other pair (e.g. NZD -> GBP): cross via EUR, ``(from/EUR) / (to/EUR)``;
* a currency the file lacks (CAD, CHF, JPY, ...) raises :class:`DataError` naming the file;
* a month missing inside a currency's coverage is filled from the previous month (reported in
  :func:`fx_table`); dates outside the coverage raise, unless ``extend=True`` (then the
  nearest covered month is used and the series' ``attrs['extended']`` lists those months).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.data.prices import FILES, prices_dir, read_icap_raw
from riskmodel.errors import DataError

FX_FILE = FILES["load_icap_raw_secondary"]
BASES = ("EUR", "USD")


@dataclass
class FxTable:
    """Monthly rates: columns ``XXX/EUR``, ``XXX/USD``; index monthly ``Period``."""

    rates: pd.DataFrame
    file: str
    filled: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def currencies(self) -> list[str]:
        """Currencies with at least one rate (USD included via EUR/USD)."""
        found = {c.split("/")[0] for c in self.rates.columns} | {"USD"}
        return sorted(found)

    def report(self) -> dict[str, Any]:
        """Coverage per column, months filled, notes."""
        cov = {c: [str(s.first_valid_index()), str(s.last_valid_index())]
               for c, s in self.rates.items()}
        return {"file": self.file, "coverage": cov, "filled": self.filled, "notes": self.notes}


def _build(path: Path) -> FxTable:
    raw, dates, rep = read_icap_raw(path)
    months = dates.dt.to_period("M")
    cols: dict[str, pd.Series] = {}
    notes: list[str] = []
    for system, fld in raw.columns:
        if not fld.startswith("Exchange rate "):
            continue
        pair = fld.removeprefix("Exchange rate ").strip()
        if pair == "EUR/EUR":
            continue
        v = pd.to_numeric(raw[(system, fld)], errors="coerce")
        frame = pd.DataFrame({"m": months, "v": v}).dropna()
        per = frame.groupby("m")["v"]
        if (per.nunique() > 1).any():
            bad = per.nunique()[per.nunique() > 1].index[0]
            raise DataError(f"more than one rate in month {bad}", file=rep.file,
                            field=f"{system} | {fld}")
        monthly = per.first()
        if pair in cols:
            both = pd.concat([cols[pair], monthly], axis=1, join="inner")
            if len(both) and not np.allclose(both.iloc[:, 0], both.iloc[:, 1], rtol=1e-6):
                raise DataError(f"{pair} differs between system blocks", file=rep.file,
                                field=f"{system} | {fld}")
            notes.append(f"{pair} appears in more than one block; identical where both exist")
            monthly = cols[pair].combine_first(monthly)
        cols[pair] = monthly
    if not cols:
        raise DataError("no 'Exchange rate' columns", file=rep.file, field="Exchange rate")
    rates = pd.DataFrame(cols).sort_index()
    full = pd.period_range(rates.index.min(), rates.index.max(), freq="M")
    rates = rates.reindex(full)
    filled: dict[str, list[str]] = {}
    for c in rates.columns:
        s = rates[c]
        lo, hi = s.first_valid_index(), s.last_valid_index()
        inside = s.loc[lo:hi]
        gaps = inside.index[inside.isna()]
        if len(gaps):
            filled[c] = [str(p) for p in gaps]
            rates.loc[lo:hi, c] = inside.ffill()
    return FxTable(rates=rates, file=rep.file, filled=filled, notes=sorted(set(notes)))


@lru_cache(maxsize=8)
def _cached(path_str: str, mtime_ns: int, size: int) -> FxTable:
    return _build(Path(path_str))


def fx_table(data_dir: str | Path | None = None, *, path: str | Path | None = None) -> FxTable:
    """The monthly rate table from ``<data_dir>/prices/icap_raw/Secondary.csv`` (cached)."""
    p = Path(path) if path is not None else prices_dir(data_dir) / FX_FILE
    if not p.is_file():
        raise DataError("exchange-rate file not found", file=p, field="icap_raw")
    st = p.stat()
    return _cached(str(p.resolve()), st.st_mtime_ns, st.st_size)


def _leg(tab: FxTable, ccy: str, base: str) -> pd.Series:
    """Monthly rate 1 ``ccy`` = x ``base`` for base in EUR / USD."""
    r = tab.rates
    idx = r.index
    if ccy == base:
        return pd.Series(1.0, index=idx)
    if "EUR/USD" not in r:
        raise DataError("EUR/USD rate missing", file=tab.file, field="EUR/USD")
    if ccy == "USD":          # base is EUR
        return 1.0 / r["EUR/USD"]
    if ccy == "EUR":          # base is USD
        return r["EUR/USD"]
    direct = f"{ccy}/{base}"
    if direct in r:
        return r[direct]
    other = "USD" if base == "EUR" else "EUR"
    if f"{ccy}/{other}" in r:
        return r[f"{ccy}/{other}"] * _leg(tab, other, base)
    raise DataError(f"no exchange rate for {ccy}; the file has "
                    f"{', '.join(tab.currencies)}", file=tab.file, field=ccy)


def monthly_rate(currency: str, to: str = "EUR", *, data_dir: str | Path | None = None,
                 path: str | Path | None = None) -> pd.Series:
    """Monthly rate 1 ``currency`` = x ``to`` over the months where it is defined."""
    tab = fx_table(data_dir, path=path)
    cur, to = currency.upper(), to.upper()
    for c in (cur, to):
        if c not in tab.currencies:
            raise DataError(f"no exchange rate for {c}; the file has "
                            f"{', '.join(tab.currencies)}", file=tab.file, field=c)
    if cur == to:
        out = pd.Series(1.0, index=tab.rates.index)
    elif to in BASES:
        out = _leg(tab, cur, to)
    else:
        out = _leg(tab, cur, "EUR") / _leg(tab, to, "EUR")
    return out.dropna().rename(f"{cur}/{to}")


def fx_rate(
    currency: str,
    to: str = "EUR",
    dates: Iterable[Any] | pd.DatetimeIndex | None = None,
    *,
    data_dir: str | Path | None = None,
    path: str | Path | None = None,
    extend: bool = False,
) -> pd.Series:
    """Rate 1 ``currency`` = x ``to`` on each date (the month's rate); monthly if no dates.

    A date outside the months where the rate exists raises :class:`DataError` naming the
    currency and month, unless ``extend`` (nearest covered month; listed in
    ``attrs['extended']``).
    """
    m = monthly_rate(currency, to, data_dir=data_dir, path=path)
    if dates is None:
        return m
    idx = pd.DatetimeIndex(pd.to_datetime(list(dates) if not isinstance(dates, pd.Index)
                                          else dates))
    months = idx.to_period("M")
    out = pd.Series(m.reindex(months).to_numpy(), index=idx, name=m.name)
    missing = out.isna()
    extended: list[str] = []
    if missing.any():
        if not extend or len(m) == 0:
            first = str(months[missing.to_numpy()][0])
            raise DataError(f"no {m.name} rate for {first} (rates cover {m.index.min()} .. "
                            f"{m.index.max()}); pass extend=True to use the nearest month",
                            file=fx_table(data_dir, path=path).file, field=str(m.name))
        lo, hi = m.index.min(), m.index.max()
        miss_m = months[missing.to_numpy()]
        near = [lo if p < lo else hi for p in miss_m]
        out[missing] = m.loc[near].to_numpy()
        extended = sorted({str(p) for p in miss_m})
    out.attrs["extended"] = extended
    return out


def convert(
    prices: pd.Series,
    from_ccy: str,
    to_ccy: str,
    *,
    data_dir: str | Path | None = None,
    path: str | Path | None = None,
    extend: bool = False,
) -> pd.Series:
    """Prices (DatetimeIndex) in ``from_ccy`` expressed in ``to_ccy`` at each month's rate."""
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise DataError("prices need a DatetimeIndex to convert", field=str(prices.name))
    if from_ccy.upper() == to_ccy.upper():
        return prices.astype(float).copy()
    rate = fx_rate(from_ccy, to_ccy, prices.index, data_dir=data_dir, path=path, extend=extend)
    out = (prices.astype(float) * rate.to_numpy()).rename(prices.name)
    out.attrs["currency"] = to_ccy.upper()
    out.attrs["fx_extended"] = rate.attrs.get("extended", [])
    return out


#: ECB euro foreign exchange reference rates, 2022 annual averages (units of currency per EUR),
#: for currencies the ICAP export lacks. External reference values, stated here rather than read
#: from ../shared/data; the ICAP-derived rates are used wherever the file has the currency.
ECB_2022_PER_EUR = {"CAD": 1.3695, "CHF": 1.0047, "JPY": 138.03}


#: The currencies ``fx_calibration`` takes from the ICAP export (the rest: ECB_2022_PER_EUR).
CALIBRATION_CURRENCIES = ("USD", "KRW", "CNY", "NZD", "GBP")


def fx_years(data_dir: str | Path | None = None) -> list[int]:
    """The years in which every currency of CALIBRATION_CURRENCIES has a monthly rate: those
    ``fx_calibration`` can average."""
    years: set[int] | None = None
    for ccy in CALIBRATION_CURRENCIES:
        have = {int(y) for y in monthly_rate(ccy, "EUR", data_dir=data_dir).index.year}
        years = have if years is None else years & have
    return sorted(years or ())


def fx_calibration(year: int = 2022, *, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Constant exchange rates for simulation: EUR per unit of each currency, the mean of the
    monthly ICAP rates over ``year``; currencies the file lacks come from ``ECB_2022_PER_EUR``
    and are flagged as such. Written to ``calibrations/fx.json`` by ``riskmodel data fx``."""
    rates: dict[str, float] = {"EUR": 1.0}
    origin: dict[str, str] = {"EUR": "numeraire"}
    for ccy in CALIBRATION_CURRENCIES:
        monthly = monthly_rate(ccy, "EUR", data_dir=data_dir)
        sel = monthly[monthly.index.year == year].dropna()
        if sel.empty:
            raise DataError(f"no {ccy}/EUR rate in {year}", file=FX_FILE, field=f"{ccy}/EUR")
        rates[ccy] = float(sel.mean())
        origin[ccy] = f"ICAP raw export ({FX_FILE}), mean of {len(sel)} monthly rates in {year}"
    for ccy, per_eur in ECB_2022_PER_EUR.items():
        rates[ccy] = 1.0 / per_eur
        origin[ccy] = "ECB reference rate, 2022 annual average (not in the ICAP export)"
    return {"numeraire": "EUR", "year": year, "rates": rates, "source": origin}
