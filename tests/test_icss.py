"""ICSS variance-break detection (kappa-1) and the ``-icss`` estimation-window candidate."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from riskmodel.errors import FitError
from riskmodel.fit.icss import CRIT_5PCT, kappa1, last_break
from riskmodel.fit.thin_trading import fit_thin, parse_thin_name


def test_kappa1_equals_its_definition():
    a = np.random.default_rng(3).standard_t(5, 400)
    c = np.cumsum(a * a)
    t = a.size
    b = np.abs(c - np.arange(1, t + 1) / t * c[-1]) / np.sqrt(
        t * (np.mean(a**4) - (c[-1] / t) ** 2)
    )
    stat, k = kappa1(a)
    assert stat == pytest.approx(b[:-1].max()) and k == int(np.argmax(b[:-1]))


def test_no_break_in_iid_fat_tailed_data_at_about_the_nominal_rate():
    """Size: i.i.d. t(4) returns (kurtosis infinite) -- kappa-1 keeps the 5% level (IT's
    original statistic rejects far more often on such data)."""
    rng = np.random.default_rng(11)
    rej = np.mean([last_break(rng.standard_t(4, 1000)) is not None for _ in range(300)])
    assert rej < 0.08


def test_a_tripled_volatility_is_found_where_it_happened():
    rng = np.random.default_rng(5)
    locs = []
    for _ in range(60):
        x = np.concatenate([rng.standard_t(5, 700), 3.0 * rng.standard_t(5, 500)])
        locs.append(last_break(x))
    found = [v for v in locs if v is not None]
    assert len(found) >= 0.9 * len(locs)
    assert np.mean([abs(v - 700) <= 50 for v in found]) > 0.9
    assert CRIT_5PCT == pytest.approx(1.358)


@pytest.mark.usefixtures("data_dir")  # the real series: skip when absent
def test_icss_candidate_is_estimated_after_the_last_break_of_a_real_series():
    from riskmodel.data.series import load_series

    assert parse_thin_name("zgarch-t-icss").name == "zgarch-t-icss"
    with pytest.raises(FitError):
        parse_thin_name("zgarch-t-w4-icss")
    ps = load_series("shenzhen")
    r = ps.returns[ps.returns.index <= "2022-12-31"]
    traded = r[r != 0.0]
    k = last_break(traded.to_numpy())
    assert k is not None  # Shenzhen's 2018-21 vintage swings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = fit_thin(r, "zgarch-t-icss")
    start = cal.sample["start"]
    expect = traded.index[k] if (r.index >= traded.index[k]).sum() >= 500 else r.index[-500]
    assert start == expect.date().isoformat()
    assert any(n.startswith("ICSS") for n in cal.fit["notes"])
    assert cal.model["name"] == "zgarch-t-icss"
