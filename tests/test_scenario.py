"""The Scenario model: valid scenarios build, malformed ones name the field that is wrong."""

from __future__ import annotations

import copy

import pytest

from riskmodel.errors import InputError
from riskmodel.sim.scenario import scenario_from_dict

PROCESS = {"params": {"mu": 0.0, "omega": 0.05, "alpha": 0.05, "beta": 0.9}, "last_price": 20.0}


def _base() -> dict:
    return {
        "name": "two",
        "markets": [
            {"id": "a", "synthetic": True, "currency": "EUR", "bau_emissions": 100.0,
             "process": PROCESS},
            {"id": "b", "synthetic": True, "currency": "EUR", "bau_emissions": 50.0,
             "process": PROCESS},
        ],
        "links": [{"markets": ["a", "b"]}],
    }


def test_valid_scenario_and_topologies():
    s = scenario_from_dict(_base())
    assert [lk.name for lk in s.all_links()] == ["a-b"]
    d = _base()
    d["markets"].append({**d["markets"][0], "id": "c"})
    d["links"] = []
    d["topology"] = "multilateral"
    assert len(scenario_from_dict(d).all_links()) == 3
    d["topology"] = "chain"
    assert [lk.name for lk in scenario_from_dict(d).all_links()] == ["a-b", "b-c"]


def _set(d: dict, path: str, value) -> dict:
    d = copy.deepcopy(d)
    node = d
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node.setdefault(k, {})
    last = keys[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return d


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("simulation.paths", -5, "simulation.paths"),
        ("simulation.paths", "many", "simulation.paths"),
        ("markets.0.collar", {"floor": 10, "ceiling": 5}, "markets[0].collar"),
        ("markets.0.currency", "XYZ", "markets[0].currency"),
        ("markets.0.cap", {"type": "indexed"}, "markets[0].cap"),
        ("markets.0.cap", {"type": "absolute", "degree": 0.5}, "markets[0].cap"),
        ("markets.0.abatement", {"share": 1.5}, "markets[0].abatement.share"),
        ("links.0.markets", ["a", "zzz"], "links[0].markets"),
        ("links.0.markets", ["a", "a"], "links[0].markets"),
        ("links.0.quota", {"mt": 1.0, "share": 0.2}, "links[0].quota"),
        ("links.0.exchange_rate", 0, "links[0].exchange_rate"),
        ("dependence.corr", [[1, 1.2], [1.2, 1]], "dependence.corr"),
        ("dependence.corr", [[1, 0.5], [0.4, 1]], "dependence.corr"),
        ("horizon.years", 0, "horizon.years"),
        ("markets.0.bogus", 1, "markets[0].bogus"),
        ("events", {"links": [{"link": "a-c", "active_to_suspended": 1}]}, "events.links[0].link"),
        ("simulation.fx", {"XYZ": 1.0}, "simulation.fx"),
    ],
)
def test_malformed_scenarios_name_the_field(path, value, field):
    with pytest.raises(InputError) as info:
        scenario_from_dict(_set(_base(), path, value), file="bad.yaml")
    msg = str(info.value)
    assert msg.startswith(f"bad.yaml: {field}"), msg
    assert "\n" not in msg


def test_non_positive_definite_correlation_is_refused_unless_repaired():
    d = _base()
    d["markets"].append({**d["markets"][0], "id": "c"})
    # pairwise-plausible but jointly impossible correlations
    corr = [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]
    d["dependence"] = {"corr": corr}
    with pytest.raises(InputError, match="dependence.corr: not positive definite"):
        scenario_from_dict(d)
    d["dependence"]["repair"] = True
    assert scenario_from_dict(d).dependence.repair
