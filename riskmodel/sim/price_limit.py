"""Daily price limits in the engine: read a calibration's ``price_limit`` block into the flat
parameters (``layout.LIM_UP`` / ``LIM_DN``) the price kernels read (docs/PRICE_LIMITS.md).

The fitted process is the latent price; the traded price moves towards it by at most the limit
on each traded day and the remainder carries over (``price_kernels.log_price_block``). A
calibration without the block, or a scenario market with ``price_limit: 0``, has none.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from riskmodel.errors import InputError
from riskmodel.sim import layout as L


def limit_of(cal: dict[str, Any], fld: str) -> float | None:
    """The calibration's limit (share of the previous price a day), None without one;
    ``InputError`` naming the field when the block is malformed."""
    pl = cal.get("price_limit")
    if not pl:
        return None
    f = f"{fld}.price_limit"
    if not isinstance(pl, dict):
        raise InputError("must be an object or null", field=f)
    try:
        lim = float(pl.get("limit"))
    except (TypeError, ValueError):
        raise InputError("must be a number in (0, 1)", field=f"{f}.limit") from None
    if not (math.isfinite(lim) and 0.0 < lim < 1.0):
        raise InputError(f"must be in (0, 1), got {lim}", field=f"{f}.limit")
    return lim


def fill(k: int, cal: dict[str, Any], mp: np.ndarray, fld: str,
         notes: list[str] | None = None, market: str = "") -> float | None:
    """Write market k's limit into ``mp`` (percent log return bounds); returns the limit."""
    lim = limit_of(cal, fld)
    if lim is None:
        return None
    mp[k, L.LIM_UP] = 100.0 * math.log1p(lim)
    mp[k, L.LIM_DN] = 100.0 * math.log1p(-lim)
    if notes is not None:
        pl = cal["price_limit"]
        share = pl.get("share_at_limit")
        seen = f" ({float(share):.1%} of the fitted sample's traded days ended at it)" if (
            share is not None) else ""
        notes.append(
            f"{market or k}: daily price limit +-{lim:.0%}{seen}; the fitted process is the "
            "latent price and the traded price catches up over the next days"
        )
    return lim


def latent_scale(cal: dict[str, Any], fld: str = "calibration") -> float:
    """The latent variance scale of a calibration's limit (``price_limit.latent_variance_scale``,
    riskmodel.fit.price_limits.attach; 1 without one); ``InputError`` when not positive."""
    pl = cal.get("price_limit") or {}
    lam = pl.get("latent_variance_scale") if isinstance(pl, dict) else None
    if lam is None:
        return 1.0
    try:
        lam = float(lam)
    except (TypeError, ValueError):
        lam = math.nan
    if not (math.isfinite(lam) and lam > 0.0):
        raise InputError(f"must be a positive number, got {pl.get('latent_variance_scale')!r}",
                         field=f"{fld}.price_limit.latent_variance_scale")
    return lam


def scaled(cal: dict[str, Any], lam: float) -> dict[str, Any]:
    """``cal`` with its conditional variances multiplied by ``lam`` at every date: the GARCH
    family's omega (EGARCH: log omega shifted by (1 - beta) log lam), MS regime variances,
    MS-GARCH omegas, and the end state's variances (residuals by sqrt(lam)). The latent process
    of a market whose observed returns were censored by its limit (docs/PRICE_LIMITS.md)."""
    if lam == 1.0:
        return cal
    fam = str((cal.get("model") or {}).get("family", "garch"))
    pr = dict(cal.get("params") or {})
    st = dict(cal.get("state") or {})
    root = math.sqrt(lam)
    if fam in ("garch", "gjr"):
        pr["omega"] = pr["omega"] * lam
    elif fam == "egarch":
        pr["omega"] = pr["omega"] + (1.0 - pr["beta"]) * math.log(lam)
    else:
        for key in list(pr):
            if key.startswith("sigma2_") or key.startswith("omega_"):
                pr[key] = pr[key] * lam
    for key in ("last_variance", "variance_T"):
        if st.get(key) is not None:
            st[key] = float(st[key]) * lam
    if st.get("regime_variances") is not None:
        st["regime_variances"] = [float(v) * lam for v in st["regime_variances"]]
    if st.get("last_resid") is not None:
        st["last_resid"] = float(st["last_resid"]) * root
    return {**cal, "params": pr, "state": st}
