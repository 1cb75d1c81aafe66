"""MS-GARCH (Haas et al.): numba vs numpy, K = 1 vs arch, exact smoother, recovery, moments."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from arch import arch_model

from riskmodel.errors import InputError
from riskmodel.fit import markov as mk
from riskmodel.fit import msgarch as mg

TRUE = {
    "mu": 0.05,
    "omega_0": 0.05,
    "omega_1": 0.5,
    "alpha_0": 0.05,
    "alpha_1": 0.10,
    "beta_0": 0.90,
    "beta_1": 0.80,
    "p_00": 0.98,
    "p_01": 0.02,
    "p_10": 0.04,
    "p_11": 0.96,
}
TRUE3 = {
    "mu": 0.0,
    "omega_0": 0.02,
    "omega_1": 0.1,
    "omega_2": 0.6,
    "alpha_0": 0.03,
    "alpha_1": 0.06,
    "alpha_2": 0.12,
    "beta_0": 0.95,
    "beta_1": 0.9,
    "beta_2": 0.8,
    "p_00": 0.97,
    "p_01": 0.02,
    "p_02": 0.01,
    "p_10": 0.02,
    "p_11": 0.95,
    "p_12": 0.03,
    "p_20": 0.02,
    "p_21": 0.06,
    "p_22": 0.92,
}


def simulate(params: dict[str, float], n: int, seed: int) -> np.ndarray:
    """One path from the ergodic start (regime unconditional variances)."""
    spec, mu, om, al, be, P, nu = mg._params_to_arrays(params)
    rng = np.random.default_rng(seed)
    u = rng.random((1, n + 1))
    if spec.student:
        z = rng.standard_t(nu, (1, n)) * math.sqrt((nu - 2) / nu)
    else:
        z = rng.standard_normal((1, n))
    r, _, _ = mg.simulate_msgarch_paths(
        mu, om, al, be, P, mk.ergodic_probs(P), om / (1 - al - be), u, z
    )
    return r[0]


@pytest.mark.parametrize(
    "params",
    [TRUE, dict(TRUE, nu=6.0), TRUE3, dict(TRUE3, nu=9.0)],
    ids=["K2-normal", "K2-t", "K3-normal", "K3-t"],
)
def test_numba_equals_numpy_reference(params: dict[str, float]) -> None:
    y = simulate(params, 1500, seed=4)
    assert abs(mg.msgarch_loglik(y, params) - mg.msgarch_loglik_numpy(y, params)) < 1e-9
    other = dict(params, mu=0.3, beta_0=params["beta_0"] - 0.1)
    assert abs(mg.msgarch_loglik(y, other) - mg.msgarch_loglik_numpy(y, other)) < 1e-9


@pytest.mark.parametrize("dist", ["normal", "t"])
def test_one_regime_equals_arch_garch(dist: str) -> None:
    """K = 1 is GARCH(1,1). arch starts its recursion at s2_0 = omega + (alpha + beta) * backcast,
    backcast = 0.94^i-weighted mean of the first 75 squared residuals at the starting mean
    (y - mean(y)); passing that s2_0 as init_variance makes the likelihoods identical."""
    y = simulate(dict(TRUE, p_00=1.0, p_01=0.0, p_10=0.0, p_11=1.0), 2000, seed=9)
    am = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, dist=dist)
    fit = am.fit(disp="off")
    p = fit.params
    params = {
        "mu": p["mu"],
        "omega_0": p["omega"],
        "alpha_0": p["alpha[1]"],
        "beta_0": p["beta[1]"],
        "p_00": 1.0,
    }
    if dist == "t":
        params["nu"] = p["nu"]
    s2_0 = p["omega"] + (p["alpha[1]"] + p["beta[1]"]) * am.volatility.backcast(y - y.mean())
    assert mg.msgarch_loglik(y, params, init_variance=s2_0) == pytest.approx(
        fit.loglikelihood, abs=1e-8
    )
    res = mg.filter_with_params(y, params, init_variance=s2_0)
    np.testing.assert_allclose(res.conditional_volatility, fit.conditional_volatility, rtol=1e-10)
    # and our own K = 1 fit reaches arch's optimum
    own = mg.fit_msgarch(y, k_regimes=1, dist=dist, n_starts=1)
    assert own.loglik > fit.loglikelihood - 0.05  # initial variances differ slightly


def test_filter_and_kim_smoother_are_exact_by_enumeration() -> None:
    """Path-independent variances make the Hamilton filter and Kim smoother exact: compare with
    brute force over all 2^10 regime paths."""
    spec, mu, om, al, be, P, nu = mg._params_to_arrays(dict(TRUE, nu=5.0))
    y = simulate(TRUE, 10, seed=1)
    e = y - mu
    init = mk.ergodic_probs(P)
    h0 = om / (1 - al - be)
    ll, filt, pred, h = mg.msgarch_filter(e, om, al, be, P, init, h0, nu)
    smooth = mk.kim_smoother(filt, pred, P)
    c = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(math.pi * (nu - 2))
    dens = np.exp(
        c - 0.5 * np.log(h[:-1]) - (nu + 1) / 2 * np.log1p(e[:, None] ** 2 / (h[:-1] * (nu - 2)))
    )
    total, marg = 0.0, np.zeros((10, 2))
    for path in itertools.product(range(2), repeat=10):
        w = init[path[0]] * dens[0, path[0]]
        for t in range(1, 10):
            w *= P[path[t - 1], path[t]] * dens[t, path[t]]
        total += w
        marg[np.arange(10), path] += w
    assert ll == pytest.approx(math.log(total), abs=1e-10)
    np.testing.assert_allclose(smooth, marg / total, atol=1e-12)


def _recovery(n_reps: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    keys = ["mu", "omega_0", "omega_1", "alpha_0", "alpha_1", "beta_0", "beta_1", "p_00", "p_11"]
    est, ses = [], []
    for rep in range(n_reps):
        y = simulate(TRUE, 3000, seed=2000 + rep)
        res = mg.fit_msgarch(y, n_starts=0, start=TRUE)
        assert res.converged, res.message
        est.append([res.params[k] for k in keys])
        ses.append([res.std_errors[k] for k in keys])
    return np.array(est), np.array(ses), keys


@pytest.mark.slow
def test_parameter_recovery_20_replications() -> None:
    """20 x 3,000 obs. Held to: every parameter within 3 SE of the truth in >= 15/20 (75%).

    Why 75%: with correct asymptotic SE, +-3 SE covers 99.7%; GARCH and transition parameters
    are skewed in finite samples, but even at a true coverage of 95% fewer than 15 hits in 20 has
    probability 0.3%, while a biased estimator or wrong SE drops far below. The SE are also
    checked for scale: the median |z| of the 20 z-scores is 0.674 when the SE are right; we
    require < 1.5 (SE too small by about half fail). The spread of the estimates themselves is no
    check here, because the SE of the volatile regime's GARCH parameters vary tenfold across
    replications.
    """
    est, ses, keys = _recovery(20)
    truth = np.array([TRUE[k] for k in keys])
    z = (est - truth) / ses
    hits = (np.abs(z) <= 3).sum(axis=0)
    assert np.all(hits >= 15), dict(zip(keys, hits, strict=True))
    med = np.median(np.abs(z), axis=0)
    assert np.all(med < 1.5), dict(zip(keys, med, strict=True))


def test_fit_from_generated_starts() -> None:
    """The default multi-start fit (one-regime GARCH seeds) finds the truth's neighbourhood."""
    y = pd.Series(simulate(TRUE, 3000, seed=77), name="sim")
    res = mg.fit_msgarch(y, n_starts=2)
    assert res.converged, res.message
    at_truth = mg.msgarch_loglik(y, TRUE)
    assert res.loglik >= at_truth  # the MLE beats the truth
    for k in ("mu", "omega_0", "alpha_0", "beta_0", "p_00", "p_11"):
        assert abs(res.params[k] - TRUE[k]) <= 4 * res.std_errors[k], k
    assert res.regime_unconditional_variances[0] < res.regime_unconditional_variances[1]
    assert res.stationarity_radius < 1
    assert "rho(M)" in res.summary()


