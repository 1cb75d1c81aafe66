"""Banking in the engine (docs/BANKING.md §7): the scenario field and its sources, the slope
calibration, bit-identity when banking is off, the observed design reproducing the fitted price,
the transitory-shock response X/(c A_k*), the bank ledger on simulated paths, common random
numbers and chunk invariance with banking on, and every shipped scenario running with it."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from numba import njit

from riskmodel import config
from riskmodel.banking.hotelling import price_map
from riskmodel.banking.rules import rules_from_catalogue, window_bounds
from riskmodel.data.catalogue import load_market
from riskmodel.errors import InputError
from riskmodel.linking import M_C, M_FX, M_P_AUT
from riskmodel.sim import banking_step as BK
from riskmodel.sim import layout as L
from riskmodel.sim.engine import merge_chunks, n_chunks, simulate, simulate_chunk
from riskmodel.sim.kernel import plain_pools
from riskmodel.sim.provenance import design_report
from riskmodel.sim.resolve import resolve
from riskmodel.sim.scenario import scenario_from_dict

SCENARIOS = Path(config.PROJECT_ROOT) / "data" / "scenarios"


def shipped_dict(name: str, paths: int = 40, ppc: int = 20, banking=None, **sim) -> dict:
    """A shipped scenario's mapping (no sweep) with few paths and the given banking block
    (None: the file's block removed, i.e. the static bridge of a user's file without one;
    "file": the shipped block kept)."""
    d = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8"))
    d.pop("sweep", None)
    d["simulation"] = {**d.get("simulation", {}), "paths": paths, "paths_per_chunk": ppc,
                       "keep_annual": True, **sim}
    if banking is None:
        d.pop("banking", None)
    elif banking != "file":
        d["banking"] = banking
    return d


def shipped(name: str, paths: int = 40, ppc: int = 20, banking=None, **sim):
    """A shipped scenario (no sweep) with few paths, optionally with a banking block."""
    return scenario_from_dict(shipped_dict(name, paths, ppc, banking, **sim))


# --------------------------------------------------------------------------- scenario field


def test_banking_field_is_validated_and_merged():
    s = shipped("eu_switzerland", banking={"horizon": 5, "carry": 0.01})
    d = s.model_dump()
    d["markets"][0]["banking"] = {"horizon": 8}
    s2 = scenario_from_dict(d)
    merged = s2.banking_of(0)
    assert (merged.horizon, merged.carry) == (8, 0.01)
    assert s2.banking_field(0, "horizon") == "markets[0].banking.horizon"
    assert s2.banking_field(0, "carry") == "banking.carry"
    assert s2.banking_field(1, "persistence") is None
    for bad, fld in (({"horizon": 0}, "banking.horizon"),
                     ({"persistence": 0}, "banking.persistence"),
                     ({"carry": -0.1}, "banking.carry"), ({"bogus": 1}, "banking.bogus"),
                     ({"initial_bank": -5}, "banking.initial_bank")):
        d = s.model_dump()
        d["banking"] = bad
        with pytest.raises(InputError) as e:
            scenario_from_dict(d)
        assert e.value.field == fld


def test_design_report_shows_banking_with_sources():
    rep = design_report(shipped("eu_switzerland", banking={}))
    eu = rep["markets"]["eu_ets"]
    assert eu["banking.on"]["value"] is True
    assert eu["banking.horizon"] == {"value": 10, "source": "default: 10 (BANKING.md §4)",
                                     "unit": "yr"}
    # the scenario's TNAC is the EU bank; the MSR holdings come from the scenario too
    assert eu["banking.initial_bank"]["value"] == 1110.9
    assert eu["banking.initial_bank"]["source"] == "scenario: markets[0].stabilisation.tnac0"
    assert eu["banking.msr.holdings0"]["value"] == 400.0
    assert "rules.calibrate_slope" in eu["abatement.slope"]["source"]
    off = design_report(shipped("eu_switzerland"))["markets"]["eu_ets"]
    assert off["banking.on"]["value"] is False
    kets = design_report(shipped("korea_stabilisation", banking={}))["markets"]["k_ets"]
    assert kets["banking.borrowing_share"]["value"] == 0.15
    assert "borrowing.limit_share" in kets["banking.borrowing_share"]["source"]


def test_slope_makes_the_map_price_the_price_level():
    """c solves Φ(B_0, n̄) = price level, checked with the independent price_map and the
    catalogue's window bounds (K-ETS: Phase 3 permits expire after 2026)."""
    s = shipped("korea_stabilisation", banking={"initial_bank": 20.0})
    rs = resolve(s)
    k = rs.ids.index("k_ets")
    c, plevel, bau = rs.mp[k, L.C], rs.mp[k, L.PLEVEL], rs.mp[k, L.BAU]
    rules = rules_from_catalogue(load_market("k_ets"), range(2024, 2040))
    qobs = np.full(12, rs.qobs[k, 0])
    ell = window_bounds(rules, 2024, 10, qobs)
    assert len(ell) == 3  # 2024-2026
    r = rs.bk[k, L.BK_R]  # K-ETS has no futures in the data: the measured markets' median
    assert r == pytest.approx(_carry()["default"], rel=0, abs=0)
    assert rs.sources["markets.k_ets.banking.carry"]["source"].endswith("carry.json: default")
    p, kstar = price_map(20.0, bau - qobs[:3], ell, c, r)
    assert p == pytest.approx(plevel, rel=1e-12)
    assert any(f"k* = {2024 + kstar}" in n for n in rs.notes)


