"""Does volatility-level uncertainty, on by default, keep the daily guard a safety net? (issue #11)

``simulation.vol_level_sd`` (docs/VALIDATION.md) calibrates the one-year spread of realised
volatility in the rolling-origin validation, and scales every fitted variance level by
e^(2 xi) per path; the guard scales with it (e^xi, ``price_kernels.vol_level``). This study
simulates each committed calibration for one year (the engine, single-market autarky, from its
end state, its own guard, no price limit: the engine's defaults) without and with the default
level sd ``VOL_LEVEL_SD`` (the pooled spread the stored validation implies at the end of 2022,
``vol_spread.pooled_s``), and reports the share of market-days on which the guard acts (issue
#11 asks for fewer than 1e-4).

Run: ``.venv/bin/python benchmarks/study_vol_level_guard.py [--paths 4000]`` -> prints and writes
``benchmarks/results/vol_level_guard.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

from riskmodel.fit.calibration import load_calibration  # noqa: E402
from riskmodel.fit.validation import validation_markets  # noqa: E402
from riskmodel.fit.vol_spread import pooled_s, stored_rows  # noqa: E402
from riskmodel.io import atomic_write_text  # noqa: E402
from riskmodel.sim.scenario import VOL_LEVEL_SD  # noqa: E402
from riskmodel.sim.single_market import simulate_single_market  # noqa: E402

SEED = 7


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=4000)
    a = ap.parse_args()
    est = pooled_s(stored_rows(), "2023-01-01")
    sd = VOL_LEVEL_SD
    rows = ["| market | model | guard (%) | guard share, level sd 0 | guard share, level sd "
            f"{sd:.2f} (the default; guard scaled) |", "| --- | --- | ---: | ---: | ---: |"]
    for m in validation_markets():
        cal = load_calibration(m).to_dict()
        cal["price_limit"] = None  # as a scenario simulates it by default (docs/PRICE_LIMITS.md)
        shares = []
        for s in (0.0, sd):
            _, meta = simulate_single_market(cal, 252, a.paths, SEED, vol_level_sd=s)
            shares.append(meta["clipped_share"])
        rows.append(f"| {m} | {cal['model'].get('name') or cal['model'].get('family')} | "
                    f"{meta['guard']:.1f} | {shares[0]:.1e} | {shares[1]:.1e} |")
        print(rows[-1], flush=True)
    text = ("# The daily guard with volatility-level uncertainty\n\n"
            f"`benchmarks/study_vol_level_guard.py --paths {a.paths}`: one-year single-market runs "
            f"of each committed calibration (seed {SEED}), its own guard, no price limit (the "
            "default), without and with the default volatility-level sd "
            f"(`VOL_LEVEL_SD` = {sd:g}: the pooled spread the stored validation implies at "
            f"2023-01-01, {est:.3f}, `vol_spread.pooled_s`); the guard scales with each path's "
            "drawn level. Share of market-days on which the guard acted.\n\n"
            + "\n".join(rows) + "\n")
    atomic_write_text(ROOT / "benchmarks" / "results" / "vol_level_guard.md", text)


if __name__ == "__main__":
    main()
