"""The EU bank as the TNAC the MSR reads, on a deterministic path under the rolling price map.

Year y (calendar): the bank at its start is TNAC_{y-1}. The reserve's operations of year y are
set by the published TNAC_{y-1} and TNAC_{y-2} (``msr.msr_year``: 4/12 and 8/12 of their
intakes); they are announced, so they enter expected supply, together with next year's 8/12
share of the intake set by TNAC_{y-1}. Later intakes are not anticipated (naive firms, design
note §5.6). The price is Φ over min(H, years left), emissions E = U - c p, and

    TNAC_y = TNAC_{y-1} + S_y - intake_y + release_y - E_y.

Every allowance is accounted for: TNAC + holdings + invalidated + cumulative emissions
= TNAC_0 + holdings_0 + cumulative supply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskmodel.banking import msr
from riskmodel.banking.hotelling import price_map


@dataclass
class EuPath:
    """One deterministic path, year by year (allowances, currency per tonne)."""

    price: np.ndarray
    tnac: np.ndarray  # len Y+1: TNAC at the end of the year before the first, then each year
    holdings: np.ndarray  # len Y+1
    intake: np.ndarray
    release: np.ndarray
    invalidated: np.ndarray
    emissions: np.ndarray


def eu_rolling(
    first_year: int,
    supply: np.ndarray,
    bau: np.ndarray,
    c: float,
    r: float,
    horizon: int,
    tnac0: float,
    tnac_before: float,
    holdings0: float,
    auction_prev0: float,
    auction_share: float = 0.57,
    msr_on: bool = True,
) -> EuPath:
    """Deterministic EU path; ``supply``/``bau`` per year (allowances, also beyond the last
    simulated year if the window should see them: the path runs len(supply) years).

    ``auction_share``: auctioned share of supply, for the 2023 invalidation threshold (the
    previous year's auction volume after the reserve's operations).
    """
    ny = len(supply)
    out = EuPath(
        *(np.zeros(ny) for _ in range(1)),
        tnac=np.zeros(ny + 1),
        holdings=np.zeros(ny + 1),
        intake=np.zeros(ny),
        release=np.zeros(ny),
        invalidated=np.zeros(ny),
        emissions=np.zeros(ny),
    )
    out.tnac[0], out.holdings[0] = tnac0, holdings0
    t_prev2, prev_auction = tnac_before, auction_prev0
    for y in range(ny):
        t_prev = out.tnac[y]
        if msr_on:
            i_in, rel, inv, h = msr.msr_year(
                first_year + y, t_prev, t_prev2, out.holdings[y], prev_auction
            )
            nxt = (1.0 - msr.LAG_SHARE_FIRST) * msr.intake(t_prev)  # announced for y+1
        else:
            i_in, rel, inv, h, nxt = 0.0, 0.0, 0.0, out.holdings[y], 0.0
        m1 = min(horizon, ny - y)
        n = bau[y : y + m1] - supply[y : y + m1]
        n[0] += i_in - rel
        if m1 > 1:
            n[1] += nxt
        out.price[y], _ = price_map(t_prev, np.ascontiguousarray(n), np.zeros(m1), c, r)
        out.emissions[y] = bau[y] - c * out.price[y]
        out.intake[y], out.release[y], out.invalidated[y] = i_in, rel, inv
        out.holdings[y + 1] = h
        out.tnac[y + 1] = t_prev + supply[y] - i_in + rel - out.emissions[y]
        t_prev2 = t_prev
        prev_auction = auction_share * supply[y] - i_in + rel
    return out
