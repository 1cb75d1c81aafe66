"""General topologies: pools of plain links joined by a forest of restricted links, solved exactly.

One step (:func:`_solve_general`, called by :func:`riskmodel.linking.fast_paths.solve_step`):

1. Links in state 0 or 1 whose effective quota is unlimited both ways and whose fees are zero are
   *plain*: union-find merges their markets into pools (nodes) sharing one hub price.
2. The other active links (quota, fee, one-way) join nodes. A restricted link inside a pool
   carries nothing (the free path through the pool dominates it). Where they form a forest the
   solution below is exact. A restricted link that closes a cycle carries a flow g fixed for the
   forest solve (an injection at its two ends); :func:`_solve_general` searches g so that the link's
   own condition holds (hub gap = fee while flowing, quota, or inside the fee band). With linear
   abatement the gap is a monotone piecewise-linear function of g (the forest solve is exact and
   piecewise linear in its injections), and :func:`_cycle_flow` finds its root exactly: the
   secant of one piece lands on it (gap = fee to ``_PHI_RTOL`` of the prices, i.e. rounding) after
   a few forest solves, and the fee band and quotas are checked directly (g = 0, g = quota). One
   such link per component (a triangle, a square, any single cycle) is thus solved exactly in one
   pass. With several, links are taken in turn (Gauss-Seidel, each step exact) until no flow moves
   by more than ``CYCLE_XTOL``: on random two- and three-cycle problems 99.9% converge and then
   meet every optimality condition to 3e-12 (``tests/test_linking_cycles.py``); the rest report
   STATUS_CYCLE with the last iterate (finite). A NaN answer always comes with
   STATUS_INFEASIBLE.
3. Each tree is rooted; bottom-up, node v's response ``T_v(pi)`` (net imports of its subtree in
   common Mt at its hub price pi) is the sum of its markets' responses and, per child c over an
   edge with fees t_in/t_out and quotas u_in/u_out,
   ``H_c(pi) = min(u_in, max(0, T_c(pi + t_in))) + max(-u_out, min(0, T_c(pi - t_out)))``.
   Every T is a monotone (non-increasing) correspondence; its breakpoints are collected per node.
4. The root's hub price solves ``0 in T_root(pi)``: bisection over the sorted breakpoints, then one
   linear interpolation (exact when every eta = 1) or Illinois iterations (tolerance ``ROOT_XTOL``).
5. Top-down, each node's required total is split among its markets and child edges (vertical
   segments, i.e. reserve operations at a collar, are shared in proportion to their lengths);
   each child's hub price follows from its edge (price + fee while flowing, inverse response
   where the quota binds, inside the fee band when no permits move).

Shortcuts (same answers, fewer operations): :func:`riskmodel.linking.fast_paths.solve_step`
first tries an exact fast path for linear abatement and fee-free forests of links (closed-form
pool prices, a direct sweep over collar points, or the pool root below; binding quotas by an
active set; kept only when every optimality condition holds with a margin and the answer is the
one this solver picks: see that module) and calls :func:`_solve_general` otherwise. Inside the
general solver an isolated market gets its autarky outcome directly;
a pool without collars, bounds or fees and with linear abatement gets the closed form
``P = sum s c p / sum c s^2 / fx``; a component of two single markets joined by one restricted
link is solved as one pool with the link's quotas and fees folded into the two markets (the
two-market case is always a pool); inside the tree, a child whose edge is at a quota or inside its
fee band is not evaluated (its zero and quota crossings are kept from the bottom-up pass).

Within a pool, flows on individual plain links are routed along a spanning tree of the pool's
links; a plain link that closes a cycle inside a pool carries no flow (the split is indeterminate).

Exactness: linear components are exact up to rounding (own prices within ``SNAP_RTOL`` of a collar
bound count as on it, so reserve operations are never lost to rounding); non-linear ones are
solved to ``ROOT_XTOL`` on the hub price. Cost (linear): O(B log B) for a pool with B <= 9 N
breakpoints; a tree adds three nested root solves per restricted edge (O(N^2 log N) for a chain).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from riskmodel.linking.collar import market_breakpoints, market_response, own_price
from riskmodel.linking.primitives import (
    _allocate,
    _find,
    _link_params,
    _market_out,
    _mid,
    _sort,
)
from riskmodel.linking.topology import (
    CYCLE_MAXSWEEP,
    CYCLE_XTOL,
    FLAG_EXPORT_QUOTA,
    FLAG_IMPORT_QUOTA,
    FLAG_LINKED,
    LO_ACTIVE,
    LO_FEE,
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
    M_S,
    N_LINK_OUT,
    N_MARKET_FIELDS,
    O_COMPONENT,
    O_FLOW,
    O_HUB,
    O_PRICE,
    ROOT_MAXITER,
    ROOT_XTOL,
    STATUS_CYCLE,
    STATUS_INFEASIBLE,
    STATUS_OK,
    STATUS_WORKSPACE,
)

# link kinds within one solve
_K_OFF = 0
_K_PLAIN = 1
_K_EDGE = 2
_K_PLAIN_CYCLE = 3
_K_CYCLE = 4  # restricted link closing a cycle: its flow is an outer variable (solve_step)
_NEAR = 1e-10  # relative margin around a child's crossings where the shortcut is not taken
_PHI_RTOL = 1e-12  # a cycle link's gap equals its fee to this share of the prices: solved


#: Relative tolerance for 'the flow is at its quota' when reporting the shadow price.
_QTOL = 1e-9


@njit(cache=True, error_model="numpy")
def _csr_adjacency(nv: int, nl: int, ends: np.ndarray, vert: np.ndarray, mapped: bool,
                   sel: np.ndarray, want: int, negate: bool, start: np.ndarray, adj: np.ndarray,
                   fill: np.ndarray) -> None:
    """Adjacency lists (CSR: ``adj[start[v]:start[v + 1]]`` = links at vertex v) of the
    undirected graph whose edges are the links with ``(sel[l] == want) != negate``, joining
    vertices ``vert[ends[l, 0]]`` and ``vert[ends[l, 1]]`` (the markets themselves unless
    ``mapped``; ``vert`` is then not read). ``fill`` is scratch of length ``nv``."""
    for v in range(nv + 1):
        start[v] = 0
    for l in range(nl):
        if (sel[l] == want) != negate:
            a = vert[ends[l, 0]] if mapped else ends[l, 0]
            b = vert[ends[l, 1]] if mapped else ends[l, 1]
            start[a + 1] += 1
            start[b + 1] += 1
    for v in range(nv):
        start[v + 1] += start[v]
    for v in range(nv):
        fill[v] = start[v]
    for l in range(nl):
        if (sel[l] == want) != negate:
            a = vert[ends[l, 0]] if mapped else ends[l, 0]
            b = vert[ends[l, 1]] if mapped else ends[l, 1]
            adj[fill[a]] = l
            fill[a] += 1
            adj[fill[b]] = l
            fill[b] += 1



@njit(cache=True, error_model="numpy")
def _bfs_forest(nv: int, ends: np.ndarray, node_of: np.ndarray, mapped: bool,
                adj_start: np.ndarray, adj: np.ndarray, seen: np.ndarray, par: np.ndarray,
                par_link: np.ndarray, order: np.ndarray) -> None:
    """Breadth-first order of a forest in CSR form (:func:`_csr_adjacency`; link l joins
    ``node_of[ends[l]]`` when ``mapped``, else ``ends[l]``): ``order`` lists every vertex, roots
    in index order, each parent before its children; ``par[v]`` (-1 at a root) and
    ``par_link[v]`` the link to it. ``seen`` is scratch."""
    for v in range(nv):
        seen[v] = 0
        par[v] = -1
    head = 0
    tail = 0
    for r in range(nv):
        if seen[r]:
            continue
        seen[r] = 1
        order[tail] = r
        tail += 1
        while head < tail:
            u = order[head]
            head += 1
            for k in range(adj_start[u], adj_start[u + 1]):
                l = adj[k]
                va = node_of[ends[l, 0]] if mapped else ends[l, 0]
                vb = node_of[ends[l, 1]] if mapped else ends[l, 1]
                w = vb if va == u else va
                if seen[w]:
                    continue
                seen[w] = 1
                par[w] = u
                par_link[w] = l
                order[tail] = w
                tail += 1


@njit(cache=True, error_model="numpy")
def check_forest(n: int, ends: np.ndarray, lpar: np.ndarray) -> int:
    """Index of the first link that could close a cycle of restricted links, or -1.

    Links that are plain in both states are contracted first; every other link must then join
    two different trees (suspension only removes links, and a restrictable link that happens to
    be plain only contracts a forest further).
    """
    uf = np.arange(n)
    nl = ends.shape[0]
    for l in range(nl):
        plain = True
        for st in range(2):
            ca, cb, fa, fb = _link_params(lpar, st, l)
            if ca != np.inf or cb != np.inf or fa != 0.0 or fb != 0.0:
                plain = False
        if plain:
            ra = _find(uf, ends[l, 0])
            rb = _find(uf, ends[l, 1])
            if ra != rb:
                uf[ra] = rb
    for l in range(nl):
        plain = True
        for st in range(2):
            ca, cb, fa, fb = _link_params(lpar, st, l)
            if ca != np.inf or cb != np.inf or fa != 0.0 or fb != 0.0:
                plain = False
        if not plain:
            ra = _find(uf, ends[l, 0])
            rb = _find(uf, ends[l, 1])
            if ra == rb:
                return l
            uf[ra] = rb
    return -1


# ---------------------------------------------------------------------------------------------
# node response (recursive over the tree)


@njit(cache=True, error_model="numpy", inline="always")
def _frame(mkt: np.ndarray, tree: tuple, top: int, v: int, pi: float) -> None:
    """Open an evaluation frame for node v at hub price pi: its markets' responses summed."""
    memb_start, memb, child_start, child, edge, fstk, istk = tree
    lo = edge[v, 7]  # fixed flow sent out over cycle-closing links (0 without cycles)
    hi = lo
    for k in range(memb_start[v], memb_start[v + 1]):
        a, b = market_response(mkt, memb[k], pi)
        lo += a
        hi += b
    istk[3 * top] = v
    istk[3 * top + 1] = child_start[v]
    istk[3 * top + 2] = 0
    fstk[3 * top] = pi
    fstk[3 * top + 1] = lo
    fstk[3 * top + 2] = hi


