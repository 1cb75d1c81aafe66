"""Futures carry measured from the price data: the evidence for the banking rate r.

Under banking a permit is a storable asset, so a future delivering at T trades at
F = S (1+r)^τ (τ = T - t in years, r the carry rate firms bank at). We read each daily pair
(future or forward, spot or front month) of the Clearblue files in place and report the implied
annual rate (F/S)^(1/τ) - 1 by year: the median over days with τ >= 0.25 y (shorter tenors
amplify rounding). Expiries are approximated by the contract month's 15th (EUA, CCA and RGGI
December; NZU April), a fraction of a month out of τ >= 3 months.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from riskmodel import config
from riskmodel.errors import DataError


@dataclass(frozen=True)
class CarryPair:
    """One future/spot pair of a Clearblue file."""

    market: str
    file: str
    future: str
    spot: str
    month: int  # contract month (12 December, 4 April)
    year: int | None = None  # fixed delivery year (forwards); None: the front contract


PAIRS = (
    CarryPair("eu_ets", "eu_ets.csv", "Front December - ICE", "Front Month - ICE", 12),
    CarryPair(
        "california", "WCI.csv", "CCA - Front December - ICE", "CCA - Spot - Evolution Markets", 12
    ),
    CarryPair("rggi", "RGGI.csv", "Front December - ICE", "Front Month - ICE", 12),
    *(
        CarryPair("new_zealand", "new_zealand.csv", f"NZUs - April {y}", "NZUs - Spot", 4, y)
        for y in range(2022, 2030)
    ),
)


def _expiry(dates: pd.Series, month: int, year: int | None) -> pd.Series:
    """The contract's expiry: the given year, or the next contract month on or after the date."""
    if year is not None:
        return pd.Series(pd.Timestamp(year, month, 15), index=dates.index)
    this = pd.to_datetime({"year": dates.dt.year, "month": month, "day": 15})
    return this.where(this >= dates, this + pd.DateOffset(years=1))


def implied_rates(
    pair: CarryPair, data_dir: str | Path | None = None, min_tenor: float = 0.25
) -> pd.DataFrame:
    """Daily implied carry of one pair: columns date, tenor (years), rate (per year)."""
    path = config.data_dir(data_dir) / "prices" / "clearblue" / pair.file
    df = pd.read_csv(path, encoding="utf-8-sig")
    for col in ("DateTime", pair.future, pair.spot):
        if col not in df.columns:
            raise DataError(f"column {col!r} missing", file=path, field=col)
    d = pd.DataFrame(
        {
            "date": pd.to_datetime(df["DateTime"], format="%Y-%m-%d"),
            "f": pd.to_numeric(df[pair.future], errors="coerce"),
            "s": pd.to_numeric(df[pair.spot], errors="coerce"),
        }
    ).dropna()
    d = d[(d.f > 0) & (d.s > 0)]
    tenor = (_expiry(d["date"], pair.month, pair.year) - d["date"]).dt.days / 365.25
    d = d.assign(tenor=tenor)
    d = d[d.tenor >= min_tenor]
    return d.assign(rate=(d.f / d.s) ** (1.0 / d.tenor) - 1.0)[["date", "tenor", "rate"]]


def carry_table(data_dir: str | Path | None = None) -> pd.DataFrame:
    """Median implied carry (%/yr) and day counts per market and year, over every pair."""
    rows = []
    for pair in PAIRS:
        d = implied_rates(pair, data_dir)
        for year, g in d.groupby(d["date"].dt.year):
            rows.append(
                {
                    "market": pair.market,
                    "pair": f"{pair.future} / {pair.spot}",
                    "year": int(year),
                    "days": len(g),
                    "median_rate_pct": 100.0 * float(np.median(g.rate)),
                    "median_tenor_y": float(np.median(g.tenor)),
                }
            )
    return pd.DataFrame(rows)


#: The engine markets whose permits are each pair's spot instrument (California and Québec
#: allowances are the one WCI compliance instrument that the CCA contracts deliver).
ENGINE_MARKETS: dict[str, tuple[str, ...]] = {
    "eu_ets": ("eu_ets",),
    "california": ("california", "quebec"),
    "rggi": ("rggi",),
    "new_zealand": ("nz_ets",),
}
#: The years whose days set a market's carry: after EUA carry settled (2016) and up to the end
#: of the fitted samples (2022), so the engine's rate uses no data the fits did not see.
CARRY_YEARS = (2016, 2022)


def carry_calibration(data_dir: str | Path | None = None) -> dict:
    """The banking rate r per engine market: the median implied carry over every day of
    ``CARRY_YEARS`` (all pairs of the market pooled), and for markets without futures the
    median of the measured instruments' rates. Written to ``calibrations/carry.json``."""
    lo, hi = CARRY_YEARS
    rates: dict[str, float] = {}
    source: dict[str, str] = {}
    days: dict[str, int] = {}
    measured: list[float] = []
    for instrument, markets in ENGINE_MARKETS.items():
        frames = [implied_rates(p, data_dir) for p in PAIRS if p.market == instrument]
        d = pd.concat(frames)
        d = d[d["date"].dt.year.between(lo, hi)]
        if d.empty:
            raise DataError(f"no futures/spot pair with tenor >= 0.25 y in {lo}-{hi}",
                            field=instrument)
        r = float(np.median(d["rate"]))
        measured.append(r)
        first, last = d["date"].min().date(), d["date"].max().date()
        pairs = "; ".join(f"{p.file}: {p.future} / {p.spot}" for p in PAIRS
                          if p.market == instrument and p.year is None) or \
            f"{[p.file for p in PAIRS if p.market == instrument][0]}: April forwards / spot"
        for m in markets:
            rates[m] = r
            days[m] = len(d)
            source[m] = (f"median implied futures carry over {len(d)} days {first}..{last} "
                         f"({pairs}; riskmodel.banking.carry)")
    default = float(np.median(measured))
    return {
        "schema": "riskmodel.carry/1",
        "unit": "per year (fraction): r in the banking map's discounting A_k = sum (1+r)^j",
        "years": [lo, hi],
        "rates": rates,
        "days": days,
        "default": default,
        "source": {**source,
                   "default": f"median of the {len(measured)} measured instruments' rates "
                              "(markets without futures in the data)"},
    }


def main() -> None:  # pragma: no cover - a thin writer
    """``python -m riskmodel.banking.carry``: write ``calibrations/carry.json``."""
    from riskmodel.io import atomic_write_json

    d = carry_calibration()
    path = config.CALIBRATIONS_DIR / "carry.json"
    atomic_write_json(path, d)
    for m, r in d["rates"].items():
        print(f"{m:12s} r = {100 * r:.2f} %/yr  ({d['days'][m]} days)")
    print(f"{'default':12s} r = {100 * d['default']:.2f} %/yr  -> {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
