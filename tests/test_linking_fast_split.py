"""The link solver's three tries (``fast_closed``, ``fast_exact``, the general solver): the
call-free first try answers exactly as the whole fast path, bit for bit, where it answers;
it declines exactly where some pool needs an exact root; ``solve_step`` returns the first
answer; and ``fast_closed`` holds no call and no reference counting (what makes it cheap).

Problems: the random forests of ``test_linking_fast_random`` (collars, reserves, quotas,
bounds, fees, exchange rates, suspended and restricted links), solved in one numba loop."""

from __future__ import annotations

import re

import numpy as np
import pytest
from numba import njit
from test_linking_fast_random import CLASSES, _problems

from riskmodel.linking import N_LINK_OUT, N_OUT, workspace
from riskmodel.linking.fast_paths import fast_closed, fast_exact, solve_step
from riskmodel.linking.specialise import respecialise
from riskmodel.linking.topology import STATUS_FAST_DECLINED

N_DRAW = 4000  # problems per class


@njit(cache=True)
def _tries(mk, lpk, stk, ends, fw, iw, res):  # noqa: ANN001, ANN202
    """Per problem k: res[k] = (closed status, exact status, solve_step status, closed == exact
    bit for bit (meaningful where closed answered), solve_step == the first fast answer bit for
    bit)."""
    k, n = mk.shape[0], mk.shape[1]
    nl = ends.shape[0]
    o1 = np.zeros((n, N_OUT))
    l1 = np.zeros((nl, N_LINK_OUT))
    f1 = np.zeros(n, np.int64)
    o2 = np.zeros((n, N_OUT))
    l2 = np.zeros((nl, N_LINK_OUT))
    f2 = np.zeros(n, np.int64)
    o3 = np.zeros((n, N_OUT))
    l3 = np.zeros((nl, N_LINK_OUT))
    f3 = np.zeros(n, np.int64)
    for p in range(k):
        m = mk[p]
        lp = lpk[p]
        st = stk[p]
        s1 = fast_closed(m, ends, lp, st, o1, l1, f1, fw, iw)
        s2 = fast_exact(m, ends, lp, st, o2, l2, f2, fw, iw)
        s3 = solve_step(m, ends, lp, st, o3, l3, f3, fw, iw)
        same12 = True
        # (where both fast tries decline, the general solver answers: test_linking_fast_random)
        same3 = True
        general = s1 == STATUS_FAST_DECLINED and s2 == STATUS_FAST_DECLINED
        oa, la, fa = (o1, l1, f1) if s1 != STATUS_FAST_DECLINED else (o2, l2, f2)
        for i in range(n):
            same12 = same12 and f1[i] == f2[i]
            same3 = same3 and (general or f3[i] == fa[i])
            for j in range(N_OUT):
                # bit for bit (NaN outputs of the same computation compare equal)
                if not (o1[i, j] == o2[i, j] or (o1[i, j] != o1[i, j] and o2[i, j] != o2[i, j])):
                    same12 = False
                if not (general or o3[i, j] == oa[i, j]
                        or (o3[i, j] != o3[i, j] and oa[i, j] != oa[i, j])):
                    same3 = False
        for q in range(nl):
            for j in range(N_LINK_OUT):
                if l1[q, j] != l2[q, j]:
                    same12 = False
                if not general and l3[q, j] != la[q, j]:
                    same3 = False
        res[p, 0] = s1
        res[p, 1] = s2
        res[p, 2] = s3
        res[p, 3] = 1.0 if same12 else 0.0
        res[p, 4] = 1.0 if same3 else 0.0