@njit(cache=True, error_model="numpy")
def _eval_node(v: int, pi: float, mkt: np.ndarray, tree: tuple) -> tuple[float, float]:
    """T_v(pi): net imports (common Mt) of node v's subtree at hub price pi, as (lo, hi).

    ``tree = (memb_start, memb, child_start, child, edge, fstk, istk)``; ``edge[c] = (t_in, t_out,
    u_in, u_out)`` of the edge from c's parent into c. Each child contributes
    ``min(u_in, max(0, T_c(pi + t_in))) + max(-u_out, min(0, T_c(pi - t_out)))``; the recursion
    runs on an explicit stack (numba's cache does not take recursive functions).
    """
    memb_start, memb, child_start, child, edge, fstk, istk = tree
    if child_start[v + 1] == child_start[v]:  # a pool: no stack needed
        lo = edge[v, 7]
        hi = lo
        for k in range(memb_start[v], memb_start[v + 1]):
            a, b = market_response(mkt, memb[k], pi)
            lo += a
            hi += b
        return lo, hi
    top = 0
    _frame(mkt, tree, 0, v, pi)
    while True:
        u = istk[3 * top]
        k = istk[3 * top + 1]
        if k < child_start[u + 1]:
            ph = istk[3 * top + 2]
            c = child[k]
            if ph == 0:
                # shortcut with the child's zero crossing z and quota crossings wi / we (known
                # once the child is solved bottom-up): at most one evaluation, none when the
                # edge is at a quota or inside its fee band
                # (a margin of _NEAR keeps vertical segments at those points, which rounding
                # of pi +- fee may miss by a few ulps, on the evaluated path)
                z = edge[c, 4]
                pa = fstk[3 * top] + edge[c, 0]
                pb = fstk[3 * top] - edge[c, 1]
                if z == z:
                    mz = _NEAR * max(1.0, abs(z))
                    if pa < z - mz:
                        wi = edge[c, 5]
                        if pa < wi - _NEAR * max(1.0, abs(wi)):
                            fstk[3 * top + 1] += edge[c, 2]
                            fstk[3 * top + 2] += edge[c, 2]
                            istk[3 * top + 1] = k + 1
                            continue
                    elif pb > z + mz:
                        we = edge[c, 6]
                        if pb > we + _NEAR * max(1.0, abs(we)):
                            fstk[3 * top + 1] -= edge[c, 3]
                            fstk[3 * top + 2] -= edge[c, 3]
                            istk[3 * top + 1] = k + 1
                            continue
                        ph = 2
                    elif pa > z + mz and pb < z - mz:
                        istk[3 * top + 1] = k + 1
                        continue
            if ph == 0 or ph == 2:  # evaluate the child at pi + t_in (0) or pi - t_out (2)
                price = fstk[3 * top] + edge[c, 0] if ph == 0 else fstk[3 * top] - edge[c, 1]
                istk[3 * top + 2] = ph + 1
                top += 1
                _frame(mkt, tree, top, c, price)
                continue
        rlo = fstk[3 * top + 1]
        rhi = fstk[3 * top + 2]
        if top == 0:
            return rlo, rhi
        top -= 1
        k = istk[3 * top + 1]
        c = child[k]
        ph = istk[3 * top + 2]
        tin = edge[c, 0]
        tout = edge[c, 1]
        uin = edge[c, 2]
        uout = edge[c, 3]
        done = True
        if ph == 1:
            if tin + tout == 0.0:
                fstk[3 * top + 1] += min(uin, max(-uout, rlo))
                fstk[3 * top + 2] += min(uin, max(-uout, rhi))
            elif rhi > 0.0:
                fstk[3 * top + 1] += min(uin, max(0.0, rlo))
                fstk[3 * top + 2] += min(uin, rhi)
            else:
                istk[3 * top + 2] = 2
                done = False
        elif rlo < 0.0:
            fstk[3 * top + 1] += max(-uout, rlo)
            fstk[3 * top + 2] += max(-uout, min(0.0, rhi))
        if done:
            istk[3 * top + 1] = k + 1
            istk[3 * top + 2] = 0


