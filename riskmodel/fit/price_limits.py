"""The ``price_limit`` block of a calibration: the detected limit and the latent scale.

A fit detects the limit itself (``Calibration.from_fit``: riskmodel.data.price_limits).
The fitted process is then the process of the *observed* returns, which the limit censored: a
day that closed at +10% may have wanted +18%. Simulated as the latent price and censored again,
it would trade less than the market did. :func:`attach` therefore scales the latent process's
conditional variances by ``latent_variance_scale`` (lambda), chosen so that the engine's traded
daily returns under the limit have the mean square the fitted process has without it (one-year
runs from the fit's end state, common random numbers, bisection on log lambda): the fitted
variance level is kept for what was observed (traded returns), the limit reshapes the days
(capped moves, runs of limit days, catch-up). The share of limit days the engine then simulates
is recorded beside the data's as a check the scale was not chosen on (docs/PRICE_LIMITS.md).

``python -m riskmodel.fit.price_limits`` writes the block into the committed calibrations from
the returns of each one's own fitted sample (``sample.start`` .. ``sample.end``) without
refitting. Proxies carry none: a limit is the rule of the exchange whose prices were fitted.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskmodel import config
from riskmodel.data.price_limits import detect_limit
from riskmodel.io import atomic_write_json


def sample_limit(returns: pd.Series, sample: dict[str, Any]) -> dict[str, Any] | None:
    """The limit the returns of a calibration's fitted sample show (None: none)."""
    r = returns.loc[str(sample["start"]) : str(sample["end"])]
    return detect_limit(r)


#: One-year runs of ATTACH_PATHS paths (seed ATTACH_SEED) per evaluation; bisection on log
#: lambda in [1/LAMBDA_MAX, LAMBDA_MAX] to a relative tolerance of LAMBDA_TOL in lambda.
ATTACH_PATHS, ATTACH_SEED, ATTACH_DAYS = 1000, 20240101, 252
LAMBDA_MAX, LAMBDA_TOL = 64.0, 0.01


def _traded(cal: dict[str, Any], lam: float) -> tuple[float, float]:
    """Mean square of the engine's traded daily returns (percent^2) and share of limit days
    for ``cal`` with latent scale ``lam`` under its limit (without one: the fitted process,
    ``lam`` unused)."""
    from riskmodel.sim.thin_trading import simulate_market

    pl = cal.get("price_limit")
    c = {**cal, "price_limit": None if pl is None else {**pl, "latent_variance_scale": lam}}
    r = simulate_market(c, days=ATTACH_DAYS, paths=ATTACH_PATHS, seed=ATTACH_SEED,
                        price_limits=True)["returns"]
    r = r[np.isfinite(r)]
    if pl is None:
        return float(np.mean(r * r)), 0.0
    up, dn = float(pl["up_pct"]), float(pl["down_pct"])
    at = (r >= up - 1e-9) | (r <= dn + 1e-9)
    return float(np.mean(r * r)), float(at.mean())


def _bisect(f: Any, lo: float, hi: float) -> float:
    """The log lambda in [lo, hi] where the increasing ``f`` changes sign (to LAMBDA_TOL)."""
    for _ in range(60):
        if hi - lo < LAMBDA_TOL:
            break
        mid = 0.5 * (lo + hi)
        if f(mid) < 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def attach(cal: dict[str, Any]) -> dict[str, Any] | None:
    """``cal``'s ``price_limit`` block with ``latent_variance_scale`` and the engine's share of
    limit days added (None without a limit). The scale keeps the fitted mean square of traded
    daily returns under the limit, but never puts more days at the limit than the data had
    (module docstring)."""
    pl = cal.get("price_limit")
    if not pl:
        return None
    target, _ = _traded({**cal, "price_limit": None}, 1.0)
    base = {**pl, "latent_variance_scale": None}

    @functools.cache
    def at(x: float) -> tuple[float, float]:  # each log lambda simulated once
        return _traded({**cal, "price_limit": base}, math.exp(x))

    top = math.log(LAMBDA_MAX)
    data_share = pl.get("share_at_limit")
    x = 0.0 if at(0.0)[0] >= target else _bisect(lambda v: at(v)[0] - target, 0.0, top)
    rule = "the fitted mean square of traded daily returns"
    if data_share is not None and at(x)[1] > float(data_share):
        x = _bisect(lambda v: at(v)[1] - float(data_share), -top, x)
        rule = "the data's share of limit days (the mean-square scale would put more days there)"
    lam = math.exp(x)
    ms, share = at(x)
    return {
        **pl,
        "latent_variance_scale": lam,
        "traded_mean_square_pct2": ms,
        "fitted_mean_square_pct2": target,
        "simulated_share_at_limit": share,
        "scale_rule": (
            f"latent conditional variances x {lam:.3g}, chosen to keep {rule}: traded mean "
            f"square {ms:.3g} %^2 against {target:.3g} %^2 fitted, limit days {share:.1%} "
            f"against {float(data_share or math.nan):.1%} in the data (one-year runs of "
            f"{ATTACH_PATHS} paths from the fit's end state)"
        ),
    }


def refresh(directory: Path | None = None) -> dict[str, float | None]:
    """Write every fitted, non-proxy calibration's ``price_limit`` block; the limits found."""
    from riskmodel.data.series import load_series
    from riskmodel.fit.calibration import Calibration

    directory = directory or config.CALIBRATIONS_DIR
    found: dict[str, float | None] = {}
    for path in sorted(directory.glob("*.json")):
        cal = json.loads(path.read_text(encoding="utf-8"))
        if "model" not in cal or "sample" not in cal or cal.get("proxy"):
            continue
        block = sample_limit(load_series(cal["market"]).returns, cal["sample"])
        block = attach({**cal, "price_limit": block})
        Calibration.from_dict({**cal, "price_limit": block}, file=path)  # validated
        cal["price_limit"] = block  # after ``guard``, as Calibration.to_dict orders it
        atomic_write_json(path, cal)
        found[cal["market"]] = None if block is None else float(block["limit"])
    return found


if __name__ == "__main__":
    for market, lim in refresh().items():
        print(f"{market}: {'none' if lim is None else f'+-{lim:.0%} a day'}")
