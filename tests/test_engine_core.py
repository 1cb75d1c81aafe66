"""Engine plumbing: chunking invariance, common random numbers, events, price kernels vs the fit
layer and arch, inverse-CDF tables, errors naming the field."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from scipy import stats

from riskmodel.errors import InputError
from riskmodel.sim import layout as L
from riskmodel.sim.engine import (
    chunk_streams,
    merge_chunks,
    n_chunks,
    simulate,
    simulate_chunk,
)
from riskmodel.sim.events import daily_cumulative, link_generator, simulate_chain, stationary
from riskmodel.sim.innovations import build_table, lookup, table_error
from riskmodel.sim.price_kernels import simulate_returns
from riskmodel.sim.scenario import LinkEventSpec, scenario_from_dict

GARCH = {"mu": 0.0, "omega": 0.05, "alpha": 0.08, "beta": 0.9, "nu": 6.0}


def market(mid, last, bau, **kw):
    return {"id": mid, "synthetic": True, "currency": "EUR", "bau_emissions": bau,
            "output_growth": 0.02, "output_vol": 0.03,
            "process": {"family": "garch", "dist": "t", "params": GARCH, "last_price": last},
            **kw}


def two_market(paths=500, ppc=100, events=None, links=None, **kw):
    d = {"name": "t", "markets": [market("a", 80, 1500), market("b", 20, 600)],
         "links": links if links is not None else [{"markets": ["a", "b"]}],
         "horizon": {"years": 2, "days_per_year": 15},
         "dependence": {"corr": [[1, 0.3], [0.3, 1]]},
         "simulation": {"paths": paths, "paths_per_chunk": ppc, "keep_annual": True,
                        "keep_paths": 3, "seed": 11}}
    if events:
        d["events"] = events
    d.update(kw)
    return scenario_from_dict(d)


def test_chunk_streams_follow_the_contract():
    from riskmodel.sim.rng import state_from_seed

    streams = chunk_streams(5, 3)
    kids = np.random.SeedSequence(5).spawn(7)[3].spawn(3)
    for k, s in enumerate(streams):
        np.testing.assert_array_equal(s, state_from_seed(kids[k]))
    assert len({s.tobytes() for s in streams}) == 3


def test_chunking_and_merge_order_are_bit_identical():
    s = two_market()
    full = simulate(s)
    parts = [simulate_chunk(s, c) for c in range(n_chunks(s))]
    parts = [pickle.loads(pickle.dumps(p)) for p in parts[::-1]]  # picklable, any order
    res = merge_chunks(s, [parts[2], parts[0], parts[4], parts[1], parts[3]])
    np.testing.assert_array_equal(full.table.value.to_numpy(), res.table.value.to_numpy())
    for k in full.annual:
        np.testing.assert_array_equal(full.annual[k], res.annual[k])
    np.testing.assert_array_equal(full.paths["price"], res.paths["price"])
    # the last chunk may be short; explicit sizes are checked
    with pytest.raises(InputError, match="first_path"):
        simulate_chunk(s, 1, first_path=0)


def test_common_random_numbers_across_variants_and_scenarios():
    base = simulate(two_market(paths=200))
    quota = simulate(two_market(paths=200, links=[{"markets": ["a", "b"], "quota": {"mt": 5}}]))
    np.testing.assert_array_equal(base.annual["price"][0], quota.annual["price"][0])
    np.testing.assert_array_equal(base.annual["bau"], quota.annual["bau"])
    assert not np.array_equal(base.annual["price"][1], quota.annual["price"][1])
    # no events: linked_events is linked and the exposure is zero
    np.testing.assert_array_equal(base.annual["price"][1], base.annual["price"][2])
    expo = base.table[base.table.variant == "exposure"].value.dropna()
    assert (expo == 0).all()


def test_events_delink_to_autarky_and_keep_other_variants():
    ev = {"links": [{"link": "a-b", "active_to_suspended": 5000.0, "terminal": True}]}
    s = two_market(paths=200, events=ev)
    r = simulate(s)
    base = simulate(two_market(paths=200))
    # the events stream is separate: autarky and linked are unchanged by adding events
    np.testing.assert_array_equal(r.annual["price"][:2], base.annual["price"][:2])
    # suspended at once (rate 5000/yr, 15 days a year): prices are autarky prices again
    np.testing.assert_array_equal(r.annual["price"][2], r.annual["price"][0])
    d, se = r.get("price_mean", "a", "exposure", 2023)
    assert d > 0 and se > 0  # delinking raises a's price (it imported)


def test_restricted_state_applies_the_restricted_quota():
    ev = {"links": [{"link": "a-b", "active_to_restricted": 5000.0,
                     "restricted_quota": {"mt": 1.0}}]}
    r = simulate(two_market(paths=100, events=ev))
    fl = r.annual["flow"][2]
    assert np.abs(fl).max() <= 1.0 + 1e-9
    assert r.get("p_quota", "a", "linked_events", 2024)[0] > 0.5


def test_event_chain_stationary_distribution():
    ev = LinkEventSpec(link="a-b", active_to_restricted=2.0, active_to_suspended=1.0,
                       restricted_to_active=3.0, restricted_to_suspended=1.0,
                       suspended_to_active=4.0, restricted_quota={"mt": 1.0})
    q = link_generator(ev)
    pi = stationary(q)
    cum = daily_cumulative(q, 252)
    u = np.random.default_rng(3).random(400_000)
    path = simulate_chain(cum, 0, u)
    occ = np.bincount(path, minlength=3) / path.size
    # batch-means standard error of the occupancy
    b = path.reshape(200, -1)
    se = np.array([np.std((b == k).mean(axis=1), ddof=1) / math.sqrt(200) for k in range(3)])
    assert np.all(np.abs(occ - pi) < 3 * se + 1e-4)
    # and the daily matrix reproduces expm(Q t) over a year
    from scipy.linalg import expm

    p1 = np.diff(np.concatenate([np.zeros((3, 1)), cum], axis=1), axis=1)
    np.testing.assert_allclose(np.linalg.matrix_power(p1, 252), expm(q), atol=1e-10)


def test_garch_t_kernel_matches_arch_simulation():
    """Same parameters: the kernel's GARCH-t returns (table innovations) and arch's simulate
    have the same distribution (variance, kurtosis, quantiles, KS)."""
    from arch.univariate import GARCH, ConstantMean, StudentsT

    params = {"mu": 0.02, "omega": 0.05, "alpha": 0.1, "gamma": 0.0, "beta": 0.85, "nu": 5.0}
    n = 60_000
    # arch's own stream, seeded through its public argument (assigning a private attribute
    # left it unseeded in arch 8: the test then drew new data each run and failed now and then)
    am = ConstantMean(None, volatility=GARCH(p=1, q=1), distribution=StudentsT(seed=1))
    sim = am.simulate([params["mu"], params["omega"], params["alpha"], params["beta"],
                       params["nu"]], n, burn=500)
    ref = sim["data"].to_numpy()
    mp = np.zeros((1, L.NPF))
    mi = np.zeros((1, L.NPI), dtype=np.int64)
    mp[0, [L.MU, L.OMEGA, L.ALPHA, L.BETA]] = (params["mu"], params["omega"], params["alpha"],
                                              params["beta"])
    mp[0, L.H0] = params["omega"] / (1 - params["alpha"] - params["beta"])
    mp[0, L.MAXR] = np.inf
    mode, lo, step, vals = build_table("t", 5.0, None, "gaussian", None)
    x = np.random.default_rng(2).standard_normal((1, n))
    z = np.array([[lookup(mode, lo, step, vals, v) for v in x[0]]])
    k4 = np.zeros((1, L.KMAX))
    out = simulate_returns(mp, mi, k4, k4, k4, k4, np.ones((1, L.KMAX, L.KMAX)), k4,
                           np.ones((1, L.KMAX)), np.zeros((1, n + 1)), z, np.zeros((1, 2)))[0]
    assert stats.ks_2samp(out, ref).pvalue > 1e-3
    assert np.var(out) == pytest.approx(np.var(ref), rel=0.1)
    for q in (0.01, 0.05, 0.5, 0.95, 0.99):
        # serially dependent draws: quantiles agree to a few percent
        assert np.quantile(out, q) == pytest.approx(np.quantile(ref, q), rel=0.06, abs=0.02)


def _regime_arrays(fam, k, **p):
    mp = np.zeros((1, L.NPF))
    mi = np.zeros((1, L.NPI), dtype=np.int64)
    mi[0, L.FAM], mi[0, L.K] = L.FAMILIES[fam], k
    a = {n: np.zeros((1, L.KMAX)) for n in ("rmu", "rom", "ral", "rbe", "rh0")}
    rcum = np.ones((1, L.KMAX, L.KMAX))
    rcum[0, :k, :k] = np.cumsum(p["P"], axis=1)
    rp0 = np.ones((1, L.KMAX))
    rp0[0, :k] = np.cumsum(p["p0"])
    for name in ("rmu", "rom", "ral", "rbe", "rh0"):
        if name in p:
            a[name][0, :k] = p[name]
    mp[0, L.MU] = p.get("mu", 0.0)
    mp[0, L.MAXR] = np.inf
    return mp, mi, a, rcum, rp0


def test_ms_and_msgarch_kernels_replicate_the_fit_layer_paths():
    from riskmodel.fit.markov import simulate_ms_paths
    from riskmodel.fit.msgarch import simulate_msgarch_paths

    rng = np.random.default_rng(4)
    P = np.array([[0.97, 0.03], [0.05, 0.95]])
    p0 = np.array([0.3, 0.7])
    u = rng.random((20, 101))
    z = rng.standard_normal((20, 100))
    mu, s2 = np.array([0.1, -0.2]), np.array([1.0, 6.0])
    mp, mi, a, rcum, rp0 = _regime_arrays("ms", 2, P=P, p0=p0, rmu=mu, rom=s2)
    ours = simulate_returns(mp, mi, a["rmu"], a["rom"], a["ral"], a["rbe"], rcum, a["rh0"],
                            rp0, u, z, np.zeros((1, 2)))
    ref, _ = simulate_ms_paths(mu, s2, P, p0, u, z)
    np.testing.assert_allclose(ours, ref, rtol=1e-13, atol=1e-13)
    om, al, be, h0 = (np.array([0.05, 0.4]), np.array([0.05, 0.1]), np.array([0.9, 0.8]),
                      np.array([1.2, 5.0]))
    mp, mi, a, rcum, rp0 = _regime_arrays("msgarch", 2, P=P, p0=p0, rom=om, ral=al, rbe=be,
                                          rh0=h0, mu=0.03)
    ours = simulate_returns(mp, mi, a["rmu"], a["rom"], a["ral"], a["rbe"], rcum, a["rh0"],
                            rp0, u, z, np.zeros((1, 2)))
    ref, _, _ = simulate_msgarch_paths(0.03, om, al, be, P, p0, h0, u, z)
    np.testing.assert_allclose(ours, ref, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(("dist", "copula"), [("t", "gaussian"), ("skewt", "gaussian"),
                                              ("t", "t"), ("normal", "t")])
def test_inverse_cdf_tables(dist, copula):
    nu, lam, cnu = 5.0, (-0.2 if dist == "skewt" else None), 6.0
    assert table_error(dist, nu, lam, copula, cnu if copula == "t" else None) < 2e-3
    mode, lo, step, vals = build_table(dist, nu, lam, copula, cnu)
    x = np.random.default_rng(0).standard_normal(50_000)
    if copula == "t":
        x = x / np.sqrt(np.random.default_rng(1).chisquare(cnu, x.size) / cnu)
    zz = np.array([lookup(mode, lo, step, vals, v) for v in x])
    assert zz.mean() == pytest.approx(0.0, abs=0.03)
    assert zz.var() == pytest.approx(1.0, rel=0.06)


def test_regime_scenario_runs_with_t_copula():
    ms = {"family": "msgarch", "dist": "t", "k_regimes": 2, "last_price": 30.0,
          "params": {"mu": 0.0, "omega_0": 0.05, "alpha_0": 0.05, "beta_0": 0.9,
                     "omega_1": 0.4, "alpha_1": 0.1, "beta_1": 0.8, "nu": 6.0,
                     "p_00": 0.97, "p_01": 0.03, "p_10": 0.05, "p_11": 0.95},
          "state": {"regime_probs": [0.5, 0.5], "regime_variances": [1.0, 4.0]}}
    d = {"name": "r", "markets": [market("a", 80, 1500), {**market("b", 30, 600),
                                                          "process": ms}],
         "links": [{"markets": ["a", "b"]}], "horizon": {"years": 1, "days_per_year": 15},
         "dependence": {"corr": [[1, 0.4], [0.4, 1]], "copula": "t", "nu": 5},
         "simulation": {"paths": 100, "paths_per_chunk": 50, "seed": 1}}
    r = simulate(scenario_from_dict(d))
    v, se = r.get("volatility", "b", "autarky", -1)
    assert 0.05 < v < 2.0 and se > 0


def test_bad_scenarios_name_the_field():
    d = {"name": "x", "markets": [{**market("a", 80, 1500), "output_vol": None,
                                   "output_growth": None, "jurisdiction": "atlantis"}]}
    with pytest.raises(InputError) as e:
        simulate(scenario_from_dict(d))
    assert e.value.field == "markets[0].output_vol"
    d = {"name": "x", "markets": [{**market("a", 80, 1500), "currency": "JPY"}],
         "simulation": {"fx": {}, "numeraire": "EUR"}}
    from riskmodel import config

    if not (config.CALIBRATIONS_DIR / "fx.json").is_file():
        with pytest.raises(InputError) as e:
            simulate(scenario_from_dict(d))
        assert e.value.field == "simulation.fx"
    d = {"name": "x", "markets": [market("a", 80, 1500, collar={"floor": 70.0}),
                                  market("b", 20, 600, collar={"ceiling": 40.0})],
         "links": [{"markets": ["a", "b"]}]}
    with pytest.raises(InputError, match="a.*b|b.*a"):
        simulate(scenario_from_dict(d))
    d = {"name": "x", "markets": [market("a", 80, 1500)], "fundamentals": {"var1": True}}
    with pytest.raises(InputError) as e:
        simulate(scenario_from_dict(d))
    assert e.value.field == "fundamentals.var1"
    d = {"name": "x", "markets": [{**market("a", 80, 1500), "process": None,
                                   "synthetic": False, "id": "eu_ets",
                                   "calibration": "no_such_file"}]}
    with pytest.raises(InputError) as e:
        simulate(scenario_from_dict(d))
    assert e.value.field == "markets[0].calibration"


def test_output_paths_follow_each_jurisdiction():
    """Two markets with their own output processes: simulated annual output growth has the
    stated volatilities (within 3 MC standard errors) and markets do not share one path."""
    d = {"name": "o", "markets": [{**market("a", 80, 1500), "output_vol": 0.02},
                                  {**market("b", 20, 600), "output_vol": 0.08}],
         "horizon": {"years": 1, "days_per_year": 10},
         "dependence": {"corr": [[1, 0], [0, 1]]},
         "simulation": {"paths": 2000, "paths_per_chunk": 1000, "keep_annual": True}}
    r = simulate(scenario_from_dict(d))
    out = r.annual["output"][0][:, :, 0]
    g = np.log(out)  # = growth - E[growth] - sigma^2 / 2
    for k, sd in enumerate((0.02, 0.08)):
        se = sd / math.sqrt(2 * (g.shape[0] - 1))
        assert abs(g[:, k].std(ddof=1) - sd) < 3 * se
    assert abs(np.corrcoef(g.T)[0, 1]) < 0.1


def test_plain_pool_fast_path_equals_the_link_solver():
    """The kernel's closed form for plain pools agrees with riskmodel.linking.solve_step."""
    from riskmodel.linking import (
        M_C,
        M_FLOOR,
        M_FX,
        M_P_AUT,
        N_LINK_OUT,
        N_OUT,
        O_FLOW,
        O_PRICE,
        Link,
        compile_topology,
        market_array,
        solve_step,
        workspace,
    )
    from riskmodel.sim.kernel import plain_pools

    rng = np.random.default_rng(8)
    la = compile_topology(4, [Link(0, 1), Link(1, 2)])
    fw, iw = workspace(4, 2)
    for _ in range(200):
        mkt = market_array(4)
        mkt[:, M_P_AUT] = rng.uniform(5, 100, 4)
        mkt[:, M_C] = rng.uniform(0.1, 5, 4)
        mkt[:, M_FX] = rng.uniform(0.5, 2, 4)
        mkt[:, M_FLOOR] = 0.0
        st = rng.integers(0, 3, 2) * (rng.random(2) < 0.5)
        out = np.zeros((4, N_OUT))
        solve_step(mkt, la.ends, la.lpar, st, out, np.zeros((2, N_LINK_OUT)),
                   np.zeros(4, np.int64), fw, iw)
        pr, x = np.zeros(4), np.zeros(4)
        ok = plain_pools(mkt, la.ends, la.lpar, st, np.zeros(4, np.int64), np.zeros(4),
                         np.zeros(4), pr, x)
        assert ok
        np.testing.assert_allclose(pr, out[:, O_PRICE], rtol=1e-10)
        np.testing.assert_allclose(x, out[:, O_FLOW], rtol=1e-9, atol=1e-9)


