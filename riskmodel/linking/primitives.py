"""Small numba helpers shared by the link solvers: union-find, link parameters in a state,
short sorts, allocation of a total among intervals and one market's outputs.

Kept apart from :mod:`riskmodel.linking.network` so the fast paths
(:mod:`riskmodel.linking.fast_paths`) and the general solver use the very same arithmetic.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from riskmodel.linking.collar import autarky_price, own_price
from riskmodel.linking.gains import gain
from riskmodel.linking.topology import (
    FLAG_CEILING,
    FLAG_EXPORT_QUOTA,
    FLAG_FLOOR,
    FLAG_IMPORT_QUOTA,
    FLAG_RESERVE_EXHAUSTED,
    L_CAP_AB,
    L_CAP_AB_R,
    L_CAP_BA,
    L_CAP_BA_R,
    L_FEE_AB,
    L_FEE_AB_R,
    L_FEE_BA,
    L_FEE_BA_R,
    M_C,
    M_CEIL,
    M_EXP_CAP,
    M_FEE_EXP,
    M_FEE_IMP,
    M_FLOOR,
    M_FX,
    M_IMP_CAP,
    M_RES_DOWN,
    M_RES_UP,
    M_S,
    O_AUTARKY,
    O_EMIS,
    O_FEE,
    O_FLOW,
    O_GAIN,
    O_HUB,
    O_PRICE,
    O_PRICE_NUM,
    O_RENT,
    O_RESERVE,
    O_SHADOW,
)


@njit(cache=True, error_model="numpy")
def _find(uf: np.ndarray, u: int) -> int:
    while uf[u] != u:
        uf[u] = uf[uf[u]]
        u = uf[u]
    return u


@njit(cache=True, error_model="numpy")
def _link_params(lpar: np.ndarray, state: int, l: int) -> tuple[float, float, float, float]:
    """(cap a->b, cap b->a, fee a->b, fee b->a) of link l in its state."""
    if state == 1:
        return lpar[l, L_CAP_AB_R], lpar[l, L_CAP_BA_R], lpar[l, L_FEE_AB_R], lpar[l, L_FEE_BA_R]
    return lpar[l, L_CAP_AB], lpar[l, L_CAP_BA], lpar[l, L_FEE_AB], lpar[l, L_FEE_BA]


@njit(cache=True, error_model="numpy")
def _sort(a: np.ndarray, i0: int, i1: int) -> None:
    """Sort a[i0:i1] in place: insertion sort for short lists, numpy's quicksort otherwise."""
    if i1 - i0 > 24:
        a[i0:i1].sort()
        return
    for i in range(i0 + 1, i1):
        x = a[i]
        j = i - 1
        while j >= i0 and a[j] > x:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = x


@njit(cache=True, error_model="numpy")
def _mid(lo: float, hi: float) -> float:
    return 0.5 * (lo + hi) if lo != hi else lo


@njit(cache=True, error_model="numpy")
def _allocate(lo: np.ndarray, hi: np.ndarray, ns: int, y: float) -> None:
    """Pick a point of each interval [lo_k, hi_k] so that they sum to y; result in ``lo``.

    Finite intervals share the gap in proportion to their lengths; if some interval is
    unbounded (an unlimited reserve), the others stay at the end nearest to no reserve use and the
    unbounded ones share the rest equally.
    """
    _allocate_at(lo, 0, hi, 0, ns, y)


@njit(cache=True, error_model="numpy")
def _allocate_at(lo: np.ndarray, a: int, hi: np.ndarray, b: int, ns: int, y: float) -> None:
    """:func:`_allocate` on ``lo[a:a + ns]`` and ``hi[b:b + ns]`` (offsets instead of views)."""
    tl = 0.0
    th = 0.0
    n_dn = 0
    n_up = 0
    for k in range(ns):
        if lo[a + k] == -np.inf:
            n_dn += 1
        elif hi[b + k] == np.inf:
            n_up += 1
        else:
            tl += lo[a + k]
            th += hi[b + k]
    if n_dn + n_up == 0:
        if th > tl:
            theta = min(1.0, max(0.0, (y - tl) / (th - tl)))
        else:
            theta = 0.0
        for k in range(ns):
            lo[a + k] = lo[a + k] + theta * (hi[b + k] - lo[a + k])
        return
    # finite ones: toward the unbounded side's opposite end
    rest = y
    for k in range(ns):
        if lo[a + k] == -np.inf or hi[b + k] == np.inf:
            continue
        lo[a + k] = hi[b + k] if n_dn > 0 else lo[a + k]
        rest -= lo[a + k]
    # unbounded ones: finite ends first, then share
    for k in range(ns):
        if lo[a + k] == -np.inf:
            rest -= hi[b + k]
        elif hi[b + k] == np.inf:
            rest -= lo[a + k]
    use_dn = rest < 0.0 and n_dn > 0 or n_up == 0
    cnt = n_dn if use_dn else n_up
    for k in range(ns):
        if lo[a + k] == -np.inf:
            lo[a + k] = hi[b + k] + (rest / cnt if use_dn else 0.0)
        elif hi[b + k] == np.inf:
            lo[a + k] = lo[a + k] + (0.0 if use_dn else rest / cnt)


@njit(cache=True, error_model="numpy")
def _market_out(
    mkt: np.ndarray, i: int, xc: float, pi: float, out: np.ndarray, flags: np.ndarray,
    alone: bool,
) -> None:
    """Outputs of market i given its net imports xc (common Mt) at hub price pi.

    An isolated market (``alone``) trades nothing; its hub price is its own price.
    """
    s = mkt[i, M_S]
    fx = mkt[i, M_FX]
    x = 0.0 if alone else xc / s
    q, r = own_price(mkt, i, x)
    if alone:
        pi = q * fx / s
    b = pi * s / fx
    fi = mkt[i, M_FEE_IMP]
    fe = mkt[i, M_FEE_EXP]
    sh = 0.0
    fl = 0
    if x >= mkt[i, M_IMP_CAP] and q - (b + fi) > 0.0:
        sh = q - (b + fi)
        fl |= FLAG_IMPORT_QUOTA
    if x <= -mkt[i, M_EXP_CAP] and (b - fe) - q > 0.0:
        sh = (b - fe) - q
        fl |= FLAG_EXPORT_QUOTA
    fk = mkt[i, M_FLOOR]
    kk = mkt[i, M_CEIL]
    if q <= fk:
        fl |= FLAG_FLOOR
        if q < fk or -r >= mkt[i, M_RES_DOWN]:
            fl |= FLAG_RESERVE_EXHAUSTED
    if q >= kk:
        fl |= FLAG_CEILING
        if q > kk or r >= mkt[i, M_RES_UP]:
            fl |= FLAG_RESERVE_EXHAUSTED
    pa = autarky_price(mkt, i)
    out[i, O_PRICE] = q
    out[i, O_PRICE_NUM] = q * fx / s
    out[i, O_HUB] = pi
    out[i, O_FLOW] = x
    out[i, O_RESERVE] = r
    out[i, O_EMIS] = x + r
    out[i, O_SHADOW] = sh
    out[i, O_AUTARKY] = pa
    out[i, O_GAIN] = gain(mkt[i, M_C], pa, q)
    out[i, O_RENT] = sh * abs(x)
    out[i, O_FEE] = fi * x if x > 0.0 else -fe * x
    flags[i] = fl
