"""The kernel's named interface (``kernel_args``) carries each resolved array to the field that
names it (a swapped field would feed the kernel the wrong array), and the accumulators have the
shapes ``stats.ChunkStats`` merges."""

from __future__ import annotations

from pathlib import Path

from riskmodel.batch.scenario_file import load_scenario_file
from riskmodel.sim import layout as L
from riskmodel.sim.engine import chunk_streams
from riskmodel.sim.kernel_args import ANNUAL_NAMES, accumulators, kernel_inputs
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
