"""Dependence: nearest-PD repair, pairwise CCC with gaps, DCC(1,1) recovery, copulas."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats
from statsmodels.stats.correlation_tools import corr_nearest

from riskmodel.errors import FitError, InputError
from riskmodel.fit.dependence import (
    cholesky_factor,
    correlate_normals,
    dcc_loglik,
    dcc_simulate,
    fit_ccc,
    fit_dcc,
    fit_t_copula_nu,
    load_dependence,
    nearest_pd,
    norm_cdf,
    pairwise_correlation,
    sample_copula,
    validate_corr,
)

R3 = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.4], [0.3, 0.4, 1.0]])
R4 = np.array(
    [[1.0, 0.6, 0.2, -0.3], [0.6, 1.0, 0.4, 0.0], [0.2, 0.4, 1.0, 0.5], [-0.3, 0.0, 0.5, 1.0]]
)


# ------------------------------------------------------------------------------ nearest PD


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.IterationLimitWarning")
def test_nearest_pd_known_example() -> None:
    """Higham (2002): the nearest correlation matrix to [[1,1,0],[1,1,1],[0,1,1]]."""
    a = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    x, info = nearest_pd(a)
    expected = np.array([[1.0, 0.7607, 0.1573], [0.7607, 1.0, 0.7607], [0.1573, 0.7607, 1.0]])
    np.testing.assert_allclose(x, expected, atol=1e-4)
    assert info.repaired and info.converged
    assert info.min_eig_before == pytest.approx(1 - np.sqrt(2))
    assert info.min_eig_after > 0
    assert info.frobenius == pytest.approx(np.linalg.norm(x - a), rel=1e-9)
    np.testing.assert_allclose(x, corr_nearest(a, n_fact=1000), atol=1e-4)


def _brute_nearest_3x3(a: np.ndarray, rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """Minimise ||C - a||_F over 3x3 correlation matrices C = L L' (unit-norm rows of L)."""

    def build(t: np.ndarray) -> np.ndarray:
        lmat = np.array(
            [
                [1, 0, 0],
                [np.cos(t[0]), np.sin(t[0]), 0],
                [np.cos(t[1]), np.sin(t[1]) * np.cos(t[2]), np.sin(t[1]) * np.sin(t[2])],
            ]
        )
        return lmat @ lmat.T

    best = (np.inf, None)
    for _ in range(12):
        r = optimize.minimize(
            lambda t: np.sum((build(t) - a) ** 2),
            rng.uniform(0, np.pi, 3),
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 5000},
        )
        if r.fun < best[0]:
            best = (float(r.fun), build(r.x))
    return float(np.sqrt(best[0])), best[1]


def test_nearest_pd_matches_brute_force_on_small_cases() -> None:
    rng = np.random.default_rng(11)
    done = 0
    while done < 4:
        a = np.eye(3)
        a[np.triu_indices(3, 1)] = rng.uniform(-1, 1, 3)
        a = np.triu(a) + np.triu(a, 1).T
        if np.linalg.eigvalsh(a).min() > 0:
            continue  # only non-PD cases
        x, info = nearest_pd(a)
        dist, xb = _brute_nearest_3x3(a, rng)
        np.testing.assert_allclose(np.diag(x), 1.0, atol=1e-12)
        assert np.linalg.eigvalsh(x).min() > 0
        assert np.linalg.norm(x - a) <= dist + 1e-6
        np.testing.assert_allclose(x, xb, atol=1e-3)
        assert info.repaired
        done += 1


def test_nearest_pd_leaves_pd_matrix_alone() -> None:
    x, info = nearest_pd(R4)
    np.testing.assert_array_equal(x, R4)
    assert not info.repaired and info.frobenius == 0
    assert "positive definite" in info.note


def test_validate_corr_errors_name_the_field() -> None:
    bad = R3.copy()
    bad[0, 1] = 0.6
    with pytest.raises(InputError, match="not symmetric") as err:
        validate_corr(bad, field="dcc.qbar", file="x.json")
    assert err.value.field == "dcc.qbar" and err.value.file == "x.json"
    big = R3.copy()
    big[0, 1] = big[1, 0] = 1.2
    with pytest.raises(InputError, match=r"\|rho\| > 1"):
        validate_corr(big)
    diag = R3.copy()
    diag[2, 2] = 0.9
    with pytest.raises(InputError, match="diagonal"):
        validate_corr(diag)
    nonpd = np.array([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1.0]])
    with pytest.raises(InputError, match="not positive definite") as err:
        validate_corr(nonpd, field="corr")
    assert err.value.field == "corr"
    fixed, info = validate_corr(nonpd, repair=True)
    assert info is not None and info.repaired and np.linalg.eigvalsh(fixed).min() > 0
    with pytest.raises(InputError):
        cholesky_factor(nonpd)


