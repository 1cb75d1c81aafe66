"""The engine against MODEL.md §8: identities per path (exact) or within 3 Monte Carlo SEs."""

from __future__ import annotations

import numpy as np
import pytest

from riskmodel.sim.engine import simulate
from riskmodel.sim.scenario import scenario_from_dict

GARCH = {"mu": 0.0, "omega": 0.05, "alpha": 0.08, "beta": 0.9, "nu": 6.0}


def market(mid: str, last: float, bau: float, *, cur: str = "EUR", vol: float = 0.03,
           params: dict | None = None, dist: str = "t", **kw) -> dict:
    """A synthetic GARCH-t market with its own output process."""
    return {"id": mid, "synthetic": True, "currency": cur, "bau_emissions": bau,
            "output_growth": 0.02, "output_vol": vol,
            "process": {"family": "garch", "dist": dist, "params": params or GARCH,
                        "last_price": last}, **kw}


def scenario(markets: list[dict], links: list[dict] | None = None, *, paths: int = 300,
             years: int = 2, dpy: int = 20, **extra) -> object:
    d = {"name": "t", "markets": markets, "links": links or [],
         "horizon": {"years": years, "days_per_year": dpy},
         "simulation": {"paths": paths, "paths_per_chunk": 100, "keep_annual": True,
                        "keep_paths": 2, "seed": 7},
         "dependence": {"corr": np.eye(len(markets)).tolist()}, **extra}
    if len(markets) == 3:
        d["dependence"] = {"corr": [[1, 0.5, 0.2], [0.5, 1, 0.3], [0.2, 0.3, 1]]}
    return scenario_from_dict(d)


@pytest.fixture(scope="module")
def pool3():
    s = scenario([market("a", 80, 1500), market("b", 20, 600), market("c", 40, 300)],
                 topology="multilateral", paths=400)
    return s, simulate(s)


def test_weighted_average_price_and_variance(pool3):
    s, r = pool3
    c = np.array(r.meta["c"])
    w = c / c.sum()
    pa = r.annual["price_autarky"][0]  # autarky variant: design-adjusted p' (uncollared)
    pl = r.annual["price"][1]  # linked
    assert (pa > 0).all()
    expect = np.einsum("pmy,m->py", pa, w)
    for m in range(3):
        np.testing.assert_allclose(pl[:, m, :], expect, rtol=1e-10)
    # Var(p^L) = w' Sigma_p w, per year, in sample moments (exact) ...
    for y in range(2):
        cov = np.cov(pa[:, :, y].T)
        np.testing.assert_allclose(np.var(pl[:, 0, y], ddof=1), w @ cov @ w, rtol=1e-9)
    # ... and the table's linked price sd agrees with the per-path arrays
    sd, se = r.get("price_sd", "a", "linked", 2023)
    assert abs(sd - np.std(pl[:, 0, 0], ddof=1)) < 1e-6 * sd


def test_conservation_of_emissions(pool3):
    _, r = pool3
    e, sup = r.annual["emissions"][1], r.annual["supply"][1]
    np.testing.assert_allclose(e.sum(axis=1), sup.sum(axis=1), rtol=1e-10)
    # flows net to zero and each market emits S + x
    np.testing.assert_allclose(r.annual["flow"][1].sum(axis=1), 0.0, atol=1e-8)
    np.testing.assert_allclose(e, sup + r.annual["flow"][1], rtol=1e-10)
    tot, se = r.get("emissions_mean", "total", "linked", -1)
    sup_tot, _ = r.get("supply_mean", "total", "linked", -1)
    assert abs(tot - sup_tot) < 1e-8 * tot


def test_two_market_gains_ratio_and_decomposition():
    s = scenario([market("a", 80, 1500), market("b", 20, 600)], [{"markets": ["a", "b"]}],
                 paths=400)
    r = simulate(s)
    c = np.array(r.meta["c"])
    for y in (2023, 2024, -1):
        g1, _ = r.get("gain_mean", "a", "linked", y)
        g2, _ = r.get("gain_mean", "b", "linked", y)
        assert g1 / g2 == pytest.approx(c[1] / c[0], rel=1e-9)
    # total expected gain = c1 c2 / (2 (c1 + c2)) E[(p1 - p2)^2]: the mean-gap (effort) and
    # shock (risk: sigma1^2 + sigma2^2 - 2 rho sigma1 sigma2) parts
    pa = r.annual["price_autarky"][0][:, :, 0]
    d = pa[:, 0] - pa[:, 1]
    k = c[0] * c[1] / (2 * (c[0] + c[1]))
    expect = k * (d.mean() ** 2 + d.var())
    gt, se = r.get("gain_mean", "total", "linked", 2023)
    assert gt == pytest.approx(expect, rel=1e-9)
    eff = sum(r.get("gain_effort", m, "linked", 2023)[0] for m in "ab")
    risk = sum(r.get("gain_risk", m, "linked", 2023)[0] for m in "ab")
    assert abs(eff + risk - gt) < 3 * se


def _abs_vs_intensity(rho: float, out_vol: float):
    """Autarky price variance under an absolute and an intensity cap, on common draws."""
    base = market("a", 50, 1000, vol=out_vol, params={**GARCH, "omega": 0.02})
    res = {}
    for cap in ("absolute", "intensity"):
        m = {**base, "cap": {"type": cap}}
        s = scenario([m], paths=600, years=1,
                     fundamentals={"output_emissions_corr": {"a": rho}})
        res[cap] = simulate(s)
    return res


