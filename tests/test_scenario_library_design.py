"""The shipped scenario library says what it means: closed links, a floor stated in one
currency, an MSR that acts, the K-ETS reserve from the catalogue (issue 10, item 5)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import yaml

from riskmodel import config
from riskmodel.batch.scenario_file import load_scenario_file, plan_from_dict
from riskmodel.data.catalogue import load_market
from riskmodel.errors import InputError
from riskmodel.io import read_yaml
from riskmodel.sim import layout as L
from riskmodel.sim.engine import simulate
from riskmodel.sim.resolve import resolve
from riskmodel.sim.scenario import scenario_from_dict


def _synthetic_kets_run(st: dict[str, Any], years: int = 1) -> Any:
    """One synthetic market (EUR, GARCH-t, price 10 far above a price level of 1)."""
    m = {
        "id": "a",
        "synthetic": True,
        "currency": "EUR",
        "bau_emissions": 1000,
        "output_growth": 0.02,
        "output_vol": 0.03,
        "stabilisation": st,
        "abatement": {"price_level": 1.0},
        "process": {
            "family": "garch",
            "dist": "t",
            "last_price": 10.0,
            "params": {"mu": 0.0, "omega": 0.05, "alpha": 0.08, "beta": 0.9, "nu": 6},
        },
    }
    d = {
        "name": "k",
        "markets": [m],
        "horizon": {"years": years, "days_per_year": 24},
        "dependence": {"corr": [[1.0]]},
        "simulation": {"paths": 10, "paths_per_chunk": 10, "keep_annual": True, "seed": 3},
    }
    return simulate(scenario_from_dict(d))


def _shipped(
    name: str, *, paths: int = 20, years: int | None = None, banking: bool = True, **sim: Any
) -> Any:
    """A shipped scenario file, with few paths (and optionally fewer years, or without its
    banking block: the static bridge), as a plan."""
    data = read_yaml(config.SCENARIOS_DIR / f"{name}.yaml")
    if not banking:
        data.pop("banking", None)
    data["simulation"] = {
        **data.get("simulation", {}),
        "paths": paths,
        "paths_per_chunk": paths,
        "keep_paths": 0,
        **sim,
    }
    if years is not None:
        data["horizon"] = {**data.get("horizon", {}), "years": years}
    return plan_from_dict(data, file=config.SCENARIOS_DIR / f"{name}.yaml")


def test_link_state_and_collar_currency_round_trip():
    d = {
        "name": "rt",
        "markets": [
            {"id": "california", "collar": {"floor": 25.0, "currency": "USD"}},
            {"id": "quebec", "collar": {"floor": 25.0, "currency": "USD"}},
        ],
        "links": [{"markets": ["california", "quebec"], "state": "closed"}],
    }
    sc = scenario_from_dict(d)
    text = yaml.safe_dump(sc.model_dump(mode="json", exclude_unset=True))
    back = scenario_from_dict(yaml.safe_load(text))
    assert back == sc
    assert back.links[0].state == "closed" and back.markets[1].collar.currency == "USD"
    with pytest.raises(InputError) as exc:
        scenario_from_dict({**d, "links": [{"markets": ["california", "quebec"], "state": "shut"}]})
    assert exc.value.field == "links[0].state"


def test_sweep_over_link_state_checks_its_words():
    data = read_yaml(config.SCENARIOS_DIR / "china_korea_japan.yaml")
    plan = plan_from_dict(data, check_calibrations=False)
    assert [[lk.state for lk in sc.links] for sc in plan.scenarios] == [
        ["open"] * 3,
        ["open", "closed", "closed"],
        ["closed", "open", "closed"],
        ["closed", "closed", "open"],
    ]
    assert plan.point_label(1) == (
        "links[0].state=open, links[1].state=closed, links[2].state=closed"
    )
    data["sweep"] = {"list": [{"links[0].state": "half"}]}
    with pytest.raises(InputError) as exc:
        plan_from_dict(data, check_calibrations=False)
    assert exc.value.field == "sweep.list[0].links[0].state"
    assert "open, closed" in exc.value.reason


def test_closed_links_carry_nothing_and_report_no_quota():
    plan = _shipped("china_korea_japan", paths=8, years=1)
    for k in (0, 1):
        sc = plan.scenarios[k]
        assert all(lk.quota is None for lk in sc.links)  # no magic "no limit" quota
        r = simulate(sc)
        t = r.table[(r.table.year == -1) & (r.table.variant == "linked")]
        p_quota = t[t.statistic == "p_quota"].set_index("market")["value"]
        assert (p_quota == 0.0).all(), p_quota
    # point 1 opens China-Korea only: Tokyo trades nothing
    assert abs(r.get("flow_mean", "tokyo", "linked", -1)[0]) < 1e-9
    assert abs(r.get("flow_mean", "k_ets", "linked", -1)[0]) > 1.0


def test_wci_floor_is_one_usd_floor_at_the_exchange_rate():
    fx = read_yaml(config.CALIBRATIONS_DIR / "fx.json")["rates"]
    cad_per_usd = fx["USD"] / fx["CAD"]
    plan = load_scenario_file(config.SCENARIOS_DIR / "california_quebec.yaml")
    floors = []
    for sc in plan.scenarios:
        rs = resolve(sc)
        ca, qc = rs.ids.index("california"), rs.ids.index("quebec")
        usd = rs.mp[ca, L.FLOOR]
        assert rs.mp[qc, L.FLOOR] == pytest.approx(usd * cad_per_usd, rel=1e-12)
        # in the numeraire the two floors are the same price: neither binds on its own
        assert rs.mp[qc, L.FLOOR] * rs.mp[qc, L.FX] == pytest.approx(
            rs.mp[ca, L.FLOOR] * rs.mp[ca, L.FX], rel=1e-12
        )
        floors.append(usd)
    assert floors == [0.0, 25.0, 35.0]
    assert cad_per_usd == pytest.approx(1.3023, abs=1e-4)


def test_eu_msr_takes_allowances_in():
    # the static bridge's MSR (the file without its banking block; with banking the MSR reads
    # the bank: tests/test_engine_banking.py)
    plan = _shipped(
        "eu_switzerland", paths=6, years=2, banking=False, keep_annual=True, variants=["autarky"]
    )
    sc = plan.scenarios[0]
    rs = resolve(sc)
    eu = rs.ids.index("eu_ets")
    assert rs.st[eu, L.MSR_TNAC0] > rs.st[eu, L.MSR_IN]  # above the intake threshold
    assert rs.st[eu, L.MSR_RES0] == 400.0
    r = simulate(sc)
    s = r.annual["supply"][0][:, eu, :]
    intake = s[:, 0] - s[:, 1]
    assert (intake > 0).any()
    # autarky without banking: E = S, so year 2 loses 24% of the initial TNAC
    np.testing.assert_allclose(intake, 0.24 * sc.markets[eu].stabilisation.tnac0, rtol=1e-9)


def test_kets_release_is_the_catalogue_reserve():
    cat = load_market("k_ets").stabilisation.kets_triggers
    plan = load_scenario_file(config.SCENARIOS_DIR / "korea_stabilisation.yaml")
    for sc in plan.scenarios:
        rs = resolve(sc)
        k = rs.ids.index("k_ets")
        assert rs.st[k, L.K_RES0] == cat.reserve.value == 14.3
        assert rs.st[k, L.K_RELEASE] == pytest.approx(cat.reserve_auction_share.value * 14.3)
        assert rs.st[k, L.K_SHARE] == 0.0  # not a share of the cap


def test_kets_release_draws_on_a_finite_reserve():
    # price far above the two-year average: the upper trigger fires in the first month
    st = {"kets_triggers": True, "kets_probability": 1.0, "kets_reserve": 3.0, "kets_release": 4.0}
    r = _synthetic_kets_run(st)
    s = r.annual["supply"][0][:, 0, 0]
    np.testing.assert_allclose(s, 900.0 + 3.0, rtol=1e-12)  # the reserve holds only 3
