"""Annual fundamentals per jurisdiction: real output, CO2 emissions, intensity and their growth.

One loader per third-party source (read in place from the data directory, never copied), and
``load_annual(jurisdiction)`` which joins them into the frame of Contract 1 (docs/ARCHITECTURE.md):

* ``output``: real GDP in **billion 2011 international dollars** = Maddison Project 2023 GDP per
  capita x population. Where Maddison lacks a country (EU members outside the subset shipped with
  the data) the OWID Dec-2020 release's ``gdp`` (Maddison 2018 vintage, also 2011 int-$) is used.
  EU-27 is the sum of the 27 member states, chain-linked where coverage changes.
* ``emissions``: territorial fossil CO2 (fuels + industry), **Mt CO2**, from the OWID annual series
  (Global Carbon Budget; EU-27 is OWID's own aggregate), OWID 2020 as a chain-linked fallback.
* ``intensity`` = emissions / output (kg CO2 per 2011 int-$), and the log growth rates.

Default sample: 1990 onwards. Reasons: the EU-27 members' series are complete and the post-1990
borders (German reunification, the Baltic states, Czech Republic/Slovakia, Croatia/Slovenia) are in
place; the emission-intensity trends before 1990 (oil shocks, central planning in China and the
former Eastern bloc) belong to a different regime from the one carbon markets operate in; and 1990
is the Kyoto / UNFCCC base year. That leaves about 32 annual growth rates to 2022, enough for a
covariance over 18 variables. ``start=`` changes it.

The US and Canadian series stand in for California and Québec (no state/province data here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from riskmodel.config import data_dir as resolve_data_dir
from riskmodel.errors import DataError, InputError

DEFAULT_START = 1990

OWID_2020 = "fundamentals/owid_co2_2020/owid-co2-data.csv"
OWID_ANNUAL = "fundamentals/owid_annual_co2/annual-co2-emissions-per-country.csv"
MADDISON = "fundamentals/maddison/maddison_mpd2023_subset.csv"
MADDISON_ALT = "fundamentals/maddison/maddison_mpd2023_from_rda.csv"  # name used in PROVENANCE.md
WORLDBANK = "fundamentals/worldbank_gdp/gdp.csv"
EU_ETS = "fundamentals/eu_ets_verified_emissions/eu-ets-sector-emissions.csv"

#: EU-27 member states (ISO3), post-Brexit composition.
EU27_MEMBERS: tuple[str, ...] = (
    "AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN",
    "IRL", "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP",
    "SWE",
)  # fmt: skip


@dataclass(frozen=True)
class Jurisdiction:
    """How one jurisdiction is found in each source."""

    id: str
    name: str
    iso3: tuple[str, ...]  # countries whose output is summed
    owid_entity: str  # OWID annual CO2 entity (aggregates have no code)
    owid2020_name: str  # OWID 2020 country name (aggregate fallback for emissions)
    worldbank_code: str


JURISDICTIONS: dict[str, Jurisdiction] = {
    j.id: j
    for j in (
        Jurisdiction("china", "China", ("CHN",), "China", "China", "CHN"),
        Jurisdiction("korea", "South Korea", ("KOR",), "South Korea", "South Korea", "KOR"),
        Jurisdiction("japan", "Japan", ("JPN",), "Japan", "Japan", "JPN"),
        Jurisdiction("eu27", "EU-27", EU27_MEMBERS, "European Union (27)", "EU-27", "EUU"),
        Jurisdiction("switzerland", "Switzerland", ("CHE",), "Switzerland", "Switzerland", "CHE"),
        Jurisdiction("new_zealand", "New Zealand", ("NZL",), "New Zealand", "New Zealand", "NZL"),
        Jurisdiction("uk", "United Kingdom", ("GBR",), "United Kingdom", "United Kingdom", "GBR"),
        Jurisdiction("usa", "United States", ("USA",), "United States", "United States", "USA"),
        Jurisdiction("canada", "Canada", ("CAN",), "Canada", "Canada", "CAN"),
    )
}

COLUMNS = ["output", "emissions", "intensity", "dlog_output", "dlog_intensity", "dlog_emissions"]
UNITS = {
    "output": "billion 2011 international $ (PPP)",
    "emissions": "Mt CO2 (territorial, fossil fuels and industry)",
    "intensity": "kg CO2 per 2011 international $",
    "dlog_*": "annual change in natural log (not percent)",
}


# ---------------------------------------------------------------------------------------------
# reading helpers


def _path(rel: str, data_dir: str | Path | None) -> Path:
    return resolve_data_dir(data_dir) / rel


@lru_cache(maxsize=8)
def _read_cached(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    """Parse a CSV once per (path, modification time, size); callers get copies."""
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot be read as CSV ({exc.__class__.__name__})", file=path) from exc


def _rel(path: Path) -> str:
    """A path as data-directory-relative text (``fundamentals/...``) for sources and reports."""
    parts = path.parts
    return "/".join(parts[parts.index("fundamentals") :]) if "fundamentals" in parts else str(path)


def _read_csv(path: Path, required: Sequence[str], numeric: Sequence[str]) -> pd.DataFrame:
    """Read a CSV and check it has the columns asked for, numeric where they must be."""
    if not path.is_file():
        raise DataError("file not found", file=path)
    st = path.stat()
    frame = _read_cached(str(path), st.st_mtime_ns, st.st_size).copy()
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)} (has: {', '.join(map(str, frame.columns))})",
            file=path,
            field=missing[0],
        )
    for col in numeric:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            conv = pd.to_numeric(frame[col], errors="coerce")
            bad = frame.loc[conv.isna() & frame[col].notna(), col]
            if len(bad):
                raise DataError(
                    f"non-numeric value {bad.iloc[0]!r} in row {bad.index[0] + 2}",
                    file=path,
                    field=col,
                )
            frame[col] = conv
    return frame


def _check_unique(frame: pd.DataFrame, keys: list[str], path: Path) -> None:
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        first = frame.loc[dup, keys].iloc[0].tolist()
        raise DataError(
            f"duplicate rows for {dict(zip(keys, first, strict=True))}",
            file=path,
            field="/".join(keys),
        )


# ---------------------------------------------------------------------------------------------
# one loader per source


def load_owid_co2_2020(data_dir: str | Path | None = None) -> pd.DataFrame:
    """OWID CO2 data set, Dec-2020 release: iso_code, country, year, co2 (Mt), gdp_bn, population.

    ``gdp_bn`` is OWID's ``gdp`` (Maddison 2018, 2011 int-$) in billions; it ends in 2016.
    """
    path = _path(OWID_2020, data_dir)
    f = _read_csv(
        path,
        ["iso_code", "country", "year", "co2", "gdp", "population"],
        ["year", "co2", "gdp", "population"],
    )
    _check_unique(f, ["country", "year"], path)
    out = f[["iso_code", "country", "year", "co2", "population"]].copy()
    out["gdp_bn"] = f["gdp"] / 1e9
    out["year"] = out["year"].astype(int)
    out.attrs["file"] = str(path)
    out.attrs["source"] = _rel(path)
    return out


def load_owid_annual_co2(data_dir: str | Path | None = None) -> pd.DataFrame:
    """OWID annual territorial CO2 (Global Carbon Budget): entity, code, year, co2_mt."""
    path = _path(OWID_ANNUAL, data_dir)
    f = _read_csv(path, ["Entity", "Code", "Year", "co2"], ["Year", "co2"])
    _check_unique(f, ["Entity", "Year"], path)
    out = pd.DataFrame(
        {
            "entity": f["Entity"],
            "code": f["Code"],
            "year": f["Year"].astype(int),
            "co2_mt": f["co2"] / 1e6,
        }
    )
    out.attrs["file"] = str(path)
    out.attrs["source"] = _rel(path)
    return out


def load_maddison(data_dir: str | Path | None = None) -> pd.DataFrame:
    """Maddison Project 2023: countrycode, year, gdppc (2011 int-$), pop (thousands), gdp_bn."""
    path = _path(MADDISON, data_dir)
    if not path.is_file() and _path(MADDISON_ALT, data_dir).is_file():
        path = _path(MADDISON_ALT, data_dir)
    f = _read_csv(path, ["countrycode", "year", "gdppc", "pop"], ["year", "gdppc", "pop"])
    _check_unique(f, ["countrycode", "year"], path)
    out = f[["countrycode", "year", "gdppc", "pop"]].copy()
    out["year"] = out["year"].astype(int)
    out["gdp_bn"] = out["gdppc"] * out["pop"] * 1e3 / 1e9  # pop is in thousands
    out.attrs["file"] = str(path)
    out.attrs["source"] = _rel(path)
    return out


def load_worldbank_gdp(data_dir: str | Path | None = None) -> pd.DataFrame:
    """World Bank GDP, **current** US$ (nominal; a cross-check only): code, name, year, gdp_usd."""
    path = _path(WORLDBANK, data_dir)
    f = _read_csv(path, ["Country Name", "Country Code", "Year", "Value"], ["Year", "Value"])
    _check_unique(f, ["Country Code", "Year"], path)
    out = pd.DataFrame(
        {
            "code": f["Country Code"],
            "name": f["Country Name"],
            "year": f["Year"].astype(int),
            "gdp_usd": f["Value"],
        }
    )
    out.attrs["file"] = str(path)
    out.attrs["source"] = _rel(path)
    return out


def load_eu_ets_verified(data_dir: str | Path | None = None) -> pd.DataFrame:
    """EU ETS verified emissions of the 8 largest sectors (Mt CO2e): sector, year, emissions_mt.

    Not the ETS total and not scope-consistent over time (see its PROVENANCE.md); the frame's
    ``attrs["total_8_sectors"]`` is the per-year sum.
    """
    path = _path(EU_ETS, data_dir)
    f = _read_csv(path, ["sector", "year", "emissions_mt"], ["year", "emissions_mt"])
    _check_unique(f, ["sector", "year"], path)
    out = f[["sector", "year", "emissions_mt"]].copy()
    out["year"] = out["year"].astype(int)
    out.attrs["file"] = str(path)
    out.attrs["source"] = _rel(path)
    out.attrs["total_8_sectors"] = out.groupby("year")["emissions_mt"].sum()
    return out


# ---------------------------------------------------------------------------------------------
# joining


def _chain_sum(panel: pd.DataFrame, min_share: float = 0.5) -> tuple[pd.Series, list[int]]:
    """Sum a year x member panel, chain-linking across years where some members are missing.

    Full-coverage years are plain sums. Elsewhere the aggregate's growth is that of the members
    observed in both years (a balanced pair), anchored on the nearest full-coverage year; the
    linking stops where those members are less than ``min_share`` of the aggregate. Returns the
    series and the years that were chain-linked.
    """
    panel = panel.sort_index()
    full = panel.notna().all(axis=1)
    if not full.any():
        raise DataError("no year with every member observed", field="output")
    level = panel.sum(axis=1, min_count=1).where(full)
    years = list(panel.index)
    anchor = years.index(full[full].index[-1])
    linked: list[int] = []
    for i in range(anchor + 1, len(years)):  # forward from the last full year
        if pd.isna(level.iloc[i]):
            both = panel.iloc[i].notna() & panel.iloc[i - 1].notna()
            if panel.iloc[i - 1][both].sum() < min_share * level.iloc[i - 1]:
                break
            g = panel.iloc[i][both].sum() / panel.iloc[i - 1][both].sum()
            level.iloc[i] = level.iloc[i - 1] * g
            linked.append(int(years[i]))
    first_full = years.index(full[full].index[0])
    for i in range(first_full - 1, -1, -1):  # backward from the first full year
        both = panel.iloc[i].notna() & panel.iloc[i + 1].notna()
        if panel.iloc[i + 1][both].sum() < min_share * level.iloc[i + 1]:
            break
        g = panel.iloc[i][both].sum() / panel.iloc[i + 1][both].sum()
        level.iloc[i] = level.iloc[i + 1] * g
        linked.append(int(years[i]))
    return level, sorted(linked)


def _fill_chain(primary: pd.Series, fallback: pd.Series) -> tuple[pd.Series, list[int]]:
    """Fill gaps of ``primary`` with the growth of ``fallback`` (chain-linked, no level break).

    Only across consecutive years, so benchmark-year data (1820, 1850, ...) do not become
    spurious annual growth rates.
    """
    both = pd.concat({"p": primary, "f": fallback}, axis=1).sort_index()
    s = both["p"].copy()
    linked = []
    idx = list(both.index)
    for i in range(1, len(idx)):  # forward
        if pd.isna(s.iloc[i]) and pd.notna(s.iloc[i - 1]) and idx[i] - idx[i - 1] == 1:
            f0, f1 = both["f"].iloc[i - 1], both["f"].iloc[i]
            if pd.notna(f0) and pd.notna(f1) and f0 > 0:
                s.iloc[i] = s.iloc[i - 1] * f1 / f0
                linked.append(int(idx[i]))
    for i in range(len(idx) - 2, -1, -1):  # backward
        if pd.isna(s.iloc[i]) and pd.notna(s.iloc[i + 1]) and idx[i + 1] - idx[i] == 1:
            f0, f1 = both["f"].iloc[i + 1], both["f"].iloc[i]
            if pd.notna(f0) and pd.notna(f1) and f0 > 0:
                s.iloc[i] = s.iloc[i + 1] * f1 / f0
                linked.append(int(idx[i]))
    return s, sorted(linked)


#: A report note: a text with ``{years}`` and the years it concerns (``None``: always shown).
Note = tuple[str, list[int] | None]


def _output(
    jur: Jurisdiction, data_dir: str | Path | None, report: list[Note]
) -> tuple[pd.Series, list[str]]:
    mad = load_maddison(data_dir)
    owid = load_owid_co2_2020(data_dir)
    cols: dict[str, pd.Series] = {}
    from_mad, from_owid = [], []
    for iso in jur.iso3:
        m = mad.loc[mad["countrycode"] == iso].set_index("year")["gdp_bn"].dropna()
        o = owid.loc[owid["iso_code"] == iso].set_index("year")["gdp_bn"].dropna()
        if len(m):
            s, linked = _fill_chain(m, o) if len(o) else (m, [])
            if linked:
                report.append(
                    (f"output {iso}: years {{years}} chain-linked on OWID 2020 gdp", linked)
                )
            cols[iso] = s
            from_mad.append(iso)
        elif len(o):
            cols[iso] = o
            from_owid.append(iso)
        else:
            raise DataError(
                f"no GDP for {iso} in Maddison or OWID 2020",
                file=mad.attrs["file"],
                field="countrycode",
            )
    panel = pd.DataFrame(cols)
    sources = []
    if from_mad:
        sources.append(
            f"Maddison Project 2023 gdppc x pop ({mad.attrs['source']}): {', '.join(from_mad)}"
        )
    if from_owid:
        sources.append(
            f"OWID CO2 Dec-2020 gdp, Maddison 2018 vintage ({owid.attrs['source']}): "
            f"{', '.join(from_owid)}"
        )
    if len(jur.iso3) == 1:
        return panel.iloc[:, 0].rename("output"), sources
    level, linked = _chain_sum(panel)
    if from_owid:
        owid_end = int(owid["year"][owid["gdp_bn"].notna()].max())
        report.append(
            (
                f"output {jur.name}: sum of {len(jur.iso3)} members; {len(from_mad)} from Maddison "
                f"2023 ({', '.join(from_mad)}), {len(from_owid)} from OWID 2020 gdp "
                f"({', '.join(from_owid)}; it ends {owid_end})",
                None,
            )
        )
    if linked:
        last_full = panel.dropna().index
        share = panel.loc[last_full[-1], from_mad].sum() / panel.loc[last_full[-1]].sum()
        report.append(
            (
                f"output {jur.name}: years {{years}} chain-linked on the growth of the members "
                f"observed in both years (the Maddison members were {share:.1%} of the aggregate "
                f"in {int(last_full[-1])}, the last year with every member)",
                linked,
            )
        )
    return level.rename("output"), sources


def _emissions(
    jur: Jurisdiction, data_dir: str | Path | None, report: list[Note]
) -> tuple[pd.Series, list[str]]:
    ann = load_owid_annual_co2(data_dir)
    sel = ann.loc[ann["entity"] == jur.owid_entity]
    if sel.empty:
        raise DataError(
            f"entity {jur.owid_entity!r} not found", file=ann.attrs["file"], field="Entity"
        )
    s = sel.set_index("year")["co2_mt"]
    sources = [f"OWID annual CO2, Global Carbon Budget ({ann.attrs['source']}): {jur.owid_entity}"]
    owid = load_owid_co2_2020(data_dir)
    o = owid.loc[owid["country"] == jur.owid2020_name].set_index("year")["co2"]
    full_index = s.index.union(o.index)
    s, linked = _fill_chain(s.reindex(full_index), o.reindex(full_index))
    if linked:
        report.append(
            (f"emissions {jur.name}: years {{years}} chain-linked on OWID 2020 co2", linked)
        )
        sources.append(f"OWID CO2 Dec-2020 ({owid.attrs['source']}): gaps only")
    return s.rename("emissions"), sources


def _span(years: Sequence[int]) -> str:
    """Compact text for a list of years: 2017-2022, 1995."""
    ys = sorted(years)
    parts, lo = [], ys[0]
    for a, b in zip(ys, [*ys[1:], None], strict=True):
        if b != a + 1:
            parts.append(f"{lo}" if lo == a else f"{lo}-{a}")
            lo = b
    return ", ".join(parts)


def jurisdiction(jur_id: str) -> Jurisdiction:
    """Look up a jurisdiction id, or raise an InputError listing the known ones."""
    try:
        return JURISDICTIONS[jur_id]
    except KeyError:
        raise InputError(
            f"unknown jurisdiction {jur_id!r}; known: {', '.join(JURISDICTIONS)}",
            field="jurisdiction",
        ) from None


def load_annual(
    jurisdiction_id: str,
    data_dir: str | Path | None = None,
    start: int | None = None,
    end: int | None = None,
) -> pd.DataFrame:
    """Annual output, emissions, intensity and log growth of one jurisdiction (Contract 1).

    Index ``year`` (int), consecutive, from ``start`` (``None``: 1990, see the module notes; a
    year before the data begin: the first year with both series, reported) to ``end``
    (default: the last year both series have). The first row's growth rates are NaN. A missing
    or non-positive value inside the sample is a ``DataError``. ``attrs``: ``sources``
    (output / emissions: list of str), ``report`` (what was built, filled or dropped), ``units``.
    """
    jur = jurisdiction(jurisdiction_id)
    notes: list[Note] = []
    out, out_src = _output(jur, data_dir, notes)
    emi, emi_src = _emissions(jur, data_dir, notes)
    report: list[str] = []
    both = pd.concat([out, emi], axis=1).sort_index()
    both.index = both.index.astype(int)
    both.index.name = "year"
    have = both.notna().all(axis=1) & (both > 0).all(axis=1)
    if not have.any():
        raise DataError(
            f"no year with both output and emissions for {jur.name}", field="jurisdiction"
        )
    lo, hi = int(both.index[have].min()), int(both.index[have].max())
    start = DEFAULT_START if start is None else int(start)
    if start < lo:
        report.append(f"start {start} is before the first year with both series; using {lo}")
    first = max(lo, start)
    last = hi if end is None else min(hi, end)
    trailing = both.index[(both.index > hi) & both.notna().any(axis=1)]
    if len(trailing) and last == hi:
        short = "output" if both.loc[trailing, "output"].isna().all() else "emissions"
        report.append(f"years {_span(trailing.tolist())} dropped: no {short}")
    frame = both.reindex(range(first, last + 1))
    frame.index.name = "year"
    bad = frame.index[~(frame.notna().all(axis=1) & (frame > 0).all(axis=1))]
    if len(bad):
        col = "output" if frame.loc[bad, "output"].isna().any() else "emissions"
        raise DataError(
            f"{jur.name}: missing or non-positive {col} in {_span(bad.tolist())} inside the "
            f"sample {first}-{last}",
            field=col,
        )
    if len(frame) < 2:
        raise DataError(f"{jur.name}: fewer than 2 years in {first}-{last}", field="start")
    built = []
    for text, yrs in notes:
        if yrs is None:
            built.append(text)
        elif inside := [y for y in yrs if first <= y <= last]:
            built.append(text.format(years=_span(inside)))
    report[:0] = built
    if not any(r.startswith("emissions") and "chain-linked" in r for r in report):
        emi_src = [x for x in emi_src if "gaps only" not in x]  # fallback unused in the sample
    frame["intensity"] = frame["emissions"] / frame["output"]  # Mt / bn$ = kg per $
    logs = np.log(frame[["output", "intensity", "emissions"]])
    for col in ("output", "intensity", "emissions"):
        frame[f"dlog_{col}"] = logs[col].diff()
    frame = frame[COLUMNS]
    frame.attrs["jurisdiction"] = jur.id
    frame.attrs["sources"] = {"output": out_src, "emissions": emi_src}
    frame.attrs["report"] = report
    frame.attrs["units"] = dict(UNITS)
    return frame


def load_all(
    jurisdictions: Sequence[str] | None = None,
    data_dir: str | Path | None = None,
    start: int | None = None,
) -> dict[str, pd.DataFrame]:
    """``load_annual`` for several jurisdictions (all by default)."""
    return {
        j: load_annual(j, data_dir=data_dir, start=start)
        for j in (jurisdictions or list(JURISDICTIONS))
    }
