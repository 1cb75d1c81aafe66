"""VaR/ES backtests: test statistics against hand computation, traffic light, no look-ahead."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from arch.univariate import GARCH, ConstantMean, StudentsT
from scipy import stats

from riskmodel.errors import DataError
from riskmodel.fit.backtest import (
    acerbi_szekely_z2,
    backtest,
    backtest_markdown,
    christoffersen,
    garch_fitter,
    kupiec_pof,
    mcneil_frey,
    rolling_forecasts,
    traffic_light,
    traffic_light_bounds,
    transition_counts,
)


def test_kupiec_by_hand() -> None:
    hits = np.zeros(250, dtype=bool)
    hits[[3, 50, 51, 120, 200, 201, 240]] = True  # 7 exceptions in 250 days at 99%
    n, x, p = 250, 7, 0.01
    lr_hand = -2 * (
        (n - x) * math.log(1 - p)
        + x * math.log(p)
        - (n - x) * math.log(1 - x / n)
        - x * math.log(x / n)
    )
    lr, pval = kupiec_pof(hits, 0.99)
    assert lr == pytest.approx(lr_hand, rel=1e-12)
    assert lr == pytest.approx(5.497, abs=1e-3)  # worked by hand: -2(-34.6784 + 31.9299)
    assert pval == pytest.approx(stats.chi2.sf(lr_hand, 1), rel=1e-12)
    # no exceptions: LR = -2 n ln(1 - p)
    lr0, _ = kupiec_pof(np.zeros(500, dtype=bool), 0.95)
    assert lr0 == pytest.approx(-2 * 500 * math.log(0.95), rel=1e-12)
    # exactly the expected rate: LR = 0, p = 1
    h = np.zeros(100, dtype=bool)
    h[::20] = True
    assert kupiec_pof(h, 0.95) == pytest.approx((0.0, 1.0))


def test_christoffersen_by_hand() -> None:
    hits = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    # pairs counted by hand: 00 -> 10, 01 -> 3, 10 -> 3, 11 -> 3 (19 pairs, 6 hits after day 0)
    assert transition_counts(hits) == (10, 3, 3, 3)
    pi01, pi11, pi = 3 / 13, 3 / 6, 6 / 19
    ll0 = 13 * math.log(1 - pi) + 6 * math.log(pi)
    ll1 = 10 * math.log(1 - pi01) + 3 * math.log(pi01) + 3 * math.log(1 - pi11) + 3 * math.log(pi11)
    out = christoffersen(hits, 0.95)
    assert out["ind_lr"] == pytest.approx(-2 * (ll0 - ll1), rel=1e-12)
    assert out["ind_p"] == pytest.approx(stats.chi2.sf(-2 * (ll0 - ll1), 1), rel=1e-12)
    lr_uc, _ = kupiec_pof(hits, 0.95)
    assert out["cc_lr"] == pytest.approx(lr_uc + out["ind_lr"], rel=1e-12)
    assert out["cc_p"] == pytest.approx(stats.chi2.sf(out["cc_lr"], 2), rel=1e-12)


def test_christoffersen_without_consecutive_hits() -> None:
    hits = np.zeros(300, dtype=int)
    hits[::30] = 1  # 10 isolated hits: n11 = 0, 0^0 = 1 conventions
    out = christoffersen(hits, 0.99)
    n00, n01, n10, n11 = transition_counts(hits)
    assert n11 == 0 and n01 == 9 and n10 == 10
    pi01, pi = n01 / (n00 + n01), (n01 + n11) / 299
    ll0 = (n00 + n10) * math.log(1 - pi) + (n01 + n11) * math.log(pi)
    ll1 = n00 * math.log(1 - pi01) + n01 * math.log(pi01)
    assert out["ind_lr"] == pytest.approx(-2 * (ll0 - ll1), rel=1e-12)


def test_traffic_light() -> None:
    assert traffic_light_bounds(250, 0.01) == (4, 9)  # the Basel table
    assert [traffic_light(k) for k in (0, 4, 5, 9, 10, 20)] == [
        "green",
        "green",
        "yellow",
        "yellow",
        "red",
        "red",
    ]
    g, y = traffic_light_bounds(100, 0.01)
    assert stats.binom.cdf(g, 100, 0.01) < 0.95 <= stats.binom.cdf(g + 1, 100, 0.01)
    assert stats.binom.cdf(y, 100, 0.01) < 0.9999 <= stats.binom.cdf(y + 1, 100, 0.01)


def test_es_tests_on_correct_and_understated_es() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    sd = np.exp(rng.normal(0, 0.3, n))
    r = sd * rng.standard_normal(n)
    q = stats.norm.ppf(0.025)
    var = -q * sd
    es = stats.norm.pdf(q) / 0.025 * sd
    good = mcneil_frey(-r, var, es, sd)
    assert good["p"] > 0.01 and abs(good["mean_resid"]) < 0.1
    bad = mcneil_frey(-r, var, 0.8 * es, sd)
    assert bad["p"] < 0.001
    assert acerbi_szekely_z2(r, var, es) == pytest.approx(0.0, abs=0.1)
    assert acerbi_szekely_z2(r, var, 0.8 * es) < -0.15


def _garch_t(n: int, seed: int) -> pd.Series:
    model = ConstantMean(None)
    model.volatility = GARCH(1, 0, 1)
    model.distribution = StudentsT(seed=np.random.default_rng(seed))
    data = model.simulate([0.02, 0.05, 0.08, 0.9, 6.0], n, burn=300)["data"].to_numpy()
    return pd.Series(data, index=pd.bdate_range("2010-01-01", periods=n))


def test_no_look_ahead() -> None:
    y = _garch_t(900, 2)
    fc, _ = rolling_forecasts(y, garch_fitter("garch-t"), test_size=200, refit_every=50)
    assert len(fc) == 200 and fc.index[0] == y.index[700]
    cut = 760  # perturb everything from day 760 on: forecasts up to 760 must not move
    z = y.copy()
    z.iloc[cut:] *= 3.0
    fz, _ = rolling_forecasts(z, garch_fitter("garch-t"), test_size=200, refit_every=50)
    upto = y.index[cut]
    pd.testing.assert_frame_equal(
        fc.loc[:upto, ["var99", "es975", "sd"]], fz.loc[:upto, ["var99", "es975", "sd"]]
    )
    assert not np.allclose(fc.loc[upto:, "sd"].iloc[1:], fz.loc[upto:, "sd"].iloc[1:])


def test_backtest_correct_model_passes() -> None:
    y = _garch_t(1500, 3)
    res = backtest(y, "garch-t", test_size=500, refit_every=100)
    s = res.summary
    assert s["n_test"] == 500 and s["basel_days"] == 250
    assert s["hits_99"] == int((res.forecasts["return"] < -res.forecasts["var99"]).sum())
    assert stats.binom.cdf(s["hits_95"], 500, 0.05) > 0.001  # not absurdly few
    assert stats.binom.sf(s["hits_95"] - 1, 500, 0.05) > 0.001  # nor absurdly many
    assert s["traffic_light"] in ("green", "yellow")
    md = backtest_markdown([{"market": "sim", **s}])
    assert "| sim | garch-t | 500 |" in md


def test_backtest_refuses_short_series() -> None:
    with pytest.raises(DataError, match="backtest needs"):
        backtest(_garch_t(260, 4), "garch-t")