def test_linear_abatement_is_required():
    d = shipped("regulatory_events", banking={}).model_dump()
    d["markets"][1]["abatement"]["exponent"] = 1.5
    with pytest.raises(InputError) as e:
        resolve(scenario_from_dict(d))
    assert e.value.field == "markets[1].abatement.exponent"


# --------------------------------------------------------------------------- bit identity


def test_absent_or_horizon_one_is_bit_identical():
    """Banking absent, or H = 1 with no bank: today's branch, identical tables and paths."""
    base = simulate(shipped("regulatory_events"))
    h1 = simulate(shipped("regulatory_events", banking={"horizon": 1}))
    assert "bank_mean" not in set(base.table.statistic)
    np.testing.assert_array_equal(base.table.value.to_numpy(), h1.table.value.to_numpy())
    for k in base.annual:
        np.testing.assert_array_equal(base.annual[k], h1.annual[k])
    np.testing.assert_array_equal(base.paths["price"], h1.paths["price"])


def test_observed_design_in_autarky_reproduces_the_fitted_price():
    """With banking on, the autarky variant under the observed design prices exactly (==) the
    fitted price on every path and compliance date, and its bank moves as the observed one."""
    for h in (5, 10):
        r = simulate(shipped("regulatory_events", banking={"horizon": h, "carry": 0.02}))
        a = r.annual
        np.testing.assert_array_equal(a["price_autarky"][0], a["price_observed"][0])
        assert np.all(a["price_observed"][0] > 0)
        # without an event the bank is not pinned: it moves with the fitted price
        assert np.ptp(a["bank"][0]) > 0


@njit(cache=True)
def _shocked(bk, i, y, n_years, p_obs, bank_obs, c, x, hm):
    w = np.zeros((bk.shape[0], hm))
    BK.gaps(bk, i, y, n_years, p_obs, bank_obs, c, w)
    return BK.bridged(bk, i, y, n_years, p_obs, w, x, 0.0, c, 0.0, np.zeros_like(w))