# ------------------------------------------------------------------------------ CCC


def _gaussian_frame(corr: np.ndarray, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, corr.shape[0])) @ np.linalg.cholesky(corr).T
    cols = [f"m{i}" for i in range(corr.shape[0])]
    return pd.DataFrame(z, columns=cols, index=pd.bdate_range("2010-01-01", periods=n))


def test_ccc_recovers_correlation_with_gaps() -> None:
    df = _gaussian_frame(R4, 4000, seed=5)
    rng = np.random.default_rng(6)
    df.iloc[:2000, 3] = np.nan  # a market that starts late
    df.loc[rng.random(4000) < 0.3, "m2"] = np.nan  # thin market
    df["late"] = np.nan
    df.iloc[-40:, 4] = rng.standard_normal(40)  # too short to correlate
    corr, overlap = pairwise_correlation(df, min_overlap=100)
    obs = df.notna().to_numpy().astype(int)
    np.testing.assert_array_equal(overlap.to_numpy(), obs.T @ obs)
    np.testing.assert_allclose(corr.iloc[:4, :4].to_numpy(), R4, atol=0.06)
    assert (corr.loc["late"].drop("late") == 0).all()
    assert ("m0", "late", 40) in corr.attrs["low_overlap"]
    res = fit_ccc(df.drop(columns="late"), copula="gaussian")
    np.testing.assert_allclose(res.corr, R4, atol=0.06)
    assert res.method == "ccc" and not res.repaired


def test_ccc_repairs_a_non_pd_pairwise_matrix_and_says_so(tmp_path: Path) -> None:
    """Pairs observed on disjoint dates can give an impossible matrix: it must be repaired."""
    rng = np.random.default_rng(2)
    n = 600
    df = pd.DataFrame(np.nan, index=range(3 * n), columns=["a", "b", "c"])
    for k, (c1, c2, r) in enumerate((("a", "b", 0.9), ("b", "c", 0.9), ("a", "c", -0.9))):
        z = rng.standard_normal((n, 2)) @ np.linalg.cholesky([[1, r], [r, 1]]).T
        df.iloc[k * n : (k + 1) * n, df.columns.get_indexer([c1, c2])] = z
    res = fit_ccc(df, copula="gaussian")
    assert res.repaired and "Higham" in res.repair_note
    assert np.linalg.eigvalsh(res.corr).min() > 0
    np.testing.assert_allclose(np.diag(res.corr), 1.0)
    path = res.save(tmp_path / "dependence.json")
    back = load_dependence(path)
    np.testing.assert_allclose(back.corr, res.corr)
    assert back.repaired and back.markets == ["a", "b", "c"]
    assert back.overlap is not None and back.overlap.loc["a", "b"] == n
    assert "CCC" in res.summary()


def test_load_dependence_rejects_bad_matrix(tmp_path: Path) -> None:
    path = tmp_path / "dependence.json"
    path.write_text(
        json.dumps(
            {
                "markets": ["a", "b"],
                "method": "ccc",
                "copula": "gaussian",
                "corr": [[1.0, 1.5], [1.5, 1.0]],
            }
        )
    )
    with pytest.raises(InputError) as err:
        load_dependence(path)
    assert err.value.field == "corr" and str(path) in str(err.value)


# ------------------------------------------------------------------------------ DCC


def test_dcc_loglik_at_zero_is_constant_correlation_normal() -> None:
    z = _gaussian_frame(R3, 300, seed=1).to_numpy()
    ll, llt, q = dcc_loglik(z, R3, 0.0, 0.0)
    ref = stats.multivariate_normal(mean=np.zeros(3), cov=R3).logpdf(z)
    np.testing.assert_allclose(llt, ref, rtol=1e-10)
    assert ll == pytest.approx(ref.sum(), rel=1e-12)
    np.testing.assert_allclose(q, R3)


