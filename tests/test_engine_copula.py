"""The t copula's Gaussian switch: above ``T_COPULA_GAUSSIAN_NU`` a t copula is simulated as
Gaussian (the same numbers as an explicit Gaussian copula) and the run notes say so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from riskmodel import config
from riskmodel.batch.scenario_file import load_scenario_file
from riskmodel.sim.engine import simulate
from riskmodel.sim.innovations import T_COPULA_GAUSSIAN_NU, effective_copula
from riskmodel.sim.resolve import resolve
from riskmodel.sim.scenario import scenario_from_dict

CHINA_KOREA = Path(__file__).resolve().parent.parent / "data" / "scenarios" / "china_korea.yaml"
NOTE = "simulated as Gaussian"


def _china_korea(**dependence):
    """The shipped China-Korea scenario, shortened (60 paths, 20 days a year)."""
    d = load_scenario_file(CHINA_KOREA, paths=60).scenarios[0].model_dump(exclude_unset=True)
    d["horizon"]["days_per_year"] = 20
    d["simulation"]["paths_per_chunk"] = 30
    d.pop("dependence", None)  # the file loader marks every field set; use the calibration's
    if dependence:
        d["dependence"] = dependence
    return scenario_from_dict(d)


def test_shipped_dependence_calibration_is_simulated_as_gaussian():
    dep = json.loads((config.CALIBRATIONS_DIR / "dependence.json").read_text())
    assert dep["copula"] == "t" and dep["nu"] > T_COPULA_GAUSSIAN_NU  # shipped fit: nu ~ 89
    sc = _china_korea()
    rs = resolve(sc)
    assert not rs.copula_t and rs.meta["copula"] == "gaussian"
    assert any(NOTE in n for n in rs.notes)
    names = dep["markets"]
    rho = dep["corr"][names.index("china_ets")][names.index("k_ets")]
    ref = _china_korea(corr=[[1.0, rho], [rho, 1.0]], copula="gaussian")
    res, res_ref = simulate(sc), simulate(ref)
    np.testing.assert_array_equal(res.table.value.to_numpy(), res_ref.table.value.to_numpy())
    assert any(NOTE in n for n in res.notes) and not any(NOTE in n for n in res_ref.notes)


def test_low_nu_t_copula_is_kept():
    notes: list[str] = []
    assert effective_copula("t", 8.0, notes) == ("t", 8.0) and notes == []
    assert effective_copula("t", T_COPULA_GAUSSIAN_NU, notes)[0] == "t"
    assert effective_copula("gaussian", None, notes) == ("gaussian", None) and notes == []
    assert effective_copula("t", 30.5, notes)[0] == "gaussian" and len(notes) == 1
    assert resolve(_china_korea(corr=[[1.0, 0.3], [0.3, 1.0]], copula="t", nu=8.0)).copula_t
