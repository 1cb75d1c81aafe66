"""Exact solver of one pool: all markets trade at one hub price (multilateral, plain links).

Each market's net import response (:func:`riskmodel.linking.collar.market_response`) is a
non-increasing piecewise-linear correspondence of the hub price (linear abatement): slope
``-c s^2 / fx`` inside its collar, vertical at the floor and ceiling while the reserve lasts,
flat at its import/export bounds and inside its fee band. Clearing ``sum_i s_i x_i = 0``:
collect the breakpoints (O(N)), sort them (O(N log N)), bisect over them (O(N log N) evaluations
of the sum), and interpolate once on the bracketing linear piece; a root exactly at a vertical
segment is shared among the markets with reserve operations there. With collars and reserves
only (no bounds, no fees) the response is ``A - D pi`` plus reserve steps at the collar points, and
one sort of those points and a sweep find the root. Without collars, bounds and fees this is
``p^L = sum_i c_i p_i / sum_i c_i`` and ``x_i = c_i (p_i - p^L)``.

:func:`solve` is the allocating Python convenience over :func:`solve_pool` and
:func:`riskmodel.linking.fast_paths.solve_step`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from riskmodel.linking.collar import market_breakpoints, market_response
from riskmodel.linking.fast_paths import collar_root, pool_root, solve_step
from riskmodel.linking.network import (
    _market_out,
    _node_root,
    _solve_general,
    _sort,
    simple_pool_price,
)
from riskmodel.linking.primitives import _allocate_at
from riskmodel.linking.topology import (
    FLAG_LINKED,
    M_ETA,
    M_EXP_CAP,
    M_FEE_EXP,
    M_FEE_IMP,
    M_IMP_CAP,
    N_LINK_OUT,
    N_OUT,
    O_COMPONENT,
    STATUS_INFEASIBLE,
    STATUS_OK,
    LinkArrays,
    workspace,
)


@njit(cache=True, error_model="numpy")
def _nonlinear_pool_root(mkt: np.ndarray, fwork: np.ndarray, iwork: np.ndarray) -> float:
    """Hub price of the pool of all markets (some eta != 1): breakpoints, then the tree solver's
    root-finder on a one-node tree (Illinois iterations on the bracketing piece)."""
    n = mkt.shape[0]
    memb = iwork[0:n]  # the identity, set by solve_pool
    memb_start = iwork[n:n + 2]
    child_start = iwork[n + 2:n + 4]
    child = iwork[n + 4:n + 4]
    istk = iwork[n + 4:n + 7]
    memb_start[0] = 0
    memb_start[1] = n
    child_start[0] = 0
    child_start[1] = 0
    edge = fwork[2 * n:2 * n + 8].reshape((1, 8))
    edge[0, 7] = 0.0
    fstk = fwork[2 * n + 8:2 * n + 11]
    tree = (memb_start, memb, child_start, child, edge, fstk, istk)
    bp = fwork[2 * n + 11:]
    nb = 0
    for i in range(n):
        nb = market_breakpoints(mkt, i, bp, nb)
    _sort(bp, 0, nb)
    return _node_root(0, 0.0, False, bp, 0, nb, mkt, tree)


@njit(cache=True, error_model="numpy")
def solve_pool(
    mkt: np.ndarray, out: np.ndarray, flags: np.ndarray, fwork: np.ndarray, iwork: np.ndarray
) -> int:
    """All markets of ``mkt`` in one pool (plain links between all); fills ``out`` and ``flags``.

    Returns STATUS_OK, or STATUS_INFEASIBLE (outputs NaN) when no clearing price exists.
    The hub price: the closed form without collars, bounds and fees; else (linear) the sweep
    over collar points (:func:`riskmodel.linking.fast_paths.collar_root`) when there are no bounds
    and fees, the breakpoint root (:func:`riskmodel.linking.fast_paths.pool_root`) otherwise;
    Illinois iterations when some eta != 1. Scratch at fixed offsets (no array views on the
    linear paths).
    """
    n = mkt.shape[0]
    linear = True
    simple = True
    for i in range(n):
        iwork[i] = i  # the members
        if mkt[i, M_ETA] != 1.0:
            linear = False
        if (mkt[i, M_IMP_CAP] != np.inf or mkt[i, M_EXP_CAP] != np.inf
                or mkt[i, M_FEE_IMP] != 0.0 or mkt[i, M_FEE_EXP] != 0.0):
            simple = False
    pi = 0.0
    if n > 1:
        pi = simple_pool_price(mkt, iwork, 0, n)
        if pi != pi:
            if not linear:
                pi = _nonlinear_pool_root(mkt, fwork, iwork)
            else:
                pi = collar_root(mkt, iwork, 0, n, 0.0, fwork, 2 * n) if simple else np.nan
                if pi != pi:  # (unlimited collars that meet or cross: the breakpoint root)
                    pi = pool_root(mkt, iwork, 0, n, 0.0, fwork, 2 * n)
    status = STATUS_INFEASIBLE if pi != pi else STATUS_OK
    for i in range(n):
        a, b = market_response(mkt, i, pi)
        fwork[i] = a
        fwork[n + i] = b
    _allocate_at(fwork, 0, fwork, n, n, 0.0)
    for i in range(n):
        _market_out(mkt, i, fwork[i], pi, out, flags, n == 1)
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
        if contract_plain:  # (each numba entry point compiles its whole call tree: two, not three)
            status = solve_step(mkt, links.ends, links.lpar, st, out, lout, flags, fwork, iwork)
        else:
            status = _solve_general(mkt, links.ends, links.lpar, st, out, lout, flags, fwork,
                                    iwork, False)
    return Solution(out, lout, flags, int(status))