def test_simulation_moments_match_analytic_forecast() -> None:
    res = mg.filter_with_params(simulate(TRUE, 1000, seed=3), TRUE)
    # state: next variances are the recursion applied to the last residual
    st = res.state()
    eT = res.returns.iloc[-1] - TRUE["mu"]
    hT = res.regime_variances.iloc[-1].to_numpy()
    np.testing.assert_allclose(
        st["regime_variances"], res.omega + res.alpha * eT**2 + res.beta * hT, rtol=1e-14
    )
    assert st["last_resid"] == pytest.approx(eT)
    fc = res.forecast(4000)
    assert fc["variance"].iloc[-1] == pytest.approx(res.unconditional_variance, rel=1e-6)
    assert res.stationarity_radius < 1
    sim = res.simulate(60, 40_000, rng=5)
    again = res.simulate(60, 40_000, rng=5)
    np.testing.assert_array_equal(sim.returns, again.returns)
    e2 = (sim.returns - TRUE["mu"]) ** 2
    for h in (1, 10, 60):
        x = e2[:, h - 1]
        assert abs(x.mean() - fc["variance"].loc[h]) < 4 * x.std() / np.sqrt(x.size), h
        probs = np.bincount(sim.regimes[:, h - 1], minlength=2) / x.size
        np.testing.assert_allclose(probs, fc[["prob_0", "prob_1"]].loc[h], atol=0.01)
    # ergodic start: long-run sample variance of a long path is near the unconditional variance
    long = res.simulate(20_000, 4, rng=6, start="ergodic").returns
    assert long.var() == pytest.approx(res.unconditional_variance, rel=0.15)


def test_student_t_simulation_is_standardised() -> None:
    params = dict(TRUE, nu=5.0)
    res = mg.filter_with_params(simulate(params, 600, seed=2), params)
    sim = res.simulate(1, 200_000, rng=3)
    z = (sim.returns[:, 0] - params["mu"]) / np.sqrt(sim.variance[:, 0])
    assert z.var() == pytest.approx(1.0, abs=0.03)
    assert np.mean(z**4) > 4.5  # fat tails (normal: 3; t5 standardised: 9)


def test_bad_input_is_named() -> None:
    y = pd.Series(simulate(TRUE, 400, seed=1), name="EUA")
    with pytest.raises(InputError, match="dist"):
        mg.fit_msgarch(y, dist="skewt")
    bad = y.copy()
    bad.iloc[3] = np.inf
    with pytest.raises(InputError, match=r"returns \(EUA\).*NaN/inf"):
        mg.fit_msgarch(bad)
    with pytest.raises(InputError, match="n_starts"):
        mg.fit_msgarch(y, n_starts=0)
    with pytest.raises(InputError, match="too short"):
        mg.fit_msgarch(y.iloc[:80])
    with pytest.raises(InputError, match="nu must exceed 2"):
        mg.msgarch_loglik(y, dict(TRUE, nu=1.5))
    with pytest.raises(InputError, match="omega_k must be positive"):
        mg.msgarch_loglik(y, dict(TRUE, omega_1=-0.1))
    with pytest.raises(InputError, match="missing parameter"):
        mg.msgarch_loglik(y, {k: v for k, v in TRUE.items() if k != "beta_1"})
