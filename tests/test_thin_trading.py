"""Thin trading: the no-trade chain and GARCH part recovered from simulated data, the engine's
share of unchanged days and martingale, old calibrations unchanged, bad blocks refused."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest

from riskmodel import config
from riskmodel.errors import FitError, InputError
from riskmodel.fit.thin_trading import fit_thin, fit_trade_chain, gap_lengths, parse_thin_name
from riskmodel.sim import layout as L
from riskmodel.sim.thin_trading import fill, simulate_market, stationary_zero_share

TRUE = {"mu": 0.0, "omega": 0.05, "alpha": 0.08, "gamma": 0.0, "beta": 0.9, "nu": 6.0}


def _cal(p01=0.25, p11=0.5, kappa=0.0, params=TRUE):
    return {
        "market": "synthetic",
        "model": {"family": "garch", "mean": "constant", "dist": "t"},
        "params": dict(params),
        "state": {"last_price": 100.0, "last_variance": 1.0},
        "thin_trading": {
            "model": "markov",
            "p01": p01,
            "p11": p11,
            "kappa": kappa,
            "zero_share": stationary_zero_share(p01, p11),
            "last_state": 0,
        },
    }


def test_markov_chain_mle_recovers_transition_probabilities():
    rng = np.random.default_rng(3)
    p01, p11, n = 0.2, 0.6, 40_000
    s = np.zeros(n, dtype=int)
    u = rng.random(n)
    for t in range(1, n):
        s[t] = int(u[t] < (p11 if s[t - 1] else p01))
    est = fit_trade_chain(s)
    se01 = math.sqrt(p01 * (1 - p01) / (n * (1 - stationary_zero_share(p01, p11))))
    se11 = math.sqrt(p11 * (1 - p11) / (n * stationary_zero_share(p01, p11)))
    assert abs(est["p01"] - p01) < 4 * se01
    assert abs(est["p11"] - p11) < 4 * se11
    assert est["zero_share"] == pytest.approx(p01 / (1 - p11 + p01), rel=0.05)
    # closed form: the MLE equals the transition frequencies
    c = est["counts"]
    assert est["p01"] == c["n01"] / (c["n00"] + c["n01"])


def test_gap_lengths_count_idle_days_before_each_trade():
    assert gap_lengths([0, 1, 1, 0, 0, 1, 0]).tolist() == [0, 2, 0, 1]


def test_engine_paths_recover_garch_and_chain_parameters():
    """A long engine path of a known zgarch-t process, refitted: p01, p11, omega, alpha, beta
    and nu come back within a few standard errors."""
    cal = _cal()
    sim = simulate_market(
        cal, days=8000, paths=1, seed=5, martingale=False, max_daily_return=math.inf
    )
    r = pd.Series(sim["returns"][0], index=pd.bdate_range("2000-01-03", periods=8000))
    fit = fit_thin(r, "zgarch-t")
    tt = fit.thin_trading
    assert abs(tt["p01"] - 0.25) < 0.02 and abs(tt["p11"] - 0.5) < 0.03
    for key, tol in (("alpha", 0.03), ("beta", 0.04), ("nu", 2.0)):
        assert abs(fit.params[key] - TRUE[key]) < tol, (key, fit.params[key])
    assert fit.fit["converged"]
    assert fit.model_name == "zgarch-t"


def test_gap_scaling_is_found_when_present_and_not_when_absent():
    def kappa_of(kappa):
        sim = simulate_market(
            _cal(p01=0.3, p11=0.5, kappa=kappa),
            days=8000,
            paths=1,
            seed=8,
            martingale=False,
            max_daily_return=math.inf,
        )
        r = pd.Series(sim["returns"][0], index=pd.bdate_range("2000-01-03", periods=8000))
        return fit_thin(r, "zgarch-t").thin_trading

    with_k = kappa_of(1.0)
    assert with_k["kappa_profile"]["p"] < 0.01
    assert 0.6 < with_k["kappa"] < 1.5
    assert kappa_of(0.0)["kappa_profile"]["kappa_hat"] < 0.3


@pytest.mark.usefixtures("data_dir")  # the real series: skip when absent
def test_engine_share_of_unchanged_days_and_martingale_on_a_real_calibration():
    """zgarch-t fitted to the shipped NZ ETS series (34% unchanged days): the engine's paths
    have the fitted stationary share of unchanged days and E[P_t] = P_0 (martingale)."""
    from riskmodel.data.series import load_series

    cal = fit_thin(load_series("nz_ets"), "zgarch-t").to_dict()
    zs = cal["thin_trading"]["zero_share"]
    sim = simulate_market(cal, days=252, paths=3000, seed=2)
    share = sim["no_trade"].mean(axis=1)
    assert abs(share.mean() - zs) < 4 * share.std() / math.sqrt(len(share)) + 1e-3
    assert ((sim["returns"] == 0) == (sim["no_trade"] == 1)).all()
    p_t = np.exp(np.cumsum(sim["returns"], axis=1) / 100.0)
    for t in (20, 251):
        m, se = p_t[:, t].mean(), p_t[:, t].std() / math.sqrt(p_t.shape[0])
        assert abs(m - 1.0) < 4 * se


def test_without_thin_trading_the_market_is_unchanged():
    """A null block and an absent block give the same engine paths, and a shipped scenario's
    kept paths are those of the same calibrations with ``thin_trading: null`` added."""
    base = {k: v for k, v in _cal().items() if k != "thin_trading"}
    a = simulate_market(base, days=100, paths=50, seed=4)
    b = simulate_market({**base, "thin_trading": None}, days=100, paths=50, seed=4)
    np.testing.assert_array_equal(a["returns"], b["returns"])
    assert (a["returns"] != 0).all()
    mp = np.zeros((1, L.NPF))
    assert not fill(0, base, mp, "m") and not mp.any()


def test_shipped_scenario_bit_identical_with_null_thin_trading(tmp_path, monkeypatch):
    """The shipped china_korea scenario on the shipped calibrations with the thin-trading block
    removed (absent) and set to null: identical kept paths and tables; and with the block the
    paths differ (it is read). (Against the code before thin trading, the shipped scenarios
    china_korea, eu_switzerland and korea_stabilisation gave identical paths and tables.)"""
    from riskmodel.io import read_yaml
    from riskmodel.sim.engine import simulate
    from riskmodel.sim.scenario import scenario_from_dict

    d = read_yaml(config.PROJECT_ROOT / "data" / "scenarios" / "china_korea.yaml")
    d.pop("sweep", None)
    d["horizon"]["years"] = 1
    d["simulation"].update(paths=40, paths_per_chunk=40, keep_paths=3)
    scn = scenario_from_dict(d)
    with_block = simulate(scn)
    runs = []
    for mode in ("absent", "null"):
        cal_dir = tmp_path / mode
        cal_dir.mkdir()
        for f in config.CALIBRATIONS_DIR.glob("*.json"):
            c = json.loads(f.read_text())
            if isinstance(c, dict) and "market" in c:
                c = copy.deepcopy(c)
                c.pop("thin_trading", None)
                # the fit's record that it modelled thin trading goes with the block (a flag
                # without its block is refused: calibration_schema._check_thin_flag)
                c["model"].pop("thin_trading", None)
                if mode == "null":
                    c["thin_trading"] = None
            (cal_dir / f.name).write_text(json.dumps(c))
        monkeypatch.setattr(config, "CALIBRATIONS_DIR", cal_dir)
        runs.append(simulate(scn))
    np.testing.assert_array_equal(runs[0].paths["price"], runs[1].paths["price"])
    pd.testing.assert_frame_equal(runs[0].table, runs[1].table)
    assert not np.array_equal(with_block.paths["price"], runs[0].paths["price"])


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"p01": 1.2, "p11": 0.1}, "p01"),
        ({"p01": 0.1, "p11": "x"}, "p11"),
        ({"p01": 0.1, "p11": 0.1, "last_state": 3}, "last_state"),
    ],
)
def test_bad_blocks_are_refused_naming_the_field(block, field):
    cal = _cal()
    cal["thin_trading"] = {"model": "markov", **block}
    with pytest.raises(InputError) as exc:
        fill(0, cal, np.zeros((1, L.NPF)), "markets[0].calibration")
    assert field in str(exc.value.field)


def test_thin_names_parse():
    tn = parse_thin_name("zgjr-t-vt")
    assert (tn.spec.vol, tn.spec.dist, tn.vt_years, tn.window_years) == ("gjr", "t", 2.0, None)
    tn = parse_thin_name("zgarch-t-vt1-w4-nu8")
    assert (tn.vt_years, tn.window_years, tn.nu_min) == (1.0, 4.0, 8.0)
    assert tn.name == "zgarch-t-vt1-w4-nu8"
    assert parse_thin_name("zgarch-normal").spec.dist == "normal"
    with pytest.raises(FitError):
        parse_thin_name("zegarch-t-vt")


@pytest.mark.usefixtures("data_dir")  # the real series: skip when absent
def test_full_engine_single_market_has_the_fitted_share_of_unchanged_days():
    """The whole engine (one-market autarky scenario, the kernel validation uses) simulates the
    thin-trading block: unchanged-day share = zero_share, mean price = last price."""
    from riskmodel.data.series import load_series
    from riskmodel.sim.single_market import simulate_single_market

    cal = fit_thin(load_series("k_ets"), "zgarch-t").to_dict()
    zs = cal["thin_trading"]["zero_share"]
    logp, meta = simulate_single_market(cal, 252, 2000, seed=3)
    r = np.diff(logp, axis=1)
    share = (r == 0).mean(axis=1)
    assert abs(share.mean() - zs) < 4 * share.std() / math.sqrt(len(share)) + 1e-3
    p = np.exp(logp[:, -1] - logp[:, 0])
    assert abs(p.mean() - 1.0) < 4 * p.std() / math.sqrt(len(p))


def test_crps_of_an_ensemble_matches_the_normal_closed_form():
    from scipy import stats

    from riskmodel.fit.thin_selection import crps_sample

    x = stats.norm.ppf((np.arange(20_000) + 0.5) / 20_000)
    for y in (0.0, 1.3):
        exact = y * (2 * stats.norm.cdf(y) - 1) + 2 * stats.norm.pdf(y) - 1 / math.sqrt(math.pi)
        assert crps_sample(x, y) == pytest.approx(exact, abs=1e-3)


def test_choice_prefers_low_score_var_passes_and_the_guard_limit_only_when_nearly_as_good():
    from riskmodel.fit.thin_selection import choose

    t = pd.DataFrame(
        {
            "score": [1.0, 1.03, 3.0],
            "guard_share_1y": [5e-4, 5e-5, 1e-5],
            "converged": [True, True, True],
            "kupiec_p_95": [0.5, 0.5, 0.5],
            "kupiec_p_99": [0.5, 0.5, 0.5],
            "bic": [1.0, 2.0, 3.0],
        },
        index=["za", "zb", "zc"],
    )
    assert choose(t) == "zb"  # within 5% of the best score and inside the guard limit
    t.loc["zb", "score"] = 1.2
    assert choose(t) == "za"  # the guard limit never buys a much worse forecast
    t.loc["za", "kupiec_p_99"] = 0.01
    assert choose(t) == "zb"  # a VaR 99 that fails Kupiec loses when another passes
    t.loc["za", "kupiec_p_99"] = 0.5
    t["converged"] = [False, True, True]
    assert choose(t) == "zb"  # never a fit that did not converge
    t["score"] = np.nan  # no validation score: BIC, guard preferred within 10 points
    t["converged"] = True
    assert choose(t) == "zb"


def test_msgarch_parameter_map_survives_a_huge_nu_step():
    """A BFGS line search may try theta_nu = 1000 (it did with 8 starts on NZ data)."""
    from riskmodel.fit.msgarch import NU_MAX, _Spec

    spec = _Spec(2, True)
    theta = np.zeros(spec.n_free)
    theta[-1] = 1000.0
    assert spec.unpack(theta)[-1] == NU_MAX


def test_infinite_variance_laws_are_never_chosen():
    from riskmodel.fit.calibration import Calibration
    from riskmodel.fit.thin_selection import finite_variance

    def cal(family, dist, **p):
        return Calibration(market="m", model={"family": family, "dist": dist}, params=p)

    eg = {"omega": 0.0, "alpha": 0.1, "gamma": 0.0, "beta": 0.95}
    assert not finite_variance(cal("egarch", "t", nu=8.0, **eg))  # E exp(c|z|) = inf
    assert finite_variance(cal("egarch", "normal", **eg))
    g = {"mu": 0.0, "omega": 0.1, "alpha": 0.1, "gamma": 0.0, "beta": 0.89}
    assert finite_variance(cal("garch", "t", nu=4.0, **g))
    assert not finite_variance(cal("garch", "t", nu=2.0, **g))
    assert not finite_variance(cal("garch", "t", nu=6.0, **{**g, "beta": 0.9}))


def test_var_given_a_trade_has_its_nominal_hit_rate_on_non_zero_days():
    """Returns simulated from a thin-trading calibration, scored with its own parameters: on
    all days the mixture VaR 95/99 is hit about 5% / 1% of the time; on the non-zero days the
    law given a trade (``risk_traded``) is hit about 5% / 1% too, while the all-days mixture VaR
    would be hit about 5% / pi of them (pi = 1 - the zero share): the backtest on non-zero days
    must use the former (riskmodel.fit.validation)."""
    from riskmodel.fit.calibration import Calibration, apply

    p01, p11 = 0.3, 0.5
    raw = _cal(p01=p01, p11=p11)
    sim = simulate_market(raw, days=4000, paths=1, seed=8)
    r = pd.Series(sim["returns"][0], index=pd.bdate_range("2010-01-04", periods=4000))
    cal = Calibration(market="synthetic", series_id="", instrument="", currency="EUR",
                      model=raw["model"], params=raw["params"], std_errors={}, loglik=0.0,
                      aic=0.0, bic=0.0, nobs=len(r), sample={}, data_hash=None,
                      state=raw["state"], price_level={}, thin_trading=raw["thin_trading"])
    a = apply(cal, r)
    nz = r != 0.0
    pi = 1.0 - stationary_zero_share(p01, p11)
    n_nz = int(nz.sum())
    for lv, alpha in (("95", 0.05), ("99", 0.01)):
        hit_all = float((r < -a.risk[f"var{lv}"]).mean())
        hit_tr = float((r[nz] < -a.risk_traded[f"var{lv}"][nz]).mean())
        hit_mix = float((r[nz] < -a.risk[f"var{lv}"][nz]).mean())
        se = math.sqrt(alpha * (1 - alpha) / n_nz)
        assert abs(hit_all - alpha) < 4 * math.sqrt(alpha * (1 - alpha) / len(r))
        assert abs(hit_tr - alpha) < 4 * se
        assert abs(hit_mix - alpha / pi) < 4 * math.sqrt(alpha / pi * (1 - alpha / pi) / n_nz)
