"""The benchmark's floor: its closed-form clearing of the bench topology equals the link solver
(``riskmodel.linking.solve_step``) on random inputs, and its frozen random streams are the
engine's generator (same state, same normals)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from floor_clearing import clear_bench  # noqa: E402
from floor_rng import ZT as FZT  # noqa: E402
from floor_rng import fill_normal as floor_fill_normal  # noqa: E402

from riskmodel.linking import (  # noqa: E402
    FLAG_CEILING,
    FLAG_FLOOR,
    M_C,
    M_CEIL,
    M_FLOOR,
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
from riskmodel.sim.rng import ZT, fill_normal, state_from_seed  # noqa: E402

N_PROBLEMS = 10_000


@pytest.mark.parametrize("quota", [40.0, 10.0])
def test_closed_form_clearing_equals_the_solver(quota):
    rng = np.random.default_rng(int(quota))
    la = compile_topology(3, [Link(0, 1, quota_ab=quota, quota_ba=quota,
                                   restricted_quota_ab=quota / 4, restricted_quota_ba=quota / 4),
                              Link(1, 2)])
    mkt = market_array(3)
    mkt[1:, M_FLOOR] = 0.0  # the engine's unlimited floor at 0 for markets without a collar
    fw, iw = workspace(3, 2)
    out, lout = np.zeros((3, N_OUT)), np.zeros((2, N_LINK_OUT))
    flags, st = np.zeros(3, np.int64), np.zeros(2, np.int64)
    n_bound = n_floor = n_ceil = 0
    for _ in range(N_PROBLEMS):
        p = rng.uniform(-20.0, 220.0, 3)
        c = rng.uniform(0.5, 20.0, 3)
        floor_a = rng.uniform(0.0, 60.0)
        ceil_a = floor_a + rng.uniform(1.0, 150.0)
        state = int(rng.integers(0, 3))
        mkt[:, M_P_AUT], mkt[:, M_C] = p, c
        mkt[0, M_FLOOR], mkt[0, M_CEIL] = floor_a, ceil_a
        st[0] = state
        solve_step(mkt, la.ends, la.lpar, st, out, lout, flags, fw, iw)
        q_in_force = quota if state == 0 else quota / 4
        qa, qb, qc, xa, xb, xc, bound = clear_bench(p[0], p[1], p[2], c[0], c[1], c[2],
                                                    floor_a, ceil_a, q_in_force, state)
        np.testing.assert_allclose([qa, qb, qc], out[:, O_PRICE], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(xa, out[0, O_FLOW], rtol=1e-9, atol=1e-8)
        if qb > 1e-9:  # at the b-c pool's floor the split of its reserve is not unique
            np.testing.assert_allclose([xb, xc], out[1:, O_FLOW], rtol=1e-9, atol=1e-8)
        assert bool(flags[0] & FLAG_FLOOR) == (qa <= floor_a)
        assert bool(flags[0] & FLAG_CEILING) == (qa >= ceil_a)
        n_bound += bound
        n_floor += qa <= floor_a
        n_ceil += qa >= ceil_a
    # every regime of the closed form was exercised
    assert min(n_bound, n_floor, n_ceil) > N_PROBLEMS // 50


def test_frozen_streams_are_the_engines_generator():
    a, b = np.empty(20_000), np.empty(20_000)
    pend = np.empty(2 * a.size + 2, np.int64)
    s1 = state_from_seed(np.random.SeedSequence(3))
    s2 = s1.copy()
    fill_normal(s1, ZT, a, pend)
    floor_fill_normal(s2, FZT, b, pend)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(s1, s2)
    assert abs(a.mean()) < 0.03 and abs(a.std() - 1.0) < 0.02
