"""The engine's daily guard of a calibration, tied to the market's own largest move.

The engine clips a simulated day's residual to [-R, R] percent log return (``max_daily_return``,
default 25). That is a safety net, not a tail model: it should bind on fewer than 1 in 10,000
simulated market-days (issue 11). In markets whose own cleaned data move more than 25% in a day
(several Chinese pilots: Shenzhen on 13% of days, its largest move 196%), a 25% guard clips
moves the market has actually made, so the fitted tail law never shows in the simulation. The
calibration therefore carries its own guard:

    R = max(25, MARGIN x the largest |daily log return| of the series the fit saw,
            SD_MULTIPLE x the root mean square of its daily log returns)

recorded with its source (the day, the move, the margin, the daily volatility). ``MARGIN`` =
1.25: room for a move a quarter larger than any observed, so the guard binds only beyond the
evidence. The series is the causally cleaned one (``riskmodel.data.cleaning``), so the guard at a
validation origin uses no later data. A scenario's explicit ``markets[].max_daily_return`` still
wins (resolver).

The volatility term: the 25% floor sits 8-25 daily sds out for a market whose days move 1-3%,
but only 3.5 out for Fujian, whose cleaned returns move 7.1% a day (root mean square; 112%
a year): its fitted law crossed 25% on 1.2e-3 of simulated days, the body of the law, not its
extreme. ``SD_MULTIPLE`` = 6 keeps the guard at least six of the market's own daily sds out (a
normal day crosses that with probability 2e-9; what still binds comes from the variance
process's excursions). It is read from the data, as the largest move is, not from the fitted
model: every candidate at an origin gets the same guard, and a fit whose variance nearly
explodes (an MS-GARCH regime with persistence near 1) cannot widen its own safety net. It raises
no committed calibration's guard but Fujian's (``benchmarks/results/vol_level_guard.md``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.fit.calibration_schema import MAX_GUARD

#: The engine's default guard (percent log return a day) and the floor of a calibration's guard.
DEFAULT_GUARD = 25.0
#: The guard is this many times the largest observed daily move (when that exceeds the default).
MARGIN = 1.25
#: ... and at least this many of the series' daily standard deviations (root mean square).
SD_MULTIPLE = 6.0


def evidence_guard(returns: pd.Series | np.ndarray | None) -> dict[str, Any] | None:
    """The guard block of a calibration fitted on ``returns`` (percent log returns), or None
    without data."""
    if returns is None:
        return None
    r = pd.Series(returns).astype(float).dropna()
    if r.empty:
        return None
    a = r.abs()
    pos = int(np.argmax(a.to_numpy()))
    largest = float(a.iloc[pos])
    when = r.index[pos]
    day = when.date().isoformat() if isinstance(when, pd.Timestamp) else str(when)
    sd = float(np.sqrt(np.mean(np.square(r.to_numpy()))))
    by_move = math.ceil(MARGIN * largest * 10.0) / 10.0
    by_sd = math.ceil(SD_MULTIPLE * sd * 10.0) / 10.0
    value = max(DEFAULT_GUARD, by_move, by_sd)
    move = f"the largest |daily log return| of the fitted series ({largest:.2f}% on {day})"
    vol = f"its daily volatility ({sd:.2f}%, root mean square)"
    if value > MAX_GUARD:  # no calibration may carry more (calibration_schema.MAX_GUARD)
        value = MAX_GUARD
        rule = (f"{MAX_GUARD:g}%, the largest guard a calibration may carry: "
                + (f"{MARGIN:g} x {move}" if by_move >= by_sd else f"{SD_MULTIPLE:g} x {vol}")
                + " is more")
    elif value == DEFAULT_GUARD:
        rule = (f"the default {DEFAULT_GUARD:g}%: {MARGIN:g} x {move} and {SD_MULTIPLE:g} x "
                f"{vol} stay below it")
    elif by_move >= by_sd:
        rule = f"{MARGIN:g} x {move}, rounded up to 0.1"
    else:
        rule = (f"{SD_MULTIPLE:g} x {vol}, rounded up to 0.1: more than {DEFAULT_GUARD:g}% and "
                f"than {MARGIN:g} x {move}")
    return {
        "max_daily_return": float(value),
        "unit": "% log return a day",
        "largest_move_pct": largest,
        "largest_move_date": day,
        "share_days_above_default": float((a > DEFAULT_GUARD).mean()),
        "margin": MARGIN,
        "daily_sd_pct": sd,
        "sd_multiple": SD_MULTIPLE,
        "rule": rule,
    }


def guard_of(calibration: dict[str, Any] | None) -> float:
    """The guard a calibration dict carries (``guard.max_daily_return``), else the default."""
    g = (calibration or {}).get("guard") or {}
    v = g.get("max_daily_return")
    return float(v) if v is not None and float(v) > 0 else DEFAULT_GUARD
