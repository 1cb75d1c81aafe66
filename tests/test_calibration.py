"""Calibrations: save/load round trip, fixed-parameter application, VaR/ES, proxies, README, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from arch.univariate import GARCH, ConstantMean, StudentsT
from scipy import stats

from riskmodel.errors import InputError
from riskmodel.fit.calibration import (
    Calibration,
    apply,
    calibrations_readme,
    implied_conversion,
    load_calibration,
    location_scale_risk,
    mixture_risk,
    proxy_calibration,
    standardised_var_es,
)
from riskmodel.fit.garch import fit_garch, innovation_distribution


def _simulated(n: int = 1200, seed: int = 7) -> pd.Series:
    model = ConstantMean(None)
    model.volatility = GARCH(1, 1, 1)
    model.distribution = StudentsT(seed=np.random.default_rng(seed))
    data = model.simulate([0.03, 0.05, 0.04, 0.08, 0.88, 6.0], n, burn=300)["data"].to_numpy()
    return pd.Series(data, index=pd.bdate_range("2012-01-02", periods=n), name="r")


class FakeSeries:
    """The PriceSeries shape (Contract 1) for tests that need no real data."""

    def __init__(self, returns: pd.Series, market: str = "test_mkt") -> None:
        self.market, self.series_id, self.instrument = market, "test.series", "secondary_spot"
        self.currency, self.data_hash = "EUR", "f" * 64
        self.returns = returns
        self.prices = 20.0 * np.exp(returns.cumsum() / 100.0)


@pytest.fixture(scope="module")
def returns() -> pd.Series:
    return _simulated()


@pytest.mark.parametrize("model", ["garch-t", "gjr-skewt", "ar1-egarch-normal", "ar1-gjr-t"])
def test_save_load_apply_reproduces_fit(tmp_path, returns, model) -> None:
    mean, rest = ("ar1", model[4:]) if model.startswith("ar1-") else ("constant", model)
    vol, dist = rest.split("-")
    fit = fit_garch(returns, mean, vol, dist)
    cal = Calibration.from_fit(fit, FakeSeries(returns))
    path = cal.save(tmp_path)
    assert path.name == "test_mkt.json"
    loaded = load_calibration("test_mkt", tmp_path)
    assert loaded.to_dict() == json.loads(path.read_text())
    assert loaded.params == fit.params and loaded.model_name == model
    applied = apply(loaded, returns)
    # fixed parameters on the fitting sample: the fit's conditional variance exactly
    np.testing.assert_allclose(
        applied.conditional_variance.to_numpy(),
        fit.conditional_volatility.to_numpy() ** 2,
        rtol=1e-13,
        atol=0,
    )
    np.testing.assert_allclose(applied.std_resid, fit.std_resid, rtol=1e-12)
    assert applied.loglik == pytest.approx(fit.loglik, rel=1e-12)
    assert applied.next_day["variance"] == pytest.approx(cal.state["last_variance"], rel=1e-12)


def test_contract_fields(returns) -> None:
    cal = Calibration.from_fit(fit_garch(returns, "constant", "gjr", "t"), FakeSeries(returns))
    d = cal.to_dict()
    assert list(d)[:7] == [
        "schema",
        "market",
        "series_id",
        "instrument",
        "currency",
        "model",
        "params",
    ]
    assert d["model"] == {"family": "gjr", "mean": "constant", "dist": "t", "k_regimes": 1}
    assert set(d["params"]) == {"mu", "omega", "alpha", "gamma", "beta", "nu"}
    for key in (
        "loglik",
        "aic",
        "bic",
        "nobs",
        "sample",
        "data_hash",
        "state",
        "price_level",
        "diagnostics",
        "proxy",
        "versions",
    ):
        assert key in d, key
    assert d["state"]["last_price"] == pytest.approx(float(FakeSeries(returns).prices.iloc[-1]))
    assert d["sample"] == {
        "start": "2012-01-02",
        "end": returns.index[-1].date().isoformat(),
        "n_returns": len(returns),
    }
    assert {"arch", "numpy", "riskmodel"} <= set(d["versions"])


def test_apply_to_new_data_uses_fixed_parameters(returns) -> None:
    train, full = returns.iloc[:800], returns
    cal = Calibration.from_fit(fit_garch(train, "constant", "garch", "t"), None, diagnostics={})
    applied = apply(cal, full)
    p = cal.params
    e = full.to_numpy() - p["mu"]
    s2 = applied.conditional_variance.to_numpy()
    # the GARCH recursion with the calibration's parameters holds on every new date
    np.testing.assert_allclose(
        s2[1:], p["omega"] + p["alpha"] * e[:-1] ** 2 + p["beta"] * s2[:-1], rtol=1e-12
    )
    q99, _ = standardised_var_es("t", p, 0.99)
    np.testing.assert_allclose(applied.risk["var99"], -(p["mu"] + np.sqrt(s2) * q99), rtol=1e-12)


# --------------------------------------------------------------------------- VaR / ES


@pytest.mark.parametrize("nu", [2.5, 4.0, 8.0, 40.0])
@pytest.mark.parametrize("level", [0.95, 0.975, 0.99])
def test_standardised_t_var_es_against_scipy(nu, level) -> None:
    p = 1 - level
    scale = math.sqrt((nu - 2) / nu)  # unit-variance t = scale * t_nu
    tq = stats.t.ppf(p, nu)
    es_closed = -scale * stats.t.pdf(tq, nu) * (nu + tq**2) / (nu - 1) / p
    q, es = standardised_var_es("t", {"nu": nu}, level)
    assert q == pytest.approx(scale * tq, rel=1e-10)
    assert es == pytest.approx(es_closed, rel=1e-9)
    es_quad = stats.t.expect(lambda x: scale * x, args=(nu,), ub=tq, conditional=True)
    assert es == pytest.approx(es_quad, rel=1e-6)


def test_normal_and_skewt_es() -> None:
    q, es = standardised_var_es("normal", {}, 0.975)
    assert q == pytest.approx(stats.norm.ppf(0.025))
    assert es == pytest.approx(-stats.norm.pdf(stats.norm.ppf(0.025)) / 0.025, rel=1e-10)
    pars = {"nu": 5.0, "lambda": -0.3}
    q, es = standardised_var_es("skewt", pars, 0.975)
    law = innovation_distribution("skewt")
    assert es == pytest.approx(law.partial_moment(1, q, [5.0, -0.3]) / 0.025, rel=1e-9)
    frame = location_scale_risk(np.array([0.1]), np.array([2.0]), "skewt", pars)
    assert frame["es975"].iloc[0] == pytest.approx(-(0.1 + 2.0 * es))


def test_mixture_risk_reduces_to_single_law() -> None:
    pars = {"nu": 6.0}
    single = location_scale_risk(np.array([0.05]), np.array([1.7]), "t", pars)
    mix = mixture_risk(
        np.array([[0.3, 0.7]]), np.array([[0.05, 0.05]]), np.array([[1.7, 1.7]]), "t", pars
    )
    pd.testing.assert_frame_equal(single, mix, rtol=1e-9)
    # a genuine mixture: check the VaR's defining property and ES against Monte Carlo
    w, m, s = np.array([0.8, 0.2]), np.array([0.1, -0.3]), np.array([1.0, 3.0])
    r = mixture_risk(w[None], m[None], s[None], "normal", {}).iloc[0]
    cdf = w @ stats.norm.cdf((-r["var99"] - m) / s)
    assert cdf == pytest.approx(0.01, abs=1e-10)
    rng = np.random.default_rng(0)
    k = rng.random(2_000_000) < w[1]
    x = np.where(
        k, m[1] + s[1] * rng.standard_normal(k.size), m[0] + s[0] * rng.standard_normal(k.size)
    )
    tail = x[x <= np.quantile(x, 0.025)]
    assert r["es975"] == pytest.approx(-tail.mean(), rel=0.01)


# ------------------------------------------------------------------- errors, proxies, README


def test_load_errors_name_file_and_field(tmp_path) -> None:
    with pytest.raises(InputError, match="not found") as exc:
        load_calibration("nowhere", tmp_path)
    assert "nowhere.json" in str(exc.value.file)
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"schema": "riskmodel.calibration/1", "market": "bad", "model": {"family": "garch"}}
        )
    )
    with pytest.raises(InputError) as exc:
        load_calibration(bad)
    assert exc.value.field == "params" and exc.value.file == str(bad)
    bad.write_text(json.dumps({"market": "bad", "model": {"family": "figarch"}, "params": {}}))
    with pytest.raises(InputError) as exc:
        load_calibration(bad)
    assert exc.value.field == "model.family"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_calibration(bad)


def test_proxy_calibration(returns) -> None:
    of = Calibration.from_fit(fit_garch(returns), FakeSeries(returns, "eu_ets"))
    cal = proxy_calibration("swiss_ets", of, fx_rate=0.95, fx_source="test")
    assert cal.params == of.params and cal.model == of.model
    assert cal.currency == "CHF" and cal.proxy["of"] == "eu_ets" and cal.proxy["reason"]
    assert cal.state["last_price"] == pytest.approx(0.95 * of.state["last_price"])
    assert cal.price_level["mean_last_year"] == pytest.approx(
        0.95 * of.price_level["mean_last_year"]
    )
    with pytest.raises(InputError):
        proxy_calibration("nowhere", of, fx_rate=1.0, fx_source="test")


def test_implied_conversion() -> None:
    idx = pd.bdate_range("2019-01-01", periods=300)
    of = pd.Series(np.linspace(20, 80, 300), index=idx)
    auction_dates = idx[[10, 150, 200, 290]]
    own = pd.Series(
        of.loc[auction_dates].to_numpy() * np.array([0.5, 1.1, 1.2, 1.3]), index=auction_dates
    )
    factor, note = implied_conversion(own, of, since="2019-06-01")
    assert factor == pytest.approx(1.2) and "3 auction prices" in note


def test_readme_lists_every_market(returns) -> None:
    a = Calibration.from_fit(fit_garch(returns), FakeSeries(returns, "eu_ets"))
    b = proxy_calibration("swiss_ets", a, fx_rate=0.95, fx_source="test")
    text = calibrations_readme([a, b], "| backtest |\n", ["a note"])
    assert "| eu_ets |" in text and "| swiss_ets |" in text and "proxy of eu_ets" in text
    assert "## Backtests" in text and "a note" in text


# --------------------------------------------------------------------------- regime models


def test_apply_ms_calibration_matches_filter(returns) -> None:
    markov = pytest.importorskip("riskmodel.fit.markov")
    params = {
        "mu_0": 0.05,
        "mu_1": -0.1,
        "sigma2_0": 1.0,
        "sigma2_1": 6.0,
        "p_00": 0.98,
        "p_01": 0.02,
        "p_10": 0.05,
        "p_11": 0.95,
    }
    res = markov.filter_with_params(returns, params)
    cal = Calibration(
        market="m",
        model={"family": "ms", "mean": "constant", "dist": "normal", "k_regimes": 2},
        params=params,
    )
    applied = apply(cal, returns)
    np.testing.assert_allclose(
        applied.conditional_volatility, res.conditional_volatility, rtol=1e-12
    )
    np.testing.assert_allclose(applied.smoothed_probs.to_numpy(), res.smoothed.to_numpy())
    # VaR: the predictive mixture's CDF at -VaR is 1 - level on every date
    w = res.predicted.to_numpy()[:50]
    v = applied.risk["var95"].to_numpy()[:50]
    cdf = (w * stats.norm.cdf((-v[:, None] - [0.05, -0.1]) / np.sqrt([1.0, 6.0]))).sum(axis=1)
    np.testing.assert_allclose(cdf, 0.05, atol=1e-9)


# --------------------------------------------------------------------------- real data, CLI


@pytest.mark.realdata
def test_cli_fit_eua(data_dir, tmp_path) -> None:
    from typer.testing import CliRunner

    from riskmodel.cli import app
    from riskmodel.data.series import load_series

    out = tmp_path / "cal"
    res = CliRunner().invoke(app, ["fit", "eu_ets", "--model", "garch-t,gjr-t", "--out", str(out)])
    assert res.exit_code == 0, res.output
    cal = load_calibration("eu_ets", out)
    s = load_series("eu_ets", data_dir)
    assert cal.data_hash == s.data_hash and cal.nobs == len(s.returns)
    assert cal.currency == "EUR" and cal.model["family"] in ("garch", "gjr")
    assert len(cal.selection) == 2
    res = CliRunner().invoke(app, ["fit", "quebec", "--model", "garch-t", "--out", str(out)])
    assert res.exit_code != 0  # proxy of california, which has no calibration in `out`
