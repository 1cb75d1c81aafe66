"""Quotas on net imports or exports (Quemin & de Perthuis 2019): the closed-form two-market case.

In the solver a market's quota is ``M_IMP_CAP`` / ``M_EXP_CAP`` (Mt of its permits; a share of its
obligation is converted to Mt by the engine) and a link's quota is ``L_CAP_AB`` / ``L_CAP_BA``. When
a quota binds, prices do not equalise: the importer's price exceeds the exporter's by the quota's
shadow price, and that gap times the flow is the quota rent. The reference below is used by the
tests; it is the exact solution for two linear markets without collars.
"""

from __future__ import annotations

from typing import NamedTuple


class TwoMarket(NamedTuple):
    """Prices, net imports (+ imports) and gains of two linked markets, and the gap's split."""

    q1: float
    q2: float
    x1: float
    x2: float
    gain1: float
    gain2: float
    shadow: float  # price gap beyond any fee sustained by a binding quota (>= 0)
    rent: float  # shadow x traded volume


def _gains(p1: float, p2: float, c1: float, c2: float, q1: float, q2: float) -> tuple[float, float]:
    return 0.5 * c1 * (p1 - q1) ** 2, 0.5 * c2 * (p2 - q2) ** 2


def two_market_quota(p1: float, p2: float, c1: float, c2: float, quota: float) -> TwoMarket:
    """Two linear markets (autarky prices p, slopes c) whose net flow is capped at ``quota`` Mt."""
    pl = (c1 * p1 + c2 * p2) / (c1 + c2)
    x1 = c1 * (p1 - pl)
    if abs(x1) <= quota:
        g1, g2 = _gains(p1, p2, c1, c2, pl, pl)
        return TwoMarket(pl, pl, x1, -x1, g1, g2, 0.0, 0.0)
    x1 = quota if x1 > 0 else -quota
    q1 = p1 - x1 / c1
    q2 = p2 + x1 / c2
    g1, g2 = _gains(p1, p2, c1, c2, q1, q2)
    shadow = abs(q1 - q2)
    return TwoMarket(q1, q2, x1, -x1, g1, g2, shadow, shadow * quota)
