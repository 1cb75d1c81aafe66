"""Contract 1 (data -> fit): ``load_series(market or series id) -> PriceSeries``.

Which series represents each market is a committed, human-readable registry,
``data/manifests/series.yaml`` (market id -> series id, source file, column, instrument,
currency, why chosen). It holds derived metadata only, no data. ``load_series`` checks that the
registry still agrees with what the loaders produce, cleans the series
(:func:`riskmodel.data.cleaning.clean_series`) and caches the result per process on the
source file's modification time, so the fit layer can call it as often as it likes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from riskmodel import config
from riskmodel.data.cleaning import CleaningReport, clean_series
from riskmodel.data.prices import (
    SeriesFileAbsent,
    load_file_of_series,
    price_file,
    prices_dir,
)
from riskmodel.errors import DataError, InputError
from riskmodel.io import hash_series, read_yaml

REGISTRY_FILE = config.MANIFESTS_DIR / "series.yaml"
REGISTRY_SCHEMA = "riskmodel.series/1"
REGISTRY_LABEL = "data/manifests/series.yaml"
_ENTRY_KEYS = ("series_id", "file", "column", "instrument", "currency", "why")


@dataclass(frozen=True)
class RegistryEntry:
    """One market's representative series, as written in ``series.yaml``."""

    market: str
    series_id: str
    file: str
    column: str
    instrument: str
    currency: str
    why: str


@dataclass(frozen=True)
class Registry:
    """Markets with a representative series, and markets known to have no price data."""

    markets: dict[str, RegistryEntry]
    no_data: dict[str, str] = field(default_factory=dict)


@dataclass
class PriceSeries:
    """A cleaned price series and its percent log returns (see ARCHITECTURE.md, Contract 1)."""

    market: str
    series_id: str
    instrument: str
    currency: str
    source: str
    prices: pd.Series
    returns: pd.Series
    report: CleaningReport
    data_hash: str
    excluded: pd.Series
    why: str = ""
    #: Non-empty cells of the series' column that were not numbers (``1,080.5``, ``abc``),
    #: dropped while parsing, and a few of them.
    n_not_numbers: int = 0
    not_numbers: tuple[str, ...] = ()

    def refuse_not_numbers(self) -> None:
        """Refuse a series whose file had price cells that were not numbers (for ``fit``)."""
        if self.n_not_numbers:
            file, _, column = self.source.removeprefix("prices/").partition("#")
            raise DataError(
                f"{self.n_not_numbers} price cell(s) not a number (e.g. {self.not_numbers[0]!r}); "
                "fix or empty them: a fit would skip those days", file=file, field=column)


def read_registry(path: str | Path | None = None) -> Registry:
    """Parse ``series.yaml``; a missing key names the file and the market."""
    p = Path(path) if path is not None else REGISTRY_FILE
    st = p.stat() if p.is_file() else None
    if st is None:
        raise InputError("series registry not found", file=p, field="markets")
    return _read_registry(str(p), st.st_mtime_ns)


@lru_cache(maxsize=4)
def _read_registry(path: str, mtime_ns: int) -> Registry:
    doc = read_yaml(path) or {}
    if doc.get("schema") != REGISTRY_SCHEMA:
        raise InputError(f"schema must be {REGISTRY_SCHEMA!r}", file=path, field="schema")
    markets = {}
    for market, entry in (doc.get("markets") or {}).items():
        for k in _ENTRY_KEYS:
            if not isinstance(entry, dict) or k not in entry:
                raise InputError("missing key", file=path, field=f"markets.{market}.{k}")
        markets[market] = RegistryEntry(market=market, **{k: str(entry[k]).strip()
                                                          for k in _ENTRY_KEYS})
    no_data = {str(k): str(v) for k, v in (doc.get("no_data") or {}).items()}
    return Registry(markets=markets, no_data=no_data)


def representative_series(market: str) -> str:
    """Series id that represents a market (``InputError`` for an unknown market)."""
    reg = read_registry()
    if market not in reg.markets:
        raise InputError(f"no representative series for {market!r}", file=REGISTRY_LABEL,
                         field="markets")
    return reg.markets[market].series_id


