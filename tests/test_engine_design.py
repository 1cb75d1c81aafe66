"""Design features in the engine: offsets, penalty cap, power-law abatement, exemption,
intervention, the EU MSR and the K-ETS triggers (exact per path where the rule is exact)."""

from __future__ import annotations

import numpy as np
import pytest

from riskmodel.sim.engine import simulate
from riskmodel.sim.scenario import scenario_from_dict

GARCH = {"mu": 0.0, "omega": 0.05, "alpha": 0.08, "beta": 0.9, "nu": 6.0}


def market(mid, last, bau, **kw):
    return {"id": mid, "synthetic": True, "currency": "EUR", "bau_emissions": bau,
            "output_growth": 0.02, "output_vol": 0.03,
            "process": {"family": "garch", "dist": "t", "params": GARCH, "last_price": last},
            **kw}


def run(markets, links=(), paths=100, years=2, **kw):
    d = {"name": "d", "markets": list(markets), "links": list(links),
         "horizon": {"years": years, "days_per_year": 24},
         "dependence": {"corr": np.eye(len(markets)).tolist()},
         "simulation": {"paths": paths, "paths_per_chunk": 50, "keep_annual": True, "seed": 3},
         **kw}
    return simulate(scenario_from_dict(d))


def test_offsets_are_a_supply_step():
    r = run([market("a", 60, 1000, offset_limit_share=0.02, offset_price=55.0)])
    p = r.annual["price"][0]
    pa = r.annual["price_autarky"][0]
    s = r.annual["supply"][0]
    c = r.meta["c"][0]
    expect = np.where(pa <= 55.0, pa, np.maximum(55.0, pa - 0.02 * s / c))
    np.testing.assert_allclose(p, expect, rtol=1e-9)
    e = r.annual["emissions"][0]
    used = np.clip(c * (pa - p), 0, None)
    np.testing.assert_allclose(e, s + used, rtol=1e-9)


def test_penalty_caps_the_price():
    r = run([market("a", 60, 1000, penalty_cap=62.0)])
    assert r.annual["price"][0].max() <= 62.0 + 1e-9
    assert r.annual["price_autarky"][0].max() > 62.0


def test_power_law_abatement_conserves_emissions():
    m1 = market("a", 80, 1500, abatement={"exponent": 1.5})
    m2 = market("b", 20, 600, abatement={"exponent": 0.8})
    r = run([m1, m2], [{"markets": ["a", "b"]}])
    e, s = r.annual["emissions"][1], r.annual["supply"][1]
    np.testing.assert_allclose(e.sum(axis=1), s.sum(axis=1), rtol=1e-8)
    pl = r.annual["price"][1]
    np.testing.assert_allclose(pl[:, 0], pl[:, 1], rtol=1e-9)
    assert (r.annual["price"][0][:, 0] == pytest.approx(r.annual["price_autarky"][0][:, 0]))


def test_exemption_and_intervention_events():
    ev = {"markets": [{"market": "a", "exemption_on": 5000.0, "exemption_share": 0.05,
                       "intervention_on": 5000.0, "intervention_floor": 200.0}]}
    r = run([market("a", 60, 1000), market("b", 30, 500)], [{"markets": ["a", "b"]}],
            events=ev)
    # the intervention floor (unlimited withholding at 200) holds the linked pool's price
    np.testing.assert_allclose(r.annual["price"][2], 200.0, rtol=1e-9)
    assert r.get("price_mean", "a", "exposure", 2023)[0] > 0


def test_msr_intake_reduces_next_years_supply():
    st = {"msr": True, "tnac0": 1500.0}
    r = run([market("a", 60, 1000, stabilisation=st)], paths=20)
    s = r.annual["supply"][0][:, 0, :]
    q = 900.0  # BAU (1 - share)
    np.testing.assert_allclose(s[:, 0], q)
    # autarky without banking: E = S, so TNAC stays 1500 > 1096 and 24% of it is taken in
    np.testing.assert_allclose(s[:, 1], q - 0.24 * 1500.0, rtol=1e-12)


@pytest.mark.parametrize("prob", [0.0, 1.0])
def test_kets_lower_trigger_fires_with_its_probability(prob):
    st = {"kets_triggers": True, "kets_probability": prob, "kets_release_share": 0.05}
    m = market("a", 10, 1000, stabilisation=st, abatement={"price_level": 100.0})
    r = run([m], paths=20, years=1)
    s = r.annual["supply"][0][:, 0, 0]
    q = 900.0
    np.testing.assert_allclose(s, q * (1 - 0.05 * prob), rtol=1e-12)


@pytest.mark.parametrize("dpy", [250, 252])
def test_kets_months_are_twelfths_of_each_year(dpy):
    """A K-ETS month is a twelfth of the compliance year (days ((m + 1) dpy) // 12), so every
    year starts with a whole month: the lower trigger, certain to fire at the first month end
    of each year (the price sits far below 60% of the two-year average), moves the price from
    the same day of every year. With 250 days a year, months of 250 // 12 = 20 days would end
    10 days into the second year. Runs with and without the trigger share every price draw
    (K-ETS draws from its own stream), so the first day they differ is the day after it acted."""
    def kept(prob):
        st = {"kets_triggers": True, "kets_probability": prob, "kets_release_share": 0.05}
        m = market("a", 10, 1000, stabilisation=st, abatement={"price_level": 100.0})
        d = {"name": "d", "markets": [m], "links": [],
             "horizon": {"years": 2, "days_per_year": dpy},
             "dependence": {"corr": [[1.0]]},
             "simulation": {"paths": 4, "paths_per_chunk": 4, "keep_paths": 4, "seed": 3,
                            "variants": ["autarky"]}}
        return simulate(scenario_from_dict(d)).paths["price"][0, :, 0, :]  # (path, day)

    moved = kept(1.0) != kept(0.0)
    first_month = dpy // 12  # month 0 ends on day dpy // 12 - 1; the trigger acts from the next
    for year in range(2):
        days = moved[:, year * dpy:(year + 1) * dpy]
        assert not days[:, :first_month].any()
        assert days[:, first_month].all()
