"""Exact solver of one pool: all markets trade at one hub price (multilateral, plain links).

Each market's net import response (:func:`riskmodel.linking.collar.market_response`) is a
non-increasing piecewise-linear correspondence of the hub price (linear abatement): slope
``-c s^2 / fx`` inside its collar, vertical at the floor and ceiling while the reserve lasts,
flat at its import/export bounds and inside its fee band. Clearing ``sum_i s_i x_i = 0``:
collect the breakpoints (O(N)), sort them (O(N log N)), bisect over them (O(N log N) evaluations
of the sum), and interpolate once on the bracketing linear piece; a root exactly at a vertical
segment is shared among the markets with reserve operations there. Without collars, bounds and
fees this is ``p^L = sum_i c_i p_i / sum_i c_i`` and ``x_i = c_i (p_i - p^L)``.

:func:`solve` is the allocating Python convenience over :func:`solve_pool` and
:func:`riskmodel.linking.network.solve_step`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from riskmodel.linking.collar import market_breakpoints, market_response
from riskmodel.linking.network import (
    _allocate,
    _market_out,
    _node_root,
    _solve_step,
    _sort,
    simple_pool_price,
)
from riskmodel.linking.topology import (
    FLAG_LINKED,
    M_ETA,
    N_LINK_OUT,
    N_OUT,
    O_COMPONENT,
    STATUS_INFEASIBLE,
    STATUS_OK,
    LinkArrays,
    workspace,
)


@njit(cache=True)
def solve_pool(
    mkt: np.ndarray, out: np.ndarray, flags: np.ndarray, fwork: np.ndarray, iwork: np.ndarray
) -> int:
    """All markets of ``mkt`` in one pool (plain links between all); fills ``out`` and ``flags``.

    Returns STATUS_OK, or STATUS_INFEASIBLE (outputs NaN) when no clearing price exists.
    """
    n = mkt.shape[0]
    memb_start = iwork[0:2]
    memb = iwork[2:2 + n]
    child_start = iwork[2 + n:4 + n]
    child = iwork[4 + n:4 + n]
    memb_start[0] = 0
    memb_start[1] = n
    child_start[0] = 0
    child_start[1] = 0
    for i in range(n):
        memb[i] = i
    edge = fwork[0:8].reshape((1, 8))
    edge[0, 7] = 0.0
    fstk = fwork[8:11]
    istk = iwork[4 + n:7 + n]
    tree = (memb_start, memb, child_start, child, edge, fstk, istk)
    lo = fwork[11:11 + n]
    bp = fwork[11 + n:]
    nb = 0
    status = STATUS_OK
    pi = simple_pool_price(mkt, memb, 0, n)
    if n == 1:
        pi = 0.0
    elif pi != pi:
        linear = True
        for i in range(n):
            nb = market_breakpoints(mkt, i, bp, nb)
            if mkt[i, M_ETA] != 1.0:
                linear = False
        _sort(bp, 0, nb)
        pi = _node_root(0, 0.0, linear, bp, 0, nb, mkt, tree)
    if pi != pi:
        status = STATUS_INFEASIBLE
    hi = bp[nb:nb + n]
    for i in range(n):
        a, b = market_response(mkt, i, pi)
        lo[i] = a
        hi[i] = b
    _allocate(lo, hi, n, 0.0)
    for i in range(n):
        _market_out(mkt, i, lo[i], pi, out, flags, n == 1)
        out[i, O_COMPONENT] = 0.0
        if n > 1:
            flags[i] |= FLAG_LINKED
    return status


class Solution(NamedTuple):
    """Result of :func:`solve`: ``out`` (N x N_OUT), ``lout`` (L x N_LINK_OUT), flags, status."""

    out: np.ndarray
    lout: np.ndarray
    flags: np.ndarray
    status: int


def solve(
    mkt: np.ndarray,
    links: LinkArrays | None = None,
    state: np.ndarray | None = None,
    contract_plain: bool = True,
) -> Solution:
    """Solve one step from Python (allocates; for tests and analysis, not for the hot path).

    ``links=None`` pools all markets (:func:`solve_pool`); otherwise the topology of ``links`` in
    ``state`` (default all active). ``contract_plain=False`` routes even plain links through the
    tree solver (a cross-check of the two paths).
    """
    mkt = np.ascontiguousarray(mkt, dtype=np.float64)
    n = mkt.shape[0]
    nl = 0 if links is None else links.ends.shape[0]
    out = np.full((n, N_OUT), np.nan)
    lout = np.zeros((nl, N_LINK_OUT))
    flags = np.zeros(n, dtype=np.int64)
    fwork, iwork = workspace(n, nl)
    if links is None:
        status = solve_pool(mkt, out, flags, fwork, iwork)
    else:
        st = np.zeros(nl, dtype=np.int64) if state is None else np.asarray(state, dtype=np.int64)
        status = _solve_step(mkt, links.ends, links.lpar, st, out, lout, flags, fwork, iwork,
                             contract_plain)
    return Solution(out, lout, flags, int(status))
