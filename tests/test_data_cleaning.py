"""Cleaning rules: each trap on a small hand-made series or CSV, asserting exactly what was done."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from riskmodel.data import cleaning as cl
from riskmodel.data.prices import load_clearblue_eu_ets
from riskmodel.io import to_json


def _bdays(start: str, n: int) -> pd.DatetimeIndex:
    return pd.bdate_range(start, periods=n)


def _walk(n: int, seed: int, start: str = "2015-01-05", vol: float = 0.02) -> pd.Series:
    rng = np.random.default_rng(seed)
    x = np.log(20.0) + np.cumsum(rng.normal(0.0, vol, n))
    return pd.Series(np.exp(x), index=_bdays(start, n), name="x")


# --------------------------------------------------------------------------- repairs


def test_sort_reports_each_row_out_of_order():
    idx = pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06", "2019-12-25", "2020-01-07"])
    s = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0], index=idx)
    out, step = cl.sort_by_date(s)
    assert out.index.is_monotonic_increasing
    assert [e["date"] for e in step.events] == ["2019-12-25"]
    assert step.events[0]["follows_in_file"] == "2020-01-06"
    assert out.loc["2019-12-25"] == 4.0


def test_duplicates_identical_collapse_and_conflicting_keep_last():
    idx = pd.to_datetime(["2024-07-16", "2024-07-17", "2024-07-17", "2024-07-18", "2024-07-18"])
    s = pd.Series([34.0, 34.47, 34.40, 35.0, 35.0], index=idx)
    out, step = cl.drop_duplicate_dates(s)
    assert list(out.index.strftime("%Y-%m-%d")) == ["2024-07-16", "2024-07-17", "2024-07-18"]
    assert out.loc["2024-07-17"] == 34.40
    by_date = {e["date"]: e for e in step.events}
    assert by_date["2024-07-17"]["values"] == [34.47, 34.40]
    assert "conflicting" in by_date["2024-07-17"]["why"]
    assert by_date["2024-07-18"]["why"] == "identical rows"


def test_non_positive_prices_dropped_and_listed():
    s = pd.Series([5.0, 0.0, -1.0, 6.0], index=_bdays("2020-01-01", 4))
    out, step = cl.drop_non_positive(s)
    assert len(out) == 2 and (out > 0).all()
    assert [e["value"] for e in step.events] == [0.0, -1.0]


# --------------------------------------------------------------------------- misprints


def test_single_day_misprint_found_exactly():
    s = _walk(300, seed=1)
    spike = s.index[150]
    s.iloc[150] = s.iloc[150] * 0.4          # one wrong print, next day back to normal
    out, step = cl.drop_misprints(s)
    assert [e["date"] for e in step.events] == [str(spike.date())]
    assert spike not in out.index and len(out) == len(s) - 1
    ev = step.events[0]
    assert ev["move_in"] < -ev["threshold"] and ev["move_out"] > ev["threshold"]


def test_level_shift_is_not_a_misprint():
    s = _walk(300, seed=2)
    s.iloc[150:] *= 0.4                      # a real, permanent jump: no reversal
    _, step = cl.drop_misprints(s)
    assert step.n == 0


def test_no_misprints_in_plain_random_walk():
    for seed in range(5):
        _, step = cl.drop_misprints(_walk(1000, seed=seed))
        assert step.n == 0


def test_stale_market_tick_is_not_a_misprint():
    # MAD of returns is 0 in a stale market; the min_move floor keeps a 5 % tick.
    v = np.full(80, 40.0)
    v[40] = 42.0
    s = pd.Series(v, index=_bdays("2021-01-04", 80))
    _, step = cl.drop_misprints(s)
    assert step.n == 0
    v[40] = 80.0                             # a doubling for one day is
    _, step = cl.drop_misprints(pd.Series(v, index=s.index))
    assert [e["date"] for e in step.events] == [str(s.index[40].date())]


def test_adjacent_dates_never_both_dropped():
    s = _walk(200, seed=3, vol=0.01)
    s.iloc[100] *= 3.0
    s.iloc[101] *= 0.3
    _, step = cl.drop_misprints(s)
    dates = [pd.Timestamp(e["date"]) for e in step.events]
    pos = sorted(s.index.get_loc(d) for d in dates)
    assert all(b - a > 1 for a, b in zip(pos, pos[1:], strict=False))


# --------------------------------------------------------------------------- return exclusions


def test_stale_run_excludes_inside_and_exit_returns():
    v = np.r_[np.linspace(10, 11, 20), np.full(12, 11.5), np.linspace(11.6, 12, 20)]
    s = pd.Series(v, index=_bdays("2015-04-01", len(v)))
    excl, step = cl.stale_runs(s, min_run=10)
    assert step.n == 1 and step.events[0]["length"] == 12
    assert step.events[0]["date"] == str(s.index[20].date())
    assert step.events[0]["end"] == str(s.index[31].date())
    expected = np.zeros(len(s), dtype=bool)
    # causal: the run (prices 20..31) is known stale from its 10th price (29) on; the zero
    # returns into 29, 30, 31 and the exit return into 32 are excluded, 21..28 kept
    expected[29:33] = True
    assert np.array_equal(excl.to_numpy(), expected)
    assert step.events[0]["from"] == str(s.index[29].date())


def test_short_stale_run_kept_and_stale_share_exact():
    v = np.r_[np.arange(1.0, 11.0), np.full(9, 11.0), np.arange(12.0, 22.0)]
    s = pd.Series(v, index=_bdays("2016-01-04", len(v)))
    excl, step = cl.stale_runs(s, min_run=10)
    assert step.n == 0 and not excl.any()
    assert cl.stale_share(s) == pytest.approx(8 / (len(v) - 1))


def test_gap_rule_boundary_is_ten_missing_business_days():
    d = list(_bdays("2019-01-01", 5))
    d10 = d + [d[-1] + pd.offsets.BDay(11)]           # 10 missing business days: kept
    d11 = d10 + [d10[-1] + pd.offsets.BDay(12)]       # 11 missing: excluded
    s = pd.Series(np.arange(1.0, len(d11) + 1), index=pd.DatetimeIndex(d11))
    excl, step = cl.gap_breaks(s)
    assert [e["missing_bdays"] for e in step.events] == [11]
    assert excl.tolist() == [False] * 6 + [True]
    days, missing = cl.gap_stats(s)
    assert missing.tolist() == [0, 0, 0, 0, 10, 11]


def test_phase_break_excludes_only_the_crossing_return():
    idx = pd.to_datetime(["2007-12-27", "2007-12-28", "2008-01-02", "2008-01-03"])
    s = pd.Series([22.0, 22.4, 22.9, 23.0], index=idx)
    excl, step = cl.phase_breaks(s, cl.PHASE_BREAKS["eu_ets"])
    assert excl.tolist() == [False, False, True, False]
    assert step.events[0]["previous"] == "2007-12-28"


def test_spot_series_breaks_at_first_phase_two_quote():
    assert cl.phase_breaks_for("icap.eu", "eu_ets")[0].date == "2008-03-25"
    assert cl.phase_breaks_for("clearblue.eua_front_dec", "eu_ets")[0].date == "2008-01-01"
    assert cl.phase_breaks_for("icap.hubei", "hubei") == []


# --------------------------------------------------------------------------- whole series


def test_clean_series_returns_identity_and_counts():
    s = _walk(400, seed=7)
    s.iloc[100] *= 2.5                                  # misprint
    s.iloc[200:215] = s.iloc[200]                       # stale run of 15
    s = s.drop(s.index[300:320])                        # 20-business-day gap
    res = cl.clean_series(s, series_id="t.x", market="m")
    rep = res.report
    assert rep.n_outliers == 1 and rep.step("misprints").events[0]["date"] == str(
        _walk(400, 7).index[100].date())
    assert rep.step("stale_runs").n == 1 and rep.step("gaps").n == 1
    # identity: every kept return is 100 * dlog P between consecutive cleaned prices
    lp = np.log(res.prices)
    full = 100 * lp.diff()
    assert np.allclose(res.returns.to_numpy(), full.loc[res.returns.index].to_numpy())
    assert not res.returns.isna().any()
    assert rep.n_returns + rep.n_returns_excluded == rep.n_clean - 1
    # stale run of 15: zero returns from its 10th price on (6) + exit; one gap
    assert rep.n_returns_excluded == 6 + 1 + 1
    json.loads(to_json(rep.to_dict()))
    assert rep["series_id"] == "t.x"


def test_administrative_series_has_no_returns():
    s = pd.Series([25.0, 25.0, 30.0], index=_bdays("2021-10-05", 3))
    res = cl.clean_series(s, series_id="a.floor", instrument="administrative",
                          frequency="admin")
    assert res.returns.empty and res.report.step("administrative") is not None
    assert res.report.step("misprints") is None and len(res.prices) == 3


def test_periodic_auctions_skip_gap_and_stale_rules():
    idx = pd.to_datetime(["2019-01-23", "2019-04-17", "2019-07-10", "2019-10-16"])
    s = pd.Series([20.0, 21.0, 21.0, 22.0], index=idx)
    res = cl.clean_series(s, series_id="a.auc", instrument="auction", frequency="auction")
    assert len(res.returns) == 3
    assert res.report.step("gaps").params["max_gap_bdays"] is None


def test_csv_with_duplicate_unsorted_phase_break_through_loader(tmp_path):
    """A Clearblue-format file with three traps: cleaning reports each one by date."""
    p = tmp_path / "eu_ets.csv"
    rows = [
        ("2007-12-27", "", "22.0", ""), ("2007-12-28", "", "22.4", ""),
        ("2008-01-03", "", "23.0", ""), ("2008-01-02", "", "22.9", ""),   # unsorted
        ("2008-01-04", "", "23.1", ""), ("2008-01-04", "", "23.2", ""),   # duplicated
        ("2008-01-07", "", "23.3", ""),
    ]
    text = '"DateTime","Auction Price - ICE/EEX","Front December - ICE","Front Month - ICE"\n'
    text += "".join(f'"{d}",{a},{f},{m}\n' for d, a, f, m in rows)
    p.write_text("\ufeff" + text, encoding="utf-8")
    tidy, rep = load_clearblue_eu_ets(p)
    assert rep.rows_out_of_order == 1 and rep.duplicated_dates == ["2008-01-04"]
    g = tidy[tidy.series_id == "clearblue.eua_front_dec"].set_index("date")["price"]
    res = cl.clean_series(g, series_id="clearblue.eua_front_dec", market="eu_ets",
                          instrument="futures_front_dec")
    r = res.report
    assert [e["date"] for e in r.step("sort").events] == ["2008-01-02"]
    assert r.step("duplicates").events[0]["kept"] == 23.2
    assert [e["date"] for e in r.step("phase_breaks").events] == ["2008-01-02"]
    assert list(res.returns.index.strftime("%Y-%m-%d")) == [
        "2007-12-28", "2008-01-03", "2008-01-04", "2008-01-07"]
    assert res.returns.loc["2008-01-04"] == pytest.approx(100 * np.log(23.2 / 23.0))


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_real_shenzhen_and_chongqing_misprints(data_dir):
    from riskmodel.data.series import load_series

    cq = load_series("chongqing", data_dir)
    dates = [e["date"] for e in cq.report.step("misprints").events]
    assert "2019-12-26" in dates                      # PROVENANCE: 13.23 between ~38 and 35.74
    sz = load_series("shenzhen", data_dir)
    assert sz.report.n_outliers > 0
    dropped = pd.DatetimeIndex([e["date"] for e in sz.report.step("misprints").events])
    assert not dropped.isin(sz.prices.index).any()
    assert not sz.returns.index.isin(dropped).any()
