"""How often a *correct* model passes issue 11's checks on a market's own validation layout.

The rolling-origin validation (``riskmodel.fit.validation``) has 12-28 quarterly origins per
market; the 252-day windows of neighbouring origins overlap four times over, and the coverage
check asks the 90% band to cover 85-95% at *every* horizon. With so few independent windows a
perfectly specified forecast fails that check often, and the seven checks together more often
still. This module measures it: the market's layout of windows (its origins and horizons) and
its VaR backtest days are replayed under a correct model -- i.i.d. N(0, 1) steps forecast by
their own law, so each PIT is exact and each VaR hit has its nominal probability -- and each
check is computed as the validation computes it (the same overlap-corrected KS nulls, the same
coverage bands, Kupiec on the same numbers of days). The pass rates say how much a failed check
in ``calibrations/validation/`` tells against a model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from riskmodel import config
from riskmodel.fit import scores as sc
from riskmodel.fit.backtest import kupiec_pof
from riskmodel.fit.validation import chosen_candidate, stored_docs

#: Replications of the correct model per market, and their seed.
REPS, SEED = 2000, 20261205
#: The horizons pooled for realised volatility (as riskmodel.fit.validation).
POOLED_VOL = (21, 63, 252)


def layout(doc: dict[str, Any]) -> dict[str, Any]:
    """A validation JSON's layout: windows ``(pos, h)`` per horizon (those with a realised
    value) and the VaR backtest's day counts (all, non-zero) of its chosen candidate."""
    cand = chosen_candidate(doc)
    windows: dict[int, list[int]] = {}
    for o in cand["origins"]:
        for h in o["h"]:
            windows.setdefault(int(h), []).append(int(o["pos"]))
    return {
        "windows": windows,
        "var_days": (int(cand["var_all_days"].get("n_test") or 0),
                     int(cand["var_nonzero_days"].get("n_test") or 0)),
    }


def _p_from_null(d: float, null: np.ndarray) -> float:
    return float((1 + np.sum(null >= d - 1e-12)) / (null.size + 1))


def pass_rates(lay: dict[str, Any], *, reps: int = REPS, seed: int = SEED) -> dict[str, float]:
    """Share of ``reps`` replications of a correct model that pass each check, and all."""
    wins = {h: sorted(p) for h, p in lay["windows"].items()}
    if not wins:
        return {}
    lo = min(min(p) for p in wins.values())
    n_steps = max(max(p) + h for h, p in wins.items()) - lo
    pooled_c = tuple((p - lo, h) for h, ps in wins.items() for p in ps)
    pooled_v = tuple((p - lo, h) for h, ps in wins.items() if h in POOLED_VOL for p in ps)
    null_c = sc.ks_null(pooled_c, "sum") if sc.overlaps(pooled_c) else None
    null_v = sc.ks_null(pooled_v, "sumsq") if pooled_v and sc.overlaps(pooled_v) else None
    n_all, n_nz = lay["var_days"]
    rng = np.random.default_rng(seed)
    keys = ("pooled_vol_ks_p>0.05", "pooled_change_ks_p>0.05", "cover90_in_85_95",
            "kupiec95_all_p>0.05", "kupiec99_all_p>0.05", "kupiec95_nonzero_p>0.05",
            "kupiec99_nonzero_p>0.05")
    extra = ("cover90_pooled_in_85_95",)
    passed = {k: 0 for k in (*keys, *extra, "all_pass")}
    for _ in range(reps):
        z = rng.standard_normal(n_steps)
        c = np.concatenate([[0.0], np.cumsum(z)])
        q = np.concatenate([[0.0], np.cumsum(z * z)])
        uc, uv, cover_ok = [], [], True
        for h, ps in wins.items():
            st = np.asarray(ps) - lo
            u = stats.norm.cdf((c[st + h] - c[st]) / np.sqrt(h))
            uc.extend(u)
            cov = sc.coverage(u, 0.9)
            cover_ok &= 0.85 <= cov <= 0.95
            if h in POOLED_VOL:
                uv.extend(stats.chi2.cdf(q[st + h] - q[st], h))
        d = sc.ks_stat(np.asarray(uc))
        pc = _p_from_null(d, null_c) if null_c is not None else float(
            stats.kstest(uc, "uniform").pvalue)
        if uv:
            dv = sc.ks_stat(np.asarray(uv))
            pv = _p_from_null(dv, null_v) if null_v is not None else float(
                stats.kstest(uv, "uniform").pvalue)
        else:
            pv = float("nan")
        ok = {"pooled_vol_ks_p>0.05": pv > 0.05, "pooled_change_ks_p>0.05": pc > 0.05,
              "cover90_in_85_95": bool(cover_ok),
              "cover90_pooled_in_85_95": 0.85 <= sc.coverage(uc, 0.9) <= 0.95}
        # VaR hits: non-zero days are a subset of all days (the same hits)
        for lv, a in (("95", 0.05), ("99", 0.01)):
            hits = rng.random(n_all) < a
            ok[f"kupiec{lv}_all_p>0.05"] = kupiec_pof(hits, 1 - a)[1] > 0.05
            ok[f"kupiec{lv}_nonzero_p>0.05"] = kupiec_pof(hits[:n_nz], 1 - a)[1] > 0.05
        for k in (*keys, *extra):
            passed[k] += bool(ok[k])
        passed["all_pass"] += all(ok[k] for k in keys)
    return {k: v / reps for k, v in passed.items()}