def test_one_year_supply_shock_moves_the_price_by_x_over_c_a():
    """Deterministic: a one-year shortfall X moves the bridged price by X / (c A_k*), k* the
    exhaustion year of the map (from the independent price_map) while it stays the argmax."""
    s = shipped("eu_switzerland", banking={"horizon": 10, "carry": 0.03})
    rs = resolve(s)
    bk, k = rs.bk, 0
    hm = int(bk[k, L.BK_HM])
    o_nbar, _, o_m1, o_ell, _ = L.bk_offsets(rs.years, hm)
    c = rs.mp[k, L.C]
    m1 = int(bk[k, o_m1])
    nbar = bk[k, o_nbar:o_nbar + m1]
    ell = bk[k, o_ell:o_ell + m1]
    checked = 0
    kstars = set()
    for bank in (0.0, 300.0, 900.0):
        p, kstar = price_map(bank, nbar, ell, c, 0.03)
        kstars.add(kstar)
        ann = ((1.03) ** np.arange(kstar + 1)).sum()
        for x in (-0.5, 0.5, 2.0):
            got = _shocked(bk, k, 0, rs.years, p, bank, c, x, hm)
            assert got - p == pytest.approx(x / (c * ann), rel=1e-9, abs=1e-12)
            checked += 1
    assert checked == 9
    assert max(kstars) >= 5  # a bank spreads the shock over years: A_k* >= 5


# --------------------------------------------------------------------------- the ledger


def _check_ledger(r, rs, bound_tol=1e-9):
    a = r.annual
    nv = len(r.scenario.simulation.variants)
    b0 = rs.bk[:, L.BK_B0]
    for v in range(nv):
        bank = a["bank"][v]  # [path, market, year]
        prev = np.concatenate([np.broadcast_to(b0[None, :, None], bank[:, :, :1].shape),
                               bank[:, :, :-1]], axis=2)
        flows = a["supply"][v] + a["flow"][v] + a["reserve"][v] - a["emissions"][v] + \
            a["noncompliance"][v] + a["delink_transfer"][v] + a["uncovered"][v]
        scale = np.abs(bank).max() + np.abs(a["emissions"][v]).max()
        on = rs.bk[:, L.BK_ON] > 0
        np.testing.assert_allclose((bank - prev)[:, on], flows[:, on], rtol=0,
                                   atol=1e-10 * scale)
        assert np.all(a["noncompliance"][v] >= 0)
        # Σ flows = 0 across markets on every path-year (same permit units)
        np.testing.assert_allclose(a["flow"][v].sum(axis=1), 0.0, atol=1e-9 * scale)


def test_bank_ledger_is_conserved_on_simulated_paths():
    s = shipped("regulatory_events", paths=30, ppc=30, banking={"horizon": 5})
    r = simulate(s)
    rs = resolve(s)
    _check_ledger(r, rs)
    # K-ETS borrows within Phase 3: its bank may go below 0 but not below -15 % of supply
    k = rs.ids.index("k_ets")
    low = -0.15 * r.annual["supply"][:, :, k, :].max()
    assert r.annual["bank"][:, :, k, :].min() >= low - 1e-9
    # no finite ceiling reserve or penalty cap: the map keeps every bank at its bound, so no
    # non-compliance; China's exemption (linked_events) is banked
    assert not r.annual["noncompliance"].any()
    assert r.annual["bank"][2, :, 0, -1].max() > 1.0
    t = r.table
    assert {"bank_mean", "bank_sd", "noncompliance_mean", "noncompliance_share"} <= set(
        t.statistic)
    assert set(t[t.statistic == "bank_mean"].unit) == {"Mt"}
    assert "Banking" in r.summary()


def test_a_penalty_cap_shows_as_non_compliance():
    """A penalty without make-good below the map's price: the tonnes covered by the penalty
    have no permits, the bank is held at its bound and the rest is non-compliance (the ledger
    still balances). A finite ceiling reserve only lets the price rise past the ceiling."""
    d = shipped_dict("regulatory_events", paths=20, ppc=20, banking={"horizon": 5})
    d["markets"][1]["penalty_cap"] = 5000.0
    s = scenario_from_dict(d)
    r = simulate(s)
    _check_ledger(r, resolve(s))
    short = r.annual["noncompliance"][0, :, 1, :]
    assert short.max() > 1.0
    share = r.get("noncompliance_share", "k_ets", "autarky", -1)[0]
    assert share == pytest.approx((short > 0).mean())


