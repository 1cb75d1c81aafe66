"""The kernel's named interface (``kernel_args``) carries each resolved array to the field that
names it, and its yearly steps (``kernel_steps``) can be run and checked one at a time: the
output indices are the closed-form log random walk, the bridge step is U = S_obs + c p^eta with
the supply indexed to output."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from riskmodel.batch.scenario_file import load_scenario_file
from riskmodel.sim import layout as L
from riskmodel.sim.engine import chunk_streams
from riskmodel.sim.kernel_args import ANNUAL_NAMES, accumulators, kernel_inputs
from riskmodel.sim.kernel_state import new_path_state, new_year_block
from riskmodel.sim.kernel_steps import observed_bau, step_outputs
from riskmodel.sim.resolve import resolve

SCENARIOS = Path(__file__).resolve().parent.parent / "data" / "scenarios"


def _resolved(name: str):
    sc = load_scenario_file(SCENARIOS / f"{name}.yaml", paths=20).scenarios[0]
    return sc, resolve(sc)


def test_kernel_inputs_name_the_resolved_arrays():
    _, rs = _resolved("regulatory_events")
    proc, dep, des, links, events, streams = kernel_inputs(rs, *chunk_streams(3, 0))
    pairs = [(proc.param, rs.mp), (proc.iparam, rs.mi), (proc.regime_mu, rs.rmu),
             (proc.regime_omega, rs.rom), (proc.regime_alpha, rs.ral),
             (proc.regime_beta, rs.rbe), (proc.regime_cum, rs.rcum), (proc.regime_h0, rs.rh0),
             (proc.regime_p0cum, rs.rp0cum), (proc.innov_table, rs.tab),
             (proc.compensator, rs.comp), (dep.chol, rs.chol), (dep.output_drift, rs.jdrift),
             (dep.output_sd, rs.jsd), (dep.output_norm, rs.jcorr), (des.cap_obs, rs.qobs),
             (des.cap_cf, rs.qcf), (des.unit_conv, rs.s_conv), (des.stab, rs.st),
             (des.bank, rs.bk), (links.ends, rs.ends), (links.param, rs.lpar),
             (links.dynamic, rs.lk_f), (events.link_chain, rs.ev_link),
             (events.exemption_chain, rs.ev_ex), (events.intervention_chain, rs.ev_int)]
    for got, want in pairs:
        assert got is want
    assert (dep.copula_t, dep.copula_nu, events.on) == (rs.copula_t, rs.cnu, rs.has_events)
    assert events.on  # the scenario has events: the structure says so
    acc = accumulators(rs, n_paths=20, n_keep=3, keep_paths=3, annual_on=True)
    n, Y, T = rs.n, rs.years, rs.years * rs.dpy
    assert acc.s1.shape == (3, n + 1, Y + 1, L.NSTAT)
    assert acc.price_hist.shape == (3, n, Y + 1, L.NBINS + 2)
    assert acc.keep_price.shape == (3, 3, n, T)
    assert acc.annual.shape == (len(ANNUAL_NAMES), 3, 20, n, Y)
    assert accumulators(rs, 20, 0, 0, False).annual.shape[2] == 0


def test_output_step_is_the_normalised_log_random_walk():
    _, rs = _resolved("eu_china")
    proc, dep, des, links, events, _ = kernel_inputs(rs, *chunk_streams(3, 0))
    n, J, dpy = rs.n, rs.j, rs.dpy
    blk = new_year_block(proc, dep, links, events, dpy, 2)
    ps = new_path_state(n, J)
    ps.log_output[:] = 0.0
    x = np.random.default_rng(5).standard_normal((dpy, n + J))
    blk.x[:] = x
    t0 = 3 * dpy  # a block later in the horizon
    step_outputs(dpy, t0, dep, ps, blk)
    logy = np.cumsum(dep.output_drift + dep.output_sd * x[:, n:], axis=0)
    days = t0 + np.arange(1, dpy + 1)[:, None]
    np.testing.assert_allclose(blk.output, np.exp(logy - dep.output_norm * days), rtol=1e-12)
    np.testing.assert_allclose(ps.log_output, logy[-1], rtol=1e-12)


def test_bridge_step_is_observed_supply_plus_abatement():
    _, rs = _resolved("china_korea")
    proc, dep, des, links, events, _ = kernel_inputs(rs, *chunk_streams(3, 0))
    n, dpy = rs.n, rs.dpy
    blk = new_year_block(proc, dep, links, events, dpy, 2)
    g = np.random.default_rng(9)
    blk.p_obs[:] = np.exp(g.normal(3.0, 0.5, (dpy, n)))
    blk.output[:] = np.exp(g.normal(0.0, 0.05, (dpy, rs.j)))
    y = rs.years - 1
    observed_bau(dpy, y, proc, des, blk)
    mp = rs.mp
    m = blk.output[:, rs.mi[:, L.JUR]]
    s_obs = rs.qobs[:, y] * m ** mp[:, L.B_OBS]
    np.testing.assert_allclose(blk.supply_obs, s_obs, rtol=1e-14)
    a = mp[:, L.C] * blk.p_obs ** mp[:, L.ETA]
    np.testing.assert_allclose(blk.bau, s_obs + a, rtol=1e-14)
    np.testing.assert_allclose(blk.supply_cf, rs.qcf[:, y] * m ** mp[:, L.B_CF], rtol=1e-14)
    assert (mp[:, L.B_OBS] > 0).any() or (mp[:, L.B_CF] > 0).any()  # indexing is exercised