def test_any_merge_tree_is_bit_identical():
    s = two_market(paths=500, ppc=100)
    parts = [simulate_chunk(s, c) for c in range(5)]
    a = merge_chunks(s, parts)
    from riskmodel.sim.stats import merge

    b = merge_chunks(s, [merge([parts[4], parts[1]]), merge([parts[3], parts[0], parts[2]])])
    np.testing.assert_array_equal(a.table.value.to_numpy(), b.table.value.to_numpy())
    for k in a.annual:
        np.testing.assert_array_equal(a.annual[k], b.annual[k])
    np.testing.assert_array_equal(a.paths["price"], b.paths["price"])


def test_benchmark_garch_kernel_has_the_unconditional_variance():
    """Kernel (a) from the unconditional variance: Var(sum of n returns) = n * omega / (1 -
    alpha - beta) exactly (returns are uncorrelated), checked within 3 MC standard errors."""
    from riskmodel.sim.price_kernels import garch_t_paths

    om, al, be, n, npaths = 0.05, 0.08, 0.9, 20, 40_000
    mode, lo, step, vals = build_table("t", 6.0, None, "gaussian", None)
    h0 = om / (1 - al - be)
    from riskmodel.sim.rng import ZT, state_from_seed

    out = garch_t_paths(0.0, om, al, 0.0, be, h0, lo, step, vals,
                        state_from_seed(np.random.SeedSequence(5)), ZT, npaths, n)
    v = out.var(ddof=1)
    se = math.sqrt((np.mean((out - out.mean()) ** 4) - v**2) / npaths)
    assert abs(v - n * h0) < 3 * se


