"""Thin trading in the engine: read a calibration's ``thin_trading`` block into the flat
parameters, and measure how often the daily guard binds on a market's own process.

The kernel side is :func:`riskmodel.sim.price_kernels._shock_thin` (docs/THIN_TRADING.md). A
calibration without the block (absent or null) leaves every ``TT_*`` column at 0: the market
draws nothing extra and its paths are bit-for-bit those of before.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from riskmodel.errors import InputError
from riskmodel.sim import layout as L
from riskmodel.sim.innovations import lookup_at

#: Families whose process may carry the no-trade component.
THIN_FAMILIES = ("garch", "gjr", "egarch")


def fill(
    k: int,
    cal: dict[str, Any],
    mp: np.ndarray,
    fld: str,
    notes: list[str] | None = None,
    market: str = "",
) -> bool:
    """Write market k's thin-trading parameters into ``mp`` (nothing when the calibration has
    none); ``InputError`` naming the field when the block is malformed. True when present.
    With ``notes``, the calibration's measured guard share (``diagnostics.guard_share_1y``) is
    added to the run notes."""
    gs = (cal.get("diagnostics") or {}).get("guard_share_1y")
    if notes is not None and gs is not None:
        notes.append(
            f"{market or k}: the calibration's daily guard "
            f"({(cal.get('guard') or {}).get('max_daily_return', 25.0):g}% log return) binds on "
            f"{float(gs):.1e} of market-days in a one-year run of its calibration "
            f"({'above' if gs >= 1e-4 else 'below'} 1e-4)"
        )
    tt = cal.get("thin_trading")
    if not tt:
        return False
    f = f"{fld}.thin_trading"
    if not isinstance(tt, dict):
        raise InputError("must be an object or null", field=f)
    model = cal.get("model") or {}
    if str(model.get("family", "garch")) not in THIN_FAMILIES:
        raise InputError(
            f"thin trading is defined for {', '.join(THIN_FAMILIES)} families only", field=f
        )
    if str(model.get("mean", "constant")) != "constant":
        raise InputError("thin trading needs a constant-mean model", field=f)
    if str(tt.get("model", "markov")) not in ("markov", "bernoulli"):
        raise InputError(f"unknown model {tt.get('model')!r} (markov or bernoulli)", field=f)
    vals = {}
    for key in ("p01", "p11"):
        v = tt.get(key)
        if tt.get("model") == "bernoulli" and key == "p11":
            v = tt.get("p01")
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise InputError(f"{key} must be a probability", field=f"{f}.{key}") from None
        if not 0.0 <= v < 1.0:
            raise InputError(f"{key} must be in [0, 1), got {v}", field=f"{f}.{key}")
        vals[key] = v
    kappa = float(tt.get("kappa", 0.0) or 0.0)
    if not (math.isfinite(kappa) and kappa >= 0.0):
        raise InputError(f"kappa must be >= 0, got {kappa}", field=f"{f}.kappa")
    state = int(tt.get("last_state", 0) or 0)
    if state not in (0, 1):
        raise InputError("last_state must be 0 or 1", field=f"{f}.last_state")
    mp[k, L.TT_ON] = 1.0
    mp[k, L.TT_P01] = vals["p01"]
    mp[k, L.TT_P11] = vals["p11"]
    mp[k, L.TT_KAPPA] = kappa
    mp[k, L.TT_S0] = float(state)
    mp[k, L.TT_K0] = float(tt.get("last_gap", state) or 0) if state else 0.0
    return True


def stationary_zero_share(p01: float, p11: float) -> float:
    """P(no trade) under the chain's stationary law."""
    den = 1.0 - p11 + p01
    return p01 / den if den > 0 else 0.0


