"""Exchange rates from the ICAP raw export: direct legs, cross rates, coverage, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskmodel.data.fx import convert, fx_rate, fx_table, monthly_rate
from riskmodel.errors import DataError

BLOCKS = [
    ("New Zealand Emissions Trading System", ["Primary Market", "Secondary Market",
     "Market Currency", "Exchange rate NZD/EUR", "Exchange rate NZD/USD"]),
    ("European Union Emissions Trading System", ["Primary Market", "Secondary Market",
     "Market Currency", "Exchange rate EUR/EUR", "Exchange rate EUR/USD"]),
    ("Korean Emissions Trading System", ["Primary Market", "Secondary Market", "Market Currency",
     "Exchange rate KRW/EUR", "Exchange rate KRW/USD"]),
    ("United Kingdom Emissions Trading Scheme", ["Primary Market", "Secondary Market",
     "Market Currency", "Exchange rate GBP/EUR", "Exchange rate GBP/USD"]),
    ("China National Emissions Trading System", ["Primary Market", "Secondary Market",
     "Market Currency", "Exchange rate CNY/EUR", "Exchange rate CNY/USD"]),
    ("Hubei (Pilot) Emissions Trading System", ["Primary Market", "Secondary Market",
     "Market Currency", "Exchange rate CNY/EUR", "Exchange rate CNY/USD"]),
]
RATES = {  # month -> (NZD/EUR, EUR/USD, GBP/EUR, CNY/EUR)
    "2021-01": (0.59, 1.22, 1.11, 0.127),
    "2021-02": (0.60, 1.21, 1.13, 0.128),
    "2021-03": (0.61, 1.19, 1.15, 0.129),
    "2021-04": (0.62, 1.20, 1.16, 0.127),
}


def write_fx_file(tmp_path, months=RATES, cny_skip=(), cny_hubei_override=None):
    """Tiny two-header ICAP raw export with monthly rates repeated on two days per month."""
    top, sub, keys = [""], ["Date"], [None]
    for system, fields in BLOCKS:
        for j, f in enumerate(fields):
            top.append(f'"{system}"' if j == 0 else "")
            sub.append(f'"{f}"')
            keys.append((system[:5], f))
        top.append("")
        sub.append("")
        keys.append(None)
    lines = [",".join(top), ",".join(sub)]
    for m, (nz, eu, gb, cn) in months.items():
        for day in ("04", "05"):
            cells = {("New Z", "Exchange rate NZD/EUR"): nz,
                     ("New Z", "Exchange rate NZD/USD"): round(nz * eu, 6),
                     ("Europ", "Exchange rate EUR/EUR"): 1, ("Europ", "Exchange rate EUR/USD"): eu,
                     ("Unite", "Exchange rate GBP/EUR"): gb,
                     ("Unite", "Exchange rate GBP/USD"): round(gb * eu, 6)}
            if m not in cny_skip:
                cells[("China", "Exchange rate CNY/EUR")] = cn
                cells[("China", "Exchange rate CNY/USD")] = round(cn * eu, 6)
                hub = cny_hubei_override if cny_hubei_override is not None else cn
                cells[("Hubei", "Exchange rate CNY/EUR")] = hub
                cells[("Hubei", "Exchange rate CNY/USD")] = round(hub * eu, 6)
            vals = [f"{m}-{day}"] + ["" if k is None else str(cells.get(k, "")) for k in keys[1:]]
            lines.append(",".join(vals))
    d = tmp_path / "prices" / "icap_raw"
    d.mkdir(parents=True, exist_ok=True)
    (d / "Secondary.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_direct_legs_match_file(tmp_path):
    dd = write_fx_file(tmp_path)
    r = fx_rate("NZD", "EUR", ["2021-02-17", "2021-04-30"], data_dir=dd)
    assert r.tolist() == [0.60, 0.62]
    assert fx_rate("EUR", "USD", ["2021-03-01"], data_dir=dd).iloc[0] == 1.19
    assert fx_rate("EUR", "EUR", ["2021-03-01"], data_dir=dd).iloc[0] == 1.0


def test_usd_to_eur_is_inverse_and_cross_via_eur(tmp_path):
    dd = write_fx_file(tmp_path)
    assert fx_rate("USD", "EUR", ["2021-01-10"], data_dir=dd).iloc[0] == pytest.approx(1 / 1.22)
    cross = fx_rate("NZD", "GBP", ["2021-03-10"], data_dir=dd).iloc[0]
    assert cross == pytest.approx(0.61 / 1.15)
    # triangle: NZD->USD direct equals NZD->EUR x EUR->USD
    m = monthly_rate("NZD", "USD", data_dir=dd)
    assert np.allclose(m, monthly_rate("NZD", "EUR", data_dir=dd) * monthly_rate(
        "EUR", "USD", data_dir=dd), rtol=1e-5)


def test_convert_round_trip(tmp_path):
    dd = write_fx_file(tmp_path)
    p = pd.Series([80.0, 81.0, 79.5], index=pd.to_datetime(["2021-01-29", "2021-02-01",
                                                             "2021-04-02"]), name="eua")
    usd = convert(p, "EUR", "USD", data_dir=dd)
    assert usd.tolist() == pytest.approx([80 * 1.22, 81 * 1.21, 79.5 * 1.20])
    assert convert(usd, "USD", "EUR", data_dir=dd).tolist() == pytest.approx(p.tolist())
    assert usd.attrs["currency"] == "USD"


def test_currency_missing_from_file_is_clear_error(tmp_path):
    dd = write_fx_file(tmp_path)
    with pytest.raises(DataError, match=r"Secondary\.csv: CAD: no exchange rate for CAD"):
        fx_rate("CAD", "EUR", ["2021-01-05"], data_dir=dd)
    with pytest.raises(DataError, match="CHF"):
        convert(pd.Series([1.0], index=pd.to_datetime(["2021-01-05"])), "EUR", "CHF",
                data_dir=dd)


def test_dates_outside_coverage_raise_or_extend(tmp_path):
    dd = write_fx_file(tmp_path)
    with pytest.raises(DataError, match="no NZD/EUR rate for 2020-12"):
        fx_rate("NZD", "EUR", ["2020-12-31"], data_dir=dd)
    r = fx_rate("NZD", "EUR", ["2020-12-31", "2021-06-01"], data_dir=dd, extend=True)
    assert r.tolist() == [0.59, 0.62]
    assert r.attrs["extended"] == ["2020-12", "2021-06"]


def test_missing_month_inside_coverage_filled_and_reported(tmp_path):
    dd = write_fx_file(tmp_path, cny_skip=("2021-02",))
    tab = fx_table(dd)
    assert tab.filled["CNY/EUR"] == ["2021-02"]
    assert fx_rate("CNY", "EUR", ["2021-02-15"], data_dir=dd).iloc[0] == 0.127


def test_conflicting_blocks_rejected(tmp_path):
    dd = write_fx_file(tmp_path, cny_hubei_override=0.2)
    with pytest.raises(DataError, match="CNY/EUR differs between system blocks"):
        fx_table(dd)


@pytest.mark.realdata
def test_real_rates_plausible_and_consistent(data_dir):
    tab = fx_table(data_dir)
    assert {"EUR", "USD", "NZD", "KRW", "GBP", "CNY"} <= set(tab.currencies)
    eurusd = monthly_rate("EUR", "USD", data_dir=data_dir)
    assert eurusd.between(0.95, 1.6).all()
    for ccy in ("NZD", "KRW", "GBP", "CNY"):
        direct = monthly_rate(ccy, "USD", data_dir=data_dir)
        via = monthly_rate(ccy, "EUR", data_dir=data_dir) * eurusd
        both = pd.concat([direct, via], axis=1, join="inner")
        assert len(both) > 10
        assert np.allclose(both.iloc[:, 0], both.iloc[:, 1], rtol=0.02), ccy
