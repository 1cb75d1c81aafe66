"""Futures carry measured from the real Clearblue files (evidence for the banking rate r)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from riskmodel import config
from riskmodel.banking import carry
from riskmodel.errors import InputError
from riskmodel.sim.banking_resolve import carry_default


@pytest.mark.realdata
def test_measured_carry_matches_the_published_ranges(data_dir):
    t = carry.carry_table(data_dir)
    med = t.set_index(["market", "year"])["median_rate_pct"]
    eua = t[(t.market == "eu_ets") & t.year.between(2016, 2021)]["median_rate_pct"]
    assert 0.2 < eua.min() and eua.max() < 1.0  # EUA carry well below 2 %/yr since 2016
    cca = t[(t.market == "california") & (t.year >= 2015)]["median_rate_pct"]
    assert 1.0 < cca.min() and cca.max() < 5.0
    nzu = t[(t.market == "new_zealand") & (t.year == 2022) & (t.median_tenor_y > 0.5)]
    assert 4.0 < nzu["median_rate_pct"].min() and nzu["median_rate_pct"].max() < 6.0
    assert 2.0 < med[("rggi", 2022)] < 3.5


def test_implied_rate_inverts_compounding(tmp_path):
    # a future priced at S (1.03)^τ implies exactly 3 %/yr
    root = tmp_path / "prices" / "clearblue"
    root.mkdir(parents=True)
    dates = pd.date_range("2020-01-02", "2020-08-31", freq="B")
    tau = (pd.Timestamp(2020, 12, 15) - dates).days / 365.25
    spot = np.linspace(20.0, 30.0, len(dates))
    pd.DataFrame(
        {
            "DateTime": dates.strftime("%Y-%m-%d"),
            "Front December - ICE": spot * 1.03**tau,
            "Front Month - ICE": spot,
        }
    ).to_csv(root / "eu_ets.csv", index=False)
    d = carry.implied_rates(carry.PAIRS[0], tmp_path)
    assert len(d) == (tau >= 0.25).sum()
    np.testing.assert_allclose(d["rate"], 0.03, rtol=1e-10)


@pytest.mark.realdata
def test_committed_carry_calibration_is_reproduced_from_the_data(data_dir):
    """calibrations/carry.json is what riskmodel.banking.carry derives from the price files
    (2016-2022 days only: no data after the fitted samples)."""
    committed = json.loads((config.CALIBRATIONS_DIR / "carry.json").read_text(encoding="utf-8"))
    assert carry.carry_calibration(data_dir) == committed
    assert committed["rates"]["quebec"] == committed["rates"]["california"]  # one instrument
    measured = sorted({committed["rates"][m] for m in ("eu_ets", "california", "rggi", "nz_ets")})
    assert committed["default"] == pytest.approx(np.median(measured), rel=1e-15)


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"rates": {"eu_ets": -0.01}, "default": 0.03}, "rates.eu_ets"),
        ({"rates": {"eu_ets": float("nan")}, "default": 0.03}, "rates.eu_ets"),
        ({"rates": {"eu_ets": True}, "default": 0.03}, "rates.eu_ets"),
        ({"rates": {"eu_ets": 0.01}, "default": 0.5}, "default"),
        ({"rates": [0.01]}, "rates"),
    ],
)
def test_a_corrupt_carry_calibration_is_refused_with_its_field(tmp_path, monkeypatch, bad, field):
    (tmp_path / "carry.json").write_text(json.dumps(bad), encoding="utf-8")
    monkeypatch.setattr(config, "CALIBRATIONS_DIR", tmp_path)
    with pytest.raises(InputError) as e:
        carry_default(None, "eu_ets")
    assert e.value.field == field and str(tmp_path / "carry.json") in str(e.value.file)
