"""Which issue-11 checks each market's model fails in the stored validation, and why.

Issue 11 asks, where a market cannot meet the checks, for the reason with the numbers. This
module reads them from the stored rolling-origin validation (the engine as it runs by default,
``calibrations/validation/vol_level/<market>.json``), the size of each check on the market's own
layout (``check_size.pass_rates``: how often a correctly specified forecast passes it) and the
daily price limit the calibration's prices show (``price_limit``), and states per failed check
what the scores say: the direction of the PIT bias, the coverage by horizon, the VaR hits against
their expectation. Nothing here is fitted or simulated again.

    python -m riskmodel.fit.check_reasons   # writes calibrations/validation/vol_level/why.md
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from riskmodel import config
from riskmodel.fit.check_size import REPS, layout, pass_rates
from riskmodel.fit.validation import chosen_candidate
from riskmodel.io import atomic_write_text

#: A PIT mean this far from 0.5 is reported as a bias in one direction.
BIAS = 0.1


def _vol_level_dir() -> Path:
    return config.CALIBRATIONS_DIR / "validation" / "vol_level"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _days(h: int | str) -> str:
    return f"{h} day" if int(h) == 1 else f"{h} days"


def _pit_means(summary: dict[str, Any], key: str) -> list[tuple[int, float]]:
    out = []
    for h, s in sorted(summary["horizons"].items(), key=lambda kv: int(kv[0])):
        if s.get(key) is not None and int(h) >= 21:
            out.append((int(h), float(s[key])))
    return out


def _bias(means: list[tuple[int, float]], up: str, down: str) -> str:
    """'mean PIT 0.65 at 63 days, 0.78 at 252: <up|down>' from the longest horizons."""
    if not means:
        return "no window of 21 days or more"
    text = ", ".join(f"{m:.2f} at {_days(h)}" for h, m in means)
    last = means[-1][1]
    if last - 0.5 >= BIAS:
        return f"mean PIT {text} (0.5 for a correct forecast): {up}"
    if 0.5 - last >= BIAS:
        return f"mean PIT {text} (0.5 for a correct forecast): {down}"
    return f"mean PIT {text}, close to 0.5: the spread, not the centre, is off"


def _kupiec(row: dict[str, Any], limit: dict[str, Any] | None) -> str:
    """One reason for the failed VaR tests: hits against expected, and the direction."""
    va = row["var_all_days"]
    hits = (f"VaR 95 hits {va['hits_95']} against {va['expected_95']:.1f} expected, VaR 99 "
            f"{va['hits_99']} against {va['expected_99']:.1f} ({va['n_test']} days)")
    if va["hits_95"] < va["expected_95"] and va["hits_99"] < va["expected_99"]:
        if limit and limit.get("limit"):
            return (f"{hits}: too few. The traded price cannot move beyond its "
                    f"±{100 * float(limit['limit']):g}% daily limit (at the limit on "
                    f"{_pct(float(limit.get('share_at_limit') or 0))} of traded days), while the "
                    "model's one-day law, fitted and simulated without the limit by default, "
                    "puts its VaR near or beyond it (docs/PRICE_LIMITS.md)")
        return f"{hits}: too few, the one-day VaR is too wide"
    return f"{hits}: too many, the one-day VaR is too narrow"


def reasons(row: dict[str, Any], size: dict[str, float],
            limit: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(failed checks, reason) pairs for one market's chosen candidate row."""
    checks = row["checks"]
    failed = [k for k, v in checks.items() if k != "all_pass" and not v["pass"]]
    summ = row["summary"]
    out: list[tuple[str, str]] = []
    if "cover90_in_85_95" in failed:
        hs = sorted(summ["horizons"], key=int)
        cov = checks["cover90_in_85_95"]["value"]
        bad = [f"{_pct(c)} at {_days(h)}" for h, c in zip(hs, cov, strict=True)
               if not 0.85 <= c <= 0.95]
        out.append(("cover90_in_85_95", (
            f"90% band covers {', '.join(bad)}; a correct forecast lands in 85-95% at every "
            f"horizon in {_pct(size['cover90_in_85_95'])} of replications on this layout "
            f"(pooled over horizons it covers {_pct(summ['pooled_change']['cover90'])})")))
    if "pooled_change_ks_p>0.05" in failed:
        means = _pit_means(summ, "pit_mean")
        out.append(("pooled_change_ks_p>0.05", (
            f"KS p {checks['pooled_change_ks_p>0.05']['value']:.3f}; "
            + _bias(means, "the price rose more than the forecast, a martingale (no drift: "
                    "docs/ENGINE.md)",
                    "the price fell more than the martingale forecast"))))
    if "pooled_vol_ks_p>0.05" in failed:
        means = _pit_means(summ, "vol_pit_mean")
        p = checks["pooled_vol_ks_p>0.05"]["value"]
        out.append(("pooled_vol_ks_p>0.05", (
            "no test: the series is too short for a window of 21 days or more after its first "
            "origin" if p is None or not means else
            f"KS p {p:.3f}; realised volatility's "
            + _bias(means, "the simulated volatility is too low",
                    "the simulated volatility is too high"))))
    kup = [k for k in failed if k.startswith("kupiec")]
    if kup:
        out.append((", ".join(kup), _kupiec(row, limit)))
    return out


def market_reasons(market: str, directory: Path | None = None,
                   reps: int = REPS) -> dict[str, Any]:
    """The stored validation of ``market`` and the reasons its chosen model fails checks."""
    from riskmodel.fit.calibration import load_calibration

    doc = json.loads(((directory or _vol_level_dir()) / f"{market}.json").read_text())
    row = chosen_candidate(doc)
    size = pass_rates(layout(doc), reps=reps)
    limit = load_calibration(market).price_limit
    return {"market": market, "model": row["model"], "reasons": reasons(row, size, limit),
            "checks": sum(1 for k, v in row["checks"].items() if k != "all_pass" and v["pass"]),
            "n_checks": sum(1 for k in row["checks"] if k != "all_pass"),
            "all_pass_size": size["all_pass"]}


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "# Why each market fails the checks it fails",
        "",
        "Generated by `python -m riskmodel.fit.check_reasons` from the stored validation of the "
        "engine as it runs by default (`calibrations/validation/vol_level/<market>.json`), the "
        "size of each check on the market's own layout (`riskmodel.fit.check_size`: how often a "
        f"correctly specified forecast passes, {REPS} replications) and the daily price limit "
        "each calibration's prices show. PIT means are of the windows at 21 days or more; a mean "
        f"more than {BIAS:g} from 0.5 is read as a bias.",
        "",
        "| market | model | checks passed | a correct forecast passes all | failed | why |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        first = True
        for check, why in r["reasons"] or [("–", "passes every check")]:
            head = (f"| {r['market']} | {r['model']} | {r['checks']} of {r['n_checks']} | "
                    f"{_pct(r['all_pass_size'])} |" if first else "| | | | |")
            lines.append(f"{head} {check} | {why} |")
            first = False
    return "\n".join(lines) + "\n"


def write(directory: Path | None = None, reps: int = REPS) -> Path:
    from riskmodel.fit.validation import validation_markets

    d = directory or _vol_level_dir()
    rows = [market_reasons(m, d, reps) for m in validation_markets()
            if (d / f"{m}.json").is_file()]
    return atomic_write_text(d / "why.md", markdown(rows))


if __name__ == "__main__":
    print(write())
