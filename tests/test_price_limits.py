"""Daily price limits: detected from a market's prices (riskmodel.data.price_limits), simulated
with carry-over by the engine (price_kernels.log_price_block, docs/PRICE_LIMITS.md)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from riskmodel import config
from riskmodel.data.price_limits import detect_limit
from riskmodel.errors import InputError
from riskmodel.fit.calibration import Calibration, load_calibration
from riskmodel.sim import layout as L
from riskmodel.sim.price_limit import fill
from riskmodel.sim.thin_trading import simulate_market


def _garch(limit: float | None = None, *, omega: float = 2.0, alpha: float = 0.1,
           beta: float = 0.85) -> dict:
    """A GARCH(1,1)-normal calibration whose daily sd is about 6% (limit days are common)."""
    h = omega / (1 - alpha - beta)
    cal = {
        "model": {"family": "garch", "mean": "constant", "dist": "normal", "k_regimes": 1},
        "params": {"mu": 0.0, "omega": omega, "alpha": alpha, "beta": beta},
        "state": {"last_price": 30.0, "last_variance": h, "last_resid": 0.0},
        "guard": {"max_daily_return": 60.0},
    }
    if limit is not None:
        cal["price_limit"] = {"limit": limit, "up_pct": 100 * math.log1p(limit),
                              "down_pct": 100 * math.log1p(-limit)}
    return cal


def test_traded_moves_stay_within_the_limit_and_the_gap_carries_over():
    """Every simulated day's traded move lies within [log(1-L), log(1+L)]; the traded log
    price ends the year within the carried gap of the latent one; after an up-limit day the
    next day is at the limit again far more often than an unconditional day."""
    lim = 0.10
    up, dn = 100 * math.log1p(lim), 100 * math.log1p(-lim)
    sim = simulate_market(_garch(lim), days=252, paths=400, seed=3, price_limits=True)
    free = simulate_market(_garch(None), days=252, paths=400, seed=3)
    r = sim["returns"]
    assert r.max() <= up + 1e-9 and r.min() >= dn - 1e-9
    assert (free["returns"] > up).mean() > 0.02  # without the limit the same draws exceed it
    at_up = r >= up - 1e-9
    p_again = at_up[:, 1:][at_up[:, :-1]].mean()
    assert p_again > 2.0 * at_up.mean()
    # carry-over: the latent path is the free path (same draws); traded = latent - gap, and the
    # gap left at the end is what the last days could not yet move
    latent_end = free["returns"].sum(axis=1)
    traded_end = r.sum(axis=1)
    assert np.corrcoef(latent_end, traded_end)[0, 1] > 0.95
    assert np.mean(np.abs(latent_end - traded_end)) < 0.5 * np.std(latent_end)


def test_a_limit_that_never_binds_changes_nothing():
    """A limit of 99% (+68.8% / -460% a day) never binds: paths bit-identical to none."""
    a = simulate_market(_garch(None), days=120, paths=60, seed=5)
    b = simulate_market(_garch(0.99), days=120, paths=60, seed=5, price_limits=True)
    np.testing.assert_array_equal(a["returns"], b["returns"])
    mp = np.zeros((1, L.NPF))
    assert fill(0, _garch(None), mp, "m") is None and not mp.any()


def test_detector_recovers_the_simulated_limit_and_finds_none_without():
    """Round trip: the engine's paths under a 10% limit (as dated daily returns) show the
    limit to the detector; the same process without the limit shows none; a 20% limit is
    told from a 10% one."""
    idx = pd.bdate_range("2017-01-02", periods=252 * 3)
    for lim in (0.10, 0.20):
        cal = _garch(lim, omega=4.0 if lim == 0.2 else 2.0)
        r = simulate_market(cal, days=len(idx), paths=1, seed=11, price_limits=True)["returns"][0]
        d = detect_limit(pd.Series(r, index=idx))
        assert d is not None and d["limit"] == lim
        assert d["up_pct"] == pytest.approx(100 * math.log1p(lim))
        assert d["next_same_limit_share"] > d["share_at_limit"]
    r = simulate_market(_garch(None), days=len(idx), paths=1, seed=11)["returns"][0]
    assert detect_limit(pd.Series(r, index=idx)) is None
    assert detect_limit(None) is None


def test_real_series_show_the_exchanges_limits(data_dir):
    """The data: K-ETS, Fujian, Tianjin, Shanghai, Guangdong at +-10%, Beijing at +-20%,
    Chongqing's rule moved from 20% to 10% (the recent window decides); the EU, NZ,
    California, RGGI, Hubei (OTC prices) and Shenzhen (moves of 100%+) show none, nor the
    national CEA (+-10% on its exchange, but 3 limit days in 338 are too few to tell)."""
    from riskmodel.data.series import load_series

    want = {"k_ets": 0.10, "fujian": 0.10, "tianjin": 0.10, "china_ets": None,
            "shanghai": 0.10, "guangdong": 0.10,
            "beijing": 0.20, "chongqing": 0.10, "eu_ets": None, "nz_ets": None,
            "california": None, "rggi": None, "hubei": None, "shenzhen": None}
    for market, lim in want.items():
        d = detect_limit(load_series(market).returns)
        assert (None if d is None else d["limit"]) == lim, market
    old = load_series("chongqing").returns
    d = detect_limit(old[old.index < "2020-01-01"])
    assert d is not None and d["limit"] == 0.20


def test_committed_calibrations_carry_the_limit_of_their_own_sample(data_dir):
    """Each shipped calibration's ``price_limit`` is what the detector reads from the returns
    of its fitted sample (rebuilt here from the data) with the latent scale ``attach`` gives;
    proxies carry none."""
    from riskmodel.data.series import load_series
    from riskmodel.fit.price_limits import attach, sample_limit

    seen = 0
    for path in sorted(config.CALIBRATIONS_DIR.glob("*.json")):
        cal = json.loads(path.read_text())
        if "model" not in cal or "sample" not in cal:
            continue
        if cal.get("proxy"):
            assert not cal.get("price_limit"), path.name
            continue
        block = sample_limit(load_series(cal["market"]).returns, cal["sample"])
        want = attach({**cal, "price_limit": block})
        got = cal.get("price_limit")
        assert (got is None) == (want is None), path.name
        if want is None:
            continue
        seen += 1
        assert {k: v for k, v in got.items() if not isinstance(v, float)} == {
            k: v for k, v in want.items() if not isinstance(v, float)}, path.name
        for k, v in want.items():
            if isinstance(v, float):
                assert got[k] == pytest.approx(v, rel=1e-6), (path.name, k)
    assert seen >= 5


def test_price_limit_round_trips_and_bad_blocks_are_refused():
    c = load_calibration("eu_ets").to_dict()
    c["price_limit"] = _garch(0.1)["price_limit"]
    back = Calibration.from_dict(json.loads(json.dumps(c)))
    assert back.price_limit["limit"] == 0.1
    for bad, field in (({"limit": 1.5, "up_pct": 1.0, "down_pct": -1.0}, "limit"),
                       ({"limit": 0.1, "up_pct": 10.0, "down_pct": -10.0}, "up_pct")):
        c["price_limit"] = bad
        with pytest.raises(InputError) as exc:
            Calibration.from_dict(c, file="x.json")
        assert exc.value.field.startswith("price_limit") and field in exc.value.field
    with pytest.raises(InputError) as exc:
        fill(0, {"price_limit": {"limit": "wide"}}, np.zeros((1, L.NPF)), "markets[0]")
    assert exc.value.field == "markets[0].price_limit.limit"


def test_scenario_sets_or_removes_the_limit_with_its_source():
    """The shipped china_korea scenario: by default K-ETS trades without a limit (a run note
    says its prices show one); ``price_limit: calibration`` takes the calibration's 10% with its
    latent scale (sources: the calibration file's fields), 0 removes it and 0.3 sets 30%
    (source: the scenario)."""
    from riskmodel.io import read_yaml
    from riskmodel.sim.resolve import resolve
    from riskmodel.sim.scenario import scenario_from_dict

    raw = read_yaml(config.SCENARIOS_DIR / "china_korea.yaml")
    raw.pop("sweep", None)  # the sweep is the batch layer's; one design here
    k = [m["id"] for m in raw["markets"]].index("k_ets")
    res = resolve(scenario_from_dict(raw))
    assert res.mp[k, L.LIM_UP] == 0.0
    assert any("k_ets" in n and "limit of +-10%" in n for n in res.notes)
    omega = res.mp[k, L.OMEGA]
    raw["markets"][k]["price_limit"] = "calibration"
    res = resolve(scenario_from_dict(raw))
    assert res.mp[k, L.LIM_UP] == pytest.approx(100 * math.log1p(0.10))
    assert res.mp[k, L.LIM_DN] == pytest.approx(100 * math.log1p(-0.10))
    src = res.sources["markets.k_ets.process.price_limit"]
    assert src["value"] == 0.10 and "k_ets.json" in src["source"] and "price_limit" in src["source"]
    lam = load_calibration("k_ets").price_limit["latent_variance_scale"]
    assert res.sources["markets.k_ets.process.latent_variance_scale"]["value"] == lam
    beta = res.mp[k, L.BETA]  # EGARCH: log omega shifted by (1 - beta) log lambda
    assert res.mp[k, L.OMEGA] == pytest.approx(omega + (1 - beta) * math.log(lam))
    for value, up in ((0.0, 0.0), (0.3, 100 * math.log1p(0.3))):
        raw["markets"][k]["price_limit"] = value
        res = resolve(scenario_from_dict(raw))
        assert res.mp[k, L.LIM_UP] == pytest.approx(up)
        assert "scenario" in res.sources["markets.k_ets.process.price_limit"]["source"]


def test_latent_scale_multiplies_every_conditional_variance():
    """``scaled`` multiplies the one-step variances by lambda in every family: the engine's
    first-day residual sd (same draws) grows by sqrt(lambda) for GARCH, EGARCH and MS."""
    from riskmodel.sim.price_limit import scaled

    lam = 2.25
    egarch = {**_garch(None), "model": {"family": "egarch", "mean": "constant",
                                         "dist": "normal", "k_regimes": 1},
              "params": {"mu": 0.0, "omega": 0.1, "alpha": 0.1, "gamma": 0.0, "beta": 0.95},
              "state": {"last_price": 30.0, "last_variance": 4.0, "last_resid": 0.0}}
    ms = {**_garch(None), "model": {"family": "ms", "mean": "constant", "dist": "normal",
                                     "k_regimes": 2},
          "params": {"mu_0": 0.0, "mu_1": 0.0, "sigma2_0": 4.0, "sigma2_1": 4.0, "p_00": 0.9,
                     "p_01": 0.1, "p_10": 0.1, "p_11": 0.9},
          "state": {"last_price": 30.0}}
    for cal in (_garch(None), egarch, ms):
        a = simulate_market(cal, days=1, paths=4000, seed=9)["returns"][:, 0]
        b = simulate_market(scaled(cal, lam), days=1, paths=4000, seed=9)["returns"][:, 0]
        assert b.std() / a.std() == pytest.approx(math.sqrt(lam), rel=0.02)
