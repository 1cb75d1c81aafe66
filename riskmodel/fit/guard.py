"""The engine's daily guard of a calibration, tied to the market's own largest move.

The engine clips a simulated day's residual to [-R, R] percent log return (``max_daily_return``,
default 25). That is a safety net, not a tail model: it should bind on fewer than 1 in 10,000
simulated market-days (issue 11). In markets whose own cleaned data move more than 25% in a day
(several Chinese pilots: Shenzhen on 13% of days, its largest move 196%), a 25% guard clips
moves the market has actually made, so the fitted tail law never shows in the simulation. The
calibration therefore carries its own guard:

    R = max(25, MARGIN x the largest |daily log return| of the series the fit saw)

recorded with its source (the day, the move, the margin). ``MARGIN`` = 1.25: room for a move a
quarter larger than any observed, so the guard binds only beyond the evidence. The series is the
causally cleaned one (``riskmodel.data.cleaning``), so the guard at a validation origin uses no
later data. A scenario's explicit ``markets[].max_daily_return`` still wins (resolver).
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
    value = max(DEFAULT_GUARD, math.ceil(MARGIN * largest * 10.0) / 10.0)
    if value > MAX_GUARD:  # no calibration may carry more (calibration_schema.MAX_GUARD)
        value = MAX_GUARD
        rule = (
            f"{MAX_GUARD:g}%, the largest guard a calibration may carry: {MARGIN:g} x the "
            f"largest |daily log return| of the fitted series ({largest:.2f}% on {day}) is more"
        )
    elif value > DEFAULT_GUARD:
        rule = (
            f"{MARGIN:g} x the largest |daily log return| of the fitted series "
            f"({largest:.2f}% on {day}), rounded up to 0.1"
        )
    else:
        rule = (
            f"the default {DEFAULT_GUARD:g}%: the fitted series' largest |daily log return| "
            f"({largest:.2f}% on {day}) times {MARGIN:g} stays below it"
        )
    return {
        "max_daily_return": float(value),
        "unit": "% log return a day",
        "largest_move_pct": largest,
        "largest_move_date": day,
        "share_days_above_default": float((a > DEFAULT_GUARD).mean()),
        "margin": MARGIN,
        "rule": rule,
    }


def guard_of(calibration: dict[str, Any] | None) -> float:
    """The guard a calibration dict carries (``guard.max_daily_return``), else the default."""
    g = (calibration or {}).get("guard") or {}
    v = g.get("max_daily_return")
    return float(v) if v is not None and float(v) > 0 else DEFAULT_GUARD
