"""One unit per report: the scale of money (million / billion / trillion of the reporting
currency) chosen once from the expected cost, and the unit of every risk-table measure.

The cost model works in millions of the reporting currency (Mt × currency per tonne); a report
divides every money figure by one scale, in its tables, charts (no axis multipliers) and CSV
(with a unit column), so the numbers a reader compares are in the same unit everywhere.
"""

from __future__ import annotations

import re

import numpy as np

#: Scales of money, in millions of the currency: (threshold, divisor, name).
SCALES = ((1e6, 1e6, "trillion"), (1e4, 1e3, "billion"), (0.0, 1.0, "million"))

_MONEY = re.compile(r"^(mean|sd|var95|var99|es975|car95)(_unhedged|_expected_hedged|_mv_hedged)?$")
_QUANTITY = re.compile(r"(_mt$|^emissions_|^gross_emissions_|^abatement_|^bought_)")
_SHARE = re.compile(r"(^p_|_share|_ratio|_reduction|_per_)")
#: Variance measures (the Shapley decomposition), in the money unit squared.
VARIANCES = frozenset({"var_total", "var_price", "var_volume", "var_events"})


def money_scale(typical: float, currency: str) -> tuple[float, str]:
    """(divisor of millions, unit name) for a report whose typical cost is ``typical`` million."""
    t = abs(float(typical)) if np.isfinite(typical) else 0.0
    for lim, div, name in SCALES:
        if t >= lim:
            return div, f"{name} {currency}"
    return 1.0, f"million {currency}"


def is_money(measure: str) -> bool:
    """True for a measure in money (scaled by the report's unit)."""
    return bool(_MONEY.match(measure))


def unit_of(measure: str, currency: str, money_unit: str = "", market_currency: str = "") -> str:
    """Unit of a risk-table measure: money in ``money_unit`` (default ``million <currency>``)."""
    money_unit = money_unit or f"million {currency}"
    if measure.startswith("price_"):
        return f"{market_currency or currency}/t"
    if measure in VARIANCES:
        return f"({money_unit})²"
    if is_money(measure):
        return money_unit
    if _SHARE.search(measure):
        return "share"
    if _QUANTITY.search(measure):
        return "Mt CO2e"
    return ""


def scale_value(measure: str, value: float, divisor: float) -> float:
    """A risk-table value in the report's unit."""
    if is_money(measure):
        return value / divisor
    if measure in VARIANCES:
        return value / divisor**2
    return value
