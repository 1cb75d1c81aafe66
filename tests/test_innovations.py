"""The innovation and compensator tables without scipy.stats: equal to scipy.stats' bit for bit.

``sim/innovations.py`` builds the engine's tables with ``scipy.special`` (so a run does not
import scipy.stats); these tests hold each function it uses to the scipy.stats call it replaces,
on the tables' own grids and beyond, with ``np.array_equal`` (exact).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from riskmodel.sim import innovations as inn

X = np.concatenate([np.linspace(-40.0, 40.0, 4001), np.sinh(np.linspace(-20.0, 20.0, 2001)),
                    [-np.inf, np.inf, 0.0, -0.0]])
U = np.concatenate([np.clip(stats.norm.cdf(np.linspace(-38.0, 38.0, 4001)), 1e-300,
                            1.0 - 1e-16), [0.5, 1e-300, 1.0 - 1e-16]])


def test_normal_quantile_cdf_and_density_are_scipy_stats():
    assert np.array_equal(inn.standardised_ppf("normal", U, None, None), stats.norm.ppf(U))
    assert np.array_equal(inn._grid_u(X, "gaussian", None), stats.norm.cdf(X))
    finite = X[np.isfinite(X)]
    assert np.array_equal(inn._norm_pdf(finite), stats.norm.pdf(finite))


@pytest.mark.parametrize("nu", [2.05, 3.0, 4.5, 8.0, 30.0, 250.0])
def test_t_quantile_and_cdf_are_scipy_stats(nu):
    assert np.array_equal(inn.standardised_ppf("t", U, nu, None),
                          stats.t.ppf(U, nu) * math.sqrt((nu - 2.0) / nu))
    assert np.array_equal(inn._grid_u(X, "t", nu), stats.t.cdf(X, nu), equal_nan=True)


@pytest.mark.parametrize("dist,nu,copula,cnu", [
    ("t", 5.0, "gaussian", None), ("normal", None, "t", 6.0), ("t", 3.5, "t", 12.0),
    ("normal", None, "gaussian", None)])
def test_tables_are_those_of_scipy_stats(dist, nu, copula, cnu, monkeypatch):
    """The whole table and its compensator, against the same built with scipy.stats."""
    got = inn.build_table(dist, nu, None, copula, cnu)
    k_got = inn.compensator_table(*got, copula, cnu, 30.0)
    monkeypatch.setattr(inn, "special", SimpleNamespace(  # what the module used before
        ndtri=stats.norm.ppf, ndtr=stats.norm.cdf, stdtrit=lambda df, q: stats.t.ppf(q, df),
        stdtr=lambda df, x: stats.t.cdf(x, df)))
    monkeypatch.setattr(inn, "_norm_pdf", stats.norm.pdf)
    want = inn.build_table(dist, nu, None, copula, cnu)
    k_want = inn.compensator_table(*want, copula, cnu, 30.0)
    assert got[:3] == want[:3]
    assert np.array_equal(got[3], want[3])
    assert k_got[:2] == k_want[:2]
    assert np.array_equal(k_got[2], k_want[2])


def test_tables_need_no_scipy_stats():
    """Building a Gaussian-copula table and its compensator (every shipped scenario's) leaves
    scipy.stats unimported, in a fresh interpreter."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from riskmodel.sim.innovations import build_table, compensator_table\n"
            "m, lo, st, v = build_table('t', 5.0, None, 'gaussian', None)\n"
            "compensator_table(m, lo, st, v, 'gaussian', None, 30.0)\n"
            "print('scipy.stats' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