def test_eu_msr_reads_the_bank():
    """The MSR takes in from the bank: supply falls below the cap by the lagged intake."""
    s = shipped("eu_switzerland", paths=20, ppc=20, banking={})
    r = simulate(s)
    rs = resolve(s)
    _check_ledger(r, rs)
    sup = r.annual["supply"][0, :, 0, 0]
    cap = rs.qcf[0, 0]
    # 2024: 4/12 of the intake on TNAC 2023 (the scenario's 1,110.9 M: 24 %) plus 8/12 of the
    # intake on TNAC 2022 (taken equal to it): 0.24 x 1,110.9 Mt
    np.testing.assert_allclose(sup, cap - 0.24 * 1110.9, rtol=1e-12)


# --------------------------------------------------------------------------- invariance


def test_chunk_invariance_and_common_random_numbers_with_banking_on():
    d = shipped_dict("regulatory_events", paths=40, ppc=10, banking={})
    s = scenario_from_dict(d)
    full = simulate(s)
    parts = [pickle.loads(pickle.dumps(simulate_chunk(s, c))) for c in range(n_chunks(s))]
    res = merge_chunks(s, [parts[2], parts[0], parts[3], parts[1]])
    np.testing.assert_array_equal(full.table.value.to_numpy(), res.table.value.to_numpy())
    for k in full.annual:
        np.testing.assert_array_equal(full.annual[k], res.annual[k])
    # events draw from their own stream: autarky and linked are unchanged without events
    d["events"] = {"links": [], "markets": []}
    quiet = simulate(scenario_from_dict(d))
    np.testing.assert_array_equal(quiet.annual["price"][:2], full.annual["price"][:2])
    np.testing.assert_array_equal(quiet.annual["bank"][:2], full.annual["bank"][:2])
    np.testing.assert_array_equal(quiet.annual["price_observed"], full.annual["price_observed"])


def _carry() -> dict:
    return json.loads((config.CALIBRATIONS_DIR / "carry.json").read_text(encoding="utf-8"))


