"""Daily price limits, detected from a market's own returns.

Several exchanges cap a day's price move at a fixed share of the previous close: the Korea
Exchange's allowance market and most Chinese carbon exchanges at +-10%, Beijing at +-20%
(docs/PRICE_LIMITS.md). A limit leaves a plain mark in the data: a pile of days whose simple
return sits just inside +-L (the price rounded to the tick), few days beyond it, and days after
a limit day that keep moving the same way (the price catches up over several days). A model
fitted and simulated without the limit puts moves of 15-25% on days the market cannot make them,
so its one-day VaR and its realised volatility over a year are wrong in exactly these markets.

:func:`detect_limit` reads the limit from the series a fit sees (percent log returns, the
cleaned series: nothing after the fit's sample), so a calibration at a validation origin carries
the limit known at that origin. The engine simulates it (``riskmodel.sim.price_limit``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: Limits looked for (simple return a day, share of the previous price).
CANDIDATES = (0.10, 0.20, 0.30)
#: A limit day: the simple return within [L - BAND, L + TICK] of +L (or the mirror for -L): the
#: price is rounded to the tick below the limit price, and a reference price (the previous
#: close, or a day's average) may differ from the series' price by a little.
BAND, TICK = 0.006, 0.002
#: Evidence required: at least MIN_SHARE of days (and MIN_DAYS days) at the limit, at least
#: PILE_RATIO times as many as in the band of the same width just inside it, that excess
#: significant (one-sided binomial test of at vs inside, p < PILE_P: a smooth tail puts no more
#: days at the limit than just inside it), and at most MAX_BEYOND_RATIO times as many days
#: beyond the limit as at it.
MIN_SHARE, MIN_DAYS, PILE_RATIO, PILE_P, MAX_BEYOND_RATIO = 0.005, 3, 3.0, 1e-3, 0.5
#: The rule in force is read from the last RECENT_DAYS calendar days first (rules change:
#: Chongqing's moved from 20% to 10%), when they hold at least RECENT_MIN returns.
RECENT_DAYS, RECENT_MIN = 730, 200


def _stats(simple: np.ndarray, limit: float) -> dict[str, float]:
    """Shares of days at, just inside, and beyond the limit ``limit``."""
    up = (simple > limit - BAND) & (simple <= limit + TICK)
    down = (simple < -limit + BAND) & (simple >= -limit - TICK)
    inside = (np.abs(simple) > limit - 2 * BAND) & (np.abs(simple) <= limit - BAND)
    beyond = np.abs(simple) > limit + TICK
    return {
        "at": float((up | down).mean()),
        "at_days": int((up | down).sum()),
        "inside_days": int(inside.sum()),
        "up": float(up.mean()),
        "down": float(down.mean()),
        "inside": float(inside.mean()),
        "beyond": float(beyond.mean()),
    }


def _first_limit(simple: np.ndarray) -> tuple[float, dict[str, float]] | None:
    """The smallest candidate limit the returns show, with its statistics."""
    from scipy.stats import binomtest

    for limit in CANDIDATES:
        s = _stats(simple, limit)
        if (
            s["at"] >= MIN_SHARE
            and s["at_days"] >= MIN_DAYS
            and s["at"] >= PILE_RATIO * s["inside"]
            and s["beyond"] <= MAX_BEYOND_RATIO * s["at"]
        ):
            n = s["at_days"] + s["inside_days"]
            s["pile_p"] = float(binomtest(s["at_days"], n, 0.5, alternative="greater").pvalue)
            if s["pile_p"] < PILE_P:
                return limit, s
    return None


def _continuation(simple: np.ndarray, limit: float) -> dict[str, float | None]:
    """After a limit day: the share of next days at the limit again, the same way, and the mean
    next-day log return (percent) in the limit's direction (positive: the price catches up)."""
    up = (simple > limit - BAND) & (simple <= limit + TICK)
    down = (simple < -limit + BAND) & (simple >= -limit - TICK)
    hit = (up | down)[:-1]
    if not hit.any():
        return {"next_same_limit_share": None, "next_mean_pct": None}
    sign = np.where(up, 1.0, -1.0)[:-1][hit]
    nxt = np.log1p(simple[1:][hit]) * 100.0
    again = np.where(sign > 0, up[1:][hit], down[1:][hit])
    return {"next_same_limit_share": float(again.mean()),
            "next_mean_pct": float(np.mean(sign * nxt))}


def detect_limit(returns: pd.Series | np.ndarray | None) -> dict[str, Any] | None:
    """The price-limit block of a calibration fitted on ``returns`` (percent log returns, dated
    when a Series), or None when the series shows no limit. The recent window decides when it
    shows one (the rule in force); otherwise the whole sample, unless the recent window has
    more moves beyond that limit than a limit allows."""
    if returns is None:
        return None
    r = pd.Series(returns).astype(float).dropna()
    r = r[r != 0.0]  # no-trade days carry no evidence either way
    if len(r) < RECENT_MIN // 2:
        return None
    simple = np.expm1(r.to_numpy() / 100.0)
    recent = simple
    window = "whole sample"
    if isinstance(r.index, pd.DatetimeIndex):
        mask = r.index >= r.index[-1] - pd.Timedelta(days=RECENT_DAYS)
        if mask.sum() >= RECENT_MIN:
            recent = simple[mask]
    found = _first_limit(recent) if recent is not simple else None
    if found is not None:
        window = f"last {RECENT_DAYS} days"
        data = recent
    else:
        found = _first_limit(simple)
        data = simple
        if found is not None and recent is not simple:
            rs = _stats(recent, found[0])
            if rs["beyond"] > max(MAX_BEYOND_RATIO * rs["at"], MIN_SHARE * 2):
                return None  # the recent window contradicts the older rule
    if found is None:
        return None
    limit, s = found
    cont = _continuation(data, limit)
    return {
        "limit": limit,
        "unit": "share of the previous price a day",
        "up_pct": 100.0 * math.log1p(limit),
        "down_pct": 100.0 * math.log1p(-limit),
        "share_at_limit": s["at"],
        "share_inside_band": s["inside"],
        "share_beyond": s["beyond"],
        "pile_p": s["pile_p"],
        "next_same_limit_share": cont["next_same_limit_share"],
        "next_mean_pct": cont["next_mean_pct"],
        "window": window,
        "n_days": int(len(data)),
        "carry_over": True,
        "rule": (
            f"+-{limit:.0%} a day: {s['at']:.1%} of traded days end within {BAND:.1%} of the "
            f"limit against {s['inside']:.1%} in the band inside it and {s['beyond']:.1%} "
            f"beyond ({window}, {len(data)} traded days); simulated with carry-over "
            "(docs/PRICE_LIMITS.md)"
        ),
    }
