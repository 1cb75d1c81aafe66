"""One market's response with its collar and reserves, and the effective collar of a link.

Own units (market i's currency per permit, Mt of its permits). With ``g(q) = sign(q)|q|**eta``,
required abatement ``D = c g(p_aut)`` and abatement ``c g(q)``, the market's net import demand at
own price q is the decreasing correspondence

    X(q) = c (g(p_aut) - g(q)) - R(q),

R = reserve sold (0..res_up, only at q = K; all of it above K) minus permits withheld (0..res_down,
only at q = F; all of it below F). Its inverse, the own price given net imports x, ``Q(x)``, is a
continuous non-increasing function (flat at F and K while the reserve lasts): :func:`own_price`.

At a hub price ``pi`` (numeraire per common unit) the market imports at own price
``pi * s / fx + fee_imp`` and exports at ``pi * s / fx - fee_exp``, within its net bounds:
:func:`market_response` returns that correspondence in common units as ``(lo, hi)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from riskmodel.errors import InputError
from riskmodel.linking.topology import (
    M_C,
    M_CEIL,
    M_ETA,
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
)

SNAP_RTOL = 1e-12  # own prices this close (relative) to a collar bound are taken to be on it


@njit(cache=True, error_model="numpy")
def _g(q: float, eta: float) -> float:
    """Abatement per unit of c at price q: q**eta, odd-extended to negative prices."""
    if eta == 1.0:
        return q
    if q >= 0.0:
        return q**eta
    return -((-q) ** eta)


@njit(cache=True, error_model="numpy")
def _ginv(v: float, eta: float) -> float:
    """Inverse of :func:`_g`."""
    if eta == 1.0:
        return v
    if v >= 0.0:
        return v ** (1.0 / eta)
    return -((-v) ** (1.0 / eta))


# Each kernel below has a scalar core (``*_s``: market parameters passed as floats) and a thin
# wrapper reading row i of ``mkt``. Scalar cores involve no array, so numba emits no reference
# counting for them; the wrappers are a single block, where its refcount pruning removes it.


@njit(cache=True, error_model="numpy")
def _base_s(p: float, c: float, eta: float, q: float) -> float:
    """Abatement still required at own price q: c (g(p_aut) - g(q)); +-inf at q = -+inf."""
    if q == np.inf:
        return -np.inf
    if q == -np.inf:
        return np.inf
    return c * (_g(p, eta) - _g(q, eta))


@njit(cache=True, error_model="numpy")
def _base(mkt: np.ndarray, i: int, q: float) -> float:
    """:func:`_base_s` of market i."""
    return _base_s(mkt[i, M_P_AUT], mkt[i, M_C], mkt[i, M_ETA], q)


@njit(cache=True, error_model="numpy")
def _demand_s(p: float, c: float, eta: float, f: float, k: float, ru: float, rd: float,
              q: float) -> tuple[float, float]:
    """:func:`demand` from the market's parameters."""
    v = _base_s(p, c, eta, q)
    lo = v
    hi = v
    if q < f:
        lo = v + rd
        hi = lo
    elif q > k:
        lo = v - ru
        hi = lo
    if q == f:
        hi = v + rd
    if q == k:
        lo = v - ru
    return lo, hi


@njit(cache=True, error_model="numpy")
def demand(mkt: np.ndarray, i: int, q: float) -> tuple[float, float]:
    """Net import demand X(q) of market i at own price q, as an interval ``(lo, hi)`` (own Mt)."""
    return _demand_s(mkt[i, M_P_AUT], mkt[i, M_C], mkt[i, M_ETA], mkt[i, M_FLOOR],
                     mkt[i, M_CEIL], mkt[i, M_RES_UP], mkt[i, M_RES_DOWN], q)


@njit(cache=True, error_model="numpy")
def own_price_s(p: float, c: float, eta: float, f: float, k: float, ru: float, rd: float,
                x: float) -> tuple[float, float]:
    """:func:`own_price` from the market's parameters (scalars: callers in a hot loop pass no
    array across the call)."""
    gp = _g(p, eta)
    lo_f = _base_s(p, c, eta, f)  # demand at the floor without withholding
    hi_k = _base_s(p, c, eta, k)  # demand at the ceiling without reserve sales
    if f > -np.inf and x >= lo_f:
        w = x - lo_f
        if w <= rd:
            return f, -w
        return _ginv(gp - (x - rd) / c, eta), -rd
    if k < np.inf and x <= hi_k:
        r = hi_k - x
        if r <= ru:
            return k, r
        return _ginv(gp - (x + ru) / c, eta), ru
    return _ginv(gp - x / c, eta), 0.0


