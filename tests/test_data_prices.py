"""Price loaders, the series registry and ``riskmodel data summary``.

Hand-made files for each file-level trap (two header rows, header on the last line, day-first
dates with a footer, missing columns); real files through the ``data_dir`` fixture.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from riskmodel.data import prices as pr
from riskmodel.data.series import load_series, read_registry
from riskmodel.errors import DataError, InputError

# --------------------------------------------------------------------------- hand-made files

RAW_BLOCKS = [
    ("New Zealand Emissions Trading System", ["Primary Market", "Primary Stability 1",
     "Primary Stability 2", "Primary Stability 3", "Secondary Market", "Secondary Stability 5",
     "Market Currency", "Exchange rate NZD/EUR", "Exchange rate NZD/USD"]),
    ("European Union Emissions Trading System", ["Primary Market", "Secondary Market",
     "Market Currency", "Exchange rate EUR/EUR", "Exchange rate EUR/USD"]),
    ("Korean Emissions Trading System", ["Primary Market", "Secondary Market", "Market Currency",
     "Exchange rate KRW/EUR", "Exchange rate KRW/USD"]),
    ("United Kingdom Emissions Trading Scheme", ["Primary Market", "Primary Stability 1",
     "Primary Stability 2", "Secondary Market", "Market Currency", "Exchange rate GBP/EUR",
     "Exchange rate GBP/USD"]),
    ("China National Emissions Trading System", ["Primary Market", "Secondary Market",
     "Market Currency", "Exchange rate CNY/EUR", "Exchange rate CNY/USD"]),
    ("Hubei (Pilot) Emissions Trading System", ["Primary Market", "Secondary Market",
     "Market Currency", "Exchange rate CNY/EUR", "Exchange rate CNY/USD"]),
]


def write_icap_raw(path, rows: list[tuple[str, dict[tuple[int, str], object]]]) -> None:
    """Two header rows like the ICAP export (system name only above each block's first column)."""
    top, sub, keys = [""], ["Date"], [None]
    for b, (system, fields) in enumerate(RAW_BLOCKS):
        for j, f in enumerate(fields):
            top.append(f'"{system}"' if j == 0 else "")
            sub.append(f'"{f}"')
            keys.append((b, f))
        top.append("")
        sub.append("")
        keys.append(None)
    lines = [",".join(top), ",".join(sub)]
    for date, cells in rows:
        vals = [date] + ["" if k is None else str(cells.get(k, "")) for k in keys[1:]]
        lines.append(",".join(vals))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_two_row_header_unsorted_icap_raw(tmp_path):
    p = tmp_path / "icap_raw" / "Secondary.csv"
    eu = {(1, "Market Currency"): "EUR", (1, "Exchange rate EUR/EUR"): 1,
          (1, "Exchange rate EUR/USD"): 1.1}
    write_icap_raw(p, [
        ("2020-01-06", {**eu, (1, "Secondary Market"): 24.5, (1, "Primary Market"): 24.4}),
        ("2020-01-07", {**eu, (1, "Secondary Market"): 24.9}),
        ("2019-12-25", {(5, "Secondary Market"): 28.1, (5, "Market Currency"): "CNY"}),
    ])
    tidy, rep = pr.load_icap_raw_secondary(p)
    assert rep.header.startswith("two header rows")
    assert rep.rows_out_of_order == 1
    eu_sec = tidy[tidy.series_id == "icap_raw.eu_secondary"]
    assert eu_sec["price"].tolist() == [24.5, 24.9]
    assert set(eu_sec["instrument"]) == {"secondary_spot"} and set(eu_sec["currency"]) == {"EUR"}
    hub = tidy[tidy.series_id == "icap_raw.hubei_secondary"]
    assert hub["date"].tolist() == [pd.Timestamp("2019-12-25")] and hub["market"].iloc[0] == "hubei"
    assert tidy.loc[tidy.series_id == "icap_raw.eu_primary", "instrument"].tolist() == ["auction"]
    assert list(tidy.columns) == pr.TIDY_COLUMNS


def test_icap_raw_wrong_currency_names_file_and_field(tmp_path):
    p = tmp_path / "icap_raw" / "Secondary.csv"
    write_icap_raw(p, [("2020-01-06", {(2, "Secondary Market"): 30000,
                                       (2, "Market Currency"): "USD"})])
    with pytest.raises(DataError, match=r"Secondary\.csv: Market Currency: .*KRW"):
        pr.load_icap_raw_secondary(p)


def test_icap_raw_day_first_dates(tmp_path):
    p = tmp_path / "icap_raw" / "Secondary.csv"
    write_icap_raw(p, [("05/04/2017", {(5, "Secondary Market"): 15.0}),
                       ("25/12/2018", {(5, "Secondary Market"): 28.1})])
    tidy, rep = pr.load_icap_raw_secondary(p)
    assert rep.date_format.startswith("day-first")
    assert tidy["date"].tolist() == [pd.Timestamp("2017-04-05"), pd.Timestamp("2018-12-25")]


def test_header_on_last_line(tmp_path):
    p = tmp_path / "nzu-edited-raw-prices-data.csv"
    p.write_text("2010/05/14,17.75,http://a,2010-05,2010-W19\n"
                 "2010/05/21,17.5,http://b,2010-05,2010-W20\n"
                 "date,price,reference,month,week\n", encoding="utf-8")
    tidy, rep = pr.load_nzu_raw(p)
    assert rep.header == "header on the last line (dropped)"
    assert rep.rows_dropped == [{"row": 2, "reason": "header line at last line"}]
    assert tidy["price"].tolist() == [17.75, 17.5]
    assert tidy["date"].tolist() == [pd.Timestamp("2010-05-14"), pd.Timestamp("2010-05-21")]


def test_day_first_dates_and_close_footer_refinitiv(tmp_path):
    p = tmp_path / "Refinitiv_HUBEI.csv"
    p.write_text("Date,EUR= (BID),EURCNH= (BID),HBEHBEA (TRDPRC_1),HBEHBEAOTC (TRDPRC_1),"
                 "EURCNY= (BID),\n"
                 "05/4/2017,1.06,7.3,15.2,,7.31,=\n"
                 "12/4/2017,1.06,7.3,15.8,,7.31,\n"
                 ",Close,Close,Close,Close,Close,\n", encoding="utf-8")
    tidy, rep = pr.load_hubei_refinitiv(p)
    assert rep.date_format == "day-first D/M/YYYY"
    assert tidy["date"].tolist() == [pd.Timestamp("2017-04-05"), pd.Timestamp("2017-04-12")]
    assert rep.rows_dropped == [{"row": 2, "reason": "footer row of literal 'Close' cells"}]
    assert "refinitiv.hbea_otc" not in set(tidy.series_id)          # empty column left out
    assert any("hbea_otc" in n for n in rep.notes)


def test_missing_column_names_file_and_column(tmp_path):
    p = tmp_path / "eu_ets.csv"
    p.write_text('"DateTime","Auction Price - ICE/EEX","Front Month - ICE"\n"2020-01-02",,24\n')
    with pytest.raises(DataError, match=r"eu_ets\.csv: Front December - ICE: required column"):
        pr.load_clearblue_eu_ets(p)


def test_bad_date_and_missing_file_are_data_errors(tmp_path):
    p = tmp_path / "china.csv"
    p.write_text('"DateTime","CEA Closing Price"\n"2021-07-19",52.3\n"soon",53\n')
    with pytest.raises(DataError, match=r"china\.csv: DateTime: unrecognised date 'soon'"):
        pr.load_clearblue_china(p)
    with pytest.raises(DataError, match="price file not found"):
        pr.load_clearblue_china(tmp_path / "nope.csv")


def test_non_numeric_cells_reported_not_silent(tmp_path):
    p = tmp_path / "china.csv"
    p.write_text('"DateTime","CEA Closing Price"\n"2021-07-19",52.3\n"2021-07-20",err\n')
    tidy, rep = pr.load_clearblue_china(p)
    assert rep.non_numeric_cells == {"CEA Closing Price": ["err"]}
    assert tidy["price"].tolist() == [52.3]


def test_icap_admin_series_and_blank_currency(tmp_path):
    cols = [f"{s}_Allowance Price_Domestic Currency ({'EUR' if s == 'European Union' else ' '})"
            for s in pr.ICAP_SYSTEMS]
    head = '"","Date",' + ",".join(f'"{c}"' for c in cols)
    vals = {"European Union": "25.1", "Germany": "25"}
    row = ",".join(vals.get(s, "NA") for s in pr.ICAP_SYSTEMS)
    p = tmp_path / "allowance_price.csv"
    p.write_text(f'{head}\n"4",2021-10-05,{row}\n', encoding="utf-8")
    tidy, rep = pr.load_icap_allowance(p)
    g = tidy.set_index("series_id")
    assert g.loc["icap.germany_nehs", "instrument"] == "administrative"
    assert g.loc["icap.germany_nehs", "currency"] == "EUR"
    assert "blank" in rep.series["icap.germany_nehs"]["note"]
    assert g.loc["icap.eu", "instrument"] == "secondary_spot"


def test_cache_invalidates_when_file_changes(tmp_path):
    p = tmp_path / "china.csv"
    p.write_text('"DateTime","CEA Closing Price"\n"2021-07-19",52.3\n')
    a, _ = pr.load_clearblue_china(p)
    a.loc[0, "price"] = -1.0                                       # callers get copies
    assert pr.load_clearblue_china(p)[0]["price"].tolist() == [52.3]
    p.write_text('"DateTime","CEA Closing Price"\n"2021-07-19",60.0\n')
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert pr.load_clearblue_china(p)[0]["price"].tolist() == [60.0]


def test_parse_dates_formats():
    s, f = pr.parse_dates(pd.Series(["2010/05/14"]), file="f", column="c")
    assert f == "YYYY/MM/DD" and s.iloc[0] == pd.Timestamp("2010-05-14")
    s, f = pr.parse_dates(pd.Series(["3/4/2020"]), file="f", column="c", dayfirst=False)
    assert s.iloc[0] == pd.Timestamp("2020-03-04")
    with pytest.raises(DataError, match="f: c: date not in format"):
        pr.parse_dates(pd.Series(["31/02/2020"]), file="f", column="c")


def test_registry_is_well_formed():
    reg = read_registry()
    required = {"eu_ets", "k_ets", "china_ets", "nz_ets", "california", "rggi", "uk_ets",
                "beijing", "shanghai", "guangdong", "shenzhen", "tianjin", "hubei",
                "chongqing", "fujian", "swiss_ets", "quebec", "ontario", "washington"}
    assert required <= set(reg.markets)
    for m in ("swiss_ets", "quebec", "ontario"):
        assert reg.markets[m].instrument == "auction"
    assert all(e.instrument in pr.INSTRUMENTS for e in reg.markets.values())


def test_unknown_market_is_input_error():
    with pytest.raises(InputError, match="unknown market 'atlantis'"):
        load_series("atlantis")


# --------------------------------------------------------------------------- real files


@pytest.mark.realdata
def test_load_all_real_files(data_dir):
    tidy, reports = pr.load_all(data_dir)
    assert list(tidy.columns) == pr.TIDY_COLUMNS
    assert set(tidy["instrument"]) <= set(pr.INSTRUMENTS)
    assert (tidy["price"].notna()).all()
    present = [r for r in reports.values() if r.rows_read]
    assert len(present) >= 14
    # every series id belongs to exactly one file
    owners = {}
    for rel, r in reports.items():
        for sid in r.series:
            assert sid not in owners, (sid, rel, owners.get(sid))
            owners[sid] = rel
    assert reports["icap_raw/Secondary.csv"].rows_out_of_order > 0         # trap present
    assert reports["hubei_refinitiv/Refinitiv_HUBEI.csv"].date_format.startswith("day-first")


@pytest.mark.realdata
def test_every_registered_market_resolves(data_dir):
    for market, e in read_registry().markets.items():
        s = load_series(market, data_dir)
        assert s.series_id == e.series_id and s.market == market
        assert len(s.prices) >= 5 and (s.prices > 0).all()
        assert s.prices.index.is_monotonic_increasing and s.prices.index.is_unique
        assert not s.returns.isna().any()
        # identity: returns are 100 dlog P between consecutive cleaned prices
        full = 100 * np.log(s.prices).diff()
        assert np.allclose(s.returns, full.loc[s.returns.index])
        assert s.report.n_returns == len(s.returns)


@pytest.mark.realdata
def test_eua_never_returns_across_phase_break(data_dir):
    fd = load_series("eu_ets", data_dir)
    assert fd.instrument == "futures_front_dec" and fd.currency == "EUR"
    first_2008 = fd.prices.loc["2008"].index[0]
    assert first_2008 not in fd.returns.index
    spot = load_series("icap.eu", data_dir)
    assert spot.prices.loc[:"2008-03-20"].min() <= 0.02                   # Phase I collapse
    assert pd.Timestamp("2008-03-25") in spot.prices.index
    assert pd.Timestamp("2008-03-25") not in spot.returns.index


@pytest.mark.realdata
def test_load_series_cached_and_stable(data_dir):
    a = load_series("k_ets", data_dir)
    b = load_series("k_ets", data_dir)
    assert a.data_hash == b.data_hash and a.prices is not b.prices
    a.prices.iloc[0] = -5.0                                              # copies, not shared
    assert load_series("k_ets", data_dir).prices.iloc[0] > 0
    stale = a.report.step("stale_runs").events
    assert any(e["date"] == "2015-04-23" and e["length"] >= 100 for e in stale)


@pytest.mark.realdata
def test_summary_cli_json_covers_markets_and_traps(data_dir, tmp_path):
    from typer.testing import CliRunner

    from riskmodel import config
    from riskmodel.data.cli import app

    out = tmp_path / "summary.json"
    config.set_data_dir(data_dir)
    try:
        res = CliRunner().invoke(app, ["summary", "--json", str(out)])
    finally:
        config.set_data_dir(None)
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    for market, sid in d["representative"].items():
        s = d["series"][sid]
        assert s["representative"] and s["n_obs"] > 0, market
        for key in ("first_date", "last_date", "stale_share", "longest_gap_days",
                    "n_outliers", "cleaning"):
            assert key in s
    assert {t["trap"] for t in d["known_traps"] if t["handled"] is False} == set()
    handled = {t["series_id"] for t in d["known_traps"] if t["handled"]}
    assert {"icap.eu", "icap.chongqing", "icap.tianjin", "clearblue.kau"} <= handled


def test_load_series_and_summary_on_hand_made_data_dir(tmp_path):
    """Contract 1 without the real data: a data dir holding one Clearblue file."""
    from riskmodel.data.summary import summarise

    d = tmp_path / "prices" / "clearblue"
    d.mkdir(parents=True)
    dates = pd.bdate_range("2007-12-03", "2008-02-29")
    rng = np.random.default_rng(11)
    px = 22.0 * np.exp(np.cumsum(rng.normal(0, 0.02, len(dates))))
    rows = "".join(f'"{t:%Y-%m-%d}",,{p:.2f},\n' for t, p in zip(dates, px, strict=True))
    (d / "eu_ets.csv").write_text(
        '"DateTime","Auction Price - ICE/EEX","Front December - ICE","Front Month - ICE"\n'
        + rows, encoding="utf-8")
    s = load_series("eu_ets", data_dir=tmp_path)
    assert s.series_id == "clearblue.eua_front_dec" and s.source.endswith(
        "eu_ets.csv#Front December - ICE")
    assert len(s.prices) == len(dates) and len(s.returns) == len(dates) - 2   # first + break
    assert pd.Timestamp("2008-01-01") not in s.returns.index
    assert s.report.step("phase_breaks").events[0]["date"] == "2008-01-01"
    with pytest.raises(InputError, match=r"icap.eu: unknown price series, or its file is not "
                       r"in the data folder .*: icap/allowance_price.csv \(where icap series are "
                       r"read from\) is absent"):
        load_series("icap.eu", data_dir=tmp_path)                   # file absent: named
    summ = summarise(tmp_path)
    assert set(summ["series"]) == {"clearblue.eua_front_dec"}
    trap = next(t for t in summ["known_traps"] if t["series_id"] == "clearblue.eua_front_dec")
    assert trap["handled"] is True and trap["events"][0]["previous"] == "2007-12-31"
    missing = [t for t in summ["known_traps"] if t["series_id"] == "icap.eu"]
    assert missing[0]["status"] == "series not in this data directory"
