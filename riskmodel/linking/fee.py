"""Fees (border taxes) per permit transferred: the closed-form two-market case.

In the solver a market's fees are ``M_FEE_IMP`` / ``M_FEE_EXP`` (own currency per own permit, on its
net position) and a link's are ``L_FEE_AB`` / ``L_FEE_BA`` (numeraire per common unit). While
permits flow, the importer's price exceeds the exporter's by exactly the fee; inside the band
``|p_1 - p_2| <= fee`` nothing moves and both markets keep their autarky prices.
"""

from __future__ import annotations

from riskmodel.linking.quota import TwoMarket, _gains


def two_market_fee(p1: float, p2: float, c1: float, c2: float, fee: float) -> TwoMarket:
    """Two linear markets (autarky prices p, slopes c) linked with a fee per permit moved."""
    if abs(p1 - p2) <= fee:
        return TwoMarket(p1, p2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    sgn = 1.0 if p1 > p2 else -1.0  # +1: market 1 imports
    # c1 (p1 - q1) + c2 (p2 - q2) = 0 with q1 - q2 = sgn * fee
    q2 = (c1 * p1 + c2 * p2 - c1 * sgn * fee) / (c1 + c2)
    q1 = q2 + sgn * fee
    x1 = c1 * (p1 - q1)
    g1, g2 = _gains(p1, p2, c1, c2, q1, q2)
    return TwoMarket(q1, q2, x1, -x1, g1, g2, 0.0, 0.0)
