"""solve_step: an exact fast path for linear abatement and fee-free forests of links, then the
general solver (:mod:`riskmodel.linking.network`) for everything else.

The fast path takes a step when every eta is 1, no active link carries a fee and the active links
form a forest over the markets (plain links and quota links, one-way included) once plain links
that close a cycle of plain links are left out: those carry nothing, as in the general solver
(a triangle of plain links such as ``china_korea_japan`` is one pool). Markets may have
collars, reserves, import/export bounds and market fees. When it cannot vouch for its answer the
general solver runs instead (``_solve_general``).

Method. Links at their quota (an active set grown from the solution without them; once it stops
growing, a binding link whose hub gap has turned against it is released and the set grows again,
at most 3 L + 2 passes) carry their quota and split a component into pools joined by free links.
Each pool clears at one hub price with its binding inflows y:

* the closed form ``(sum s c (p - d) - y) / sum c s^2 / fx`` (d: the market fee of the side each
  market trades on, guessed from the fee-free price) when every member then lies strictly inside
  its collar, bounds and fee band (margin ``_FAST_RTOL``);
* otherwise, with collars and reserves only (no bounds, no market fees), :func:`collar_root`: the
  response is ``A - D pi`` plus reserve steps at the collar points, so one sort of those points
  and one sweep give the piece or the vertical segment holding y;
* otherwise :func:`pool_root` (sorted breakpoints, bisection over them, one interpolation on the
  bracketing piece: the general solver's arithmetic for a pool);

reserve operations at a vertical segment are shared by
:func:`riskmodel.linking.primitives._allocate` as in the general solver.

The answer is kept only when it satisfies every optimality condition with a margin (free links
strictly inside their quotas, binding links with the importer's hub price strictly above the
exporter's) and is the one the general solver picks where the optimum is not unique: a pool that
holds a free quota link must have a unique split (at most one member on a vertical segment: it
takes the residual) and a unique price (pinned by that segment or some member on a sloped piece,
which includes a member past its collar with the reserve used up);
a pool in a component with binding quotas must have a unique price. Then it agrees with the
general solver up to rounding (tested on random forests with binding collars, exhausted
reserves, binding quotas, suspended links and zero floors).

Cost. numba counts references to every array a function holds (``NRT_incref`` /
``NRT_decref``, atomic): its arguments on entry and exit, and every copy an inlined call makes.
Its pruning removes the pairs only where no path leaves between them, and every call to another
numba function adds such a path (the caller returns at once when the callee reports an error).
So the solver is three functions, each called where the one before declined
(``STATUS_FAST_DECLINED``): :func:`fast_closed`, the fast path on its common case (every pool
in closed form), whose helpers are copied into it at numba's IR level
(:func:`riskmodel.linking.specialise.inlined`) so that it calls nothing and counts no
reference; :func:`fast_exact`, the whole fast path (same source, with the exact pool roots of
:func:`_pool_exact`); and the general solver. :func:`solve_step` makes the three calls; the
engine's kernel makes them itself, with ``fast_closed`` inlined (numba would count references
to ``solve_step``'s arguments, because it calls). Scratch lives in ``fwork`` / ``iwork`` at
fixed offsets (no views). The linking kernels compile with ``error_model="numpy"`` (no
ZeroDivisionError branches; inputs are validated, so no division by zero occurs).
The topology work (components, plain pools, BFS order of the forest, members of each component)
depends only on the links' ends, states and plain-ness: it is cached in the tail of ``iwork``
(see :func:`riskmodel.linking.topology.workspace_sizes`) and rebuilt when they change.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from riskmodel.linking.collar import (
    _base_s,
    _g,
    _ginv,
    autarky_price,
    market_breakpoints,
    market_response,
    own_price,
    own_price_s,
)
from riskmodel.linking.gains import gain
from riskmodel.linking.network import _solve_general
from riskmodel.linking.primitives import _allocate_at, _market_out, _mid, _sort
from riskmodel.linking.specialise import inlined, respecialise
from riskmodel.linking.topology import (
    FLAG_EXPORT_QUOTA,
    FLAG_IMPORT_QUOTA,
    FLAG_LINKED,
    L_CAP_AB,
    L_CAP_AB_R,
    L_CAP_BA,
    L_CAP_BA_R,
    L_FEE_AB,
    L_FEE_AB_R,
    L_FEE_BA,
    L_FEE_BA_R,
    LO_ACTIVE,
    LO_FLOW,
    LO_GAP,
    LO_SHADOW,
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
    N_LINK_OUT,
    O_AUTARKY,
    O_COMPONENT,
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
    STATUS_FAST_DECLINED,
    STATUS_OK,
    STATUS_WORKSPACE,
)

_FAST_RTOL = 1e-9  # relative margin from every bound that the fast path requires

# how a pool was solved (class codes kept per pool root)
_CLS_CLOSED = 0  # closed form, every member strictly interior
_CLS_SLOPED = 1  # breakpoint root, no vertical member, some member on a sloped piece
_CLS_VERTICAL = 2  # root on vertical segments of several members (the split is a choice)
_CLS_VERTICAL1 = 4  # root on the vertical segment of one member (it takes the residual)
_CLS_SOME_FLAT = 8  # added when some member sits on a flat piece (at a bound, in a fee band)
_CLS_FLAT = 3  # breakpoint root, every member on a flat piece (price not unique)
_CACHE_MAGIC = 0x70F0CAC4E  # marks a valid topology cache in iwork
#: fast_exact takes a pool the closed form cannot clear to its exact root (_pool_exact); False in
#: fast_closed, which declines instead (numba prunes the branches before typing them)
_EXACT = True

# link columns are read as lpar[l, c0 + k], c0 = L_CAP_AB or L_CAP_AB_R by state
assert (L_CAP_BA, L_FEE_AB, L_FEE_BA) == (L_CAP_AB + 1, L_CAP_AB + 2, L_CAP_AB + 3)
assert (L_CAP_BA_R, L_FEE_AB_R, L_FEE_BA_R) == (L_CAP_AB_R + 1, L_CAP_AB_R + 2, L_CAP_AB_R + 3)


@njit(cache=True, error_model="numpy")
def _find_at(w: np.ndarray, o: int, u: int) -> int:
    """Union-find root of u in ``w[o:o + n]`` (path halving)."""
    while w[o + u] != u:
        w[o + u] = w[o + w[o + u]]
        u = w[o + u]
    return u


@njit(cache=True, error_model="numpy")
def _fast_market_ok(p: float, fi: float, fe: float, f: float, k: float, ui: float, ue: float,
                    q: float, x: float, d: float) -> bool:
    """A market (autarky price p, fees fi / fe, collar f / k, bounds ui / ue) at own price q
    with net imports x (own Mt), fee shift d: on the guessed side of its fee band, strictly
    inside its collar and its bounds (margin ``_FAST_RTOL``)."""
    ok = True
    if fi + fe != 0.0:
        m = _FAST_RTOL * max(1.0, abs(p))
        if d == fi and d != -fe:
            ok = p - q > m
        else:
            ok = q - p > m
    if f > -np.inf and not q - f > _FAST_RTOL * max(1.0, abs(f)):
        ok = False
    if k < np.inf and not k - q > _FAST_RTOL * max(1.0, abs(k)):
        ok = False
    if ui < np.inf and not ui - x > _FAST_RTOL * max(1.0, ui):
        ok = False
    if ue < np.inf and not x + ue > _FAST_RTOL * max(1.0, ue):
        ok = False
    return ok


@njit(cache=True, error_model="numpy")
def _bucket(w: np.ndarray, n: int, o_root: int, o_ms: int, o_cls: int, o_mb: int) -> None:
    """Group the markets by pool root (counting sort in ``w``): pool r's markets are
    ``w[o_mb + w[o_ms + r]:o_mb + w[o_ms + r + 1]]`` in market order; ``o_cls`` is scratch."""
    for i in range(n + 1):
        w[o_ms + i] = 0
    for i in range(n):
        w[o_ms + w[o_root + i] + 1] += 1
    for v in range(n):
        w[o_ms + v + 1] += w[o_ms + v]
    for v in range(n):
        w[o_cls + v] = w[o_ms + v]  # fill pointers
    for i in range(n):
        r = w[o_root + i]
        w[o_mb + w[o_cls + r]] = i
        w[o_cls + r] += 1


@njit(cache=True, error_model="numpy")
def _market_ok(mkt: np.ndarray, i: int, q: float, x: float, d: float) -> bool:
    """:func:`_fast_market_ok` for market i."""
    return _fast_market_ok(mkt[i, M_P_AUT], mkt[i, M_FEE_IMP], mkt[i, M_FEE_EXP],
                           mkt[i, M_FLOOR], mkt[i, M_CEIL], mkt[i, M_IMP_CAP],
                           mkt[i, M_EXP_CAP], q, x, d)


@njit(cache=True, error_model="numpy")
def _beyond_ok(mkt: np.ndarray, i: int, q: float, r: float, x: float, d: float) -> bool:
    """Market i at own price q with reserve operation r: its reserve is used up and q lies
    strictly beyond that collar point (margin ``_FAST_RTOL``), on the guessed side of its fee band
    and strictly inside its bounds (the response is sloped there)."""
    if r > 0.0:
        k = mkt[i, M_CEIL]
        ok = r == mkt[i, M_RES_UP] and q - k > _FAST_RTOL * max(1.0, abs(k))
    else:
        f = mkt[i, M_FLOOR]
        ok = r == -mkt[i, M_RES_DOWN] and f - q > _FAST_RTOL * max(1.0, abs(f))
    return ok and _fast_market_ok(mkt[i, M_P_AUT], mkt[i, M_FEE_IMP], mkt[i, M_FEE_EXP],
                                  -np.inf, np.inf, mkt[i, M_IMP_CAP], mkt[i, M_EXP_CAP], q, x, d)


@njit(cache=True, error_model="numpy")
def _pool_eval(mkt: np.ndarray, memb: np.ndarray, m0: int, m1: int,
               pi: float) -> tuple[float, float]:
    """Net imports (common Mt) of the markets ``memb[m0:m1]`` at hub price pi, as (lo, hi)."""
    lo = 0.0
    hi = 0.0
    for k in range(m0, m1):
        a, b = market_response(mkt, memb[k], pi)
        lo += a
        hi += b
    return lo, hi


@njit(cache=True, error_model="numpy")
def pool_root(mkt: np.ndarray, memb: np.ndarray, m0: int, m1: int, y: float, bp: np.ndarray,
              b0: int) -> float:
    """Hub price pi with y in the summed response of the markets ``memb[m0:m1]`` (linear
    abatement); their breakpoints go to ``bp[b0:]``. NaN when none exists.

    The arithmetic of :func:`riskmodel.linking.network._node_root` on a pool (same breakpoints,
    same bisection, same interpolation through two interior points of the bracketing piece), so a
    single pool gets bit-identical answers from both.
    """
    nb = b0
    for k in range(m0, m1):
        nb = market_breakpoints(mkt, memb[k], bp, nb)
    _sort(bp, b0, nb)
    ilo = b0 - 1
    ihi = nb
    res = np.nan
    found = False
    while ihi - ilo > 1:
        mid = (ilo + ihi) // 2
        tl, th = _pool_eval(mkt, memb, m0, m1, bp[mid])
        if tl != tl or th != th:
            found = True
            break
        if tl <= y <= th:
            res = bp[mid]
            found = True
            break
        if tl > y:
            ilo = mid
        else:
            ihi = mid
    if not found:
        left = bp[ilo] if ilo >= b0 else -np.inf
        right = bp[ihi] if ihi < nb else np.inf
        if left > -np.inf and right < np.inf:
            if not right > left:
                res = left
                found = True
            u1 = left + (right - left) / 3.0
            u2 = left + 2.0 * (right - left) / 3.0
        elif right < np.inf:
            d = max(1.0, abs(right))
            u1 = right - 2.0 * d
            u2 = right - d
        elif left > -np.inf:
            d = max(1.0, abs(left))
            u1 = left + d
            u2 = left + 2.0 * d
        else:
            u1 = -1.0
            u2 = 1.0
        if not found:
            a1, a2 = _pool_eval(mkt, memb, m0, m1, u1)
            t1 = _mid(a1, a2)
            a1, a2 = _pool_eval(mkt, memb, m0, m1, u2)
            t2 = _mid(a1, a2)
            if t1 != t1 or t2 != t2:
                res = np.nan
            elif t1 == t2:
                if t1 == y:
                    res = u1
                else:
                    x = right if t1 > y else left
                    res = x if abs(x) < np.inf else np.nan
            else:
                x = u1 + (y - t1) * (u2 - u1) / (t2 - t1)
                res = min(max(x, left), right)
    return res


@njit(cache=True, error_model="numpy")
def collar_root(mkt: np.ndarray, memb: np.ndarray, m0: int, m1: int, y: float, ev: np.ndarray,
                e0: int) -> float:
    """Hub price pi with y in the summed response of the markets ``memb[m0:m1]``, when every one
    is linear without import/export bounds and fees (collars and reserves only). NaN when an
    unlimited floor meets or exceeds an unlimited ceiling: :func:`pool_root` then decides (it
    takes collar prices within ``SNAP_RTOL`` as equal). ``ev[e0:e0 + 6 m]`` is scratch.

    The response is then ``A - D pi`` plus steps: ``+ s rd`` while pi is below a market's floor
    (in hub units ``F fx / s``), ``- s ru`` above its ceiling, an interval at the floor / ceiling
    itself (reserve operations; unlimited reserves give infinite steps). One sort of the collar
    points and one sweep find the piece or the point holding y: O(m log m), m markets, with no
    evaluation of the whole pool per step (:func:`pool_root` needs O(m log m) of them).
    """
    a_sum = 0.0
    d_sum = 0.0
    ne = 0
    s_fin = 0.0  # finite steps active at pi -> -inf (every floor)
    up = 0  # unlimited floor reserves active
    for k in range(m0, m1):
        i = memb[k]
        s = mkt[i, M_S]
        c = mkt[i, M_C]
        a_sum += s * c * mkt[i, M_P_AUT]
        d_sum += c * s * s / mkt[i, M_FX]
        kf = mkt[i, M_FX] / s
        if mkt[i, M_FLOOR] > -np.inf:
            ev[e0 + ne] = mkt[i, M_FLOOR] * kf
            ev[e0 + 2 * (m1 - m0) + ne] = s * mkt[i, M_RES_DOWN]
            ev[e0 + 4 * (m1 - m0) + ne] = 1.0
            ne += 1
            if mkt[i, M_RES_DOWN] == np.inf:
                up += 1
            else:
                s_fin += s * mkt[i, M_RES_DOWN]
        if mkt[i, M_CEIL] < np.inf:
            ev[e0 + ne] = mkt[i, M_CEIL] * kf
            ev[e0 + 2 * (m1 - m0) + ne] = s * mkt[i, M_RES_UP]
            ev[e0 + 4 * (m1 - m0) + ne] = -1.0
            ne += 1
    o_amt = e0 + 2 * (m1 - m0)
    o_kind = e0 + 4 * (m1 - m0)
    for j in range(1, ne):  # insertion sort by position, carrying amount and kind
        x = ev[e0 + j]
        am = ev[o_amt + j]
        kd = ev[o_kind + j]
        h = j - 1
        while h >= 0 and ev[e0 + h] > x:
            ev[e0 + h + 1] = ev[e0 + h]
            ev[o_amt + h + 1] = ev[o_amt + h]
            ev[o_kind + h + 1] = ev[o_kind + h]
            h -= 1
        ev[e0 + h + 1] = x
        ev[o_amt + h + 1] = am
        ev[o_kind + h + 1] = kd
    dn = 0  # unlimited ceiling reserves active
    res = np.nan
    found = False
    j = 0
    while j <= ne and not found:
        # open piece left of the next point (or the last, unbounded piece)
        right = ev[e0 + j] if j < ne else np.inf
        if up == 0 and dn == 0:
            x = (a_sum + s_fin - y) / d_sum
            if x < right:
                res = x
                found = True
                break
        elif up > 0 and dn > 0:
            break  # inconsistent unlimited collars: no clearing price
        elif dn > 0:
            break  # the response is already -inf: y was passed (cannot happen after a piece)
        if j == ne:
            break
        # the point(s) at ``right``: steps leave (floors) or enter (ceilings)
        hi_inf = up > 0
        hi = a_sum - d_sum * right + s_fin
        while j < ne and ev[e0 + j] == right:
            am = ev[o_amt + j]
            if ev[o_kind + j] > 0.0:
                if am == np.inf:
                    up -= 1
                else:
                    s_fin -= am
            elif am == np.inf:
                dn += 1
            else:
                s_fin -= am
            j += 1
        if up > 0 and dn > 0:
            break  # an unlimited floor above an unlimited ceiling: no clearing price
        if dn > 0:
            lo = -np.inf
        elif up > 0:
            lo = np.inf
        else:
            lo = a_sum - d_sum * right + s_fin
        if lo <= y and (hi_inf or y <= hi):
            res = right
            found = True
    return res


@njit(cache=True, error_model="numpy")
def _pool_exact(mkt: np.ndarray, memb: np.ndarray, m0: int, m1: int, y: float,
                fw: np.ndarray, o_xs: int, o_lo: int, o_bp: int) -> tuple[float, int]:
    """Hub price and class (``_CLS_*``, not closed) of the pool ``memb[m0:m1]`` importing y in
    all, from the exact root of its piecewise-linear response; each member's net imports (common
    Mt) go to ``fw[o_xs + i]``. NaN price when no clearing price exists."""
    ns = m1 - m0
    simple = True  # collars and reserves only: the direct sweep
    for k in range(m0, m1):
        i = memb[k]
        if (mkt[i, M_IMP_CAP] != np.inf or mkt[i, M_EXP_CAP] != np.inf
                or mkt[i, M_FEE_IMP] != 0.0 or mkt[i, M_FEE_EXP] != 0.0):
            simple = False
    pi = collar_root(mkt, memb, m0, m1, y, fw, o_bp) if simple else np.nan
    if pi != pi:  # (no answer from the sweep: unlimited collars that meet or cross)
        pi = pool_root(mkt, memb, m0, m1, y, fw, o_bp)
    cls = _CLS_FLAT
    if pi == pi:
        vertical = False
        nvert = 0
        for k in range(m0, m1):
            a, b = market_response(mkt, memb[k], pi)
            fw[o_lo + k - m0] = a
            fw[o_lo + ns + k - m0] = b
            if b > a:
                vertical = True
                nvert += 1
        _allocate_at(fw, o_lo, fw, o_lo + ns, ns, y)
        nslope = 0
        for k in range(m0, m1):
            i = memb[k]
            xc = fw[o_lo + k - m0]
            fw[o_xs + i] = xc
            if fw[o_lo + ns + k - m0] > fw[o_lo + k - m0]:  # (hi, before allocation)
                continue
            x = xc / mkt[i, M_S]
            fees = mkt[i, M_FEE_IMP] + mkt[i, M_FEE_EXP] != 0.0
            if fees and x == 0.0:
                continue  # inside its fee band: flat
            q, r = own_price(mkt, i, x)
            d = mkt[i, M_FEE_IMP] if x > 0.0 else -mkt[i, M_FEE_EXP]
            if r == 0.0 and _market_ok(mkt, i, q, x, d):
                nslope += 1
            elif r != 0.0 and _beyond_ok(mkt, i, q, r, x, d):
                nslope += 1  # past its collar with the reserve used up: sloped again
        if vertical:
            cls = _CLS_VERTICAL if nvert > 1 else _CLS_VERTICAL1
        elif nslope > 0:
            cls = _CLS_SLOPED
        if nvert + nslope < ns:
            cls += _CLS_SOME_FLAT
    return pi, cls


@njit(cache=True, error_model="numpy")
def _offsets(n: int, nl: int) -> tuple:
    """Offsets of the fast path's arrays in iwork (15) and fwork (8)."""
    # ---- iwork
    o_uf = 0  # union-find over the free links (pools)
    o_puf = n  # union-find over plain links (the general solver's nodes, for quota flags)
    o_comp = 2 * n  # root of each market's component over all active links
    o_root = 3 * n  # pool root of each market
    o_csize = 4 * n  # component sizes (by component root)
    o_as = 5 * n  # CSR adjacency of active links: starts (n + 1)
    o_adj = 6 * n + 1  # ... and links (2 nl)
    o_ord = o_adj + 2 * nl  # BFS order
    o_pl = o_ord + n  # parent link in the BFS forest; -1 root, -2 unseen
    o_ms = o_pl + n  # pool members (CSR by pool root): starts (n + 1)
    o_mb = o_ms + n + 1  # ... and markets
    o_cls = o_mb + n  # class of each pool (by root); later: lowest market of each component
    o_bind = o_cls + n  # +1: link at its a -> b quota, -1: at b -> a, 0: free
    o_pnp = o_bind + nl  # pool holds a free quota link
    o_cb = o_pnp + n  # component holds a binding link
    # ---- fwork
    o_yin = 0  # binding inflow of each pool (by root)
    o_pi = n  # hub price of each pool (by root)
    o_dlt = 2 * n  # fee shift of each market (closed form)
    o_xs = 3 * n  # net imports of each market (common Mt)
    o_sur = 4 * n  # surplus to route (leaf peeling)
    o_lf = 5 * n  # flow on each market's parent link, a -> b
    o_lo = 6 * n  # interval ends of a pool's members (2 n)
    o_bp = 8 * n  # breakpoints of one pool (<= 9 per market)
    return (o_uf, o_puf, o_comp, o_root, o_csize, o_as, o_adj, o_ord, o_pl, o_ms, o_mb, o_cls,
            o_bind, o_pnp, o_cb, o_yin, o_pi, o_dlt, o_xs, o_sur, o_lf, o_lo, o_bp)