def simulate_market(
    cal: dict[str, Any],
    *,
    days: int = 252,
    paths: int = 2000,
    seed: int = 0,
    max_daily_return: float | None = None,
    martingale: bool = True,
    price_limits: bool = False,
) -> dict[str, np.ndarray]:
    """One market's own process through the engine's price kernels (no links, no output):
    returns, guard flags and trade states, ``(paths, days)`` each. Uses the resolver's process
    reader and innovation tables, so it is the engine's law for this calibration. With
    ``price_limits`` the calibration's ``price_limit`` block is simulated (its limit and latent
    scale), as a scenario's ``price_limit: calibration`` does (docs/PRICE_LIMITS.md)."""
    from riskmodel.sim import price_limit
    from riskmodel.sim.innovations import build_table, compensator_table
    from riskmodel.sim.price_kernels import init_state, log_price_block, shock_block
    from riskmodel.sim.resolve import _process

    mp = np.zeros((1, L.NPF))
    mi = np.zeros((1, L.NPI), dtype=np.int64)
    rg = {
        "rmu": np.zeros((1, L.KMAX)),
        "rom": np.zeros((1, L.KMAX)),
        "ral": np.zeros((1, L.KMAX)),
        "rbe": np.zeros((1, L.KMAX)),
        "rcum": np.ones((1, L.KMAX, L.KMAX)),
        "rh0": np.zeros((1, L.KMAX)),
        "rp0cum": np.ones((1, L.KMAX)),
    }
    if max_daily_return is None:  # the calibration's own guard, else the default
        from riskmodel.sim.resolve import calibration_guard
        from riskmodel.sim.scenario import DEFAULT_GUARD

        g = calibration_guard(cal)
        max_daily_return = DEFAULT_GUARD if g is None else g
    if not price_limits:
        cal = {**cal, "price_limit": None}
    dist, nu, lam = _process(0, price_limit.scaled(cal, price_limit.latent_scale(cal)), True, mp,
                             mi, rg, "calibration")
    fill(0, cal, mp, "calibration")
    price_limit.fill(0, cal, mp, "calibration")
    mode, lo, step, vals = build_table(dist, nu, lam, "gaussian", 0.0)
    mp[0, L.MAXR] = max_daily_return
    mp[0, L.COMP] = 1.0 if martingale else 0.0
    mi[0, L.TAB_MODE] = mode
    mp[0, L.TAB_LO], mp[0, L.TAB_STEP] = lo, step
    tab = np.asarray(vals, dtype=float)[None, :]
    mp[0, L.CMP_LO], mp[0, L.CMP_STEP], comp0 = compensator_table(
        mode, lo, step, vals, "gaussian", 0.0, max_daily_return
    )
    comp = np.asarray(comp0, dtype=float)[None, :]
    rng = np.random.default_rng(seed)
    fam = mi[0, L.FAM]
    nms = 1 if (fam in (L.F_MS, L.F_MSGARCH) or mp[0, L.TT_ON] > 0) else 0
    msx = np.array([0 if nms else -1], dtype=np.int64)
    ret = np.empty((paths, days))
    clip = np.zeros((paths, days), dtype=bool)
    state = np.zeros((paths, days), dtype=np.int64)
    h = np.zeros((1, L.KMAX))
    prev = np.zeros((1, L.NPREV))
    reg = np.zeros(1, dtype=np.int64)
    eb, hb, mb, kb, pob = (np.empty((days, 1)) for _ in range(5))
    logp = np.zeros(1)
    nclip = np.zeros(1, dtype=np.int64)
    for p in range(paths):
        u0 = rng.random() if fam in (L.F_MS, L.F_MSGARCH) else 0.0
        init_state(0, mp, mi, rg["rh0"], rg["rp0cum"], u0, h, prev, reg)
        x = rng.standard_normal(days)
        zb = _lookup(mode, lo, step, tab, x)[:, None]
        urb = rng.random(days * max(nms, 1))
        shock_block(
            days,
            mp,
            mi,
            rg["rmu"],
            rg["rom"],
            rg["ral"],
            rg["rbe"],
            rg["rcum"],
            zb,
            urb,
            nms,
            msx,
            h,
            prev,
            reg,
            eb,
            hb,
            mb,
            nclip,
        )
        logp[0] = 0.0
        log_price_block(days, mp, mi, comp, eb, hb, mb, kb, prev, logp, pob)
        lp = np.concatenate([[0.0], pob[:, 0]])
        ret[p] = np.diff(lp) * 100.0
        clip[p] = np.abs(eb[:, 0]) >= max_daily_return
        state[p] = hb[:, 0] == 0.0 if mp[0, L.TT_ON] > 0 else 0  # variance 0: no trade
    return {"returns": ret, "clipped": clip, "no_trade": state}


@njit(cache=True)
def _lookup(mode, lo, step, tab, x):
    out = np.empty(x.size)
    for j in range(x.size):
        out[j] = lookup_at(mode, lo, step, tab, 0, x[j])
    return out


def guard_share(cal: dict[str, Any], **kw: Any) -> float:
    """Share of market-days on which the daily guard binds in a one-year run of the market."""
    sim = simulate_market(cal, **kw)
    return float(sim["clipped"].mean())