@njit(cache=True, error_model="numpy")
def simple_pool_price(mkt: np.ndarray, memb: np.ndarray, a: int, b: int) -> float:
    """Closed-form hub price of a pool of markets ``memb[a:b]`` without collars, bounds or fees
    and with linear abatement: ``sum_i s_i c_i p_i / sum_i c_i s_i^2 / fx_i`` (with s = fx = 1 the
    c-weighted mean of the autarky prices); NaN when some market has any of those features."""
    num = 0.0
    den = 0.0
    for k in range(a, b):
        i = memb[k]
        if (mkt[i, M_ETA] != 1.0 or mkt[i, M_FLOOR] != -np.inf or mkt[i, M_CEIL] != np.inf
                or mkt[i, M_IMP_CAP] != np.inf or mkt[i, M_EXP_CAP] != np.inf
                or mkt[i, M_FEE_IMP] != 0.0 or mkt[i, M_FEE_EXP] != 0.0):
            return np.nan
        s = mkt[i, M_S]
        num += s * mkt[i, M_C] * mkt[i, M_P_AUT]
        den += mkt[i, M_C] * s * s / mkt[i, M_FX]
    return num / den




@njit(cache=True, error_model="numpy")
def _node_root(
    v: int,
    y: float,
    linear: bool,
    bp: np.ndarray,
    b0: int,
    b1: int,
    mkt: np.ndarray,
    tree: tuple,
) -> float:
    """A hub price pi with y in T_v(pi); bp[b0:b1] are v's sorted breakpoints. NaN if none.

    Bisection over the breakpoints finds the piece (L, R) holding the root, or a breakpoint whose
    vertical segment holds y. On the open piece T_v is linear when all eta = 1: the line through
    two interior points gives the root exactly (clamped to [L, R], which also catches a vertical
    segment at an end); otherwise Illinois iterations on [L, R] (ROOT_XTOL, ROOT_MAXITER).
    """
    ilo = b0 - 1
    ihi = b1
    tlo = np.nan  # T at bp[ilo] (its lower end: the right limit), > y
    thi = np.nan  # T at bp[ihi] (its upper end: the left limit), < y
    while ihi - ilo > 1:
        mid = (ilo + ihi) // 2
        tl, th = _eval_node(v, bp[mid], mkt, tree)
        if tl != tl or th != th:
            return np.nan
        if tl <= y <= th:
            return bp[mid]
        if tl > y:
            ilo = mid
            tlo = tl
        else:
            ihi = mid
            thi = th
    left = bp[ilo] if ilo >= b0 else -np.inf
    right = bp[ihi] if ihi < b1 else np.inf
    if linear:
        if left > -np.inf and right < np.inf:
            if not right > left:
                return left
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
        a1, a2 = _eval_node(v, u1, mkt, tree)
        t1 = _mid(a1, a2)
        a1, a2 = _eval_node(v, u2, mkt, tree)
        t2 = _mid(a1, a2)
        if t1 != t1 or t2 != t2:
            return np.nan
        if t1 == t2:
            if t1 == y:
                return u1
            x = right if t1 > y else left
            return x if abs(x) < np.inf else np.nan
        x = u1 + (y - t1) * (u2 - u1) / (t2 - t1)
        return min(max(x, left), right)
    # non-linear: finite bracket [a, b] with T(a) > y > T(b)
    a = left
    fa = tlo - y
    if a == -np.inf:
        ref = right if right < np.inf else 0.0
        d = max(1.0, abs(ref))
        for _ in range(64):
            a = ref - d
            t1, t2 = _eval_node(v, a, mkt, tree)
            fa = _mid(t1, t2) - y
            if fa > 0.0 or fa != fa:
                break
            d *= 2.0
    b = right
    fb = thi - y
    if b == np.inf:
        ref = left if left > -np.inf else 0.0
        d = max(1.0, abs(ref))
        for _ in range(64):
            b = ref + d
            t1, t2 = _eval_node(v, b, mkt, tree)
            fb = _mid(t1, t2) - y
            if fb < 0.0 or fb != fb:
                break
            d *= 2.0
    if not (fa > 0.0 and fb < 0.0):
        return np.nan
    side = 0
    x = 0.5 * (a + b)
    for _ in range(ROOT_MAXITER):
        x = b - fb * (b - a) / (fb - fa)
        if not (a < x < b):
            x = 0.5 * (a + b)
        t1, t2 = _eval_node(v, x, mkt, tree)
        if t1 <= y <= t2:
            return x
        fx = _mid(t1, t2) - y
        if fx > 0.0:
            a = x
            fa = fx
            if side == 1:
                fb *= 0.5
            side = 1
        else:
            b = x
            fb = fx
            if side == -1:
                fa *= 0.5
            side = -1
        if b - a <= ROOT_XTOL * max(1.0, abs(x)):
            break
    return x


