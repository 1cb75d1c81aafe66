"""EU Market Stability Reserve from the rules, in allowances (not millions).

Rules (Decision (EU) 2015/1814 as amended by Directive (EU) 2018/410 and Decision (EU) 2023/852;
seed ``icap-compare-ets-eu-korea.txt`` lines 153-160):

- The Commission publishes the TNAC of year y by 1 June of y+1. The intake it implies is placed in
  the reserve "over a period of 12 months" from 1 September y+1 to 31 August y+2 (Art. 1(5) of the
  Decision). A calendar year Y therefore takes 4/12 of the intake set by TNAC_{Y-1} and 8/12 of the
  intake set by TNAC_{Y-2}: the *intake lag*. The Commission's own example: TNAC 2022 =
  1,134,794,738 -> 272,350,737 allowances withheld from September 2023 to August 2024.
- Intake: 24 % of the TNAC when TNAC > 1,096 M; TNAC - 833 M when 833 M < TNAC <= 1,096 M
  (the 2023 band; it leaves a 40,000-allowance step at 1,096 M: 263.04 M against 263 M);
  nothing below.
- Release: 100 M (or what the reserve holds) when TNAC < 400 M, on the same Sept-Aug schedule
  (an assumption: the Decision states the release per year; we give it the intake's timing).
- Invalidation: from 2023, holdings above a threshold are invalidated on 1 January; the 2023
  threshold was the 2022 auction volume (486 M -> 2,515 M invalidated), 400 M from 2024 on.

Scalar rules are numba functions (they run per path-year in the engine); ``msr_year`` is one
calendar year of the ledger.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Intake rate above the upper threshold (share of TNAC).
INTAKE_RATE = 0.24
#: Upper and lower intake thresholds (allowances).
UPPER = 1_096_000_000.0
LOWER = 833_000_000.0
#: Release threshold and amount (allowances).
RELEASE_THRESHOLD = 400_000_000.0
RELEASE_AMOUNT = 100_000_000.0
#: Invalidation threshold from 2024 on (allowances); 2023 used the 2022 auction volume.
INVALIDATION_THRESHOLD = 400_000_000.0
FIRST_INVALIDATION_YEAR = 2023
#: Share of an intake set by TNAC_y that falls in calendar year y+1 (Sept-Dec = 4 of 12 months).
LAG_SHARE_FIRST = 4.0 / 12.0


@njit(cache=True)
def intake(
    tnac: float, rate: float = INTAKE_RATE, upper: float = UPPER, lower: float = LOWER
) -> float:
    """Allowances placed in the reserve over the 12 months that follow a TNAC publication."""
    if tnac > upper:
        return rate * tnac
    if tnac > lower:
        return tnac - lower
    return 0.0


def intake_allowances(tnac: int) -> int:
    """Intake in whole allowances as the Commission publishes it (rounded down)."""
    return math.floor(intake(float(tnac)))


@njit(cache=True)
def release(
    tnac: float,
    holdings: float,
    threshold: float = RELEASE_THRESHOLD,
    amount: float = RELEASE_AMOUNT,
) -> float:
    """Allowances released from the reserve when the TNAC is below the release threshold."""
    if tnac < threshold:
        return min(amount, max(holdings, 0.0))
    return 0.0


@njit(cache=True)
def invalidation_threshold(year: int, prev_auction_volume: float) -> float:
    """Holdings above this are invalidated on 1 January of ``year`` (inf before 2023)."""
    if year < FIRST_INVALIDATION_YEAR:
        return np.inf
    if year == FIRST_INVALIDATION_YEAR:
        return prev_auction_volume
    return INVALIDATION_THRESHOLD


@njit(cache=True)
def invalidation(year: int, holdings: float, prev_auction_volume: float) -> float:
    """Allowances invalidated on 1 January of ``year``."""
    th = invalidation_threshold(year, prev_auction_volume)
    return max(holdings - th, 0.0)


@njit(cache=True)
def msr_year(
    year: int, tnac_prev: float, tnac_prev2: float, holdings: float, prev_auction_volume: float
) -> tuple[float, float, float, float]:
    """One calendar year of the reserve: (intake, release, invalidated, holdings at year end).

    ``tnac_prev``/``tnac_prev2``: the TNAC published for years ``year-1`` and ``year-2`` (their
    intakes fall 4/12 and 8/12 in ``year``). Order: invalidation on 1 January, then the
    year's scheduled intake and release. The caller takes ``intake - release`` off auctions.
    """
    inv = invalidation(year, holdings, prev_auction_volume)
    h = holdings - inv
    i_in = LAG_SHARE_FIRST * intake(tnac_prev) + (1.0 - LAG_SHARE_FIRST) * intake(tnac_prev2)
    want = LAG_SHARE_FIRST * release(tnac_prev, h) + (1.0 - LAG_SHARE_FIRST) * release(
        tnac_prev2, h
    )
    rel = min(want, h + i_in)
    return i_in, rel, inv, h + i_in - rel
