"""Parent peak memory of a run's merge (issue #14): ``riskmodel.batch.runner.finalize`` folds
each chunk's histograms as it reads the chunk, so the parent stays flat in the number of paths.

For 1e4, 1e5 and 3e5 paths x 10 years of the three-market bench scenario
(``bench_engine.three_market``, 1,000 paths a chunk, about 4.2 MB of histograms a chunk) a run
folder's ledger is filled with chunk files and the merge runs in a fresh process whose peak RSS
(``ru_maxrss``) is reported, with the merge as it was before (every chunk's statistics held until
the end) beside it. One chunk is simulated for real; the ledger holds copies of it under every
chunk index (the merge's memory depends on the arrays' shapes, not their values). Workers never
hold more than their task's chunks (``simulate_chunk`` is flat in paths and days), and the
parent stores each finished task before the next arrives, so the merge is the parent's peak.

Run: ``.venv/bin/python benchmarks/bench_memory.py [--paths 10000 100000 300000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

from riskmodel.io import atomic_write_text  # noqa: E402

GRAIN = 1000
YEARS = 10

CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from riskmodel.batch import runner
from riskmodel.batch.runner import finalize, read_manifest
from riskmodel.batch.scenario_file import plan_from_json
if sys.argv[3] == "hold":  # the merge before issue #14: every chunk held until the end
    runner._fold_in = lambda parts, part: parts.append(part)
run = Path(sys.argv[2])
m = read_manifest(run)
t = time.perf_counter()
finalize(run, plan_from_json(m["plan"]), m, "riskmodel.sim.engine")
print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - t}))
"""


def _plan(paths: int):
    from bench_engine import three_market

    from riskmodel.batch.scenario_file import plan_from_dict

    sc = three_market(paths, YEARS, True, ppc=GRAIN)
    return plan_from_dict(sc.model_dump(mode="json", exclude_unset=True),
                          check_calibrations=False)


def _ledger(run_dir: Path, paths: int, part) -> None:
    from riskmodel.batch.runner import chunk_file

    for c in range(-(-paths // GRAIN)):
        part.chunk_index = c
        part.first_path = c * GRAIN
        part.chunk_ids = [c]
        rec = {"point": 0, "chunk": c, "first_path": c * GRAIN, "n_paths": GRAIN, "session": 0,
               "finished": "-", "stats": part}
        chunk_file(run_dir, 0, c).write_bytes(pickle.dumps(rec, pickle.HIGHEST_PROTOCOL))


def measure(path_counts: list[int]) -> list[dict[str, float]]:
    from riskmodel.batch.runner import create_run
    from riskmodel.sim.engine import simulate_chunk

    part = simulate_chunk(_plan(GRAIN).scenarios[0], 0)
    rows = []
    for n in path_counts:
        tmp = Path(tempfile.mkdtemp(prefix="riskmodel-mem-"))
        try:
            run = create_run(_plan(n), out=tmp, run_id="mem")
            _ledger(run, n, part)
            row: dict[str, float] = {"paths": n, "chunks": -(-n // GRAIN)}
            for mode in ("fold", "hold"):
                out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(run), mode],
                                     capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                row[f"{mode}_mb"] = r["maxrss_mb"]
                row[f"{mode}_s"] = r["seconds"]
            rows.append(row)
            print(row, flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    args = ap.parse_args()
    rows = measure(args.paths)
    lines = [
        "# Parent memory of a run's merge",
        "",
        "Measured by `benchmarks/bench_memory.py`: three-market bench scenario, "
        f"{YEARS} years of 252 days, {GRAIN:,} paths a chunk; peak RSS of a fresh process "
        "running `riskmodel.batch.runner.finalize` on a full ledger (interpreter, numpy, "
        "pandas and the engine's imports included). `fold`: histograms folded as each chunk "
        "is read (this version); `hold`: every chunk held until the end (before).",
        "",
        "| paths | chunks | peak RSS, fold (MB) | peak RSS, hold (MB) | merge s (fold) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {r['paths']:,} | {r['chunks']} | {r['fold_mb']:.0f} | {r['hold_mb']:.0f} | "
              f"{r['fold_s']:.1f} |" for r in rows]
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        slope = (b["fold_mb"] - a["fold_mb"]) / (b["paths"] - a["paths"]) * 1e6
        lines += ["", f"Growth with folding: {slope:.0f} MB per million paths (the per-chunk "
                  "float sums, tens of kB a chunk, kept for the ordered merge); a million paths "
                  f"x {YEARS} years extrapolate to about "
                  f"{b['fold_mb'] + slope * (1e6 - b['paths']) / 1e6:.0f} MB (goal < 1 GB)."]
    atomic_write_text(ROOT / "benchmarks" / "results" / "memory.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