# ---------------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _solve_general(
    mkt: np.ndarray,
    ends: np.ndarray,
    lpar: np.ndarray,
    lstate: np.ndarray,
    out: np.ndarray,
    lout: np.ndarray,
    flags: np.ndarray,
    fwork: np.ndarray,
    iwork: np.ndarray,
    contract_plain: bool,
) -> int:
    """The general solver, with the outer loop over the flows of cycle-closing restricted links.

    Each such flow g is a fixed injection for the (exact) forest solve; g solves the link's own
    condition (hub price gap = fee while flowing, at its quota, or inside the fee band) by a
    bracketing 1-D search (the gap is non-increasing in g), links taken in turn (Gauss-Seidel)
    until no flow moves by more than CYCLE_XTOL (relative); STATUS_CYCLE if that fails.
    """
    n = mkt.shape[0]
    nl = ends.shape[0]
    if fwork.shape[0] < 14 * n * n + 24 * n + 128 + nl or iwork.shape[0] < 24 * n + 7 * nl + 32:
        return STATUS_WORKSPACE
    gflow = fwork[:nl]
    cyc = iwork[:nl]
    fw = fwork[nl:]
    iw = iwork[nl:]
    for l in range(nl):
        gflow[l] = np.nan
    status = _solve(mkt, ends, lpar, lstate, out, lout, flags, fw, iw, contract_plain, gflow)
    if status != STATUS_CYCLE:
        return _nan_is_infeasible(out, status)
    kind = iw[4 * n + 1:4 * n + 1 + nl]
    nc = 0
    for l in range(nl):
        if kind[l] == _K_CYCLE:
            cyc[nc] = l
            nc += 1
            gflow[l] = 0.0
    # one such link: the solve above is the one at g = 0 (its gap starts the search)
    g0 = np.nan
    if nc == 1:
        g0 = out[ends[cyc[0], 1], O_HUB] - out[ends[cyc[0], 0], O_HUB]
    converged = False
    fresh = False  # out / lout / flags hold the solve at the final flows
    for _ in range(CYCLE_MAXSWEEP):
        change = 0.0
        scale = 1.0
        for k in range(nc):
            l = cyc[k]
            g_old = gflow[l]
            g = _cycle_flow(l, mkt, ends, lpar, lstate, out, lout, flags, fw, iw, contract_plain,
                            gflow, g0)
            fresh = nc == 1 and gflow[l] == g  # the search's last solve was at g
            gflow[l] = g
            change = max(change, abs(g - g_old))
            scale = max(scale, abs(g))
        if change <= CYCLE_XTOL * scale or nc == 1:
            converged = True  # (one such link: its search above is final)
            break
    if fresh:
        status = STATUS_CYCLE
    else:
        status = _solve(mkt, ends, lpar, lstate, out, lout, flags, fw, iw, contract_plain, gflow)
    if status == STATUS_CYCLE and converged:
        status = STATUS_OK
    return _nan_is_infeasible(out, status)


@njit(cache=True, error_model="numpy")
def _nan_is_infeasible(out: np.ndarray, status: int) -> int:
    """STATUS_INFEASIBLE when some market has no price or flow: a NaN answer never comes with
    another status (the engine counts the infeasible steps)."""
    if status == STATUS_WORKSPACE:
        return status
    for i in range(out.shape[0]):
        if out[i, O_PRICE] != out[i, O_PRICE] or out[i, O_FLOW] != out[i, O_FLOW]:
            return STATUS_INFEASIBLE
    return status


@njit(cache=True, error_model="numpy")
def _cycle_gap(
    l: int, g: float, mkt: np.ndarray, ends: np.ndarray, lpar: np.ndarray, lstate: np.ndarray,
    out: np.ndarray, lout: np.ndarray, flags: np.ndarray, fw: np.ndarray, iw: np.ndarray,
    contract_plain: bool, gflow: np.ndarray,
) -> float:
    """Hub price of b minus that of a when link l = (a, b) carries g from a to b."""
    gflow[l] = g
    _solve(mkt, ends, lpar, lstate, out, lout, flags, fw, iw, contract_plain, gflow)
    return out[ends[l, 1], O_HUB] - out[ends[l, 0], O_HUB]


