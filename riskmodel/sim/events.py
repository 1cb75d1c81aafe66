"""Regulatory events: continuous-time Markov chains on the trading clock (MODEL.md §5).

Per link: states 0 active, 1 restricted (quota and/or fee switched on), 2 suspended (terminated
when ``terminal``: absorbing). Per market: exemption off/on and intervention off/on. Rates are
per year; the daily transition matrix is ``expm(Q / days_per_year)``, computed once. The kernel
draws one uniform per chain and day from the events stream (its own child of the chunk's
SeedSequence), so the price and output draws are common to all variants.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.linalg import expm, null_space

from riskmodel.sim.scenario import LinkEventSpec, MarketEventSpec


def link_generator(ev: LinkEventSpec | None) -> np.ndarray:
    """3x3 generator (per year) of a link's state."""
    q = np.zeros((3, 3))
    if ev is not None:
        q[0, 1], q[0, 2] = ev.active_to_restricted, ev.active_to_suspended
        q[1, 0], q[1, 2] = ev.restricted_to_active, ev.restricted_to_suspended
        q[2, 0] = 0.0 if ev.terminal else ev.suspended_to_active
    np.fill_diagonal(q, -q.sum(axis=1))
    return q


def two_state_generator(on: float, off: float) -> np.ndarray:
    """2x2 generator of an off/on chain."""
    return np.array([[-on, on], [off, -off]], dtype=float)


def market_generators(ev: MarketEventSpec | None) -> tuple[np.ndarray, np.ndarray]:
    """(exemption, intervention) generators of a market."""
    if ev is None:
        return two_state_generator(0, 0), two_state_generator(0, 0)
    return (two_state_generator(ev.exemption_on, ev.exemption_off),
            two_state_generator(ev.intervention_on, ev.intervention_off))


def daily_cumulative(q: np.ndarray, days_per_year: int) -> np.ndarray:
    """Row-cumulative daily transition matrix ``cumsum(expm(Q dt), axis=1)`` (last column 1)."""
    p = expm(q / days_per_year)
    p = np.clip(p, 0.0, 1.0)
    p /= p.sum(axis=1, keepdims=True)
    c = np.cumsum(p, axis=1)
    c[:, -1] = 1.0
    return c


def stationary(q: np.ndarray) -> np.ndarray:
    """Stationary distribution pi of a generator (pi Q = 0, sum 1); uniform over the kernel
    if the chain is reducible in a way that leaves several (use with irreducible chains)."""
    ns = null_space(q.T)
    v = np.abs(ns[:, 0])
    return v / v.sum()


@njit(cache=True)
def step_chain(cum: np.ndarray, state: int, u: float) -> int:
    """Next state of a chain given today's uniform."""
    n = cum.shape[1]
    for j in range(n - 1):
        if u < cum[state, j]:
            return j
    return n - 1


@njit(cache=True, inline="always")
def step_chain_at(cum: np.ndarray, q: int, state: int, u: float) -> int:
    """:func:`step_chain` for chain q of a stack ``cum[q]`` (no array view in the hot loop)."""
    n = cum.shape[2]
    for j in range(n - 1):
        if u < cum[q, state, j]:
            return j
    return n - 1


@njit(cache=True)
def simulate_chain(cum: np.ndarray, state0: int, u: np.ndarray) -> np.ndarray:
    """State path of one chain for the uniforms u (tests)."""
    out = np.empty(u.shape[0], dtype=np.int64)
    s = state0
    for t in range(u.shape[0]):
        s = step_chain(cum, s, u[t])
        out[t] = s
    return out
