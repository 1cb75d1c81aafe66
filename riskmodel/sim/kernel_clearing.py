"""The kernel's link-clearing step: each variant's link states and parameters of the day, then
its market clearing (MODEL.md §4) by the cheapest exact route that applies.

:func:`link_states` sets today's state of every link in variant v (autarky: all suspended;
linked: all active from their start day; linked_events: the event chain's state), applies
quotas given as a share of supply and, under the 'origin' delinking convention, moves banked
permits back at a suspension. :func:`clear_without_solver` then reuses the previous variant's
solution when its inputs are equal, takes each market's own collared response when no link is
active, the closed form of :func:`plain_pools` when every active link is plain, and leaves
the rest to the link solver ``solve_step`` (called by ``kernel.run_paths`` itself, with arrays
it binds once per chunk, then :func:`take_solution`); :func:`remember_inputs` keeps the
variant's inputs.

``solve_step_lean`` is the solver without the general solver compiled:
``kernel.run_paths_lean`` is ``run_paths`` with ``solve_step`` rebound to it.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from riskmodel.linking import (
    FLAG_EXPORT_QUOTA,
    FLAG_IMPORT_QUOTA,
    M_C,
    M_CEIL,
    M_ETA,
    M_FLOOR,
    M_FX,
    M_P_AUT,
    M_RES_DOWN,
    M_RES_UP,
    M_S,
    O_FLOW,
    O_PRICE,
    O_RESERVE,
)
from riskmodel.linking.collar import own_price_s
from riskmodel.linking.fast_paths import solve_step as _solve_step
from riskmodel.sim import banking_step as BK
from riskmodel.sim import layout as L

#: The link solver compiled into the kernel (numba inlines it at the IR level): a call would pass
#: its nine arrays across a function boundary, which costs two atomic reference-count updates
#: each per call (about a tenth of the full kernel's time when a link is solved every day).
solve_step = njit(cache=True, error_model="numpy", inline="always")(_solve_step.py_func)

#: What the fast-path-only solver returns where the general solver would have to answer: the
#: kernel stops and returns it as its infeasible-step count (the engine reruns the chunk with
#: the general kernel, so results are those of the general kernel, bit for bit).
STATUS_NEEDS_GENERAL = -1

_QFLAGS = FLAG_IMPORT_QUOTA | FLAG_EXPORT_QUOTA


def respecialise(func: Callable[..., Any], name: str, **replace: Any) -> Callable[..., Any]:
    """A copy of the plain Python function ``func`` named ``name`` whose globals ``replace``
    rebinds (same code, same constants). numba keys its on-disk cache by qualified name, so the
    copy has its own cache entry beside the original's."""
    g = dict(func.__globals__)
    g.update(replace)
    f = types.FunctionType(func.__code__, g, name, func.__defaults__, func.__closure__)
    f.__qualname__ = name
    f.__module__ = func.__module__
    f.__doc__ = func.__doc__
    f.__kwdefaults__ = func.__kwdefaults__
    return f


@njit(cache=True, inline="always")
def _no_general(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork, contract) -> int:
    """Stands in for the general solver in the lean kernel: refuse the step."""
    return STATUS_NEEDS_GENERAL


#: ``solve_step`` without the general solver (``linking.network``), called rather than inlined:
#: the fast path's answer, or ``STATUS_NEEDS_GENERAL`` where it cannot vouch for one. A kernel
#: on it compiles in about half the CPU time of ``run_paths`` (the general solver is about 30%
#: of that, inlining the fast path about 20%); each call pays the reference counting of nine
#: arrays, measured at 3% of the kernel's time on ``china_korea`` (plain link) but 18% on
#: ``eu_china_quota`` (quota link), so the engine uses it where every link is plain.
solve_step_lean = njit(cache=True, error_model="numpy")(
    respecialise(_solve_step.py_func, "solve_step_lean", _solve_general=_no_general)
)


@njit(cache=True)
def _root(par, a):
    while par[a] != a:
        a = par[a]
    return a


@njit(cache=True, inline="always")
def plain_pools(mkt, ends, lw, lst, par, num, den, price, x) -> bool:
    """Closed form of MODEL.md §4 when every active link is plain (no quota, no fee, same
    permit units), abatement is linear and no collar can bind: each connected group trades at
    ``P = sum c_i fx_i^-1 (fx_i p_i') / sum c_i fx_i^-1`` (numeraire). Returns False (nothing
    written) when it does not apply, e.g. a price would hit the zero floor."""
    n = mkt.shape[0]
    for i in range(n):
        if (
            mkt[i, M_ETA] != 1.0
            or mkt[i, M_S] != 1.0
            or mkt[i, M_FLOOR] != 0.0
            or mkt[i, M_CEIL] != np.inf
        ):
            return False
        par[i] = i
        num[i] = 0.0
        den[i] = 0.0
    for q in range(ends.shape[0]):
        st = lst[q]
        if st == 2:
            continue
        off = 0 if st == 0 else 4
        if (
            lw[q, off] != np.inf
            or lw[q, off + 1] != np.inf
            or lw[q, off + 2] != 0.0
            or lw[q, off + 3] != 0.0
        ):
            return False
        ra = _root(par, ends[q, 0])
        rb = _root(par, ends[q, 1])
        if ra != rb:
            par[rb] = ra
    for i in range(n):
        r = _root(par, i)
        w = mkt[i, M_C] / mkt[i, M_FX]
        num[r] += w * mkt[i, M_P_AUT] * mkt[i, M_FX]
        den[r] += w
    for i in range(n):
        if _root(par, i) == i and num[i] <= 0.0:
            return False
    for i in range(n):
        r = _root(par, i)
        q_ = num[r] / den[r] / mkt[i, M_FX]
        price[i] = q_
        x[i] = mkt[i, M_C] * (mkt[i, M_P_AUT] - q_)
    return True