@njit(cache=True, error_model="numpy")
def _cycle_flow(
    l: int, mkt: np.ndarray, ends: np.ndarray, lpar: np.ndarray, lstate: np.ndarray,
    out: np.ndarray, lout: np.ndarray, flags: np.ndarray, fw: np.ndarray, iw: np.ndarray,
    contract_plain: bool, gflow: np.ndarray, g0_known: float,
) -> float:
    """Flow on cycle-closing link l (a -> b) given the other fixed flows: 0 inside the fee band,
    else the flow at which the gap equals the fee, capped at the quota. ``g0_known``: the gap at
    flow 0 when ``out`` already holds that solve (else NaN).

    With the other flows fixed, ``phi(h) = sg gap(sg h) - fee`` is non-increasing in the flow h
    and, for linear abatement, piecewise linear (the forest solve is exact, and piecewise linear
    in its injections). The search keeps a bracket ``lo < root < hi`` and takes two steps a
    round: the secant through the bracket, then the line through the new point and the bracket
    end on its side. Once two points on one side lie on the root's piece, that line lands on the
    root itself (``|phi|`` at rounding level: ``_PHI_RTOL`` of the prices), so a linear cycle is
    solved exactly in a few forest solves; a root at a jump of phi (a node at a bound) is
    bracketed to ``CYCLE_XTOL``; non-linear components converge superlinearly. A flow the rest
    of the network cannot take (no clearing price: a bound) lies beyond the root (phi = -inf);
    next to it the search bisects.
    """
    ca, cb, fa, fb = _link_params(lpar, lstate[l], l)
    prev = gflow[l]
    if g0_known == g0_known:
        g0 = g0_known
        gflow[l] = 0.0
    else:
        g0 = _cycle_gap(l, 0.0, mkt, ends, lpar, lstate, out, lout, flags, fw, iw,
                        contract_plain, gflow)
    if g0 != g0:
        return 0.0
    if -fb <= g0 <= fa:
        return 0.0
    sg = 1.0 if g0 > fa else -1.0
    cap = ca if sg > 0 else cb
    fee = fa if sg > 0 else fb
    if cap == 0.0:
        return 0.0
    tol = _PHI_RTOL * max(1.0, fee, abs(out[ends[l, 0], O_HUB]), abs(out[ends[l, 1], O_HUB]))
    # phi(h) = sg * gap(sg h) - fee, non-increasing in h >= 0, phi(0) > 0
    flo = sg * g0 - fee
    lo = 0.0
    if cap < np.inf:
        hi = cap
        fhi = sg * _cycle_gap(l, sg * hi, mkt, ends, lpar, lstate, out, lout, flags, fw, iw,
                              contract_plain, gflow) - fee
        if fhi >= 0.0:
            return sg * hi
        if fhi != fhi:
            fhi = -np.inf  # the rest of the network cannot take that flow: beyond the root
    else:
        hi = max(1.0, abs(prev))
        for _ in range(80):
            fhi = sg * _cycle_gap(l, sg * hi, mkt, ends, lpar, lstate, out, lout, flags, fw,
                                  iw, contract_plain, gflow) - fee
            if fhi != fhi:
                fhi = -np.inf
            if fhi < 0.0:
                break
            if fhi <= tol:  # the gap reached the fee and stays (a free circulation)
                return sg * hi
            # next try: where the line through the last two points meets 0 (the root when
            # both lie on its piece), at least a quarter further out
            z = hi + fhi * (hi - lo) / (flo - fhi) if flo > fhi else 2.0 * hi
            lo = hi
            flo = fhi
            hi = min(max(z, 1.25 * hi), 1e300)
    if not fhi < 0.0:
        return sg * lo  # no sign change found (cannot happen for a bounded response)
    last = 0  # side of the bracket replaced last (+1 lo, -1 hi)
    bisect = False
    for _ in range(ROOT_MAXITER):
        if flo <= tol:
            return sg * lo
        if -fhi <= tol:
            return sg * hi
        # the secant through the bracket; bisection next to an infeasible end or when one side
        # was replaced twice running (regula falsi stalls at a jump of phi)
        h = 0.5 * (lo + hi) if bisect or fhi == -np.inf else hi - fhi * (hi - lo) / (fhi - flo)
        if not (lo < h < hi):
            h = 0.5 * (lo + hi)
        fh = sg * _cycle_gap(l, sg * h, mkt, ends, lpar, lstate, out, lout, flags, fw, iw,
                             contract_plain, gflow) - fee
        if fh != fh:
            fh = -np.inf
        if abs(fh) <= tol:
            return sg * h
        # the line through h and the bracket end on its side (one piece: lands on the root)
        z = np.nan
        if fh > 0.0:
            if flo != fh:
                z = h - fh * (h - lo) / (fh - flo)
            lo = h
            flo = fh
        else:
            if fhi != fh and fh > -np.inf and fhi > -np.inf:
                z = h - fh * (h - hi) / (fh - fhi)
            hi = h
            fhi = fh
        side = 1 if fh > 0.0 else -1
        if lo < z < hi:
            fz = sg * _cycle_gap(l, sg * z, mkt, ends, lpar, lstate, out, lout, flags, fw, iw,
                                 contract_plain, gflow) - fee
            if fz != fz:
                fz = -np.inf
            if abs(fz) <= tol:
                return sg * z
            if fz > 0.0:
                lo = z
                flo = fz
                side = 1
            else:
                hi = z
                fhi = fz
                side = -1
        bisect = side == last
        last = side
        if hi - lo <= CYCLE_XTOL * max(1.0, hi):
            break
    return sg * (lo if flo <= -fhi else hi)


