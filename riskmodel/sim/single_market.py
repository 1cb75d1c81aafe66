"""Paths of one market's fitted price process, simulated by the engine itself.

Used to judge a calibration at horizons of days to a year (``riskmodel.fit.validation``): the
forecast distribution must be what the engine simulates for that calibration (its innovation
tables, guard, martingale compensator and every later addition to the price recursion), not a
second simulator. So :func:`simulate_log_prices` builds a one-market autarky scenario around the
calibration (a synthetic market with an inline process, no collar, no output uncertainty, the
observed supply rule unchanged) and runs the engine's kernel on it. With that design the bridge
of MODEL.md §3 is the identity (``p' = p_obs``, checked in the tests to rounding), so the
autarky price the engine records is the fitted price process.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from riskmodel.sim import layout as L
from riskmodel.sim.scenario import CURRENCIES, DEFAULT_GUARD, Scenario, scenario_from_dict

#: ``max_daily_return`` value meaning: the calibration's own guard (``guard.max_daily_return``,
#: riskmodel.fit.guard), else DEFAULT_GUARD -- what a scenario that does not set it gets.
FROM_CALIBRATION = "calibration"
GuardArg = float | str | None


def resolve_guard(calibration: dict[str, Any], max_daily_return: GuardArg) -> float | None:
    """The guard a run uses: a number as given, None (off), or the calibration's own."""
    if max_daily_return == FROM_CALIBRATION:
        from riskmodel.sim.resolve import calibration_guard

        g = calibration_guard(calibration)
        return DEFAULT_GUARD if g is None else g
    return None if max_daily_return is None else float(max_daily_return)


def single_market_scenario(
    calibration: dict[str, Any],
    n_days: int,
    n_paths: int,
    seed: int,
    *,
    price_drift: str = "martingale",
    max_daily_return: GuardArg = FROM_CALIBRATION,
    vol_level_sd: float = 0.0,
    vol_level_persistence: float | None = None,
) -> Scenario:
    """A one-market autarky scenario simulating ``calibration`` (Contract-2 dict) for
    ``n_days`` trading days from its end state (``state.last_price``, last variance, regime
    probabilities)."""
    max_daily_return = resolve_guard(calibration, max_daily_return)
    model = calibration.get("model") or {}
    state = dict(calibration.get("state") or {})
    last = state.pop("last_price", None) or 1.0
    cur = calibration.get("currency") or "EUR"
    cur = cur if cur in CURRENCIES else "EUR"
    process = {
        "family": model.get("family", "garch"),
        "mean": model.get("mean", "constant"),
        "dist": model.get("dist", "normal"),
        "k_regimes": int(model.get("k_regimes", 1) or 1),
        "params": {k: float(v) for k, v in (calibration.get("params") or {}).items()},
        "last_price": float(last),
        "state": {k: v for k, v in state.items() if not isinstance(v, str)},
        "thin_trading": calibration.get("thin_trading"),
        "price_limit": calibration.get("price_limit"),
    }
    market = {
        "id": "m",
        "synthetic": True,
        "currency": cur,
        "bau_emissions": 1.0,
        "output_growth": 0.0,
        "output_vol": 0.0,
        "process": process,
        "max_daily_return": max_daily_return,
        # a calibration carrying a price-limit block is simulated with it (the validation
        # removes the block unless asked: ValidationConfig.price_limits)
        "price_limit": "calibration" if calibration.get("price_limit") else None,
    }
    return scenario_from_dict({
        "name": "single_market",
        "markets": [market],
        # one market: the copula does not change its law; the Gaussian one keeps the engine's
        # innovation table on x in [-9, 9] (a t copula's asinh grid reaches probabilities near
        # 1e-250, where scipy's t quantile is inf or nan for nu near 2 and the martingale
        # compensator table then turns NaN)
        "dependence": {"copula": "gaussian"},
        "horizon": {"years": 1, "days_per_year": int(n_days)},
        "simulation": {
            "paths": int(n_paths),
            "paths_per_chunk": int(n_paths),
            "keep_paths": int(n_paths),
            "seed": int(seed),
            "numeraire": cur,
            "price_drift": price_drift,
            "vol_level_sd": float(vol_level_sd),
            **({} if vol_level_persistence is None
               else {"vol_level_persistence": float(vol_level_persistence)}),
            "variants": ["autarky"],
        },
    })


def simulate_log_prices(
    calibration: dict[str, Any],
    n_days: int,
    n_paths: int,
    seed: int,
    *,
    price_drift: str = "martingale",
    max_daily_return: GuardArg = FROM_CALIBRATION,
) -> np.ndarray:
    """Log prices ``(n_paths, n_days + 1)`` simulated by the engine from the calibration's end
    state; column 0 is ``log(state.last_price)``. Same seed, same paths."""
    return simulate_single_market(calibration, n_days, n_paths, seed, price_drift=price_drift,
                                  max_daily_return=max_daily_return)[0]


def simulate_single_market(
    calibration: dict[str, Any],
    n_days: int,
    n_paths: int,
    seed: int,
    *,
    price_drift: str = "martingale",
    max_daily_return: GuardArg = FROM_CALIBRATION,
    vol_level_sd: float = 0.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`simulate_log_prices` plus the engine's facts: the share of market-days on which
    the guard acted (``clipped_share``) and its notes."""
    if n_days < 1 or n_days > 366 or n_paths < 1 or n_paths > 10_000:
        raise ValueError("n_days must be in 1..366 and n_paths in 1..10000")
    from riskmodel.sim.engine import simulate_chunk
    from riskmodel.sim.resolve import resolve

    max_daily_return = resolve_guard(calibration, max_daily_return)
    scn = single_market_scenario(calibration, n_days, n_paths, seed, price_drift=price_drift,
                                 max_daily_return=max_daily_return, vol_level_sd=vol_level_sd)
    rs = resolve(scn)
    part = simulate_chunk(scn, 0, resolved=rs)
    prices = part.keep_price[0, :, 0, :]  # autarky variant, the one market
    out = np.empty((n_paths, n_days + 1))
    out[:, 0] = rs.mp[0, L.LOGP0]
    with np.errstate(divide="ignore"):
        out[:, 1:] = np.log(prices)
    meta = {"clipped_share": part.meta["clipped_days"] / float(n_paths * n_days),
            "notes": list(rs.notes), "guard": max_daily_return,
            "price_drift": price_drift}
    if not math.isfinite(float(out[:, 1:].min(initial=0.0))):
        meta["notes"].append("some simulated prices reached 0")
    return out, meta
