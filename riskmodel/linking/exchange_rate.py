"""Exchange (discount) rates between permits: the closed-form two-market case.

One permit of market j covers ``tau = s_j / s_i`` tonnes in market i (``M_S`` holds the conversion
factors s; :func:`riskmodel.linking.topology.compile_topology` derives them from the links'
exchange rates). While trading, ``q_j = tau q_i`` (in a common currency), clearing is
``s_i x_i + s_j x_j = 0``, and total emissions change by ``(tau - 1)`` times the flow of
j's permits.
"""

from __future__ import annotations

from riskmodel.linking.quota import TwoMarket, _gains


def two_market_exchange(p1: float, p2: float, c1: float, c2: float, tau: float) -> TwoMarket:
    """Two linear markets where one permit of market 2 covers ``tau`` tonnes in market 1."""
    q1 = (c1 * p1 + tau * c2 * p2) / (c1 + tau * tau * c2)
    q2 = tau * q1
    x1 = c1 * (p1 - q1)
    x2 = c2 * (p2 - q2)
    g1, g2 = _gains(p1, p2, c1, c2, q1, q2)
    return TwoMarket(q1, q2, x1, x2, g1, g2, 0.0, 0.0)
