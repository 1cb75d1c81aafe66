"""The exact fast path of ``solve_step`` against the general solver (the reference) on at least
10,000 random problems per topology class that the fast path answered: linear forests with
collars (finite, unlimited and no reserves, zero floors), link quotas (two-way, one-way,
restricted, suspended), market bounds and fees, exchange rates and FX. Prices, flows and every
output to 1e-9 of the problem's scale; flags and status equal.

Problems are generated in bulk with numpy and solved in one numba loop, so the test is fast."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from riskmodel.linking import (
    FLAG_CEILING,
    FLAG_FLOOR,
    FLAG_IMPORT_QUOTA,
    FLAG_RESERVE_EXHAUSTED,
    L_CAP_AB,
    L_CAP_AB_R,
    L_CAP_BA,
    L_CAP_BA_R,
    L_FEE_AB,
    L_FEE_BA,
    M_C,
    M_CEIL,
    M_EXP_CAP,
    M_FEE_EXP,
    M_FEE_IMP,
    M_FLOOR,
    M_FX,
    M_IMP_CAP,
    M_P_AUT,
    M_RES_DOWN,
    M_RES_UP,
    M_S,
    N_LINK_FIELDS,
    N_LINK_OUT,
    N_OUT,
    market_array,
    solve_step,
    workspace,
)
from riskmodel.linking.network import _solve_general
from riskmodel.linking.topology import iwork_path_slot

N_FAST = 10_000  # problems per class the fast path must answer (and agree on)
N_DRAW = 12_000  # problems drawn per batch (until N_FAST were answered by the fast path)

#: topology classes: the links' ends (a forest over the markets)
CLASSES = {
    "pair": [(0, 1)],
    "chain3": [(0, 1), (1, 2)],
    "star4": [(0, 1), (0, 2), (0, 3)],
    "tree6": [(0, 1), (1, 2), (1, 3), (0, 4), (4, 5)],
    "forest5": [(0, 1), (2, 3), (3, 4)],
    # cycles: plain links closing a cycle of plain links carry nothing (as in the general
    # solver); the fast path takes them when the other active links form a forest
    "triangle": [(0, 1), (1, 2), (0, 2)],
    "square_chord": [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)],
}
RESTRICT = {"triangle": 0.4, "square_chord": 0.3}


def _plain_cycle(lp: np.ndarray, st: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per problem: some active plain link joins two markets already joined by earlier active
    plain links (a cycle of plain links)."""
    cap = np.where(st[..., None] == 1, lp[..., [L_CAP_AB_R, L_CAP_BA_R]],
                   lp[..., [L_CAP_AB, L_CAP_BA]])
    plain = (st != 2) & np.isinf(cap).all(axis=-1)
    res = np.zeros(lp.shape[0], dtype=bool)
    for p in np.flatnonzero(plain.sum(axis=1) >= 3):
        uf = list(range(int(ends.max()) + 1))
        for l in np.flatnonzero(plain[p]):
            ra, rb = _root(uf, ends[l, 0]), _root(uf, ends[l, 1])
            res[p] |= ra == rb
            uf[ra] = rb
    return res


def _root(uf: list[int], u: int) -> int:
    while uf[u] != u:
        u = uf[u]
    return u


def _choice(rng, shape):
    """inf, 0 or U(0, 10) reserves with probabilities 1/3 each."""
    u = rng.integers(0, 3, shape)
    return np.where(u == 0, np.inf, np.where(u == 1, 0.0, rng.uniform(0, 10, shape)))