@pytest.mark.parametrize("rho", [0.9, -0.3])
def test_intensity_versus_absolute_condition(rho):
    res = _abs_vs_intensity(rho, 0.08)
    r = res["absolute"]
    u = r.annual["bau"][0][:, 0, 0]
    m_ = r.annual["output"][0][:, 0, 0]
    q = r.annual["supply"][0][:, 0, 0].mean()
    rho_s = np.corrcoef(u, m_)[0, 1]
    cv_y, cv_u = m_.std() / m_.mean(), u.std() / u.mean()
    condition = rho_s > 0.5 * (q / u.mean()) * cv_y / cv_u
    var_abs = res["absolute"].get("price_sd", "a", "autarky", 2023)[0] ** 2
    var_int = res["intensity"].get("price_sd", "a", "autarky", 2023)[0] ** 2
    assert (var_int < var_abs) == condition
    # same draws: BAU paths identical under both designs (common random numbers)
    np.testing.assert_array_equal(res["intensity"].annual["bau"], r.annual["bau"])


def test_optimal_indexed_cap():
    """The indexed cap with b* = Cov(U, Y) / (Q Var(Y)) leaves Var(D) ~ (1 - rho^2) Var(U)."""
    base = market("a", 50, 1000, vol=0.04, params={**GARCH, "omega": 0.02})
    s0 = scenario([base], paths=1000, years=1, fundamentals={"output_emissions_corr": {"a": 0.6}})
    r0 = simulate(s0)
    u = r0.annual["bau"][0][:, 0, 0]
    m_ = r0.annual["output"][0][:, 0, 0]
    q = r0.annual["supply"][0][:, 0, 0].mean()
    b_star = np.cov(u, m_)[0, 1] / (q * m_.var(ddof=1))
    rho = np.corrcoef(u, m_)[0, 1]
    assert 0 < b_star < 1
    c = r0.meta["c"][0]
    out = {}
    for b in (0.0, b_star / 2, b_star, min(1.0, 1.5 * b_star)):
        s = scenario([{**base, "cap": {"type": "indexed", "degree": float(b)}}], paths=1000,
                     years=1, fundamentals={"output_emissions_corr": {"a": 0.6}})
        out[b] = (simulate(s).get("price_sd", "a", "autarky", 2023)[0] * c) ** 2
    assert min(out, key=out.get) == b_star
    assert out[b_star] == pytest.approx((1 - rho**2) * u.var(ddof=1), rel=0.02)


def test_quota_rent_and_monotone_gains():
    gains = []
    flows = []
    for quota in (None, 60.0, 20.0, 5.0, 0.0):
        lk = {"markets": ["a", "b"]}
        if quota is not None:
            lk["quota"] = {"mt": quota}
        s = scenario([market("a", 80, 1500), market("b", 20, 600)], [lk], paths=200)
        r = simulate(s)
        pr = r.annual["price"][1]
        fl = r.annual["flow"][1]
        # importer (a, x > 0) pays at least the exporter's price; the gap is 0 unless the quota
        # binds (|flow| at the quota), where it is the quota's shadow price (> 0)
        imp = fl[:, 0, :] > 0
        gap = pr[:, 0, :] - pr[:, 1, :]
        assert (gap[imp] >= -1e-9).all()
        if quota is not None:
            assert (np.abs(fl[:, 0, :]) <= quota + 1e-9).all()
            binding = np.abs(np.abs(fl[:, 0, :]) - quota) < 1e-9
            assert (gap[~binding] == pytest.approx(0.0, abs=1e-7))
        ga = r.annual["price_autarky"][0]
        c = np.array(r.meta["c"])
        # per-path gains (linear abatement, autarky without collars = p')
        g = sum(c[m] / 2 * (ga[:, m, :] - pr[:, m, :]) ** 2 for m in range(2))
        gains.append(g)
        flows.append(fl)
    for a, b in zip(gains, gains[1:], strict=False):
        assert (b <= a + 1e-9).all()  # per path: tighter quota, smaller gains
    np.testing.assert_allclose(gains[-1], 0.0, atol=1e-9)


def test_fee_gap():
    fee = 3.0
    s = scenario([market("a", 80, 1500), market("b", 20, 600)],
                 [{"markets": ["a", "b"], "fee": fee}], paths=200)
    r = simulate(s)
    pr = r.annual["price"][1]
    fl = r.annual["flow"][1][:, 0, :]
    gap = pr[:, 0, :] - pr[:, 1, :]
    np.testing.assert_allclose(gap[fl > 1e-9], fee, rtol=1e-9)
    np.testing.assert_allclose(gap[fl < -1e-9], -fee, rtol=1e-9)
    assert (np.abs(gap[np.abs(fl) <= 1e-9]) <= fee + 1e-9).all()


def test_effective_collar_wider_never_binds():
    """Linked at about 49 (between 60 and 40): a's ceiling 52 binds on a good share of days
    (not only in a rare tail, so the check does not hang on one draw), b's wider collar never
    binds and no linked price leaves [30, 52]."""
    a = market("a", 60, 1000, collar={"floor": 30.0, "ceiling": 52.0})
    b = market("b", 40, 800, collar={"floor": 10.0, "ceiling": 90.0})
    s = scenario([a, b], [{"markets": ["a", "b"]}], paths=300)
    r = simulate(s)
    pl = r.annual["price"][1]
    assert pl.max() <= 52.0 + 1e-9 and pl.min() >= 30.0 - 1e-9
    assert r.get("p_ceiling", "b", "linked", -1)[0] == 0.0
    assert r.get("p_floor", "b", "linked", -1)[0] == 0.0
    p_ceil, se = r.get("p_ceiling", "a", "linked", -1)
    assert p_ceil > 3 * se > 0.0  # the narrower one does bind
    # the kept daily paths respect it too
    assert r.paths["price"][1].max() <= 52.0 + 1e-9