def test_default_carry_is_measured_or_a_linked_partners():
    """r defaults to the market's measured futures carry; a market without futures takes its
    linked partners' (Swiss and Chinese permits linked with the EU carry at the EUA rate),
    else the measured markets' median; a scenario value wins."""
    carry = _carry()
    eu = carry["rates"]["eu_ets"]
    src = design_report(shipped("eu_switzerland", banking={}))["markets"]
    assert src["eu_ets"]["banking.carry"]["value"] == eu
    assert src["swiss_ets"]["banking.carry"]["value"] == eu
    assert "rates.eu_ets" in src["swiss_ets"]["banking.carry"]["source"]
    src = design_report(shipped("eu_china", banking={}))["markets"]
    assert src["china_ets"]["banking.carry"]["value"] == eu
    src = design_report(shipped("china_korea", banking={}))["markets"]
    assert src["china_ets"]["banking.carry"]["value"] == carry["default"]
    assert src["k_ets"]["banking.carry"]["source"].endswith("carry.json: default")
    src = design_report(shipped("california_quebec", banking={}))["markets"]
    assert src["quebec"]["banking.carry"]["value"] == carry["rates"]["california"]
    src = design_report(shipped("eu_switzerland", banking={"carry": 0.02}))["markets"]
    assert src["swiss_ets"]["banking.carry"]["value"] == 0.02
    assert src["swiss_ets"]["banking.carry"]["source"] == "scenario: banking.carry"
    assert 0.003 < eu < 0.007 and 0.02 < carry["default"] < 0.04  # BANKING.md §4's ranges


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_banks_at_the_defaults(path):
    """Every shipped file banks at the engine's defaults (``banking: {}``: H = 10 capped by
    phase ends, r the measured futures carry of calibrations/carry.json or its default), every
    banking market of it on, the ledger holds and no member is non-compliant (no finite ceiling
    reserve or penalty cap in the shipped files)."""
    d = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert d["banking"] == {}
    d.pop("sweep", None)
    d["simulation"] = {**d.get("simulation", {}), "paths": 4, "paths_per_chunk": 4,
                       "keep_annual": True}
    d["horizon"] = {**d.get("horizon", {}), "days_per_year": 20}
    s = scenario_from_dict(d)
    r = simulate(s)
    rs = resolve(s)
    assert np.isfinite(r.table[r.table.statistic == "price_mean"].value).all()
    carry = _carry()
    for k, mid in enumerate(rs.ids):  # on, unless the catalogue forbids banking
        on = rs.sources[f"markets.{mid}.banking.on"]
        assert on["value"] or on["source"].startswith("catalogue"), (mid, on)
        got = rs.sources[f"markets.{mid}.banking.carry"]
        # its own measured carry, a linked partner's, or the measured markets' median
        if mid in carry["rates"]:
            assert got["value"] == carry["rates"][mid]
        elif "linked partner" in got["source"]:
            assert got["value"] in set(carry["rates"].values())
        else:
            assert got["value"] == carry["default"]
        if on["value"]:
            assert rs.bk[k, L.BK_R] == got["value"]
    _check_ledger(r, rs)
    assert not r.annual["noncompliance"].any()


@njit(cache=True)
def _pool(bk, n_years, p_obs, bank_obs, dbank, mkt, ends, hm):
    n = mkt.shape[0]
    w = np.zeros((n, hm))
    pob = np.zeros((1, n))
    ds0 = np.zeros(n)
    for i in range(n):
        pob[0, i] = p_obs[i]
        BK.gaps(bk, i, 0, n_years, p_obs[i], bank_obs[i], mkt[i, M_C], w)
        mkt[i, M_P_AUT] = BK.bridged(bk, i, 0, n_years, p_obs[i], w, 0.0, dbank[i], mkt[i, M_C],
                                     0.0, np.zeros_like(w))
    lst = np.zeros(ends.shape[0], dtype=np.int64)
    par = np.zeros(n, dtype=np.int64)
    rm1 = np.zeros(n, dtype=np.int64)
    rnb = np.zeros(n, dtype=np.int64)
    rcnt = np.zeros(n, dtype=np.int64)
    rk = np.zeros(n, dtype=np.int64)
    rbest = np.zeros(n)
    hz = np.zeros((n, hm))
    lw = np.full((ends.shape[0], 8), np.inf)
    lw[:, 2:4] = 0.0
    lw[:, 6:8] = 0.0
    BK.pool_exhaustion(bk, 0, n_years, pob, 0, w, ds0, dbank, np.zeros(n), mkt, M_C, M_FX,
                       M_P_AUT, ends, lst, lw, par, rm1, rnb, rcnt, rbest, rk, hz)
    price = np.zeros(n)
    x = np.zeros(n)
    ok = plain_pools(mkt, ends, lw, lst, par, np.zeros(n), np.zeros(n), price, x)
    return ok, price, x