@njit(cache=True, error_model="numpy")
def _solve(
    mkt: np.ndarray,
    ends: np.ndarray,
    lpar: np.ndarray,
    lstate: np.ndarray,
    out: np.ndarray,
    lout: np.ndarray,
    flags: np.ndarray,
    fwork: np.ndarray,
    iwork: np.ndarray,
    contract_plain: bool,
    gflow: np.ndarray,
) -> int:
    """:func:`solve_step`; with ``contract_plain=False`` every active link is a tree edge."""
    n = mkt.shape[0]
    nl = ends.shape[0]
    status = STATUS_OK
    if fwork.shape[0] < 14 * n * n + 24 * n + 128 or iwork.shape[0] < 24 * n + 6 * nl + 32:
        return STATUS_WORKSPACE  # (sizes net of solve_step's own nl floats and nl ints)
    # ---- iwork / fwork layout
    o = 0
    uf = iwork[o:o + n]
    o += n
    node_of = iwork[o:o + n]
    o += n
    memb_start = iwork[o:o + n + 1]
    o += n + 1
    memb = iwork[o:o + n]
    o += n
    kind = iwork[o:o + nl]
    o += nl
    adj_start = iwork[o:o + n + 1]
    o += n + 1
    adj = iwork[o:o + 2 * nl]
    o += 2 * nl
    order = iwork[o:o + n]
    o += n
    par = iwork[o:o + n]
    o += n
    par_link = iwork[o:o + n]
    o += n
    child_start = iwork[o:o + n + 1]
    o += n + 1
    child = iwork[o:o + n]
    o += n
    bp_start = iwork[o:o + n]
    o += n
    bp_end = iwork[o:o + n]
    o += n
    lin = iwork[o:o + n]
    o += n
    comp = iwork[o:o + n]
    o += n
    porder = iwork[o:o + n]
    o += n
    ppar_link = iwork[o:o + n]
    o += n
    padj_start = iwork[o:o + n + 1]
    o += n + 1
    padj = iwork[o:o + 2 * nl]
    o += 2 * nl
    seen = iwork[o:o + n]
    o += n
    istk = iwork[o:o + 3 * n]
    o += 3 * n

    f = 0
    node_pi = fwork[f:f + n]
    f += n
    node_y = fwork[f:f + n]
    f += n
    edge = fwork[f:f + 8 * n].reshape((n, 8))
    f += 8 * n
    alo = fwork[f:f + 2 * n]
    f += 2 * n
    ahi = fwork[f:f + 2 * n]
    f += 2 * n
    surplus = fwork[f:f + n]
    f += n
    fstk = fwork[f:f + 3 * n]
    f += 3 * n
    pair_f = fwork[f:f + 64]
    f += 64
    bp = fwork[f:]
    pair_i = iwork[o:o + 16]
    o += 16
    tree = (memb_start, memb, child_start, child, edge, fstk, istk)

    # ---- 1. pools of plain links
    for i in range(n):
        uf[i] = i
    for l in range(nl):
        kind[l] = _K_OFF
        st = lstate[l]
        if st == 2:
            continue
        ca, cb, fa, fb = _link_params(lpar, st, l)
        plain = ca == np.inf and cb == np.inf and fa == 0.0 and fb == 0.0
        if plain and contract_plain:
            ra = _find(uf, ends[l, 0])
            rb = _find(uf, ends[l, 1])
            if ra != rb:
                uf[ra] = rb
                kind[l] = _K_PLAIN
            else:
                kind[l] = _K_PLAIN_CYCLE
        else:
            kind[l] = _K_EDGE
    # nodes: number them by first market
    nn = 0
    for i in range(n):
        node_of[i] = -1
    for i in range(n):
        r = _find(uf, i)
        if node_of[r] < 0:
            node_of[r] = nn
            nn += 1
        node_of[i] = node_of[r]
    for v in range(nn + 1):
        memb_start[v] = 0
    for i in range(n):
        memb_start[node_of[i] + 1] += 1
    for v in range(nn):
        memb_start[v + 1] += memb_start[v]
    for v in range(nn):
        seen[v] = memb_start[v]
    for i in range(n):
        v = node_of[i]
        memb[seen[v]] = i
        seen[v] += 1
    # ---- 2. forest of restricted edges between nodes (drop links that close a cycle)
    for v in range(nn):
        uf[v] = v
    for l in range(nl):
        if kind[l] == _K_EDGE:
            if node_of[ends[l, 0]] == node_of[ends[l, 1]]:
                kind[l] = _K_OFF  # inside a pool: the free path dominates, no flow
                continue
            ra = _find(uf, node_of[ends[l, 0]])
            rb = _find(uf, node_of[ends[l, 1]])
            if ra == rb:
                kind[l] = _K_CYCLE
                status = STATUS_CYCLE
            else:
                uf[ra] = rb
    _csr_adjacency(nn, nl, ends, node_of, True, kind, _K_EDGE, False, adj_start, adj, seen)
    # ---- 3. BFS: order, parents, edge parameters oriented parent -> child
    _bfs_forest(nn, ends, node_of, True, adj_start, adj, seen, par, par_link, order)
    for k in range(nn):
        w = order[k]
        if par[w] < 0:
            comp[w] = w
            continue
        comp[w] = comp[par[w]]
        l = par_link[w]
        ca, cb, fa, fb = _link_params(lpar, lstate[l], l)
        if w == node_of[ends[l, 1]]:  # child on the b side: into child = a -> b
            edge[w, 0] = fa
            edge[w, 1] = fb
            edge[w, 2] = ca
            edge[w, 3] = cb
        else:
            edge[w, 0] = fb
            edge[w, 1] = fa
            edge[w, 2] = cb
            edge[w, 3] = ca
        edge[w, 4] = np.nan  # zero crossing and quota crossings: set bottom-up
        edge[w, 5] = -np.inf
        edge[w, 6] = np.inf
    # children lists (CSR, in BFS order)
    for v in range(nn + 1):
        child_start[v] = 0
    for v in range(nn):
        if par[v] >= 0:
            child_start[par[v] + 1] += 1
    for v in range(nn):
        child_start[v + 1] += child_start[v]
    for v in range(nn):
        seen[v] = child_start[v]
    for k in range(nn):
        w = order[k]
        if par[w] >= 0:
            child[seen[par[w]]] = w
            seen[par[w]] += 1
    # a component of two single markets joined by one restricted link is solved as a pool with
    # the link's quotas and fees folded into the two markets (lin = 3): no nested roots needed
    for v in range(nn):
        lin[v] = 0
        edge[v, 7] = 0.0
    for l in range(nl):
        if kind[l] == _K_CYCLE and gflow[l] == gflow[l]:
            edge[node_of[ends[l, 0]], 7] += gflow[l]  # a sends g: its subtree needs g more
            edge[node_of[ends[l, 1]], 7] -= gflow[l]
    for v in range(nn):
        if par[v] < 0 and child_start[v + 1] - child_start[v] == 1:
            c = child[child_start[v]]
            if (child_start[c + 1] == child_start[c] and memb_start[v + 1] - memb_start[v] == 1
                    and memb_start[c + 1] - memb_start[c] == 1 and edge[v, 7] == 0.0
                    and edge[c, 7] == 0.0):
                lin[v] = 3
                lin[c] = 3
    # ---- 4. bottom-up breakpoints
    nbp = 0
    for k in range(nn - 1, -1, -1):
        v = order[k]
        bp_start[v] = nbp
        if lin[v] == 3:
            bp_end[v] = nbp
            continue
        if par[v] < 0 and child_start[v + 1] == child_start[v]:
            if memb_start[v + 1] - memb_start[v] == 1:  # isolated market: autarky, no root
                node_pi[v] = 0.0
                bp_end[v] = nbp
                lin[v] = 2
                continue
            ps = simple_pool_price(mkt, memb, memb_start[v], memb_start[v + 1])
            if ps == ps:  # closed form: no breakpoints needed
                node_pi[v] = ps
                bp_end[v] = nbp
                lin[v] = 2
                continue
        linear = True
        for kk in range(memb_start[v], memb_start[v + 1]):
            i = memb[kk]
            if mkt[i, M_ETA] != 1.0:
                linear = False
            nbp = market_breakpoints(mkt, i, bp, nbp)
        for kk in range(child_start[v], child_start[v + 1]):
            c = child[kk]
            if lin[c] == 0:
                linear = False
            tin = edge[c, 0]
            tout = edge[c, 1]
            uin = edge[c, 2]
            uout = edge[c, 3]
            lc = lin[c] == 1
            z = _node_root(c, 0.0, lc, bp, bp_start[c], bp_end[c], mkt, tree)
            wi = -np.inf
            we = np.inf
            if uin < np.inf:
                wi = _node_root(c, uin, lc, bp, bp_start[c], bp_end[c], mkt, tree)
                if wi == wi:
                    bp[nbp] = wi - tin
                    nbp += 1
            if uout < np.inf:
                we = _node_root(c, -uout, lc, bp, bp_start[c], bp_end[c], mkt, tree)
                if we == we:
                    bp[nbp] = we + tout
                    nbp += 1
            if z == z:
                bp[nbp] = z - tin
                nbp += 1
                if tin + tout != 0.0:
                    bp[nbp] = z + tout
                    nbp += 1
            edge[c, 4] = z
            edge[c, 5] = wi
            edge[c, 6] = we
            for j in range(bp_start[c], bp_end[c]):
                beta = bp[j]
                if z != z or (beta <= z and not beta < wi):
                    bp[nbp] = beta - tin
                    nbp += 1
                    if beta == z and tin + tout != 0.0:
                        bp[nbp] = beta + tout
                        nbp += 1
                elif beta > z and not beta > we:
                    bp[nbp] = beta + tout
                    nbp += 1
        bp_end[v] = nbp
        lin[v] = 1 if linear else 0
        _sort(bp, bp_start[v], nbp)
    # ---- 5. roots and top-down allocation
    for l in range(nl):
        for j in range(N_LINK_OUT):
            lout[l, j] = 0.0
    for k in range(nn):
        v = order[k]
        if lin[v] == 3:
            if par[v] < 0:
                c = child[child_start[v]]
                ok = _solve_pair(mkt, memb[memb_start[v]], memb[memb_start[c]], par_link[c],
                                 node_of[ends[par_link[c], 1]] == c, edge[c, 0], edge[c, 1],
                                 edge[c, 2], edge[c, 3], out, lout, flags, pair_f, pair_i)
                if not ok:
                    status = STATUS_INFEASIBLE
            continue
        if par[v] < 0 and lin[v] == 2:
            node_y[v] = 0.0
        elif par[v] < 0:
            node_y[v] = 0.0
            pi = _node_root(v, 0.0, lin[v] == 1, bp, bp_start[v], bp_end[v], mkt, tree)
            if pi != pi:
                status = STATUS_INFEASIBLE
            node_pi[v] = pi
        pi = node_pi[v]
        y = node_y[v]
        # summands: members then children
        ns = 0
        for kk in range(memb_start[v], memb_start[v + 1]):
            a, b = market_response(mkt, memb[kk], pi)
            alo[ns] = a
            ahi[ns] = b
            ns += 1
        for kk in range(child_start[v], child_start[v + 1]):
            c = child[kk]
            tin = edge[c, 0]
            tout = edge[c, 1]
            uin = edge[c, 2]
            uout = edge[c, 3]
            a, b = _eval_node(c, pi + tin, mkt, tree)
            if tin + tout == 0.0:
                lo = min(uin, max(-uout, a))
                hi = min(uin, max(-uout, b))
            elif b > 0.0:
                lo = min(uin, max(0.0, a))
                hi = min(uin, b)
            else:
                a2, b2 = _eval_node(c, pi - tout, mkt, tree)
                lo = 0.0
                hi = 0.0
                if a2 < 0.0:
                    lo = max(-uout, a2)
                    hi = max(-uout, min(0.0, b2))
            alo[ns] = lo
            ahi[ns] = hi
            ns += 1
        _allocate(alo, ahi, ns, y - edge[v, 7])
        # children: flows and hub prices
        ns = memb_start[v + 1] - memb_start[v]
        for kk in range(child_start[v], child_start[v + 1]):
            c = child[kk]
            fl = alo[ns]
            ns += 1
            tin = edge[c, 0]
            tout = edge[c, 1]
            uin = edge[c, 2]
            uout = edge[c, 3]
            lc = lin[c] == 1
            if fl > 0.0 and fl < uin:
                pc = pi + tin
            elif fl < 0.0 and fl > -uout:
                pc = pi - tout
            else:
                pc = _node_root(c, fl, lc, bp, bp_start[c], bp_end[c], mkt, tree)
                if fl > 0.0:
                    pc = max(pc, pi + tin)
                elif fl < 0.0:
                    pc = min(pc, pi - tout)
                else:
                    if uin > 0.0:
                        pc = min(pc, pi + tin)
                    if uout > 0.0:
                        pc = max(pc, pi - tout)
            node_pi[c] = pc
            node_y[c] = fl
            l = par_link[c]
            into_b = node_of[ends[l, 1]] == c
            lout[l, LO_FLOW] = fl if into_b else -fl
            gap = pc - pi  # into the child
            lout[l, LO_GAP] = gap if into_b else -gap
            sh = 0.0
            if fl >= uin - _QTOL * max(1.0, abs(uin)):  # at the quota (up to rounding)
                sh = max(sh, gap - tin)
            if fl <= -uout + _QTOL * max(1.0, abs(uout)):
                sh = max(sh, -gap - tout)
            if fl > 0.0:
                lout[l, LO_FEE] = tin * fl
            elif fl < 0.0:
                lout[l, LO_FEE] = -tout * fl
            lout[l, LO_SHADOW] = sh
            lout[l, LO_ACTIVE] = 1.0
        # markets of v
        alone = par[v] < 0 and child_start[v + 1] == child_start[v] and (
            memb_start[v + 1] - memb_start[v] == 1)
        ns = 0
        for kk in range(memb_start[v], memb_start[v + 1]):
            i = memb[kk]
            _market_out(mkt, i, alo[ns], pi, out, flags, alone)
            ns += 1
    # ---- link quota flags, component ids, linked flag, flows on plain links
    for i in range(n):
        seen[i] = n  # smallest market index in the component of node i (by node)
    for i in range(n):
        v = comp[node_of[i]]
        if i < seen[v]:
            seen[v] = i
    for i in range(n):
        v = node_of[i]
        out[i, O_COMPONENT] = seen[comp[v]]
    for i in range(n):
        surplus[i] = 0.0
    for i in range(n):
        c = int(out[i, O_COMPONENT])
        if c != i:
            flags[i] |= FLAG_LINKED
            flags[c] |= FLAG_LINKED
    for l in range(nl):
        if kind[l] != _K_EDGE or lout[l, LO_SHADOW] <= 0.0:
            continue
        into_b = lout[l, LO_GAP] > 0.0  # the importer is the side with the higher hub price
        imp_node = node_of[ends[l, 1]] if into_b else node_of[ends[l, 0]]
        exp_node = node_of[ends[l, 0]] if into_b else node_of[ends[l, 1]]
        for m in range(memb_start[imp_node], memb_start[imp_node + 1]):
            flags[memb[m]] |= FLAG_IMPORT_QUOTA
        for m in range(memb_start[exp_node], memb_start[exp_node + 1]):
            flags[memb[m]] |= FLAG_EXPORT_QUOTA
    for l in range(nl):
        if kind[l] != _K_CYCLE:
            continue
        g = gflow[l] if gflow[l] == gflow[l] else 0.0
        ca, cb, fa, fb = _link_params(lpar, lstate[l], l)
        gap = out[ends[l, 1], O_HUB] - out[ends[l, 0], O_HUB]
        lout[l, LO_FLOW] = g
        lout[l, LO_GAP] = gap
        sh = 0.0
        if g >= ca:
            sh = max(sh, gap - fa)
        if g <= -cb:
            sh = max(sh, -gap - fb)
        lout[l, LO_SHADOW] = sh
        lout[l, LO_FEE] = fa * g if g > 0.0 else -fb * g
        lout[l, LO_ACTIVE] = 1.0
    _plain_flows(n, nl, ends, kind, mkt, out, lout, node_of, surplus, porder, ppar_link,
                 padj_start, padj, seen, uf)
    return status