@njit(cache=True, inline="always")
def link_states(
    v: int,
    t: int,
    td: int,
    ends,
    lpar,
    lk_f,
    s_conv,
    lsb,
    Sv,
    origin: bool,
    bk,
    bst,
    dlk,
    lpv2,
    lst,
    lw,
) -> None:
    """Variant v's state of every link today (0 active, 1 restricted, 2 suspended) in ``lst``
    and its parameters in ``lw`` (quotas given as a share of the day's supply applied); under
    the 'origin' convention a suspension in linked_events returns banked permits to their
    issuer."""
    for q in range(ends.shape[0]):
        if v == 0 or t < lk_f[q, L.START_DAY]:
            lst[q] = 2
        elif v == 1:
            lst[q] = 0
        else:
            lst[q] = lsb[td, q]
        a = ends[q, 0]
        b = ends[q, 1]
        if v == 2 and origin and t >= lk_f[q, L.START_DAY]:
            if lst[q] == 2 and lpv2[q] != 2:
                # delinked today: banked permits return to their issuer
                BK.delink_origin(bk, bst, dlk, a, b)
            lpv2[q] = lst[q]
        for col in range(8):
            lw[q, col] = lpar[q, col]
        sh = lk_f[q, L.Q_SHARE]
        if sh >= 0.0:
            lw[q, 0] = min(lpar[q, 0], sh * Sv[v, b] * s_conv[b])
            lw[q, 1] = min(lpar[q, 1], sh * Sv[v, a] * s_conv[a])
        sh = lk_f[q, L.RQ_SHARE]
        if sh >= 0.0:
            lw[q, 4] = min(lpar[q, 4], sh * Sv[v, b] * s_conv[b])
            lw[q, 5] = min(lpar[q, 5], sh * Sv[v, a] * s_conv[a])


@njit(cache=True, inline="always")
def any_active(lst) -> bool:
    """Whether some link is active or restricted (state != 2) today."""
    for q in range(lst.shape[0]):
        if lst[q] != 2:
            return True
    return False


@njit(cache=True, inline="always")
def clear_without_solver(
    v: int,
    any_link: bool,
    ends,
    mkt,
    lw,
    lst,
    lst1,
    pin1,
    fl1,
    rd1,
    ru1,
    par,
    num,
    den,
    pr,
    x,
    price,
    xv,
    qbind,
    rv,
) -> bool:
    """Variant v's prices, net imports, binding quotas and reserve use where no link solver is
    needed: the previous variant's solution when its inputs (``pin1``, ``fl1``, ``rd1``,
    ``ru1``; linked's link states ``lst1``) are equal, each market's own collared response
    when no link is active, the plain-pool closed form. Returns False (nothing written) when
    the link solver must answer (``run_paths`` calls ``solve_step``, then
    :func:`take_solution`)."""
    N = mkt.shape[0]
    same = v > 0
    for q in range(lst.shape[0]):
        if v == 2 and lst[q] != lst1[q]:
            same = False
    if v == 1 and any_link:
        same = False
    if same:
        for i in range(N):
            if (
                mkt[i, M_P_AUT] != pin1[v - 1, i]
                or mkt[i, M_FLOOR] != fl1[v - 1, i]
                or mkt[i, M_RES_DOWN] != rd1[v - 1, i]
                or mkt[i, M_RES_UP] != ru1[v - 1, i]
            ):
                same = False
                break
    if same:
        for i in range(N):
            price[v, i] = price[v - 1, i]
            xv[v, i] = xv[v - 1, i]
            qbind[v, i] = qbind[v - 1, i]
            rv[v, i] = rv[v - 1, i]
        return True
    if not any_link:
        for i in range(N):
            # scalar arguments: no array crosses a call boundary in the day loop
            price[v, i], rv[v, i] = own_price_s(
                mkt[i, M_P_AUT],
                mkt[i, M_C],
                mkt[i, M_ETA],
                mkt[i, M_FLOOR],
                mkt[i, M_CEIL],
                mkt[i, M_RES_UP],
                mkt[i, M_RES_DOWN],
                0.0,
            )
            xv[v, i] = 0.0
            qbind[v, i] = False
        return True
    if plain_pools(mkt, ends, lw, lst, par, num, den, pr, x):
        for i in range(N):
            price[v, i] = pr[i]
            xv[v, i] = x[i]
            qbind[v, i] = False
            rv[v, i] = 0.0
        return True
    return False


@njit(cache=True, inline="always")
def take_solution(v: int, out, flags, price, xv, qbind, rv) -> None:
    """Variant v's prices, net imports, binding quotas and reserve use from the link solver's
    outputs."""
    for i in range(out.shape[0]):
        price[v, i] = out[i, O_PRICE]
        xv[v, i] = out[i, O_FLOW]
        qbind[v, i] = (flags[i] & _QFLAGS) != 0
        rv[v, i] = out[i, O_RESERVE]


@njit(cache=True, inline="always")
def remember_inputs(v: int, mkt, lst, lst1, pin1, fl1, rd1, ru1) -> None:
    """What variant v passed to the clearing (autarky prices, collar, reserves; linked's link
    states), for the next variant's reuse test."""
    for i in range(mkt.shape[0]):
        pin1[v, i] = mkt[i, M_P_AUT]
        fl1[v, i] = mkt[i, M_FLOOR]
        rd1[v, i] = mkt[i, M_RES_DOWN]
        ru1[v, i] = mkt[i, M_RES_UP]
    if v == 1:
        for q in range(lst.shape[0]):
            lst1[q] = lst[q]