def test_plain_pool_banks_as_one():
    """A plain link of two banking markets prices at the pooled map Φ(ΣB, Σn̄) (in the
    numeraire; hotelling.pool_price), not at the average of the members' own prices, and the
    flows sum to zero."""
    from riskmodel.banking.hotelling import pool_price
    from riskmodel.linking import M_CEIL, M_ETA, M_FLOOR, M_S, market_array

    s = shipped("eu_switzerland", banking={"horizon": 10, "carry": 0.02})
    rs = resolve(s)
    bk, n = rs.bk, rs.n
    hm = int(bk[0, L.BK_HM])
    o_nbar, _, o_m1, o_ell, _ = L.bk_offsets(rs.years, hm)
    m1 = int(bk[0, o_m1])
    assert m1 == int(bk[1, o_m1]) == 10
    nbar = np.ascontiguousarray(bk[:, o_nbar:o_nbar + m1])
    ell = np.ascontiguousarray(bk[:, o_ell:o_ell + m1])
    c, fx = rs.mp[:, L.C], rs.mp[:, L.FX]
    mkt = market_array(n)
    mkt[:, M_C], mkt[:, M_FX], mkt[:, M_ETA], mkt[:, M_S] = c, fx, 1.0, 1.0
    mkt[:, M_FLOOR], mkt[:, M_CEIL] = 0.0, np.inf
    bank_obs = bk[:, L.BK_B0].copy()
    p_obs = np.array([price_map(bank_obs[i], nbar[i], ell[i], c[i], 0.02)[0] for i in range(n)])
    for dbank in (np.array([0.0, 0.0]), np.array([-200.0, 3.0]), np.array([150.0, -1.0])):
        ok, price, x = _pool(bk, rs.years, p_obs, bank_obs, dbank, mkt.copy(), rs.ends, hm)
        assert ok
        want, _ = pool_price(bank_obs + dbank, nbar, ell, c / fx, 0.02)
        np.testing.assert_allclose(price * fx, want, rtol=1e-10)
        assert abs(x.sum()) < 1e-9 * np.abs(x).max()
    # the pooled map is not the c-weighted average of the members' own prices
    own = [price_map(bank_obs[i] + 150.0 * (i == 0), nbar[i], ell[i], c[i], 0.02)[0]
           for i in range(n)]
    avg = sum(c[i] * own[i] for i in range(n)) / sum(c[i] / fx[i] for i in range(n))
    ok, price, _ = _pool(bk, rs.years, p_obs, bank_obs, np.array([150.0, 0.0]), mkt.copy(),
                         rs.ends, hm)
    assert abs(price[0] * fx[0] - avg) > 1e-6 * avg


def test_delinking_conventions():
    """'holder' keeps banked permits where they are held; 'origin' moves the partner's permits
    back when the link is suspended: conserved across the pair, only in linked_events."""
    runs = {}
    for conv in ("holder", "origin"):
        d = shipped_dict("regulatory_events", paths=40, ppc=40,
                         banking={"horizon": 5, "delink_convention": conv})
        d["markets"][1]["banking"] = {"initial_bank": 60.0}
        d["events"]["links"][0]["active_to_suspended"] = 0.7
        s = scenario_from_dict(d)
        runs[conv] = (simulate(s), resolve(s))
    for r, rs in runs.values():
        _check_ledger(r, rs)
        np.testing.assert_allclose(r.annual["delink_transfer"].sum(axis=2), 0.0, atol=1e-9)
    hold, orig = runs["holder"][0].annual, runs["origin"][0].annual
    assert not hold["delink_transfer"].any()
    assert np.abs(orig["delink_transfer"][2]).max() > 0
    assert not orig["delink_transfer"][:2].any()
    for k in ("price", "bank"):
        np.testing.assert_array_equal(hold[k][:2], orig[k][:2])
    assert not np.array_equal(hold["bank"][2], orig["bank"][2])
    d = shipped_dict("regulatory_events", banking={})
    d["markets"][0]["banking"] = {"delink_convention": "origin"}
    with pytest.raises(InputError) as e:
        scenario_from_dict(d)
    assert e.value.field == "markets[0].banking.delink_convention"