@njit(cache=True, error_model="numpy")
def _solve_pair(
    mkt: np.ndarray,
    i: int,
    j: int,
    l: int,
    j_is_b: bool,
    tin: float,
    tout: float,
    uin: float,
    uout: float,
    out: np.ndarray,
    lout: np.ndarray,
    flags: np.ndarray,
    pf: np.ndarray,
    pi_: np.ndarray,
) -> bool:
    """Two markets i, j joined by one restricted link (fees/quotas i -> j: tin/uin, j -> i:
    tout/uout, common units), solved as one pool with the link folded into the markets' own
    bounds and import fees; returns False when no clearing price exists."""
    m2 = pf[0:2 * N_MARKET_FIELDS].reshape((2, N_MARKET_FIELDS))
    o = 2 * N_MARKET_FIELDS
    edge2 = pf[o:o + 8].reshape((1, 8))
    edge2[0, 7] = 0.0
    fst2 = pf[o + 8:o + 11]
    lo2 = pf[o + 11:o + 13]
    hi2 = pf[o + 13:o + 15]
    bp2 = pf[o + 15:]
    memb_start2 = pi_[0:2]
    memb2 = pi_[2:4]
    child_start2 = pi_[4:6]
    child2 = pi_[6:6]
    ist2 = pi_[6:9]
    memb_start2[0] = 0
    memb_start2[1] = 2
    memb2[0] = 0
    memb2[1] = 1
    child_start2[0] = 0
    child_start2[1] = 0
    tree2 = (memb_start2, memb2, child_start2, child2, edge2, fst2, ist2)
    for k in range(2):
        src = i if k == 0 else j
        for col in range(N_MARKET_FIELDS):
            m2[k, col] = mkt[src, col]
        s = mkt[src, M_S]
        kf = mkt[src, M_FX] / s
        u_into = uout if k == 0 else uin
        u_from = uin if k == 0 else uout
        m2[k, M_IMP_CAP] = min(m2[k, M_IMP_CAP], u_into / s)
        m2[k, M_EXP_CAP] = min(m2[k, M_EXP_CAP], u_from / s)
        m2[k, M_FEE_IMP] += (tout if k == 0 else tin) / kf
    nb = market_breakpoints(m2, 0, bp2, 0)
    nb = market_breakpoints(m2, 1, bp2, nb)
    _sort(bp2, 0, nb)
    lin = m2[0, M_ETA] == 1.0 and m2[1, M_ETA] == 1.0
    p = _node_root(0, 0.0, lin, bp2, 0, nb, m2, tree2)
    for k in range(2):
        a, b = market_response(m2, k, p)
        lo2[k] = a
        hi2[k] = b
    _allocate(lo2, hi2, 2, 0.0)
    # hub prices as the tree solver defines them: where each market's own response gives its flow
    hub_i = 0.0
    hub_j = 0.0
    for k in range(2):
        src = i if k == 0 else j
        x = lo2[k] / mkt[src, M_S]
        q = own_price(mkt, src, x)[0]
        kf = mkt[src, M_FX] / mkt[src, M_S]
        fee_link = tout if k == 0 else tin
        if x > 0.0:
            h = p + fee_link if x >= mkt[src, M_IMP_CAP] else (q - mkt[src, M_FEE_IMP]) * kf
        elif x < 0.0:
            h = p if x <= -mkt[src, M_EXP_CAP] else (q + mkt[src, M_FEE_EXP]) * kf
        else:
            h = min(max(p, (q - mkt[src, M_FEE_IMP]) * kf), (q + mkt[src, M_FEE_EXP]) * kf)
        if k == 0:
            hub_i = h
        else:
            hub_j = h
    if lo2[1] == 0.0:  # no flow: keep j's hub inside the link's band where the link is open
        if uin > 0.0:
            hub_j = min(hub_j, hub_i + tin)
        if uout > 0.0:
            hub_j = max(hub_j, hub_i - tout)
    _market_out(mkt, i, lo2[0], hub_i, out, flags, False)
    _market_out(mkt, j, lo2[1], hub_j, out, flags, False)
    fl = lo2[1]  # into j (common units)
    gap = hub_j - hub_i
    sh = 0.0
    if fl >= uin - _QTOL * max(1.0, abs(uin)):  # at the quota (up to rounding)
        sh = max(sh, gap - tin)
    if fl <= -uout + _QTOL * max(1.0, abs(uout)):
        sh = max(sh, -gap - tout)
    lout[l, LO_FLOW] = fl if j_is_b else -fl
    lout[l, LO_GAP] = gap if j_is_b else -gap
    lout[l, LO_SHADOW] = sh
    lout[l, LO_FEE] = tin * fl if fl > 0.0 else -tout * fl
    lout[l, LO_ACTIVE] = 1.0
    return p == p