def table(directory: Path | None = None, *, reps: int = REPS) -> dict[str, dict[str, float]]:
    """Pass rates of a correct model for every market validated in ``directory``."""
    return {doc["market"]: pass_rates(layout(doc), reps=reps) for doc in stored_docs(directory)}


def markdown(rates: dict[str, dict[str, float]]) -> str:
    """The pass-rate table for the validation README."""
    cols = ("cover90_in_85_95", "cover90_pooled_in_85_95", "pooled_change_ks_p>0.05",
            "pooled_vol_ks_p>0.05", "kupiec95_all_p>0.05", "kupiec99_all_p>0.05", "all_pass")
    heads = ("90% cover 85-95% at every h", "pooled over h", "change KS", "vol KS",
             "Kupiec 95 (all)", "Kupiec 99 (all)", "all seven checks")
    lines = ["| market | " + " | ".join(heads) + " |",
             "| --- | " + " | ".join("---:" for _ in heads) + " |"]
    for m, r in rates.items():
        lines.append(f"| {m} | " + " | ".join(f"{100 * r.get(c, float('nan')):.0f}%"
                                             for c in cols) + " |")
    return "\n".join(lines)


def write(directory: Path | None = None, *, reps: int = REPS) -> Path:
    """``check_size.md`` beside the validation reports."""
    from riskmodel.io import atomic_write_text

    directory = directory or config.CALIBRATIONS_DIR / "validation"
    text = "\n".join([
        "# What a correct model passes on each market's validation layout",
        "",
        "Generated by `python -m riskmodel.fit.check_size` (riskmodel/fit/check_size.py): "
        f"{reps} replications per market of a correctly specified forecast (i.i.d. N(0, 1) "
        "steps forecast by their own law) on the market's own origins, horizons and VaR "
        "backtest days, each check computed as `riskmodel validate` computes it. The share of "
        "replications passing each of issue 11's checks, and all seven together (the four "
        "Kupiec tests: all days and non-zero days, 95 and 99; the two non-zero-day ones behave "
        "as the all-day ones and are left out of the table). 'pooled over h' is the 90% "
        "coverage of all horizons' PITs together, a check not in the issue, shown for "
        "comparison.",
        "",
        markdown(table(directory, reps=reps)),
        "",
    ])
    return atomic_write_text(directory / "check_size.md", text)


if __name__ == "__main__":
    print(write())