def _raw_series(series_id: str, data_dir: Path) -> tuple[pd.Series, dict[str, Any], str]:
    rows, rep = load_file_of_series(series_id, data_dir)
    meta = {"file": rep.file, **rep.series[series_id]}
    meta["n_not_numbers"] = rep.non_numeric_counts.get(meta["column"], 0)
    meta["not_numbers"] = tuple(rep.non_numeric_cells.get(meta["column"], ()))
    source = str(rows["source"].iloc[0]) if len(rows) else f"prices/{rep.file}"
    if rows.empty:
        raise DataError("series has no prices in this data directory",
                        file=rep.file, field=meta["column"])
    return rows.set_index("date")["price"], meta, source


@lru_cache(maxsize=256)
def _load_cached(series_id: str, market: str, data_dir: str, why: str, _stamp: tuple
                 ) -> PriceSeries:
    raw, meta, source = _raw_series(series_id, Path(data_dir))
    res = clean_series(raw, series_id=series_id, market=market or meta["market"],
                       instrument=meta["instrument"], frequency=meta["frequency"])
    return PriceSeries(
        market=market or meta["market"], series_id=series_id, instrument=meta["instrument"],
        currency=meta["currency"], source=source, prices=res.prices, returns=res.returns,
        report=res.report, data_hash=hash_series(res.prices), excluded=res.excluded, why=why,
        n_not_numbers=meta["n_not_numbers"], not_numbers=meta["not_numbers"],
    )


def _stamp(data_dir: Path) -> tuple:
    """Modification times of every price file: the cache key that invalidates on change."""
    base = data_dir / "prices"
    return tuple(sorted((str(p.relative_to(base)), _mtime(p)) for p in base.glob("*/*.csv")))


def _mtime(path: Path) -> int:
    """A file's modification time; -1 for a broken link or an unreadable entry (the loader
    reports it, naming the file, instead of a bare OSError here)."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def load_series(market_or_series_id: str, data_dir: str | Path | None = None) -> PriceSeries:
    """The cleaned representative price series of a market (or a series by id).

    ``returns`` are percent log returns, never across a phase break, a long gap, a long stale
    run or a dropped misprint; ``report`` says what cleaning did, date by date.
    """
    name = market_or_series_id.strip()
    reg = read_registry()
    # the name first: an unknown market is refused as such, with or without a data folder
    if name in reg.markets or (name not in reg.no_data and "." in name):
        dd = config.data_dir(data_dir)
    if name in reg.markets:
        e = reg.markets[name]
        rel = e.file.removeprefix("prices/")
        prices = prices_dir(dd)  # a folder of no price files at all is refused as such
        if price_file(prices, rel) is None:  # not "unknown series": its file is gone
            raise DataError(f"not in the data folder {prices}, and it holds {name}'s "
                            f"price series {e.series_id}: restore the file, or point "
                            "--data-dir at a complete data folder", file=rel)
        ps = _load_cached(e.series_id, name, str(dd), e.why, _stamp(dd))
        _check_entry(e, ps)
    elif name in reg.no_data:
        raise DataError(f"no price data for {name}: {reg.no_data[name]}", file=REGISTRY_LABEL,
                        field=f"no_data.{name}")
    elif "." in name:
        try:
            ps = _load_cached(name, "", str(dd), "", _stamp(dd))
        except DataError as exc:
            if exc.file is not None or isinstance(exc, SeriesFileAbsent):
                raise  # a damaged or absent file of the series: said as such
            raise InputError(f"unknown price series {name!r}", field="series_id") from exc
    else:
        raise InputError(f"unknown market {name!r}; known: {', '.join(sorted(reg.markets))} "
                         "(or a series id such as 'icap.eu')", field="market")
    return replace(ps, prices=ps.prices.copy(), returns=ps.returns.copy(),
                   excluded=ps.excluded.copy())


def _check_entry(e: RegistryEntry, ps: PriceSeries) -> None:
    """The registry must agree with the loaders (file, column, instrument, currency)."""
    file, _, column = ps.source.removeprefix("prices/").partition("#")
    for key, want, got in (("file", e.file.removeprefix("prices/"), file),
                           ("column", e.column, column), ("instrument", e.instrument,
                                                          ps.instrument),
                           ("currency", e.currency, ps.currency)):
        if want != got:
            raise InputError(f"registry says {want!r} but the loader gives {got!r}",
                             file=REGISTRY_LABEL, field=f"markets.{e.market}.{key}")


def load_all_series(data_dir: str | Path | None = None) -> dict[str, PriceSeries]:
    """Every market of the registry -> its PriceSeries."""
    return {m: load_series(m, data_dir) for m in read_registry().markets}
