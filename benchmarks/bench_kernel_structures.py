"""Does the kernel's named-structure interface cost anything? Before/after, interleaved.

Compares two source trees of the package (``--before``: e.g. an export of the parent commit in
/tmp; ``--after``: this checkout), each in its own child processes with its own numba cache:

- the full kernel on the three-market bench scenario (``bench_engine.three_market``: MS-GARCH
  prices, a quota link, regulatory events; ``run_paths``) per path-step at 1 and 10 years, and
  on the simplified two-market scenario (``bench_engine.simple_scenario``) at 1 year:
  minimum CPU time over ``--rounds`` rounds, the rounds alternating the trees, each round a
  fresh child that takes the best of ``--reps`` runs after a warm-up;
- the cold compile: CPU seconds of a child's first ``simulate_chunk`` on an empty numba cache,
  for ``china_korea`` (the lean kernel ``run_paths_lean``, the README's first run) and for
  ``regulatory_events`` (the general kernel ``run_paths``), ``--compile-rounds`` rounds
  alternating the trees; and the import of ``riskmodel.sim.engine``.

Writes a JSON of the minima to ``--out`` (default: print only). Run:
``.venv/bin/python benchmarks/bench_kernel_structures.py --before /tmp/kern_base --after .``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD_STEPS = r"""
import json, os, sys, time
root = sys.argv[1]
sys.path[:0] = [root, os.path.join(root, "benchmarks")]
from bench_engine import simple_scenario, three_market
from riskmodel.sim.engine import simulate_chunk
from riskmodel.sim.resolve import resolve
reps = int(sys.argv[2])


def ns_per_step(s, steps):
    # CPU ns per path-step: the best of reps runs after a warm-up
    rs = resolve(s)
    simulate_chunk(s, 0, resolved=rs)
    best = float("inf")
    for _ in range(reps):
        t = time.process_time()
        simulate_chunk(s, 0, resolved=rs)
        best = min(best, time.process_time() - t)
    return best / steps * 1e9


out = {}
for years, n in ((1, 1000), (10, 100)):
    out[f"full_{years}y"] = ns_per_step(three_market(n, years, True, ppc=n), n * years * 252)
out["full_simple"] = ns_per_step(simple_scenario(1000, 1), 1000 * 252)
print(json.dumps(out))
"""

CHILD_COMPILE = r"""
import json, os, sys, time
root, name = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
t = time.process_time()
import riskmodel.sim.engine as eng
from riskmodel.batch.scenario_file import load_scenario_file
from riskmodel.sim.resolve import resolve
from riskmodel.sim.scenario import scenario_from_dict
t_import = time.process_time() - t
sc = load_scenario_file(os.path.join(root, "data", "scenarios", name + ".yaml"),
                        paths=20).scenarios[0]
d = sc.model_dump(exclude_unset=True)
d["simulation"]["paths_per_chunk"] = 20
sc = scenario_from_dict(d)
rs = resolve(sc)
eng.announce_compile = lambda k: False
t = time.process_time()
eng.simulate_chunk(sc, 0, resolved=rs)
kernels = [k.__name__ for k in eng.kernels_for(rs)]
print(json.dumps({"import_s": t_import, "first_chunk_s": time.process_time() - t,
                  "kernels": kernels}))
"""


def _child(code: str, args: list[str], cache: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    r = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=args[0],
    )
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, required=True)
    ap.add_argument("--after", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--compile-rounds", type=int, default=2)
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--warm-cache",
        type=Path,
        help="keep the warm numba caches here (one folder per tree) between runs",
    )
    args = ap.parse_args()
    trees = {"before": str(args.before.resolve()), "after": str(args.after.resolve())}
    res: dict = {"load_average_at_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-kernel-") as tmp:
        caches = {
            k: os.path.join(args.warm_cache, k)
            if args.warm_cache
            else os.path.join(tmp, f"warm-{k}")
            for k in trees
        }
        steps = {k: {} for k in trees}
        for r in range(args.rounds):
            for k in trees if r % 2 == 0 else list(reversed(list(trees))):
                got = _child(CHILD_STEPS, [trees[k], str(args.reps)], caches[k])
                for name, ns in got.items():
                    steps[k][name] = min(steps[k].get(name, float("inf")), ns)
                print(f"round {r} {k}: {got}", flush=True)
        comp = {k: {} for k in trees}
        for r in range(args.compile_rounds):
            for name in ("china_korea", "regulatory_events"):
                for k in trees if r % 2 == 0 else list(reversed(list(trees))):
                    cold = os.path.join(tmp, f"cold-{k}-{name}-{r}")
                    got = _child(CHILD_COMPILE, [trees[k], name], cold)
                    c = comp[k].setdefault(
                        name, {"first_chunk_s": float("inf"), "import_s": float("inf")}
                    )
                    c["first_chunk_s"] = min(c["first_chunk_s"], got["first_chunk_s"])
                    c["import_s"] = min(c["import_s"], got["import_s"])
                    c["kernels"] = got["kernels"]
                    print(f"compile round {r} {k} {name}: {got}", flush=True)
    res.update(
        ns_per_path_step=steps,
        cold_compile_cpu_s=comp,
        rounds=args.rounds,
        reps=args.reps,
        compile_rounds=args.compile_rounds,
        load_average_at_end=os.getloadavg()[0],
    )
    print(json.dumps(res, indent=1))
    if args.out:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from riskmodel.io import atomic_write_json

        atomic_write_json(args.out, res)


if __name__ == "__main__":
    main()
