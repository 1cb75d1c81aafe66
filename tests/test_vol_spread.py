"""Realised-volatility spread against the simulated one (riskmodel.fit.vol_spread)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskmodel.fit.vol_spread import Z_RANGE, spread


def _doc(realised: np.ndarray, median: float, half_range: float) -> dict:
    """A validation JSON whose every origin's simulated law of log vol is N(log median, s^2)
    with s = half_range / 1.645, and the given realised vols at 252 days."""
    s = half_range / 1.6448536269514722
    origins = [{"h": {"252": {"vol": float(v), "vol_sim_median": median,
                              "vol_sim_q05": median * math.exp(-1.6448536269514722 * s),
                              "vol_sim_q95": median * math.exp(1.6448536269514722 * s)}}}
               for v in realised]
    return {"chosen": "m", "candidates": [{"model": "m", "origins": origins}]}


def test_spread_recovers_a_known_bias_and_a_too_narrow_law():
    """Realised log vols drawn with mean log(median) + 0.3 and sd 0.5 against a simulated law
    of sd 0.2: the bias, both spreads and their ratio come back."""
    rng = np.random.default_rng(4)
    real = 30.0 * np.exp(0.3 + 0.5 * rng.standard_normal(4000))
    out = spread(_doc(real, 30.0, 0.2 * 1.6448536269514722))["252"]
    assert out["n"] == 4000
    assert out["bias"] == pytest.approx(0.3, abs=0.03)
    assert out["real_sd"] == pytest.approx(0.5, rel=0.05)
    assert out["sim_sd"] == pytest.approx(0.2, rel=1e-9)
    assert out["ratio"] == pytest.approx(2.5, rel=0.06)
    assert Z_RANGE == pytest.approx(3.29, abs=0.005)


def test_a_correct_law_has_ratio_near_one_and_no_bias():
    rng = np.random.default_rng(5)
    real = 30.0 * np.exp(0.2 * rng.standard_normal(4000))
    out = spread(_doc(real, 30.0, 0.2 * 1.6448536269514722))["252"]
    assert abs(out["bias"]) < 0.02 and out["ratio"] == pytest.approx(1.0, abs=0.05)


def test_widened_coverage_is_causal_and_restores_the_band():
    """Realised log vol ratios with sd 0.5 against a simulated sd of 0.2: as simulated the
    one-year 90% band covers about 49%; widened by the pooled s estimated only from windows
    that ended before each origin it covers about 90%, and the first year of origins (no
    finished window yet) is not scored."""
    import pandas as pd

    from riskmodel.fit.vol_spread import widened_coverage

    rng = np.random.default_rng(6)
    dates = pd.date_range("2010-01-01", periods=400, freq="7D")
    docs = []
    for m in ("a", "b"):
        e = 0.5 * rng.standard_normal(dates.size)
        origins = [{"origin": str(t.date()), "h": {"252": {
            "vol": 30.0 * math.exp(x), "vol_sim_median": 30.0,
            "vol_sim_q05": 30.0 * math.exp(-1.6448536269514722 * 0.2),
            "vol_sim_q95": 30.0 * math.exp(1.6448536269514722 * 0.2)}}}
            for t, x in zip(dates, e, strict=True)]
        docs.append({"market": m, "chosen": "x", "candidates": [{"model": "x",
                                                                  "origins": origins}]})
    out = widened_coverage(docs)
    for m in ("a", "b"):
        assert out[m]["n"] < dates.size  # origins in the first year have no past window
        assert out[m]["cover90"] == pytest.approx(0.49, abs=0.06)
        assert out[m]["cover90_widened"] == pytest.approx(0.90, abs=0.05)
        assert out[m]["s_last"] == pytest.approx(math.sqrt(0.25 - 0.04), abs=0.05)
