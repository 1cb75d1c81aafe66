"""The bank of one market (or plain pool) across compliance years.

    B_{y+1} = B_y + S_y + x_y + R_y - E_y        (supply, net imports, reserve sales, emissions)

Firms cannot surrender permits they do not hold: the year-end bank never falls below its bound
ℓ (0, or -L with a borrowing allowance L). Under the price map the k = 0 term keeps the bank above
ℓ; only a finite ceiling reserve or a penalty cap can push required surrender past it. That
excess is *non-compliance* (tonnes emitted without permits), reported, and the bank is held at ℓ:

    Σ (S + x + R - E + shortfall) = ΔB      (exact)
"""

from __future__ import annotations

import numpy as np
from numba import njit

from riskmodel.banking import msr


@njit(cache=True)
def bank_step(
    bank: float, supply: float, imports: float, reserve: float, emissions: float, bound: float
) -> tuple[float, float]:
    """Next year's bank and the year's non-compliance (tonnes short of the bound, >= 0)."""
    raw = bank + supply + imports + reserve - emissions
    if raw < bound:
        return bound, bound - raw
    return raw, 0.0


@njit(cache=True)
def run_ledger(
    bank0: float,
    supply: np.ndarray,
    imports: np.ndarray,
    reserve: np.ndarray,
    emissions: np.ndarray,
    bound: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Banks at the start of each year (len Y+1) and non-compliance per year (len Y)."""
    ny = supply.shape[0]
    banks = np.empty(ny + 1)
    short = np.empty(ny)
    banks[0] = bank0
    for y in range(ny):
        banks[y + 1], short[y] = bank_step(
            banks[y], supply[y], imports[y], reserve[y], emissions[y], bound[y]
        )
    return banks, short


@njit(cache=True)
def run_eu_ledger(
    first_year: int,
    tnac0: float,
    tnac_before: float,
    holdings0: float,
    prev_auction0: float,
    supply: np.ndarray,
    auctions: np.ndarray,
    imports: np.ndarray,
    reserve: np.ndarray,
    emissions: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The EU bank as the TNAC that the MSR reads, year by year from ``first_year``.

    ``tnac0`` is the TNAC at the end of ``first_year - 1`` (published), ``tnac_before`` the one a
    year earlier (its intake still runs Jan-Aug of ``first_year``). ``supply`` is the cap put in
    circulation before the MSR; ``auctions`` the planned auction volumes (for the 2023 threshold).
    Returns TNAC (len Y+1), holdings (len Y+1), intake, release and invalidation per year.
    The bank is not floored: the EU has no borrowing and a TNAC below zero would flag an
    infeasible path, which callers check.
    """
    ny = supply.shape[0]
    tnac = np.empty(ny + 1)
    hold = np.empty(ny + 1)
    fin = np.empty(ny)
    frel = np.empty(ny)
    finv = np.empty(ny)
    tnac[0] = tnac0
    hold[0] = holdings0
    t_prev2 = tnac_before
    prev_auction = prev_auction0
    for y in range(ny):
        i_in, rel, inv, h = msr.msr_year(first_year + y, tnac[y], t_prev2, hold[y], prev_auction)
        fin[y], frel[y], finv[y] = i_in, rel, inv
        hold[y + 1] = h
        tnac[y + 1] = tnac[y] + supply[y] - i_in + rel + imports[y] + reserve[y] - emissions[y]
        t_prev2 = tnac[y]
        prev_auction = auctions[y] - i_in + rel
    return tnac, hold, fin, frel, finv