@pytest.mark.parametrize(("family", "dist", "params"), [
    ("garch", "normal", {"mu": 0.3, "omega": 0.2, "alpha": 0.1, "beta": 0.85}),
    # thin-market fit: EGARCH with t innovations near nu = 2 (infinite-variance-like tails)
    ("egarch", "t", {"mu": 0.0, "omega": 0.6, "alpha": 1.2, "gamma": -0.1, "beta": 0.95,
                     "nu": 2.2}),
])
def test_martingale_drift_keeps_the_mean_price(family, dist, params):
    """price_drift 'martingale': E[P_T] = P_0 within 3 MC standard errors, even for a guarded
    heavy-tailed law whose naive compensator -h/2 would drag the mean down."""
    proc = {"family": family, "dist": dist, "params": params, "last_price": 50.0}
    m = {"id": "a", "synthetic": True, "currency": "EUR", "bau_emissions": 100.0,
         "output_growth": 0.0, "output_vol": 0.01, "process": proc}
    scn = scenario_from_dict({
        "name": "mart", "markets": [m], "horizon": {"years": 1, "days_per_year": 120},
        "simulation": {"paths": 4000, "paths_per_chunk": 2000, "seed": 5,
                       "variants": ["autarky"]}})
    res = simulate(scn)
    row = res.table.query("variant == 'autarky' and market == 'a' and year == -1 "
                          "and statistic == 'price_mean'").iloc[0]
    assert abs(row.value - 50.0) < 3 * row.mcse, (row.value, row.mcse)


