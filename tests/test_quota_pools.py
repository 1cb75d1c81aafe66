"""The kernel's closed form for pools joined by at most one quota link
(``riskmodel.sim.quota_pools``) against the link solver (``linking.solve_step``) on the random
forests of ``test_linking_fast_random`` (collars, reserves, quotas, one-way and restricted
links, bounds, fees, exchange rates and permit conversions): where it answers, its prices, net
imports, reserve operations and binding-quota marks are the solver's, bit for bit; it answers
wherever the solver's call-free closed form does on its domain (``quota_pools_exact``: wherever
the solver's whole fast path does, binding collars included); and both decline a second quota
link, a fee or a bound."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from numba import njit
from test_linking_fast_random import CLASSES, _problems

from riskmodel.linking import N_LINK_OUT, N_OUT, workspace
from riskmodel.linking.fast_paths import fast_closed, fast_exact, solve_step
from riskmodel.linking.topology import (
    FLAG_EXPORT_QUOTA,
    FLAG_IMPORT_QUOTA,
    M_ETA,
    M_EXP_CAP,
    M_FEE_EXP,
    M_FEE_IMP,
    M_IMP_CAP,
    O_FLOW,
    O_PRICE,
    O_RESERVE,
    STATUS_FAST_DECLINED,
    STATUS_OK,
)
from riskmodel.sim.quota_pools import quota_pools, quota_pools_exact

N_DRAW = 6000  # problems per class
_QFLAGS = FLAG_IMPORT_QUOTA | FLAG_EXPORT_QUOTA


@njit(cache=True)
def _compare(mk, lpk, stk, ends, fw, iw, res):  # noqa: ANN001, ANN202
    """Per problem p: res[p] = (quota_pools answered, quota_pools_exact answered, solve_step's
    status, fast_closed answered, fast_exact answered, quota_pools' outputs bit for bit equal
    to the solver's where it answered, the same for quota_pools_exact)."""
    k, n = mk.shape[0], mk.shape[1]
    nl = ends.shape[0]
    out = np.zeros((n, N_OUT))
    lout = np.zeros((max(nl, 1), N_LINK_OUT))
    flags = np.zeros(n, np.int64)
    par = np.zeros(n, np.int64)
    price = np.zeros((2, n))
    x = np.zeros((2, n))
    rsv = np.zeros((2, n))
    qb = np.zeros((2, n), np.int64)
    fw2 = np.zeros(12 * n + 8)
    iw2 = np.zeros(n, np.int64)
    for p in range(k):
        m = mk[p]
        lp = lpk[p]
        st = stk[p]
        ok0 = quota_pools(m, ends, lp, st, par, price[0], x[0], rsv[0], qb[0], fw2, iw2)
        ok1 = quota_pools_exact(m, ends, lp, st, par, price[1], x[1], rsv[1], qb[1], fw2, iw2)
        closed = fast_closed(m, ends, lp, st, out, lout, flags, fw, iw) != STATUS_FAST_DECLINED
        exact = fast_exact(m, ends, lp, st, out, lout, flags, fw, iw) != STATUS_FAST_DECLINED
        status = solve_step(m, ends, lp, st, out, lout, flags, fw, iw)
        res[p, 0] = 1.0 if ok0 else 0.0
        res[p, 1] = 1.0 if ok1 else 0.0
        res[p, 2] = status
        res[p, 3] = 1.0 if closed else 0.0
        res[p, 4] = 1.0 if exact else 0.0
        for j, ok in enumerate((ok0, ok1)):
            same = True
            if ok:
                for i in range(n):
                    same = (same and price[j, i] == out[i, O_PRICE] and x[j, i] == out[i, O_FLOW]
                            and rsv[j, i] == out[i, O_RESERVE]
                            and (qb[j, i] != 0) == ((flags[i] & _QFLAGS) != 0))
            res[p, 5 + j] = 1.0 if same else 0.0


def _in_domain(mk: np.ndarray, lp: np.ndarray, st: np.ndarray) -> np.ndarray:
    """Problems quota_pools is built for: linear, no market fee or bound, no link fee, at most
    one active quota link with both caps positive."""
    mkt_ok = ((mk[..., M_ETA] == 1.0) & (mk[..., M_FEE_IMP] == 0.0) & (mk[..., M_FEE_EXP] == 0.0)
              & np.isinf(mk[..., M_IMP_CAP]) & np.isinf(mk[..., M_EXP_CAP])).all(axis=1)
    o = np.where(st == 1, 4, 0)
    col = lambda j: np.take_along_axis(lp, (o + j)[..., None], axis=2)[..., 0]  # noqa: E731
    active = st != 2
    fee = active & ((col(2) != 0.0) | (col(3) != 0.0))
    quota = active & ~(np.isinf(col(0)) & np.isinf(col(1)))
    zero = quota & ((col(0) <= 0.0) | (col(1) <= 0.0))
    return mkt_ok & ~fee.any(axis=1) & (quota.sum(axis=1) <= 1) & ~zero.any(axis=1)


@pytest.mark.parametrize("name", ["pair", "chain3", "star4", "tree6", "forest5", "triangle",
                                  "square_chord"])
def test_quota_pools_is_the_solver_where_it_answers(name: str) -> None:
    ends = np.array(CLASSES[name], dtype=np.int64).reshape(-1, 2)
    n, nl = int(ends.max()) + 1, ends.shape[0]
    # fewer quotas on the larger classes, so that many problems hold at most one
    mk, lpk, stk = _problems(np.random.default_rng(2212), n, nl, N_DRAW,
                             restrict=1.0 if nl <= 2 else 0.4)
    # half the problems without fees and bounds (the solver's domain beyond this one's keeps
    # the other half: it must decline those)
    half = slice(0, N_DRAW, 2)
    mk[half, :, M_FEE_IMP] = mk[half, :, M_FEE_EXP] = 0.0
    mk[half, :, M_IMP_CAP] = mk[half, :, M_EXP_CAP] = np.inf
    lpk[half, :, [2, 3, 6, 7]] = 0.0
    fw, iw = workspace(n, nl)
    res = np.zeros((N_DRAW, 7))
    _compare(mk, lpk, stk, ends, fw, iw, res)
    dom = _in_domain(mk, lpk, stk)
    for j, solver_col in ((0, 3), (1, 4)):  # quota_pools ~ fast_closed; _exact ~ fast_exact
        answered = res[:, j] == 1.0
        assert answered.sum() >= 400, (j, answered.sum())
        # where it answers: the solver answers too (its fast path), with the same numbers, bit
        # for bit
        assert (res[answered, 2] == STATUS_OK).all()
        assert (res[answered, 5 + j] == 1.0).all(), (j, int((res[answered, 5 + j] == 0).sum()))
        # never outside its domain; on it, wherever the solver's matching try answers
        assert not (answered & ~dom).any()
        assert (answered == (dom & (res[:, solver_col] == 1.0))).mean() > 0.999
    # the exact try answers more: the binding collars
    assert (res[:, 1] >= res[:, 0]).all() and res[:, 1].sum() > res[:, 0].sum()


@functools.cache
def _solver_kernel():  # noqa: ANN202
    """``run_paths`` without the closed form (every linked step to the link solver), built
    once for the test below."""
    from riskmodel.linking.specialise import respecialise
    from riskmodel.sim.kernel import run_paths

    return njit(cache=True, error_model="numpy")(respecialise(
        run_paths.py_func, "run_paths_solver_only", _QUOTA_POOLS=False))


@pytest.mark.parametrize(("name", "point"), [("eu_china_quota", 0), ("regulatory_events", 1)])
def test_kernel_with_the_closed_form_is_the_solver_on_shipped_scenarios(name, point,
                                                                        monkeypatch):
    """A shipped scenario with a quota link (a pair; the restricted China-Korea link of the
    events scenario, with banking): the kernel's results with ``quota_pools`` are those of the
    kernel that sends every linked step to the solver, bit for bit. (That the closed form
    answers steps of both scenarios was checked with a kernel whose ``quota_pools`` writes a
    sentinel price: its results differ; not repeated here, a third kernel to compile.)"""
    from test_engine_fast_kernel import _assert_same, _chunk, _scenario

    from riskmodel.sim.kernel import run_paths
    from riskmodel.sim.resolve import resolve

    sc = _scenario(name, paths=30, days=30, point=point)
    rs = resolve(sc)
    got, ran = _chunk(sc, rs, {"run_paths": run_paths}, monkeypatch)
    ref, ran_ref = _chunk(sc, rs, {"run_paths": _solver_kernel()}, monkeypatch)
    assert ran == ["run_paths"] and ran_ref == ["run_paths_solver_only"]
    _assert_same(got, ref)
