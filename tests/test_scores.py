"""Sample scores: CRPS against its closed form, PIT with ties, and the overlap-aware KS test's
size under the null (where the naive KS test is far too liberal)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from riskmodel.fit import scores as sc


def test_crps_sample_matches_the_normal_closed_form():
    rng = np.random.default_rng(1)
    x = rng.normal(0.3, 2.0, 40_000)
    for y in (-4.0, 0.0, 0.3, 1.7, 6.5):
        assert sc.crps_sample(x, y) == pytest.approx(sc.crps_normal(0.3, 2.0, y), rel=0.02)


def test_crps_sample_equals_the_double_sum_definition():
    rng = np.random.default_rng(2)
    x = rng.standard_t(3, 57)
    y = 0.8
    brute = np.mean(np.abs(x - y)) - 0.5 * np.mean(np.abs(x[:, None] - x[None, :]))
    assert sc.crps_sample(x, y) == pytest.approx(brute, abs=1e-12)


def test_crps_normal_at_the_mean_is_known():
    # CRPS(N(0, s^2), 0) = s (2 phi(0) - 1/sqrt(pi)) = s (sqrt(2) - 1) / sqrt(pi)
    assert sc.crps_normal(0.0, 3.0, 0.0) == pytest.approx(3 * (np.sqrt(2) - 1) / np.sqrt(np.pi))


def test_pit_is_uniform_for_exchangeable_draws_and_randomises_ties():
    rng = np.random.default_rng(3)
    u = [sc.pit(rng.normal(size=99), rng.normal(), rng) for _ in range(2000)]
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # a no-trade window: outcome 0 against a sample that is all 0 (small, so that a wrong tie
    # rule, e.g. u = V ties / (n + 1), would show)
    u0 = [sc.pit(np.zeros(5), 0.0, rng) for _ in range(2000)]
    assert stats.kstest(u0, "uniform").pvalue > 1e-3
    assert sc.coverage([0.04, 0.06, 0.5, 0.95, 0.96], 0.9) == pytest.approx(3 / 5)


def _walk_pits(rng, starts, h, kind):
    n = max(starts) + h
    z = rng.standard_normal(n)
    if kind == "sum":
        return [stats.norm.cdf(z[s:s + h].sum() / np.sqrt(h)) for s in starts]
    return [stats.chi2.cdf((z[s:s + h] ** 2).sum(), h) for s in starts]


@pytest.mark.parametrize("kind", ["sum", "sumsq"])
def test_overlap_ks_has_its_size_under_the_null(kind):
    """28 quarterly origins (63 steps apart), one-year windows (252 steps): exact PITs of i.i.d.
    N(0,1) steps. The corrected test rejects about 5% at the 5% level; the naive KS test far
    more (the windows overlap three quarters of the way)."""
    rng = np.random.default_rng(10 if kind == "sum" else 11)
    starts = [63 * i for i in range(28)]
    windows = [(s, 252) for s in starts]
    reps = 300
    rej = rej_naive = 0
    for _ in range(reps):
        u = _walk_pits(rng, starts, 252, kind)
        res = sc.ks_overlap(u, windows, kind=kind, reps=1000)
        rej += res["p"] < 0.05
        rej_naive += res["p_naive"] < 0.05
    # binomial(300, 0.05): 99.9% interval about [5, 28] rejections
    assert 5 <= rej <= 28, rej
    assert rej_naive > 45, rej_naive


def test_overlap_ks_without_overlap_is_the_plain_ks_test():
    rng = np.random.default_rng(4)
    u = rng.uniform(size=30)
    res = sc.ks_overlap(u, [(100 * i, 63) for i in range(30)])
    assert res["p"] == pytest.approx(stats.kstest(u, "uniform").pvalue)
    assert not sc.overlaps([(0, 5), (5, 5)]) and sc.overlaps([(0, 6), (5, 5)])


def test_overlap_ks_detects_a_miscalibrated_forecast():
    rng = np.random.default_rng(5)
    starts = [63 * i for i in range(28)]
    n = max(starts) + 252
    z = 2.0 * rng.standard_normal(n)  # true sd 2, forecast sd 1
    u = [stats.norm.cdf(z[s:s + 21].sum() / np.sqrt(21)) for s in starts]
    assert sc.ks_overlap(u, [(s, 21) for s in starts])["p"] < 0.01