@njit(cache=True, error_model="numpy")
def fast_exact(
    mkt: np.ndarray,
    ends: np.ndarray,
    lpar: np.ndarray,
    lstate: np.ndarray,
    out: np.ndarray,
    lout: np.ndarray,
    flags: np.ndarray,
    fwork: np.ndarray,
    iwork: np.ndarray,
) -> int:
    """The fast path (module docstring) of :func:`solve_step`, same arguments: ``STATUS_OK`` with
    the outputs filled, or ``STATUS_FAST_DECLINED`` where it cannot vouch for an answer (the
    general solver must answer). A pool the closed form does not clear takes
    :func:`_pool_exact`."""
    n = mkt.shape[0]
    nl = ends.shape[0]
    (o_uf, o_puf, o_comp, o_root, o_csize, o_as, o_adj, o_ord, o_pl, o_ms, o_mb, o_cls,
     o_bind, o_pnp, o_cb, o_yin, o_pi, o_dlt, o_xs, o_sur, o_lf, o_lo,
     o_bp) = _offsets(n, nl)
    o_cyc = o_cb + n  # plain link closing a cycle of plain links (nl; topology rebuild only)
    # the full solve_step workspace (workspace_sizes), so a short one is always reported as
    # STATUS_WORKSPACE by the general solver; this path uses 14 n + 4 nl + 4 ints, 17 n floats
    ok = (fwork.shape[0] >= 14 * n * n + 24 * n + 128 + nl
          and iwork.shape[0] >= 24 * n + 7 * nl + 32)
    # topology cache (iwork tail, see workspace_sizes): components, plain pools, BFS order and
    # parent links depend only on the links' ends, states and plain-ness; kept between calls
    # two slots, so variants whose link states differ on the same day (linked and linked with
    # events) each keep theirs; a miss rebuilds into the slot used least recently
    base0 = 24 * n + 7 * nl + 33
    c_size = 4 * nl + 7 * n + 4  # one slot: magic, n, nl, keys, then the topology arrays
    c_lru = base0 + 2 * c_size  # the slot a miss overwrites next
    n_slots = 0
    if iwork.shape[0] >= c_lru + 1:
        n_slots = 2
    elif iwork.shape[0] >= base0 + c_size:
        n_slots = 1
    has_cache = n_slots > 0
    hit = False
    hit1 = False
    # ---- linear markets and a fee-free forest of active links: components, plain pools, BFS
    if ok:
        for i in range(n):
            if mkt[i, M_ETA] != 1.0:
                ok = False
                break
    if ok:
        hit = (has_cache and iwork[base0] == _CACHE_MAGIC and iwork[base0 + 1] == n
               and iwork[base0 + 2] == nl)
        b1 = base0 + c_size
        hit1 = (n_slots == 2 and iwork[b1] == _CACHE_MAGIC and iwork[b1 + 1] == n
                and iwork[b1 + 2] == nl)
        for l in range(nl):
            iwork[o_bind + l] = 0
            st = lstate[l]
            plain = 0
            if st != 2:
                c0 = L_CAP_AB_R if st == 1 else L_CAP_AB
                ca = lpar[l, c0]
                cb = lpar[l, c0 + 1]
                if lpar[l, c0 + 2] != 0.0 or lpar[l, c0 + 3] != 0.0 or not (ca > 0.0 or cb > 0.0):
                    ok = False
                    break
                plain = 1 if ca == np.inf and cb == np.inf else 0
            k = base0 + 3 + 4 * l
            if hit and (iwork[k] != ends[l, 0] or iwork[k + 1] != ends[l, 1]
                        or iwork[k + 2] != st or iwork[k + 3] != plain):
                hit = False
            k += c_size
            if hit1 and (iwork[k] != ends[l, 0] or iwork[k + 1] != ends[l, 1]
                         or iwork[k + 2] != st or iwork[k + 3] != plain):
                hit1 = False
    slot = 0
    if hit:
        slot = 0
    elif hit1:
        slot = 1
        hit = True
    elif n_slots == 2 and iwork[c_lru] == 1:
        slot = 1
    if n_slots == 2:
        iwork[c_lru] = 1 - slot
    c_base = base0 + slot * c_size
    c_key = c_base + 3  # per link: a, b, state, plain
    c_proot = c_key + 4 * nl  # plain-pool root of each market
    c_comp = c_proot + n
    c_csize = c_comp + n
    c_ord = c_csize + n
    c_pl = c_ord + n
    c_ms = c_pl + n  # members of each component (CSR by component root)
    c_mb = c_ms + n + 1
    if ok and hit:
        o_puf = c_proot
        o_comp = c_comp
        o_csize = c_csize
        o_ord = c_ord
        o_pl = c_pl
    elif ok:
        if ok:
            for i in range(n):
                iwork[o_uf + i] = i
                iwork[o_puf + i] = i
            # plain links first, in link order (as the general solver contracts them): one
            # joining two markets already in one plain pool closes a cycle of plain links and
            # carries nothing (o_cyc = 1); it is left out of the forest below
            for l in range(nl):
                iwork[o_bind + l] = 0
                iwork[o_cyc + l] = 0
                st = lstate[l]
                if st == 2:
                    continue
                # (fees and closed links were refused in the key pass above)
                c0 = L_CAP_AB_R if st == 1 else L_CAP_AB
                if lpar[l, c0] == np.inf and lpar[l, c0 + 1] == np.inf:
                    pa_ = _find_at(iwork, o_puf, ends[l, 0])
                    pb_ = _find_at(iwork, o_puf, ends[l, 1])
                    if pa_ == pb_:
                        iwork[o_cyc + l] = 1
                    else:
                        iwork[o_puf + pa_] = pb_
            for l in range(nl):
                if lstate[l] == 2 or iwork[o_cyc + l] == 1:
                    continue
                ra = _find_at(iwork, o_uf, ends[l, 0])
                rb = _find_at(iwork, o_uf, ends[l, 1])
                if ra == rb:
                    ok = False  # a quota link closes a cycle: the general solver
                    break
                iwork[o_uf + ra] = rb
        if ok:
            for i in range(n):
                iwork[o_csize + i] = 0
            for i in range(n):
                r = _find_at(iwork, o_uf, i)
                iwork[o_comp + i] = r
                iwork[o_csize + r] += 1
            if nl > 0:
                for v in range(n + 1):
                    iwork[o_as + v] = 0
                for l in range(nl):
                    if lstate[l] != 2 and iwork[o_cyc + l] == 0:
                        iwork[o_as + ends[l, 0] + 1] += 1
                        iwork[o_as + ends[l, 1] + 1] += 1
                for v in range(n):
                    iwork[o_as + v + 1] += iwork[o_as + v]
                for v in range(n):
                    iwork[o_ord + v] = iwork[o_as + v]  # fill pointers (the order is written after)
                for l in range(nl):
                    if lstate[l] != 2 and iwork[o_cyc + l] == 0:
                        a = ends[l, 0]
                        b = ends[l, 1]
                        iwork[o_adj + iwork[o_ord + a]] = l
                        iwork[o_ord + a] += 1
                        iwork[o_adj + iwork[o_ord + b]] = l
                        iwork[o_ord + b] += 1
                for i in range(n):
                    iwork[o_pl + i] = -2
                tail = 0
                head = 0
                for r in range(n):
                    if iwork[o_pl + r] != -2:
                        continue
                    iwork[o_pl + r] = -1
                    iwork[o_ord + tail] = r
                    tail += 1
                    while head < tail:
                        u = iwork[o_ord + head]
                        head += 1
                        for kk in range(iwork[o_as + u], iwork[o_as + u + 1]):
                            l = iwork[o_adj + kk]
                            w = ends[l, 1] if ends[l, 0] == u else ends[l, 0]
                            if iwork[o_pl + w] != -2:
                                continue
                            iwork[o_pl + w] = l
                            iwork[o_ord + tail] = w
                            tail += 1
            for i in range(n):  # every market points at its plain pool's root
                iwork[o_puf + i] = _find_at(iwork, o_puf, i)
        if ok and has_cache:
            iwork[c_base] = 0
            iwork[c_base + 1] = n
            iwork[c_base + 2] = nl
            for l in range(nl):
                k = c_key + 4 * l
                st = lstate[l]
                c0 = L_CAP_AB_R if st == 1 else L_CAP_AB
                iwork[k] = ends[l, 0]
                iwork[k + 1] = ends[l, 1]
                iwork[k + 2] = st
                iwork[k + 3] = (1 if st != 2 and lpar[l, c0] == np.inf
                                and lpar[l, c0 + 1] == np.inf else 0)
            for i in range(n):
                iwork[c_proot + i] = iwork[o_puf + i]
                iwork[c_comp + i] = iwork[o_comp + i]
                iwork[c_csize + i] = iwork[o_csize + i]
                iwork[c_ord + i] = iwork[o_ord + i]
                iwork[c_pl + i] = iwork[o_pl + i] if nl > 0 else -1
            _bucket(iwork, n, c_comp, c_ms, o_cls, c_mb)
            iwork[c_base] = _CACHE_MAGIC
            hit = True
            o_puf = c_proot
            o_comp = c_comp
            o_csize = c_csize
            o_ord = c_ord
            o_pl = c_pl
    # ---- active set of binding quotas, grown from the solution without them
    done = False
    it = 0
    s_root = o_root  # scratch places of the pools (o_*: where they are read this pass)
    s_ms = o_ms
    s_mb = o_mb
    while ok and not done and it <= 3 * nl + 1:
        it += 1
        for i in range(n):
            fwork[o_yin + i] = 0.0
        if it == 1 and hit:  # nothing binds yet: the pools are the cached components
            o_root = c_comp
            o_ms = c_ms
            o_mb = c_mb
        else:
            o_root = s_root
            o_ms = s_ms
            o_mb = s_mb
            for i in range(n):
                iwork[o_uf + i] = i
            for l in range(nl):
                if lstate[l] != 2 and iwork[o_bind + l] == 0:
                    ra = _find_at(iwork, o_uf, ends[l, 0])
                    rb = _find_at(iwork, o_uf, ends[l, 1])
                    iwork[o_uf + ra] = rb
            for i in range(n):
                iwork[o_root + i] = _find_at(iwork, o_uf, i)
            _bucket(iwork, n, o_root, o_ms, o_cls, o_mb)
        for l in range(nl):
            bl = iwork[o_bind + l]
            if bl != 0:
                c0 = L_CAP_AB_R if lstate[l] == 1 else L_CAP_AB
                fl = lpar[l, c0] if bl > 0 else -lpar[l, c0 + 1]
                fwork[o_yin + iwork[o_root + ends[l, 1]]] += fl
                fwork[o_yin + iwork[o_root + ends[l, 0]]] -= fl
        for r in range(n):
            m0 = iwork[o_ms + r]
            m1 = iwork[o_ms + r + 1]
            if m1 == m0:
                continue
            if iwork[o_csize + iwork[o_comp + r]] == 1:
                fwork[o_xs + r] = 0.0
                iwork[o_cls + r] = _CLS_CLOSED
                continue
            y = fwork[o_yin + r]
            # closed form: every member strictly inside its collar, bounds and fee band
            num = 0.0
            den = 0.0
            fees = False
            for k in range(m0, m1):
                i = iwork[o_mb + k]
                s = mkt[i, M_S]
                c = mkt[i, M_C]
                num += s * c * mkt[i, M_P_AUT]
                den += c * s * s / mkt[i, M_FX]
                fwork[o_dlt + i] = 0.0
                if mkt[i, M_FEE_IMP] + mkt[i, M_FEE_EXP] != 0.0:
                    fees = True
            closed = True
            if fees:  # the side each market trades on at the fee-free price
                b0 = (num - y) / den
                num = 0.0
                for k in range(m0, m1):
                    i = iwork[o_mb + k]
                    s = mkt[i, M_S]
                    p = mkt[i, M_P_AUT]
                    d = 0.0
                    if mkt[i, M_FEE_IMP] + mkt[i, M_FEE_EXP] != 0.0:
                        bh = b0 * s / mkt[i, M_FX]
                        if p > bh:
                            d = mkt[i, M_FEE_IMP]
                        elif p < bh:
                            d = -mkt[i, M_FEE_EXP]
                        else:
                            closed = False
                    fwork[o_dlt + i] = d
                    num += s * mkt[i, M_C] * (p - d)
            pi = (num - y) / den
            if closed:
                for k in range(m0, m1):
                    i = iwork[o_mb + k]
                    s = mkt[i, M_S]
                    d = fwork[o_dlt + i]
                    q = pi * s / mkt[i, M_FX] + d
                    x = mkt[i, M_C] * (mkt[i, M_P_AUT] - q)
                    if not _market_ok(mkt, i, q, x, d):
                        closed = False
                        break
                    fwork[o_xs + i] = x * s
            cls = _CLS_CLOSED
            if not closed:
                if _EXACT:
                    pi, cls = _pool_exact(mkt, iwork, o_mb + m0, o_mb + m1, y, fwork, o_xs, o_lo,
                                          o_bp)
                else:  # fast_closed: no exact pool roots (it declines)
                    pi = np.nan
                if pi != pi:
                    ok = False
                    break
            fwork[o_pi + r] = pi
            iwork[o_cls + r] = cls
        if ok and nl == 0:
            done = True
        elif ok:
            for i in range(n):
                fwork[o_sur + i] = -fwork[o_xs + i]
            grown = False
            for kk in range(n - 1, -1, -1):
                w = iwork[o_ord + kk]
                l = iwork[o_pl + w]
                if l < 0:
                    continue
                sent = fwork[o_sur + w]  # from w to the other end of l
                u = ends[l, 1] if ends[l, 0] == w else ends[l, 0]
                fwork[o_sur + u] += sent
                fl = sent if ends[l, 0] == w else -sent  # a -> b
                c0 = L_CAP_AB_R if lstate[l] == 1 else L_CAP_AB
                ca = lpar[l, c0]
                cb = lpar[l, c0 + 1]
                bl = iwork[o_bind + l]
                if bl != 0:
                    fl = ca if bl > 0 else -cb
                elif ca < np.inf and not ca - fl > _FAST_RTOL * max(1.0, ca):
                    if not fl - ca > _FAST_RTOL * max(1.0, ca) or ca == 0.0:
                        ok = False  # too close to the quota to tell
                        break
                    iwork[o_bind + l] = 1
                    grown = True
                elif cb < np.inf and not fl + cb > _FAST_RTOL * max(1.0, cb):
                    if not -cb - fl > _FAST_RTOL * max(1.0, cb) or cb == 0.0:
                        ok = False
                        break
                    iwork[o_bind + l] = -1
                    grown = True
                fwork[o_lf + w] = fl
            if ok and not grown:
                # a binding link whose hub gap turned against it once others bound is released
                # (only when nothing grew: answers of the grow-only set are unchanged)
                for l in range(nl):
                    bl = iwork[o_bind + l]
                    if bl == 0:
                        continue
                    ha = fwork[o_pi + iwork[o_root + ends[l, 0]]]
                    hb = fwork[o_pi + iwork[o_root + ends[l, 1]]]
                    gap = (hb - ha) if bl > 0 else (ha - hb)
                    if gap < -_FAST_RTOL * max(1.0, abs(ha), abs(hb)):
                        iwork[o_bind + l] = 0
                        grown = True
            done = ok and not grown
    ok = ok and done
    if ok:
        for i in range(n):
            iwork[o_pnp + i] = 0
            iwork[o_cb + i] = 0
        for l in range(nl):
            st = lstate[l]
            if st == 2:
                continue
            bl = iwork[o_bind + l]
            if bl != 0:
                ha = fwork[o_pi + iwork[o_root + ends[l, 0]]]
                hb = fwork[o_pi + iwork[o_root + ends[l, 1]]]
                gap = (hb - ha) if bl > 0 else (ha - hb)
                if not gap > _FAST_RTOL * max(1.0, abs(ha), abs(hb)):
                    ok = False
                    break
                iwork[o_cb + iwork[o_comp + ends[l, 0]]] = 1
            else:
                c0 = L_CAP_AB_R if st == 1 else L_CAP_AB
                if lpar[l, c0] < np.inf or lpar[l, c0 + 1] < np.inf:
                    iwork[o_pnp + iwork[o_root + ends[l, 0]]] = 1
    if ok:
        for r in range(n):
            if iwork[o_ms + r + 1] == iwork[o_ms + r] or iwork[o_csize + iwork[o_comp + r]] == 1:
                continue
            cls = iwork[o_cls + r]
            base = cls % _CLS_SOME_FLAT
            if iwork[o_pnp + r] == 1 and (base == _CLS_VERTICAL or base == _CLS_FLAT
                                          or cls >= _CLS_SOME_FLAT):
                ok = False
                break
            if base == _CLS_FLAT and iwork[o_cb + iwork[o_comp + r]] == 1:
                ok = False
                break
    if ok:
        # ---- outputs of links
        for l in range(nl):
            for j in range(N_LINK_OUT):
                lout[l, j] = 0.0
            if lstate[l] != 2:
                lout[l, LO_ACTIVE] = 1.0
        if nl > 0:
            for i in range(n):
                if iwork[o_pl + i] >= 0:
                    lout[iwork[o_pl + i], LO_FLOW] = fwork[o_lf + i]
        # ---- market outputs (component id: its lowest market index)
        for i in range(n):
            r = iwork[o_comp + i]
            cls = iwork[o_cls + iwork[o_root + i]]
            if iwork[o_csize + r] == 1:
                _market_out(mkt, i, 0.0, 0.0, out, flags, True)
                continue
            pi = fwork[o_pi + iwork[o_root + i]]
            if _EXACT and cls != _CLS_CLOSED:  # (fast_closed: every pool is closed here)
                _market_out(mkt, i, fwork[o_xs + i], pi, out, flags, False)
                flags[i] |= FLAG_LINKED
                continue
            # inside its collar and bounds: no reserve, no own shadow price, no collar flag
            flags[i] = FLAG_LINKED
            s = mkt[i, M_S]
            fx = mkt[i, M_FX]
            x = fwork[o_xs + i] / s
            q = pi * s / fx + fwork[o_dlt + i]
            pa = autarky_price(mkt, i)
            out[i, O_PRICE] = q
            out[i, O_PRICE_NUM] = q * fx / s
            out[i, O_HUB] = pi
            out[i, O_FLOW] = x
            out[i, O_RESERVE] = 0.0
            out[i, O_EMIS] = x
            out[i, O_SHADOW] = 0.0
            out[i, O_AUTARKY] = pa
            out[i, O_GAIN] = gain(mkt[i, M_C], pa, q)
            out[i, O_RENT] = 0.0
            out[i, O_FEE] = mkt[i, M_FEE_IMP] * x if x > 0.0 else -mkt[i, M_FEE_EXP] * x
        for i in range(n):
            iwork[o_cls + i] = n
        for i in range(n):
            r = iwork[o_comp + i]
            if i < iwork[o_cls + r]:
                iwork[o_cls + r] = i
        for i in range(n):
            out[i, O_COMPONENT] = iwork[o_cls + iwork[o_comp + i]]
        for l in range(nl):
            bl = iwork[o_bind + l]
            if bl == 0:
                continue
            ra = iwork[o_root + ends[l, 0]]
            rb = iwork[o_root + ends[l, 1]]
            gap = fwork[o_pi + rb] - fwork[o_pi + ra]
            lout[l, LO_GAP] = gap
            lout[l, LO_SHADOW] = abs(gap)
            imp = ends[l, 1] if bl > 0 else ends[l, 0]
            exp = ends[l, 0] if bl > 0 else ends[l, 1]
            pim = iwork[o_puf + imp]
            pex = iwork[o_puf + exp]
            for i in range(n):
                rp = iwork[o_puf + i]
                if rp == pim:
                    flags[i] |= FLAG_IMPORT_QUOTA
                elif rp == pex:
                    flags[i] |= FLAG_EXPORT_QUOTA
        status = STATUS_OK
    else:
        status = STATUS_FAST_DECLINED
    if iwork.shape[0] > 24 * n + 7 * nl + 32:  # which path answered (for tests): see workspace()
        iwork[24 * n + 7 * nl + 32] = 1 if ok else 0
    # every array is used here, on every path: one exit keeps the refcount pruning effective
    keep = (mkt.shape[0] + ends.shape[0] + lpar.shape[0] + lstate.shape[0] + out.shape[0]
            + lout.shape[0] + flags.shape[0] + iwork.shape[0] + fwork.shape[0])
    return status if keep >= 0 else STATUS_WORKSPACE