def _problems(rng: np.random.Generator, n: int, nl: int, k: int, restrict: float = 1.0):
    """(mkt[k, n, F], lpar[k, nl, L], state[k, nl]) drawn in bulk; ``restrict`` scales the
    chances of quotas, one-way links and restricted quotas (cycle classes draw fewer: cycles of
    quota links go to the general solver's slow outer iteration)."""
    m = np.broadcast_to(market_array(n), (k, *market_array(n).shape)).copy()
    m[..., M_P_AUT] = rng.uniform(-20, 80, (k, n))
    m[..., M_C] = rng.uniform(0.3, 3.0, (k, n))
    has_floor = rng.uniform(size=(k, n)) < 0.6
    floor = np.where(rng.uniform(size=(k, n)) < 0.4, 0.0, rng.uniform(5, 25, (k, n)))
    m[..., M_FLOOR] = np.where(has_floor, floor, -np.inf)
    m[..., M_RES_DOWN] = np.where(has_floor, _choice(rng, (k, n)), np.inf)
    has_ceil = rng.uniform(size=(k, n)) < 0.4
    m[..., M_CEIL] = np.where(has_ceil, rng.uniform(35, 70, (k, n)), np.inf)
    m[..., M_RES_UP] = np.where(has_ceil, _choice(rng, (k, n)), np.inf)
    for col in (M_IMP_CAP, M_EXP_CAP):
        m[..., col] = np.where(rng.uniform(size=(k, n)) < 0.15, rng.uniform(0, 12, (k, n)),
                               np.inf)
    fees = rng.uniform(size=(k, n)) < 0.15
    m[..., M_FEE_IMP] = np.where(fees, rng.uniform(0, 3, (k, n)), 0.0)
    m[..., M_FEE_EXP] = np.where(fees, rng.uniform(0, 3, (k, n)), 0.0)
    m[..., M_FX] = np.where(rng.uniform(size=(k, n)) < 0.15, rng.uniform(0.8, 1.25, (k, n)), 1.0)
    m[..., M_S] = np.where(rng.uniform(size=(k, n)) < 0.15, rng.uniform(0.7, 1.3, (k, n)), 1.0)
    m[:, 0, M_S] = 1.0
    lp = np.zeros((k, nl, N_LINK_FIELDS))
    kind = rng.uniform(size=(k, nl))
    quota = kind < 0.4 * restrict
    one_way = (kind >= 0.4 * restrict) & (kind < 0.5 * restrict)
    ab_only = rng.uniform(size=(k, nl)) < 0.5
    lp[..., L_CAP_AB] = np.where(quota, rng.uniform(0, 12, (k, nl)),
                                 np.where(one_way & ~ab_only, 0.0, np.inf))
    lp[..., L_CAP_BA] = np.where(quota, rng.uniform(0, 12, (k, nl)),
                                 np.where(one_way & ab_only, 0.0, np.inf))
    restricted = rng.uniform(size=(k, nl)) < 0.3 * restrict
    lp[..., L_CAP_AB_R] = np.where(restricted, rng.uniform(0, 5, (k, nl)), lp[..., L_CAP_AB])
    lp[..., L_CAP_BA_R] = np.where(restricted, rng.uniform(0, 5, (k, nl)), lp[..., L_CAP_BA])
    # a few link fees: outside the fast path's domain (it must hand them to the general solver)
    fee = rng.uniform(size=(k, nl)) < 0.05
    lp[..., L_FEE_AB] = np.where(fee, rng.uniform(0, 3, (k, nl)), 0.0)
    lp[..., L_FEE_BA] = np.where(fee, rng.uniform(0, 3, (k, nl)), 0.0)
    lp[..., L_FEE_AB + 4] = lp[..., L_FEE_AB]
    lp[..., L_FEE_BA + 4] = lp[..., L_FEE_BA]
    state = rng.choice(np.array([0, 0, 0, 1, 2]), size=(k, nl)).astype(np.int64)
    return m, lp, state