def test_blocked_price_recursions_equal_the_day_by_day_step():
    """The kernel runs the recursions a year at a time (``shock_block`` for the variances,
    then ``log_price_block`` for compensators and returns); bit-identical to ``price_step``
    day by day, for every family, with the martingale compensator and a fitted AR term."""
    from riskmodel.sim.price_kernels import init_state, log_price_block, price_step, shock_block

    msg = {"family": "msgarch", "dist": "t", "k_regimes": 2,
           "params": {"mu": 0.0, "omega_0": 0.03, "alpha_0": 0.05, "beta_0": 0.92,
                      "omega_1": 0.3, "alpha_1": 0.1, "beta_1": 0.85, "nu": 6.0,
                      "p_00": 0.98, "p_01": 0.02, "p_10": 0.04, "p_11": 0.96}}
    ms = {"family": "ms", "dist": "normal", "k_regimes": 2,
          "params": {"mu_0": 0.1, "mu_1": -0.2, "sigma2_0": 1.0, "sigma2_1": 6.0,
                     "p_00": 0.97, "p_01": 0.03, "p_10": 0.05, "p_11": 0.95}}
    procs = [
        {"family": "garch", "dist": "t", "params": {"mu": 0.01, "omega": 0.05, "alpha": 0.08,
                                                    "beta": 0.9, "nu": 6.0}},
        {"family": "gjr", "dist": "normal", "params": {"mu": 0.0, "omega": 0.05, "alpha": 0.05,
                                                       "gamma": 0.06, "beta": 0.9}},
        {"family": "egarch", "dist": "t", "params": {"mu": 0.0, "omega": 0.6, "alpha": 1.2,
                                                     "gamma": -0.1, "beta": 0.95, "nu": 2.2}},
        ms, msg]
    mk = [{"id": f"m{k}", "synthetic": True, "currency": "EUR", "bau_emissions": 100.0,
           "output_growth": 0.0, "output_vol": 0.01, "process": {**p, "last_price": 50.0}}
          for k, p in enumerate(procs)]
    scn = scenario_from_dict({"name": "blk", "markets": mk,
                              "dependence": {"corr": np.eye(5).tolist()},
                              "horizon": {"years": 1, "days_per_year": 40},
                              "simulation": {"paths": 10}})
    from riskmodel.sim.resolve import resolve

    rs = resolve(scn)
    rs.mp[0, L.PHI] = 0.2  # an AR(1) mean: the return feeds the next day's
    n, nd = rs.mp.shape[0], 40
    rng = np.random.default_rng(3)
    z, u = rng.standard_normal((nd, n)) * 1.5, rng.random((nd, n))
    args = (rs.mp, rs.mi, rs.rmu, rs.rom, rs.ral, rs.rbe, rs.rcum)

    def fresh():
        h, prev, reg = np.zeros((n, L.KMAX)), np.zeros((n, L.NPREV)), np.zeros(n, dtype=np.int64)
        for i in range(n):
            init_state(i, rs.mp, rs.mi, rs.rh0, rs.rp0cum, 0.4, h, prev, reg)
        return h, prev, reg

    h, prev, reg = fresh()
    ref = np.zeros((nd, n))
    lp = np.zeros(n)
    for d in range(nd):
        for i in range(n):
            lp[i] += price_step(i, *args, rs.comp, z[d, i], u[d, i], h, prev, reg) / 100.0
            ref[d, i] = lp[i]
    h2, prev2, reg2 = fresh()
    eb, hb, mb, kb, pob = (np.empty((nd, n)) for _ in range(5))
    per = np.zeros(n, dtype=np.int64)
    clipped = shock_block(nd, *args, z, u.ravel(), n, np.arange(n), h2, prev2, reg2, eb, hb, mb,
                          per)
    assert per.sum() == clipped
    log_price_block(nd, rs.mp, rs.mi, rs.comp, eb, hb, mb, kb, prev2, np.zeros(n), pob)
    np.testing.assert_array_equal(pob, ref)
    np.testing.assert_array_equal(h2, h)
    np.testing.assert_array_equal(prev2, prev)
    np.testing.assert_array_equal(reg2, reg)
    assert clipped == int(np.sum(np.abs(eb) >= rs.mp[:, L.MAXR]))
    assert (rs.mp[:, L.COMP] == 1.0).all() and np.abs(kb).min() > 0.0