@pytest.mark.parametrize("name", ["pair", "chain3", "star4", "tree6", "triangle"])
def test_closed_try_is_the_fast_path_where_it_answers(name: str) -> None:
    ends = np.array(CLASSES[name], dtype=np.int64).reshape(-1, 2)
    n, nl = int(ends.max()) + 1, ends.shape[0]
    mk, lpk, stk = _problems(np.random.default_rng(1405), n, nl, N_DRAW)
    fw, iw = workspace(n, nl)
    res = np.zeros((N_DRAW, 5))
    _tries(mk, lpk, stk, ends, fw, iw, res)
    closed = res[:, 0] != STATUS_FAST_DECLINED
    exact = res[:, 1] != STATUS_FAST_DECLINED
    # the first try answers a real share of the problems, never one the whole fast path declines
    assert closed.sum() >= 200, closed.sum()
    assert not (closed & ~exact).any()
    # ... and then bit for bit as the whole fast path (outputs, flags, status)
    assert (res[closed, 3] == 1.0).all()
    assert (res[closed, 0] == res[closed, 1]).all()
    # solve_step: the first answer of the three tries, never the internal code
    assert (res[:, 4] == 1.0).all()
    assert (res[:, 2] != STATUS_FAST_DECLINED).all()
    assert (res[exact, 2] == res[exact, 1]).all()


@njit(cache=True)
def _collar_binding(mk, lpk, stk, ends, fw, iw, res):  # noqa: ANN001, ANN202
    """Per problem: (closed status, exact status, some market at its floor or ceiling in exact's
    answer with own price exactly there)."""
    n = mk.shape[1]
    nl = ends.shape[0]
    out = np.zeros((n, N_OUT))
    lout = np.zeros((nl, N_LINK_OUT))
    flags = np.zeros(n, np.int64)
    for p in range(mk.shape[0]):
        res[p, 0] = fast_closed(mk[p], ends, lpk[p], stk[p], out, lout, flags, fw, iw)
        res[p, 1] = fast_exact(mk[p], ends, lpk[p], stk[p], out, lout, flags, fw, iw)
        at = False
        for i in range(n):
            if out[i, 0] == mk[p, i, 3] or out[i, 0] == mk[p, i, 4]:  # O_PRICE vs floor, ceiling
                at = True
        res[p, 2] = 1.0 if at else 0.0


def test_closed_try_declines_where_a_collar_binds() -> None:
    """A linked market held at its collar price is not a closed-form pool: the first try hands
    every such step to fast_exact (which answers it)."""
    ends = np.array([[0, 1]], dtype=np.int64)
    mk, lpk, stk = _problems(np.random.default_rng(7), 2, 1, N_DRAW)
    stk[:] = 0  # linked
    fw, iw = workspace(2, 1)
    res = np.zeros((N_DRAW, 3))
    _collar_binding(mk, lpk, stk, ends, fw, iw, res)
    at_collar = (res[:, 2] == 1.0) & (res[:, 1] == 0)
    assert at_collar.sum() > 100
    assert (res[at_collar, 0] == STATUS_FAST_DECLINED).all()


@pytest.mark.slow  # compiles fast_closed afresh (about 12 s of CPU)
def test_closed_try_holds_no_call_and_no_reference_counting() -> None:
    """The optimised LLVM IR of fast_closed (compiled afresh: numba shows no IR for cached code)
    calls no other function: no NRT_incref / NRT_decref (atomic) and no numba callee, whose
    error-status exit would keep numba from pruning the nine arguments' reference counts."""
    fn = njit(error_model="numpy")(respecialise(fast_closed.py_func, "fast_closed_ir_check"))
    ends = np.array([[0, 1]], dtype=np.int64)
    mk, lpk, stk = _problems(np.random.default_rng(3), 2, 1, 1)
    fw, iw = workspace(2, 1)
    fn(mk[0], ends, lpk[0], stk[0], np.zeros((2, N_OUT)), np.zeros((1, N_LINK_OUT)),
       np.zeros(2, np.int64), fw, iw)
    (ir,) = fn.inspect_llvm().values()
    body = next(m.group(0) for m in re.finditer(r"^define [^@]*@(\S+?)\(.*?^}$", ir, re.M | re.S)
                if "fast_closed_ir_check" in m.group(1) and "cpython" not in m.group(1)
                and not m.group(1).startswith("cfunc"))
    assert "NRT_incref" not in body and "NRT_decref" not in body
    assert not re.findall(r"call [^\n]*@_ZN", body)