@njit(cache=True)
def _compare(mk, lpk, stk, ends, slot, fw, iw):
    """Per problem: (answered by the fast path, status equal, scaled max error of out and
    lout, flags equal, the reference's flags or-ed over markets)."""
    k, n = mk.shape[0], mk.shape[1]
    nl = ends.shape[0]
    res = np.zeros((k, 5))
    out = np.empty((n, N_OUT))
    lout = np.empty((nl, N_LINK_OUT))
    flags = np.zeros(n, np.int64)
    out2 = np.empty((n, N_OUT))
    lout2 = np.empty((nl, N_LINK_OUT))
    flags2 = np.zeros(n, np.int64)
    fw2, iw2 = fw.copy(), iw.copy()
    for p in range(k):
        m = mk[p].copy()
        lp = lpk[p].copy()
        st = stk[p].copy()
        out[:] = np.nan
        lout[:] = np.nan
        out2[:] = np.nan
        lout2[:] = np.nan
        s1 = solve_step(m, ends, lp, st, out, lout, flags, fw, iw)
        res[p, 0] = iw[slot] == 1
        s2 = _solve_general(m, ends, lp, st, out2, lout2, flags2, fw2, iw2, True)
        res[p, 1] = s1 == s2
        scale = 1.0
        for i in range(n):
            for j in range(N_OUT):
                if np.isfinite(out2[i, j]):
                    scale = max(scale, abs(out2[i, j]))
        err = 0.0
        for i in range(n):
            for j in range(N_OUT):
                a, b = out[i, j], out2[i, j]
                if not (np.isnan(a) and np.isnan(b)) and a != b:
                    err = max(err, abs(a - b) / scale)
        lscale = 1.0
        for i in range(nl):
            for j in range(N_LINK_OUT):
                if np.isfinite(lout2[i, j]):
                    lscale = max(lscale, abs(lout2[i, j]))
        for i in range(nl):
            for j in range(N_LINK_OUT):
                a, b = lout[i, j], lout2[i, j]
                if not (np.isnan(a) and np.isnan(b)) and a != b:
                    err = max(err, abs(a - b) / lscale)
        res[p, 2] = err
        same = True
        for i in range(n):
            same = same and flags[i] == flags2[i]
        res[p, 3] = same
        bits = 0
        for i in range(n):
            bits |= flags2[i]
        res[p, 4] = bits
    return res


@pytest.mark.parametrize("name", list(CLASSES))
def test_fast_path_equals_general_solver_on_random_forests(name):
    ends = np.asarray(CLASSES[name], dtype=np.int64)
    n, nl = int(ends.max()) + 1, ends.shape[0]
    rng = np.random.default_rng(list(CLASSES).index(name))
    fw, iw = workspace(n, nl)
    batches = []
    cycles = []
    while sum(int((b[:, 0] == 1).sum()) for b in batches) < N_FAST and len(batches) < 8:
        m, lp, st = _problems(rng, n, nl, N_DRAW, RESTRICT.get(name, 1.0))
        batches.append(_compare(m, lp, st, ends, iwork_path_slot(n, nl), fw, iw))
        cycles.append(_plain_cycle(lp, st, ends))
    res = np.concatenate(batches)
    fast = res[:, 0] == 1
    if name in RESTRICT:  # the fast path took cycles of plain links
        assert (fast & np.concatenate(cycles)).sum() >= 2_000, name
    assert fast.sum() >= N_FAST, (name, int(fast.sum()))
    assert res[:, 1].all(), "status differs"
    bits = res[fast, 4].astype(np.int64)
    for flag in (FLAG_FLOOR, FLAG_CEILING, FLAG_IMPORT_QUOTA, FLAG_RESERVE_EXHAUSTED):
        assert ((bits & flag) != 0).mean() > 0.01, (name, flag)  # binding cases are covered
    bad = np.flatnonzero(fast & ((res[:, 2] > 1e-9) | (res[:, 3] == 0)))
    assert bad.size == 0, (name, bad[:5], res[bad[:5]])


def test_two_variants_with_different_link_states_share_one_workspace():
    """The topology cache keeps two slots: alternating link states (the engine's linked and
    linked-with-events variants on a day the link is restricted) give what fresh workspaces
    give, on every call."""
    ends = np.asarray(CLASSES["chain3"], dtype=np.int64)
    rng = np.random.default_rng(99)
    m, lp, _ = _problems(rng, 3, 2, 200)
    fw, iw = workspace(3, 2)
    states = (np.array([0, 0]), np.array([1, 0]), np.array([2, 0]))
    for p in range(200):
        for st in (states[0], states[1 + p % 2], states[0], states[1 + p % 2]):
            got = (np.full((3, N_OUT), np.nan), np.full((2, N_LINK_OUT), np.nan),
                   np.zeros(3, np.int64))
            ref = (np.full((3, N_OUT), np.nan), np.full((2, N_LINK_OUT), np.nan),
                   np.zeros(3, np.int64))
            s1 = solve_step(m[p], ends, lp[p], st, *got, fw, iw)
            s2 = solve_step(m[p], ends, lp[p], st, *ref, *workspace(3, 2))
            assert s1 == s2
            for a, b in zip(got, ref, strict=True):
                np.testing.assert_array_equal(a, b)
