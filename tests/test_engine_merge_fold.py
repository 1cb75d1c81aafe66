"""Flat merge memory: folding each chunk's histograms into the first as it arrives
(``stats.fold_in``) leaves one set of histograms and gives a bit-identical merge."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from riskmodel.batch.scenario_file import load_scenario_file
from riskmodel.sim.engine import merge_chunks, n_chunks, simulate_chunk
from riskmodel.sim.resolve import resolve
from riskmodel.sim.scenario import scenario_from_dict
from riskmodel.sim.stats import fold_in

CHINA_KOREA = Path(__file__).resolve().parent.parent / "data" / "scenarios" / "china_korea.yaml"


def test_folded_merge_is_bit_identical_and_holds_one_histogram():
    d = load_scenario_file(CHINA_KOREA, paths=80).scenarios[0].model_dump(exclude_unset=True)
    d["horizon"]["days_per_year"] = 20
    d["simulation"]["paths_per_chunk"] = 20
    sc = scenario_from_dict(d)
    rs = resolve(sc)
    held = [simulate_chunk(sc, c, resolved=rs) for c in range(n_chunks(sc))]
    folded: list = []
    for c in (2, 0, 3, 1):  # any arrival order
        fold_in(folded, simulate_chunk(sc, c, resolved=rs))
    assert sum(p.hp is not None for p in folded) == 1
    a = merge_chunks(sc, held, resolved=rs).table
    b = merge_chunks(sc, folded, resolved=rs).table
    np.testing.assert_array_equal(a.value.to_numpy(), b.value.to_numpy())
    np.testing.assert_array_equal(a.mcse.to_numpy(), b.mcse.to_numpy())
