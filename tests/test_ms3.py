"""Three-regime switching (``ms3``): statsmodels agreement, recovery, the starts it needs, and
its place among the selection's candidates (issue 11, item 3)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm

from riskmodel.fit import markov as mk
from riskmodel.fit import thin_selection as ts
from tests.test_markov import TRUE3, simulate_ms, statsmodels_params


def test_default_fit_reaches_the_statsmodels_optimum() -> None:
    """Our optimum is at least statsmodels' (20 search repetitions), and statsmodels' own
    likelihood at our parameters is our log-likelihood."""
    y = simulate_ms(TRUE3, 2000, seed=11)
    ours = mk.fit_markov(y, k_regimes=3)
    model = sm.tsa.MarkovRegression(y, k_regimes=3, switching_variance=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = model.fit(disp=False, search_reps=20)
    assert ours.converged
    assert ours.loglik >= theirs.llf - 1e-4
    assert model.loglike(statsmodels_params(ours.params)) == pytest.approx(ours.loglik, abs=1e-6)


def test_three_regime_parameters_are_recovered() -> None:
    """4,000 returns from TRUE3, default starts: variances and persistences within 4 SE."""
    res = mk.fit_markov(simulate_ms(TRUE3, 4000, seed=12), k_regimes=3)
    assert res.converged, res.message
    for k in ("sigma2_0", "sigma2_1", "sigma2_2", "p_00", "p_11", "p_22"):
        assert abs(res.params[k] - TRUE3[k]) <= 4 * res.std_errors[k], k


def test_the_stale_start_finds_a_regime_of_unchanged_days() -> None:
    """A thin series (a quarter of its days unchanged): the best optimum puts a regime on the
    zeros. The stale start (tried last) finds it and the fit says it is degenerate (it then does
    not compete), where the deterministic start ends more than a log-likelihood point below."""
    y = simulate_ms(TRUE3, 1500, seed=4)
    y[np.random.default_rng(1).random(y.size) < 0.25] = 0.0
    full = mk.fit_markov(y, k_regimes=3)
    values = np.asarray(full.start_values) * y.size  # negative log-likelihood of each start
    assert len(values) == mk.default_starts(3) + 1
    assert values[-1] == pytest.approx(-full.loglik) and values[0] > values[-1] + 1.0
    assert not full.converged and "degenerate" in full.message


def test_starts_per_regime_count() -> None:
    """Two regimes keep their five starts (the committed two-regime fits are unchanged); three
    take N_STARTS_K3 and end with the stale start: mean 0, variance 1.5 x the floor, the data's
    zero-after-zero share as its persistence, rows of P summing to one."""
    assert mk.default_starts(2) == 5 and mk.default_starts(3) == mk.N_STARTS_K3 == 20
    y = simulate_ms(TRUE3, 500, seed=2)
    y[::7] = y[1::7] = 0.0  # runs of two unchanged days: zero after zero half the time
    floor = mk.VAR_FLOOR_REL * float(y.var())
    two = mk._starts(y, 2, 5, 0, floor)
    three = mk._starts(y, 3, 20, 0, floor)
    assert len(two) == 5 and len(three) == 21
    assert all(mk._unpack_theta(t, 2, floor)[1].min() > 100 * floor for t in two)
    mu, var, P = mk._unpack_theta(three[-1], 3, floor)
    assert mu[0] == 0.0 and var[0] == pytest.approx(1.5 * floor) and var[1] > 100 * floor
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert P[0, 0] == pytest.approx(0.5, abs=0.01)
    assert all(mk._unpack_theta(t, 3, floor)[1].min() > 100 * floor for t in three[:-1])


def test_ms3_competes_by_default() -> None:
    assert "ms3" in ts.REGIME_CANDIDATES and "ms3" in ts.DEFAULT_CANDIDATES