def test_sd_errors_take_the_spread_across_chunks_when_it_is_larger():
    """With >= 8 chunks the mcse of an sd is max(normal theory, batch means over chunks); the
    batch-means part is recomputed here from the kept annual paths, chunk by chunk."""
    s = two_market(paths=1000, ppc=100)
    r = simulate(s)
    vi = list(s.simulation.variants).index("linked")
    x = r.annual["emissions"][vi][:, 0, 0]  # market a, first compliance year, every path
    sds = x.reshape(10, 100).std(axis=1, ddof=1)
    batch = sds.std(ddof=1) / math.sqrt(10)
    normal = x.std(ddof=1) / math.sqrt(2 * (x.size - 1))
    val, se = r.get("emissions_sd", "a", "linked", s.horizon.start_year)
    assert val == pytest.approx(x.std(ddof=1), rel=1e-9)
    assert se == pytest.approx(max(normal, batch), rel=1e-6)
    # fewer than 8 chunks: normal theory only
    r4 = simulate(two_market(paths=400, ppc=100))
    x4 = r4.annual["emissions"][vi][:, 0, 0]
    assert r4.get("emissions_sd", "a", "linked", s.horizon.start_year)[1] == pytest.approx(
        x4.std(ddof=1) / math.sqrt(2 * (x4.size - 1)), rel=1e-6)


def test_t_copula_table_finite_for_nu_near_two() -> None:
    """A t law with nu near 2 under the t copula: the table's far tails (probabilities near
    1e-250, where scipy's quantile overflows) stay finite, and so does the compensator."""
    from riskmodel.sim.innovations import build_table, compensator_table

    mode, lo, step, vals = build_table("t", 2.1781527, None, "t", 89.24)
    assert np.isfinite(vals).all()
    _, _, comp = compensator_table(mode, lo, step, vals, "t", 89.24, 0.25)
    assert np.isfinite(comp).all()