@njit(cache=True, error_model="numpy")
def own_price(mkt: np.ndarray, i: int, x: float) -> tuple[float, float]:
    """Own price Q(x) of market i given net imports x (own Mt) and the reserve used there.

    Returns ``(q, r)`` with r = reserve sold (> 0) or minus permits withheld (< 0), so that
    ``x + r = c (g(p_aut) - g(q))``: emissions move off the cap by x + r.
    """
    return own_price_s(mkt[i, M_P_AUT], mkt[i, M_C], mkt[i, M_ETA], mkt[i, M_FLOOR],
                        mkt[i, M_CEIL], mkt[i, M_RES_UP], mkt[i, M_RES_DOWN], x)


@njit(cache=True, error_model="numpy")
def autarky_price(mkt: np.ndarray, i: int) -> float:
    """Market i's price without links, under its own collar (own currency)."""
    return own_price_s(mkt[i, M_P_AUT], mkt[i, M_C], mkt[i, M_ETA], mkt[i, M_FLOOR],
                        mkt[i, M_CEIL], mkt[i, M_RES_UP], mkt[i, M_RES_DOWN], 0.0)[0]


@njit(cache=True, error_model="numpy")
def _snap_s(f: float, k: float, q: float) -> float:
    """q, or the floor f / ceiling k when within SNAP_RTOL of it.

    Hub prices reach a market through products and sums (fx / s, fees along a path) that can miss
    the exact collar price by a few ulps; snapping keeps its vertical segment (reserve operations)
    visible to the root-finder.
    """
    if f > -np.inf and abs(q - f) <= SNAP_RTOL * max(1.0, abs(f)):
        return f
    if k < np.inf and abs(q - k) <= SNAP_RTOL * max(1.0, abs(k)):
        return k
    return q


@njit(cache=True, error_model="numpy")
def _snap(mkt: np.ndarray, i: int, q: float) -> float:
    """:func:`_snap_s` with market i's collar."""
    return _snap_s(mkt[i, M_FLOOR], mkt[i, M_CEIL], q)


@njit(cache=True, error_model="numpy")
def _response_s(p: float, c: float, eta: float, f: float, k: float, ru: float, rd: float,
                ui: float, ue: float, fi: float, fe: float, s: float, fx: float,
                pi: float) -> tuple[float, float]:
    """:func:`market_response` from the market's parameters."""
    b = pi * s / fx
    alo, ahi = _demand_s(p, c, eta, f, k, ru, rd, _snap_s(f, k, b + fi))
    if fi + fe == 0.0:
        lo = min(ui, max(-ue, alo))
        hi = min(ui, max(-ue, ahi))
    elif ahi > 0.0:
        lo = min(ui, max(0.0, alo))
        hi = min(ui, ahi)
    else:
        blo, bhi = _demand_s(p, c, eta, f, k, ru, rd, _snap_s(f, k, b - fe))
        if blo < 0.0:
            lo = max(-ue, blo)
            hi = max(-ue, min(0.0, bhi))
        else:
            lo = 0.0
            hi = 0.0
    return lo * s, hi * s


@njit(cache=True, error_model="numpy")
def market_response(mkt: np.ndarray, i: int, pi: float) -> tuple[float, float]:
    """Net imports of market i (common Mt) at hub price ``pi``, an interval ``(lo, hi)``.

    Imports at own price ``b + fee_imp`` up to ``imp_cap``, exports at ``b - fee_exp`` up to
    ``exp_cap`` (b = pi s / fx); nothing in between. Non-increasing in ``pi``.
    """
    return _response_s(mkt[i, M_P_AUT], mkt[i, M_C], mkt[i, M_ETA], mkt[i, M_FLOOR],
                       mkt[i, M_CEIL], mkt[i, M_RES_UP], mkt[i, M_RES_DOWN], mkt[i, M_IMP_CAP],
                       mkt[i, M_EXP_CAP], mkt[i, M_FEE_IMP], mkt[i, M_FEE_EXP], mkt[i, M_S],
                       mkt[i, M_FX], pi)


