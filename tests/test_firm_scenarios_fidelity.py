"""Scenarios derived for firm reports (annual arrays kept, one event at a time) resolve to the
same design as the user's scenario: the catalogue's caps and the calibrated copula survive."""

from __future__ import annotations

import numpy as np

from riskmodel import config
from riskmodel.batch.scenario_file import load_scenario_file
from riskmodel.firm.inputs import event_scenarios, with_annual
from riskmodel.sim import layout as L
from riskmodel.sim.resolve import resolve


def _design(scn):
    r = resolve(scn)
    return r.mp[:, L.B_CF].copy(), r.mp[:, L.B_OBS].copy(), r.copula_t, r.cnu, r.chol.copy()


def test_derived_firm_scenarios_keep_the_resolved_design() -> None:
    plan = load_scenario_file(config.SCENARIOS_DIR / "regulatory_events.yaml")
    base = plan.scenarios[0]
    want = _design(base)
    assert "china_ets" in base.market_ids()
    assert want[0][base.market_ids().index("china_ets")] == 1.0  # intensity, from the catalogue
    derived = [with_annual(base, paths=10), *event_scenarios(base, paths=10).values()]
    assert len(derived) >= 2
    for scn in derived:
        got = _design(scn)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert got[2] == want[2] and got[3] == want[3]
        np.testing.assert_array_equal(got[4], want[4])
