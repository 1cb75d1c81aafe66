"""Recompute the non-zero-day VaR columns of the stored selection tables.

The validation's VaR backtest on non-zero-return days used to score a thin-trading candidate
with its all-days law (the mixture with the no-trade mass), whose VaR a trading day exceeds
more often than nominal; it now uses the law given a trade (``AppliedResult.risk_traded``).
The columns ``kupiec_nz_p_95`` / ``kupiec_nz_p_99`` (and ``checks_passed``, which counts those
two checks) of the selection tables stored in the calibrations were computed before. Nothing
else depends on them (``thin_selection.choose`` reads the all-days tests), and the rest of
each row does not change, so this refreshes only them: each thin-trading candidate is refitted
at the same screening origins and its one-day forecasts are backtested again, without the
simulations (``python -m riskmodel.fit.nonzero_var_refresh [MARKET ...]``). A full rescoring
(``riskmodel fit MARKET --model thin``) gives the same rows (tested on UK ETS).
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import numpy as np

from riskmodel import config
from riskmodel.io import atomic_write_json

_NZ = ("kupiec_nz_p_95", "kupiec_nz_p_99")


def _no_simulation(calibration: dict[str, Any], n_days: int, n_paths: int, seed: int,
                   **_: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """A stand-in for the engine: flat paths (the VaR backtest does not use them)."""
    return np.zeros((n_paths, n_days + 1)), {"clipped_share": 0.0, "guard": None}


def refreshed_row(series: Any, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its non-zero-day Kupiec p-values and ``checks_passed`` recomputed."""
    from riskmodel.fit.thin_selection import SCREEN_ORIGIN_EVERY, SCREEN_PATHS
    from riskmodel.fit.validation import ValidationConfig, validate_candidate

    cfg = ValidationConfig(n_paths=SCREEN_PATHS, origin_every=SCREEN_ORIGIN_EVERY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = validate_candidate(series.market, series.prices, series.returns, row["model"],
                               cfg=cfg, currency=series.currency, simulate=_no_simulation)
    new = {f"kupiec_nz_p_{lv}": v.var_nonzero.get(f"kupiec_p_{lv}") for lv in ("95", "99")}
    old_pass = sum(1 for k in _NZ if (row.get(k) or 0.0) > 0.05)
    new_pass = sum(1 for k in _NZ if (new[k] or 0.0) > 0.05)
    out = {**row, **new}
    if row.get("checks_passed") is not None:
        out["checks_passed"] = int(row["checks_passed"]) - old_pass + new_pass
    return out


def refresh(markets: list[str] | None = None) -> dict[str, int]:
    """Refresh the thin-trading rows of each market's stored table; rows changed per market."""
    from riskmodel.data.series import load_series

    changed: dict[str, int] = {}
    for path in sorted(config.CALIBRATIONS_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        rows = doc.get("selection")
        if not isinstance(rows, list) or (markets and doc.get("market") not in markets):
            continue
        if not any(str(r.get("model", "")).startswith("z") and "kupiec_nz_p_95" in r
                   for r in rows):
            continue
        series = load_series(doc["market"])
        n = 0
        for i, r in enumerate(rows):
            if str(r.get("model", "")).startswith("z") and "kupiec_nz_p_95" in r:
                new = refreshed_row(series, r)
                n += new != r
                rows[i] = new
        atomic_write_json(path, doc)
        changed[doc["market"]] = n
    return changed


if __name__ == "__main__":
    for m, n in refresh(sys.argv[1:] or None).items():
        print(f"{m}: {n} rows changed")