@njit(cache=True, error_model="numpy")
def market_breakpoints(mkt: np.ndarray, i: int, buf: np.ndarray, n: int) -> int:
    """Append to ``buf[n:]`` the hub prices where market i's response changes slope; return new n.

    Own prices F, K, Q(0), Q(imp_cap) on the import side (minus fee_imp) and F, K, Q(0),
    Q(-exp_cap) on the export side (plus fee_exp), converted to the hub price. Between two
    consecutive breakpoints the response is linear in the hub price when eta = 1.
    """
    p = mkt[i, M_P_AUT]
    c = mkt[i, M_C]
    eta = mkt[i, M_ETA]
    f = mkt[i, M_FLOOR]
    k = mkt[i, M_CEIL]
    ru = mkt[i, M_RES_UP]
    rd = mkt[i, M_RES_DOWN]
    ui = mkt[i, M_IMP_CAP]
    ue = mkt[i, M_EXP_CAP]
    kf = mkt[i, M_FX] / mkt[i, M_S]
    fi = mkt[i, M_FEE_IMP]
    fe = mkt[i, M_FEE_EXP]
    q0 = own_price_s(p, c, eta, f, k, ru, rd, 0.0)[0]
    qi = own_price_s(p, c, eta, f, k, ru, rd, ui)[0] if ui < np.inf else np.inf
    qe = own_price_s(p, c, eta, f, k, ru, rd, -ue)[0] if ue < np.inf else np.inf
    two = fi + fe != 0.0
    # (written out: a helper taking buf would cost reference counting per call)
    if np.isfinite(f):
        buf[n] = (f - fi) * kf
        n += 1
    if np.isfinite(k):
        buf[n] = (k - fi) * kf
        n += 1
    if np.isfinite(q0):
        buf[n] = (q0 - fi) * kf
        n += 1
    if np.isfinite(qi):
        buf[n] = (qi - fi) * kf
        n += 1
    if two:
        if np.isfinite(f):
            buf[n] = (f + fe) * kf
            n += 1
        if np.isfinite(k):
            buf[n] = (k + fe) * kf
            n += 1
        if np.isfinite(q0):
            buf[n] = (q0 + fe) * kf
            n += 1
        if np.isfinite(qe):
            buf[n] = (qe + fe) * kf
            n += 1
    elif np.isfinite(qe):
        buf[n] = qe * kf
        n += 1
    return n


def effective_collar(mkt: np.ndarray, members: Sequence[int] | None = None) -> tuple[float, float]:
    """Effective collar of a pool of markets, in numeraire per common unit.

    With unlimited reserves the pool's price cannot leave [max_i F_i, min_i K_i] (each converted
    with fx_i / s_i); collars backed by a finite reserve do not bound it and are left out.
    """
    idx = list(range(mkt.shape[0])) if members is None else list(members)
    k = mkt[idx, M_FX] / mkt[idx, M_S]
    f = np.where(np.isinf(mkt[idx, M_RES_DOWN]), mkt[idx, M_FLOOR] * k, -np.inf)
    c = np.where(np.isinf(mkt[idx, M_RES_UP]), mkt[idx, M_CEIL] * k, np.inf)
    return float(np.max(f)), float(np.min(c))


def validate_collars(
    mkt: np.ndarray,
    names: Sequence[str],
    ends: np.ndarray | None = None,
    file: str | None = None,
) -> None:
    """Raise ``InputError`` when linked markets have inconsistent collars (some F_i > K_j).

    Markets are grouped by the links ``ends`` (int[L, 2]; ``None``: one pool of all markets).
    Only collars with unlimited reserves are compared (finite reserves run out instead); fees are
    ignored, so the check is conservative. The message names both markets and fields.
    """
    n = mkt.shape[0]
    comp = list(range(n))

    def find(u: int) -> int:
        while comp[u] != u:
            comp[u] = comp[comp[u]]
            u = comp[u]
        return u

    if ends is None:
        comp = [0] * n
    else:
        for a, b in np.asarray(ends, dtype=np.int64):
            comp[find(int(a))] = find(int(b))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    k = mkt[:, M_FX] / mkt[:, M_S]
    for members in groups.values():
        floors = [(mkt[i, M_FLOOR] * k[i], i) for i in members if np.isinf(mkt[i, M_RES_DOWN])]
        ceils = [(mkt[i, M_CEIL] * k[i], i) for i in members if np.isinf(mkt[i, M_RES_UP])]
        if not floors or not ceils:
            continue
        fv, fi = max(floors)
        kv, ki = min(ceils)
        if fv > kv:
            raise InputError(
                f"inconsistent collars under linking: floor of {names[fi]} ({fv:.6g}) exceeds the "
                f"ceiling of {names[ki]} (markets[{ki}], {kv:.6g}) in the common currency, and "
                "the two markets are linked",
                file=file, field=f"markets[{fi}].collar.floor")