# the helpers fast_closed calls, copied into it (numba IR) with their own callees: no call is
# left in it, so no error-status exit either, and numba's refcount pruning removes the increfs
# and decrefs of its nine array arguments (NRT_incref / NRT_decref, atomic)
_own_price_s_inl = inlined(own_price_s, _g=inlined(_g), _ginv=inlined(_ginv),
                           _base_s=inlined(_base_s, _g=inlined(_g)))
_autarky_inl = inlined(autarky_price, own_price_s=_own_price_s_inl)
_gain_inl = inlined(gain)
_market_out_inl = inlined(_market_out, own_price=inlined(own_price, own_price_s=_own_price_s_inl),
                          autarky_price=_autarky_inl, gain=_gain_inl)

#: :func:`fast_exact` where every pool clears in closed form (every member strictly inside its
#: collar, bounds and fee band), ``STATUS_FAST_DECLINED`` otherwise: the common case, with no
#: call left inside.
fast_closed = njit(cache=True, error_model="numpy")(respecialise(
    fast_exact.py_func, "fast_closed", _EXACT=False, _bucket=inlined(_bucket),
    _market_out=_market_out_inl, autarky_price=_autarky_inl, gain=_gain_inl))


@njit(cache=True, error_model="numpy")
def solve_step(
    mkt: np.ndarray,
    ends: np.ndarray,
    lpar: np.ndarray,
    lstate: np.ndarray,
    out: np.ndarray,
    lout: np.ndarray,
    flags: np.ndarray,
    fwork: np.ndarray,
    iwork: np.ndarray,
) -> int:
    """Solve one step for any topology: fill ``out`` (N x N_OUT), ``lout`` (L x N_LINK_OUT), flags.

    ``mkt`` (N x N_MARKET_FIELDS), ``ends`` (L x 2 int), ``lpar`` (L x N_LINK_FIELDS) and ``lstate``
    (L int: 0 active, 1 restricted, 2 suspended) as laid out in :mod:`riskmodel.linking.topology`;
    ``fwork``/``iwork`` from :func:`riskmodel.linking.workspace`. Returns a STATUS_* code.
    Isolated markets get their autarky outcome under their own collar.

    Three tries, each called (not inlined: a caller's copies of the arrays would be counted):
    :func:`fast_closed` (the fast path, every pool in closed form), :func:`fast_exact` (the fast
    path with exact pool roots) and the general solver
    (:func:`riskmodel.linking.network._solve_general`), each where the one before declined. The
    kernel (``sim/kernel.py``) makes the same three calls itself, so that its day loop holds no
    reference counting for them.
    """
    status = fast_closed(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork)
    if status == STATUS_FAST_DECLINED:
        status = fast_exact(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork)
    if status == STATUS_FAST_DECLINED:
        status = _solve_general(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork, True)
    return status