def test_origin_convention_is_refused_for_a_market_in_several_links(tmp_path: Path) -> None:
    """'origin' needs to know whose permits a market holds; with several links that is not
    tracked, so the shipped triangle (china_korea_japan) is refused: one line naming the field,
    from resolve and from the CLI (non-zero exit, nothing written)."""
    import subprocess
    import sys

    d = shipped_dict("china_korea_japan", banking={"delink_convention": "origin"})
    with pytest.raises(InputError) as e:
        resolve(scenario_from_dict(d))
    assert e.value.field == "banking.delink_convention"
    assert "china_ets" in str(e.value) and "\n" not in str(e.value)
    f = tmp_path / "triangle.yaml"
    f.write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "riskmodel", "run", str(f), "--out",
                        str(tmp_path / "runs")], capture_output=True, text=True,
                       cwd=config.PROJECT_ROOT, timeout=120, check=False)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "banking.delink_convention" in lines[0]
    assert not any((tmp_path / "runs").rglob("*.parquet"))


def test_same_results_any_workers_with_banking_on(tmp_path: Path) -> None:
    """n_jobs and task size do not change a banked run (shipped file, banking block added)."""
    from riskmodel.batch.runner import RESULTS, RunOptions, run_plan
    from riskmodel.batch.scenario_file import plan_from_dict

    d = shipped_dict("korea_stabilisation", paths=60, ppc=20, banking={"horizon": 10})
    d["sweep"] = {"grid": {"markets[k_ets].stabilisation.kets_probability": [0.0, 1.0]}}
    out = []
    for label, opts in (("one", RunOptions(n_jobs=1)),
                        ("two", RunOptions(n_jobs=2, chunk_size=40))):
        plan = plan_from_dict(d, file=SCENARIOS / "korea_stabilisation.yaml")
        res = run_plan(plan, out=tmp_path, run_id=label, options=opts) / RESULTS
        out.append(res.read_bytes())
    assert out[0] == out[1]
    assert "bank_mean" in set(pd.read_parquet(res).statistic)


@njit(cache=True)
def _announced(bk, i, n_years, p_obs, bank_obs, c, ds1, hm):
    w = np.zeros((bk.shape[0], hm))
    BK.gaps(bk, i, 0, n_years, p_obs, bank_obs, c, w)
    return BK.bridged(bk, i, 0, n_years, p_obs, w, 0.0, 0.0, c, ds1, np.zeros_like(w))


def test_announced_msr_intake_enters_next_years_supply():
    """The 8/12 of next year's intake that this year's TNAC sets is announced: for the
    Commission's TNAC figures it is 8/12 of 272,350,737 and of 190,494,202 allowances, and it
    moves today's price as a supply shortfall in window year 1, X / (c A_k*) when k* >= 1."""
    assert BK.msr_announced(1134.794738, 3000.0) == pytest.approx(
        -8 / 12 * 272.350737, abs=1e-6)
    assert BK.msr_announced(1023.494202, 3000.0) == pytest.approx(-8 / 12 * 190.494202,
                                                                   rel=1e-12)
    assert BK.msr_announced(800.0, 3000.0) == 0.0
    assert BK.msr_announced(300.0, 3000.0) == pytest.approx(8 / 12 * 100.0)
    s = shipped("eu_switzerland", banking={"horizon": 10})
    rs = resolve(s)
    bk = rs.bk
    hm = int(bk[0, L.BK_HM])
    o_nbar, _, o_m1, o_ell, _ = L.bk_offsets(rs.years, hm)
    m1 = int(bk[0, o_m1])
    c = rs.mp[0, L.C]
    nbar, ell = bk[0, o_nbar:o_nbar + m1], bk[0, o_ell:o_ell + m1]
    r = bk[0, L.BK_R]
    assert r == _carry()["rates"]["eu_ets"]  # the measured EUA carry
    p, kstar = price_map(1110.9, nbar, ell, c, r)
    assert kstar >= 1
    ann = ((1.0 + r) ** np.arange(kstar + 1)).sum()
    for x in (-5.0, 5.0):
        got = _announced(bk, 0, rs.years, p, 1110.9, c, x, hm)
        assert got - p == pytest.approx(x / (c * ann), rel=1e-9)
