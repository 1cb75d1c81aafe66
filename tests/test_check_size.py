"""The pass rates of a correct model on a validation layout (riskmodel.fit.check_size)."""

from __future__ import annotations

import math

from scipy import stats

from riskmodel.fit.check_size import pass_rates


def test_pass_rates_match_the_binomial_law_without_overlap():
    """23 one-day windows that do not overlap: the 90% band covers 85-95% exactly when 20 or 21
    of 23 PITs fall inside it, P = 0.492 under a correct model; the KS checks pass with
    probability 0.95 (their p-values are exact); the Kupiec test on 1,000 days passes with
    close to 95%; and all checks together pass about as often as their product."""
    lay = {"windows": {1: list(range(0, 230, 10))}, "var_days": (1000, 800)}
    reps = 1500
    r = pass_rates(lay, reps=reps, seed=3)
    p = stats.binom.pmf(20, 23, 0.9) + stats.binom.pmf(21, 23, 0.9)
    se = math.sqrt(p * (1 - p) / reps)
    assert abs(r["cover90_in_85_95"] - p) < 4 * se
    assert abs(r["pooled_change_ks_p>0.05"] - 0.95) < 4 * math.sqrt(0.95 * 0.05 / reps)
    assert 0.90 < r["kupiec95_all_p>0.05"] < 0.99
    assert r["all_pass"] < r["cover90_in_85_95"]


def test_overlapping_year_windows_make_the_coverage_check_rarer():
    """Quarterly origins with one-year windows (four-fold overlap): a correct model's 90%
    coverage over 20 origins lands in 85-95% less often than over 20 independent windows."""
    indep = {"windows": {252: [i * 252 for i in range(20)]}, "var_days": (500, 500)}
    overl = {"windows": {252: [i * 63 for i in range(20)]}, "var_days": (500, 500)}
    a = pass_rates(indep, reps=800, seed=1)["cover90_in_85_95"]
    b = pass_rates(overl, reps=800, seed=1)["cover90_in_85_95"]
    assert b < a - 0.05
