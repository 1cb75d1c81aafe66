"""Golden outputs of the simulation kernel, for refactoring it bit for bit.

``--write DIR`` runs every sweep point of every shipped scenario (``data/scenarios``) with few
paths in two chunks (annual arrays kept), plus banking variants of ``regulatory_events`` and
``eu_switzerland`` (``banking: {horizon: 10}``; and the 'origin' delinking convention on
``regulatory_events`` with China banking too, so delinks move banked permits) and the opt-in
features on ``china_korea`` (K-ETS's price limit; volatility-level uncertainty), and stores every
output array of every chunk (s1, s2, s12, the price and emissions histograms, the kept price
and BAU paths, the annual arrays, the infeasible-step and clipped-day counts) in
``DIR/<case>.npz``. Each case runs twice: on the kernels the engine picks
(``engine.kernels_for``: a pool or quota-pool kernel, or ``run_paths_lean``, first where the
scenario allows) and on the general
kernel ``run_paths`` alone.

``--check DIR`` runs the same cases and compares every array with ``np.array_equal`` (exact, NaN
equal to NaN); it exits non-zero on the first case that differs. Write the golden set on the
parent commit, check it after the change. Keep DIR outside the repository (e.g. /tmp).

Run: ``.venv/bin/python benchmarks/kernel_golden.py --write /tmp/kernel_golden`` then
``... --check /tmp/kernel_golden``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

from riskmodel.batch.scenario_file import load_scenario_file  # noqa: E402
from riskmodel.sim import engine  # noqa: E402
from riskmodel.sim.kernel import run_paths  # noqa: E402
from riskmodel.sim.resolve import resolve  # noqa: E402
from riskmodel.sim.scenario import Scenario, scenario_from_dict  # noqa: E402

SCENARIOS = ROOT / "data" / "scenarios"
PATHS, PPC, KEEP = 60, 30, 3
#: (file, extra scenario-level fields) of the banking variants
BANKING = (
    ("regulatory_events", {"banking": {"horizon": 10}}),
    ("eu_switzerland", {"banking": {"horizon": 10}}),
    (
        "regulatory_events",
        {"banking": {"horizon": 10, "delink_convention": "origin"}, "_bank_market0": True},
    ),
)


#: (case, file, simulation fields, per-market fields) of the opt-in model features: a daily
#: price limit with its latent scale (docs/PRICE_LIMITS.md), volatility-level uncertainty
FEATURE_CASES = (
    ("china_korea_limit", "china_korea", {}, {"k_ets": {"price_limit": "calibration"}}),
    ("china_korea_vol_level", "china_korea", {"vol_level_sd": 0.5}, {}),
)


def cases() -> Iterator[tuple[str, Scenario]]:
    """(case name, scenario) of every golden case."""
    extras: list[tuple[str, dict]] = [(p.stem, {}) for p in sorted(SCENARIOS.glob("*.yaml"))]
    extras += [
        (f"{name}_bank{k}", {"_file": name, **extra}) for k, (name, extra) in enumerate(BANKING)
    ]
    extras += [(case, {"_file": stem, "_sim": sim, "_markets": mk})
               for case, stem, sim, mk in FEATURE_CASES]
    for case, extra in extras:
        extra = dict(extra)
        stem = extra.pop("_file", case)
        bank0 = extra.pop("_bank_market0", False)
        sim_extra = extra.pop("_sim", {})
        market_extra = extra.pop("_markets", {})
        plan = load_scenario_file(SCENARIOS / f"{stem}.yaml", paths=PATHS)
        for k, sc in enumerate(plan.scenarios):
            d = sc.model_dump(exclude_unset=True)
            d["simulation"].update(paths_per_chunk=PPC, keep_paths=KEEP, keep_annual=True, seed=11)
            d["simulation"].update(sim_extra)
            for m in d["markets"]:
                m.update(market_extra.get(m["id"], {}))
            d.update(extra)
            if bank0:  # both ends bank, so an 'origin' delink moves permits
                d["markets"][0]["banking"] = {"horizon": 10}
            yield f"{case}_{k}", scenario_from_dict(d)


def outputs(sc: Scenario, general: bool) -> dict[str, np.ndarray]:
    """Every output array of every chunk (``general``: on ``run_paths`` alone)."""
    rs = resolve(sc)
    saved = engine.kernels_for
    if general:
        engine.kernels_for = lambda rs, annual=True: (run_paths,)
    try:
        out: dict[str, np.ndarray] = {}
        for c in range(engine.n_chunks(sc)):
            engine._REFUSED.clear()
            cs = engine.simulate_chunk(sc, c, resolved=rs)
            for name in ("s1", "s2", "s12", "hp", "he", "keep_price", "keep_bau", "annual"):
                a = getattr(cs, name)
                out[f"{c}_{name}"] = np.zeros(0) if a is None else a
            out[f"{c}_meta"] = np.array([cs.meta["infeasible_steps"], cs.meta["clipped_days"]])
        return out
    finally:
        engine.kernels_for = saved


def main() -> int:
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", type=Path, help="store the golden set in this folder")
    g.add_argument("--check", type=Path, help="compare with the golden set in this folder")
    args = ap.parse_args()
    folder = args.write or args.check
    if args.write:
        folder.mkdir(parents=True, exist_ok=True)
    bad = 0
    n = 0
    for case, sc in cases():
        for general in (False, True):
            t = time.perf_counter()
            name = f"{case}_{'general' if general else 'engine'}"
            res = outputs(sc, general)
            if args.write:
                np.savez(folder / f"{name}.npz", **res)
                print(f"wrote {name} ({time.perf_counter() - t:.1f} s)", flush=True)
            else:
                with np.load(folder / f"{name}.npz") as ref:
                    diff = [
                        k
                        for k in res
                        if k not in ref or not np.array_equal(res[k], ref[k], equal_nan=True)
                    ]
                    diff += [k for k in ref.files if k not in res]
                status = "same" if not diff else f"DIFFERS: {', '.join(diff)}"
                bad += bool(diff)
                print(f"{name}: {status} ({time.perf_counter() - t:.1f} s)", flush=True)
            n += 1
    print(f"{n} cases, {bad} differ" if args.check else f"{n} cases written")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