@njit(cache=True, error_model="numpy")
def _plain_flows(
    n: int,
    nl: int,
    ends: np.ndarray,
    kind: np.ndarray,
    mkt: np.ndarray,
    out: np.ndarray,
    lout: np.ndarray,
    node_of: np.ndarray,
    surplus: np.ndarray,
    porder: np.ndarray,
    ppar_link: np.ndarray,
    padj_start: np.ndarray,
    padj: np.ndarray,
    seen: np.ndarray,
    par: np.ndarray,
) -> None:
    """Route each pool's internal flows along its spanning tree of plain links (leaf peeling)."""
    # surplus of market i to send over plain links: restricted inflow - own net imports
    for i in range(n):
        surplus[i] = -out[i, O_FLOW] * mkt[i, M_S]
    for l in range(nl):
        if kind[l] == _K_EDGE or kind[l] == _K_CYCLE:
            surplus[ends[l, 1]] += lout[l, LO_FLOW]
            surplus[ends[l, 0]] -= lout[l, LO_FLOW]
        elif kind[l] == _K_PLAIN or kind[l] == _K_PLAIN_CYCLE:
            lout[l, LO_ACTIVE] = 1.0
    _csr_adjacency(n, nl, ends, node_of, False, kind, _K_PLAIN, False, padj_start, padj, seen)
    _bfs_forest(n, ends, node_of, False, padj_start, padj, seen, par, ppar_link, porder)
    for k in range(n - 1, -1, -1):
        w = porder[k]
        if par[w] < 0:
            continue
        l = ppar_link[w]
        sent = surplus[w]  # from w to its parent
        surplus[par[w]] += sent
        lout[l, LO_FLOW] = sent if ends[l, 0] == w else -sent