def test_dcc_recovers_parameters() -> None:
    rng = np.random.default_rng(2024)
    a, b = 0.05, 0.90
    z, _ = dcc_simulate(R3, a, b, rng.standard_normal((2000, 3)), R3)
    df = pd.DataFrame(z, columns=["x", "y", "w"], index=pd.bdate_range("2015-01-01", periods=2000))
    res = fit_dcc(df, copula="gaussian")
    d = res.dcc
    assert d is not None
    assert abs(d["a"] - a) < 0.025 and abs(d["b"] - b) < 0.06
    assert d["persistence"] < 1 and d["loglik"] > d["loglik_ccc"]
    np.testing.assert_allclose(res.corr, R3, atol=0.1)
    # q_last is the recursion run one step past the sample
    ll, _, q = dcc_loglik(z, np.array(d["qbar"]), d["a"], d["b"])
    np.testing.assert_allclose(d["q_last"], q)
    assert res.method == "dcc" and res.nobs == 2000


def test_dcc_uses_common_dates_and_needs_enough() -> None:
    df = _gaussian_frame(R3, 400, seed=3)
    df.iloc[:300, 2] = np.nan
    with pytest.raises(FitError, match="m2 with 100"):
        fit_dcc(df, min_obs=250)


def test_dcc_simulate_is_reproducible_and_ccc_at_zero() -> None:
    eps = np.random.default_rng(9).standard_normal((50, 3))
    z1, q1 = dcc_simulate(R3, 0.04, 0.9, eps, R3)
    z2, q2 = dcc_simulate(R3, 0.04, 0.9, eps, R3)
    np.testing.assert_array_equal(z1, z2)
    z0, _ = dcc_simulate(R3, 0.0, 0.0, eps, R3)
    np.testing.assert_allclose(z0, eps @ np.linalg.cholesky(R3).T, atol=1e-12)


# ------------------------------------------------------------------------------ copulas


def test_numba_blocks_agree_with_numpy() -> None:
    rng = np.random.default_rng(0)
    eps = rng.standard_normal((100, 4))
    chol = cholesky_factor(R4)
    np.testing.assert_allclose(correlate_normals(chol, eps), eps @ chol.T, atol=1e-13)
    x = rng.standard_normal((7, 3)) * 3
    np.testing.assert_allclose(norm_cdf(x), special.ndtr(x), atol=1e-15)


def test_sample_copula_gaussian_and_t() -> None:
    u = sample_copula(R3, 20000, np.random.default_rng(1))
    assert u.shape == (20000, 3) and (u > 0).all() and (u < 1).all()
    np.testing.assert_array_equal(u, sample_copula(R3, 20000, np.random.default_rng(1)))
    np.testing.assert_allclose(np.corrcoef(special.ndtri(u).T), R3, atol=0.03)
    ut = sample_copula(R3, 20000, np.random.default_rng(2), copula="t", nu=4.0)
    for i in range(3):
        assert stats.kstest(ut[:, i], "uniform").pvalue > 0.001
    # t copula: joint extremes are more frequent than under the Gaussian
    both_low = lambda v: np.mean((v[:, 0] < 0.01) & (v[:, 1] < 0.01))  # noqa: E731
    assert both_low(ut) > both_low(u)
    with pytest.raises(InputError, match="nu"):
        sample_copula(R3, 10, np.random.default_rng(0), copula="t")


def test_t_copula_nu_recovery() -> None:
    nu = 5.0
    u = sample_copula(R3, 3000, np.random.default_rng(42), copula="t", nu=nu)
    df = pd.DataFrame(stats.t.ppf(u, df=nu), columns=["a", "b", "c"])
    fit = fit_t_copula_nu(df, R3)
    assert 3.5 < fit.nu < 7.5
    assert fit.copula == "t" and fit.method == "full" and fit.lr > 10
    g = pd.DataFrame(
        special.ndtri(sample_copula(R3, 3000, np.random.default_rng(43))), columns=["a", "b", "c"]
    )
    assert fit_t_copula_nu(g, R3).copula == "gaussian"
    # with gaps: pairwise composite likelihood
    df.iloc[:1000, 2] = np.nan
    fit_pw = fit_t_copula_nu(df, R3)
    assert fit_pw.method == "pairwise" and 3.0 < fit_pw.nu < 9.0


def test_dcc_on_constant_correlation_finds_little_dynamics() -> None:
    df = _gaussian_frame(R3, 1500, seed=8)
    d = fit_dcc(df, copula="gaussian").dcc
    assert d is not None and d["a"] < 0.02
    assert 2 * (d["loglik"] - d["loglik_ccc"]) < 10
