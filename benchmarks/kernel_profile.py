"""Cost of the full kernel by section (issue #14): the kernel rebuilt with one section skipped.

A benchmark-only copy of ``riskmodel/sim/kernel.py`` is written to a temporary folder with
each day-loop section wrapped in ``if _SKIP_<NAME> == 0 or p == 0:`` (the first path runs
everything, so the buffers and states a skipped section leaves behind hold realistic values:
later paths reuse path 0's draws, last day's prices and so on). ``kernel.respecialise`` then
builds one kernel per section with its flag set to 1 (a compile-time constant: numba drops the
section), each with its own numba cache entry. A section's cost is the full kernel's time
minus the time without it. Sections do not add up exactly: skipping one changes the branches
later ones take (e.g. a skipped clearing leaves prices constant, so every variant reuses a
log), and the CPU overlaps neighbouring work.

Timing: CPU time (``time.process_time``) per path-step, the minimum over ``--rounds`` rounds
that interleave every kernel and scenario (each round takes the best of ``--reps`` runs), so
load on the shared machine hits them alike. Scenarios: ``bench_engine.three_market`` (1,000
paths x 1 year; 100 paths x 10 years) and ``bench_engine.simple_scenario`` (1,000 paths x 1
year). Writes ``benchmarks/results/kernel_profile.{md,json}`` (one table per ``--label``;
the md ends with ``FINDINGS``, written by hand).

``--ab REV[,REV...]`` instead compares whole kernels, interleaved the same way: kernel.py at
git revisions (or kernel source files) against the working tree's (prints only; the rest of the
package is the working tree's). ``--ab-tree REV`` compares the whole package as of REV (the
link solver included) with the working tree's, in alternating child processes that each run one
round (prints only).

Run: ``.venv/bin/python benchmarks/kernel_profile.py [--rounds 7] [--reps 3] [--only a,b]
[--label NAME]`` or ``... --ab HEAD``. The first run compiles one kernel per section (about a
minute each).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

from rev_tree import ENV, export  # noqa: E402

if os.environ.get(ENV):  # a child measuring another version of the package (--ab-tree)
    sys.path.insert(0, os.environ[ENV])
    import riskmodel  # noqa: E402, F401  (imported from there before bench_engine moves ROOT first)

from bench_engine import simple_scenario, three_market  # noqa: E402

from riskmodel.io import atomic_write_json, atomic_write_text  # noqa: E402
from riskmodel.sim import engine  # noqa: E402
from riskmodel.sim.kernel import respecialise  # noqa: E402
from riskmodel.sim.resolve import resolve  # noqa: E402

KERNEL = ROOT / "riskmodel" / "sim" / "kernel.py"

#: (name, what it holds, first line's marker, offset, end marker (exclusive), offset): the
#: lines from the first marker's line (+ offset) to the end marker's line (+ offset), searched
#: in that order after ``for t in range(T):``, are wrapped in the section's flag.
SECTIONS: tuple[tuple[str, str, str, int, str, int], ...] = (
    ("draws", "year block: normals, gammas, uniforms, Cholesky product, t mixing, "
     "innovation tables", "fill_normal(s_main, zt, gzb", 0, "logY[j] += jdrift", -2),
    ("output_events", "year block: output indices (one exp per day), event chains",
     "logY[j] += jdrift", -2, "# fitted prices: the variance", 0),
    ("prices", "year block: variance recursions, compensators, log prices, exp",
     "# fitted prices: the variance", 0, "mm = Mb[d, mi[i, L.JUR]]", -2),
    ("bridge", "year block: observed BAU emissions and counterfactual supply per day",
     "mm = Mb[d, mi[i, L.JUR]]", -2, "# ---- today's slice", 0),
    ("slice", "today's values from the block (banking: BAU from the observed bank)",
     "# ---- today's slice", 0, "# ---- variants", 0),
    ("variant_rows", "per variant: supply, exemption, autarky price, the solver's market rows",
     "# -- the variant's supply", 0, "# -- the variant's link states", 0),
    ("link_states", "per variant: link states, event delinks, today's quota caps",
     "# -- the variant's link states", 0, "# -- link clearing", 0),
    ("clearing", "per variant: reuse check, own price / closed form / link solver, copies",
     "# -- link clearing", 0, "# ---- daily statistics", 0),
    ("daily_stats", "price sums, log returns, collar/quota/zero counters, kept paths",
     "# ---- daily statistics", 0, "# ---- K-ETS triggers", 0),
    ("kets", "K-ETS monthly triggers", "# ---- K-ETS triggers", 0, "# ---- compliance date", 0),
    ("compliance", "compliance date: year statistics, banks, MSR, sums, histograms",
     "# ---- compliance date", 0, "# ---- horizon statistics", 0),
    ("horizon", "per path: horizon statistics", "# ---- horizon statistics", 0,
     "return n_infeasible, n_clipped", 0),
)
#: One-line replacements: (name, what, line marker, replacement of the marked text).
SOLVER = ("solver", "the link solver call alone (its outputs keep the last answer)",
          "status = fast_closed(mkt, ends, lw, lst, out, lout, flags, fwork, iwork)",
          "status = (fast_closed(mkt, ends, lw, lst, out, lout, flags, fwork, iwork) "
          "if (_SKIP_SOLVER == 0 or p == 0) else 0)")


#: What the tables and perf showed (written by hand; the figures of the runs above).
FINDINGS = """## Findings

- **Negative costs.** Skipping a section often makes the kernel slower (parent kernel, bench
  1 y: link states -323 ns, horizon -148 ns, K-ETS -108 ns, compliance -106 ns; none of them
  does much work per day). The kernel's speed depends on what LLVM makes of the whole
  function, so removing code moves other costs; only the large positive costs are readable:
  the clearing (421 ns, 67%, bench 1 y; 240 ns, 55%, simplified) and inside it the link solver
  call (299 ns, 47%; 201 ns, 46%), then the year block's draws and output / event chains
  (about 55 ns each at 1 y, 105 ns at 10 y) and the daily statistics (17-52 ns).
- **Reference counting is the largest single cost.** `perf record` (bench scenario, parent
  kernel) put 25% of the process's samples in numba's `NRT_incref` / `NRT_decref` (two JIT
  addresses 16 bytes apart, identified with `numba.core.runtime.rtsys.library.
  get_pointer_to_function`). Without the clearing section none are left; without the solver
  call 15% are. Two sources:
  1. `plain_pools`, inlined with nine arrays, paid their reference counting on every call,
     also on the daily calls where it returns at its first test (a collar, a quota link): the
     kernel now runs those tests on scalars first (`pp_ok`, commit 342aa69). Interleaved (9
     rounds, `kernel_profile.py --ab`): bench 1 y 602 -> 515 ns, 10 y 668 -> 574 ns, simplified
     423 -> 339 ns; NRT share of the bench run 25% -> 10%. Golden set identical.
  2. `solve_step`: its optimised LLVM IR (compiled alone) increfs its nine array arguments in
     its entry block and decrefs them in its single exit block (541 blocks apart); numba's
     refprune pass keeps all nine pairs (also with its `subgraph_limit` raised to 1e6: same
     IR). Likely cause (not verified in llvmlite's source): every call to a numba function
     that is not inlined (`_bucket`, `_pool_exact`, `_market_out`, `autarky_price`,
     `_solve_general`) is followed by an error-status check whose exit returns without
     decrefs (eight such exits join the normal one in `common.ret`), so the decref block does
     not post-dominate the increfs. Calling it in a loop (chain of three quota links),
     22% of the samples are NRT (about 30% of the solver's time). Its helpers' calls are
     pruned: replacing `_market_ok` / `autarky_price` by scalar calls changed 291 -> 288 ns
     (pair) and 417 -> 411 ns (chain of 3) a call: not kept. Not fixed here: making those nine
     pairs prunable (or passing fewer arrays) is the next step, in `linking/fast_paths.py`.
- **Tried, not kept.** (a) The per-day innovation lookups and event-chain steps moved into
  functions called once per year block (no array crosses a call in the day loop):
  1.08-1.27x slower (bench 602 -> 653 ns, simplified 423 -> 538 ns), against the
  reference-counting theory. (b) llvmlite's refprune `subgraph_limit` raised from 1,000 to
  1e6 (monkeypatched, fresh cache): neither the NRT share nor the time moved. (c)
  `innovations.lookup_at` and `events.step_chain_at` written out in the year block's day
  loops (no inlined call taking `tab` or a chain stack): 1.09-1.16x slower (bench 544 -> 596
  ns, simplified 349 -> 403 ns, interleaved 9 rounds against 342aa69). So removing reference
  counts is no rule of thumb here: only the change that also removed daily work was kept.
- **Against the floor.** After the change the full kernel is 528 ns (bench, 1 y) against the
  floor's 89 ns (`engine.md`); the solver call alone (about 300 ns) is three floors. The goal
  floor/full >= 0.67 needs the clearing of a forest with quotas in tens of nanoseconds, not
  the 250-400 ns `solve_step` takes with its topology cache, active-set passes, outputs and
  nine reference-count pairs.

## The link solver in three tries (no reference counting on its common path)

- **Cause.** After a call to another numba function, numba returns the callee's error status
  at once (`callconv.return_status_propagate`, read in numba 0.68's source): a plain `ret`
  with no decrefs and without the `numba_exception_output` mark numba puts on its own raise
  blocks (which, we take it, is what refprune's raise-aware pass recognises; llvmlite's C++
  not read). So the decrefs of a function that calls anything do not post-dominate its
  increfs, and the pairs stay: confirmed by the IR of a version with no call left (none).
- **Change.** The solver is now three functions, each called where the one before declined
  (`STATUS_FAST_DECLINED`): `fast_closed` (the fast path where every pool clears in closed
  form; its helpers `_bucket`, `_market_out`, `autarky_price`, `own_price_s`, ... copied in at
  numba's IR level by `linking.specialise.inlined`; the exact pool roots pruned out by the
  global `_EXACT = False`, so a pool the closed form cannot clear makes it decline): no call
  left, no `NRT_incref` / `NRT_decref` in its LLVM IR (`tests/test_linking_fast_split.py`
  checks it); `fast_exact` (the whole fast path, same source); the general solver.
  `solve_step` makes the three calls; `run_paths` makes them itself, with `fast_closed`
  inlined (its copies of the nine arrays are then pruned: nothing in between calls out);
  `run_paths_lean` starts at `fast_exact`, as it called the whole fast path before. Golden set
  (88 cases) bit-identical; `bench_solve_step.py` digests of every answer identical.
- **Per call** (`bench_solve_step.py --ab 3201f2d`, 9 rounds, load 2.3, CPU-time minima, net
  of the driving loop; `results/solve_step.md`): as `run_paths` clears, pair with a binding
  quota 198 -> 115 ns, the bench topology 236 -> 155 ns, a chain of three quota links 400 ->
  292 ns, a pair with a binding collar 205 -> 169 ns; called through `solve_step` (outside
  callers) unchanged within 2% (its own nine pairs stay: it calls).
- **Compile time** (cold `riskmodel run eu_china_quota.yaml --paths 200`, empty numba cache,
  one run each, CPU user time; a quota scenario compiles `run_paths`): 69 s, peak RSS 1.38 GB
  before (load 3.8); 85 s, 1.93 GB after (load 1.7); 97 s, 2.56 GB with the first version of
  this change (a stub instead of the `_EXACT` pruning, load 4.5). The fast path is now
  compiled twice for `run_paths` (inlined `fast_closed`, called `fast_exact`). Scenarios on
  the pool kernel (the README's `china_korea`) compile no solver and are unchanged;
  `run_paths_lean` compiles one copy, as before.
- **Kernel** (`kernel_profile.py --ab-tree 3201f2d`: the whole package at the start commit
  against this one, alternating child processes, 7 rounds, best of 2, load 2.3): bench 1 y
  542 -> 511 ns per path-step (0.94), bench 10 y 600 -> 605 ns (1.01), simplified 371 ->
  296 ns (0.80); an earlier run of the stub version (load 3.8): 541 -> 532, 600 -> 614,
  348 -> 287. `perf` (bench 1 y, 30 chunks): `NRT_incref` / `NRT_decref` 12.4% of the
  samples before, 0.4% after. On the bench scenario the kernel gains little (-6% at 1 year,
  +1% at 10 years: about the noise of this shared machine), though the solver's calls there
  are a third cheaper in a small loop; on the simplified one (one quota link, no collar) it
  gains 20%.
- **Tried, not kept.** (a) `run_paths` calling `fast_closed` instead of inlining it (no
  reference counting either): bench 1 y 530 -> 620 ns, 10 y 607 -> 714, simplified 367 ->
  383 (7 rounds): slower, although the same calls in a small loop were faster. (b) The exact
  pool roots (`_pool_exact` with `collar_root` and every callee) also copied into the first
  try, so that a binding collar would not decline: numba's copies of the arrays inside that
  code's loops were not pruned (16 increfs, 25 decrefs left), and the common case got slower
  (pair with a quota 140 -> 215 ns a call): the collar sweep stays in `fast_exact`.
"""


def _wrap(lines: list[str], a: int, b: int, flag: str) -> list[str]:
    """Lines ``a:b`` under ``if flag == 0 or p == 0:`` (same indent, body indented by 4)."""
    ind = len(lines[a]) - len(lines[a].lstrip())
    for ln in lines[a:b]:
        if ln.strip() and len(ln) - len(ln.lstrip()) < ind:
            raise RuntimeError(f"section {flag} is not one block: {ln!r}")
    body = ["    " + ln if ln.strip() else ln for ln in lines[a:b]]
    return [*lines[:a], " " * ind + f"if {flag} == 0 or p == 0:", *body, *lines[b:]]


def sectioned_source() -> str:
    """kernel.py with every section wrapped in its ``_SKIP_*`` flag (all 0)."""
    lines = KERNEL.read_text().splitlines()
    t0 = next(k for k, ln in enumerate(lines) if ln.strip() == "for t in range(T):")

    def find(marker: str, after: int) -> int:
        return next(k for k in range(after, len(lines)) if marker in lines[k])

    # wrap from the last section up, so earlier line numbers stay valid
    spans = []
    pos = t0
    for name, _w, m0, o0, m1, o1 in SECTIONS:
        a = find(m0, pos) + o0
        b = find(m1, a + 1) + o1
        spans.append((name, a, b))
        pos = a + 1
    for name, a, b in sorted(spans, key=lambda s: -s[1]):
        lines = _wrap(lines, a, b, f"_SKIP_{name.upper()}")
    k = find(SOLVER[2], t0)
    lines[k] = lines[k].replace(SOLVER[2], SOLVER[3])
    flags = [f"_SKIP_{n.upper()} = 0" for n, *_ in SECTIONS] + ["_SKIP_SOLVER = 0"]
    return "\n".join(lines + ["", *flags, ""])


def load_sectioned() -> object:
    """Import the sectioned copy from a temporary folder (rewritten only when kernel.py
    changed, so numba's cache of its kernels stays valid)."""
    return _load_source(sectioned_source(), "kernel_sections")


def load_revision(rev: str) -> object:
    """kernel.py as of git revision ``rev`` (or the kernel source file at path ``rev``),
    imported from a temporary folder."""
    if Path(rev).is_file():
        src = Path(rev).read_text()
    else:
        src = subprocess.run(["git", "show", f"{rev}:riskmodel/sim/kernel.py"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout
    return _load_source(src, "kernel_rev")


def _load_source(src: str, stem: str) -> object:
    tag = hashlib.sha256(src.encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / "riskmodel_kernel_profile"
    folder.mkdir(exist_ok=True)
    path = folder / f"{stem}_{tag}.py"
    if not path.exists() or path.read_text() != src:
        path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"{stem}_{tag}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def kernels(names: list[str]) -> dict[str, Callable]:
    """The full kernel (``full``: the sectioned copy, all flags 0) and one per skipped
    section."""
    from numba import njit

    mod = load_sectioned()
    out = {"full": mod.run_paths}
    for name in names:
        flag = f"_SKIP_{name.upper()}"
        fn = respecialise(mod.run_paths.py_func, f"run_paths_skip_{name}", **{flag: 1})
        out[name] = njit(cache=True, error_model="numpy")(fn)
    return out


def scenarios(paths: int) -> dict[str, tuple[object, object, int]]:
    """name -> (scenario, resolved, path-steps)."""
    out = {}
    for name, s, steps in (
        ("bench_1y", three_market(paths, 1, True, ppc=paths), paths * 252),
        ("bench_10y", three_market(paths // 10, 10, True, ppc=paths // 10), paths * 252),
        ("simple_1y", simple_scenario(paths, 1), paths * 252),
    ):
        out[name] = (s, resolve(s), steps)
    return out


def run_one(kernel: Callable, scen: object, rs: object) -> None:
    """One chunk of ``scen`` on ``kernel`` (the engine's own argument building)."""
    engine.kernels_for = lambda _rs, *_a, **_k: (kernel,)
    engine.simulate_chunk(scen, 0, resolved=rs)


def measure(ks: dict[str, Callable], sc: dict, rounds: int, reps: int) -> dict:
    """ns per path-step: minimum over interleaved rounds of the best of ``reps`` runs."""
    for k in ks.values():
        for s, rs, _ in sc.values():
            run_one(k, s, rs)  # compile / load, warm up
    best = {(kn, sn): float("inf") for kn in ks for sn in sc}
    for r in range(rounds):
        for kn, k in ks.items():
            for sn, (s, rs, steps) in sc.items():
                for _ in range(reps):
                    t = time.process_time()
                    run_one(k, s, rs)
                    ns = (time.process_time() - t) / steps * 1e9
                    best[kn, sn] = min(best[kn, sn], ns)
        print(f"round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    return {sn: {kn: best[kn, sn] for kn in ks} for sn in sc}


def render(allres: dict[str, dict]) -> list[str]:
    """kernel_profile.md: one table per labelled run, then the findings."""
    lines = [
        "# The full kernel's cost by section (issue #14)",
        "",
        "Measured by `benchmarks/kernel_profile.py`: CPU time per path-step, minimum over "
        "interleaved rounds (each the best of a few runs) of the full kernel and of the kernel "
        "rebuilt with one section skipped after the first path (so the skipped section's "
        "outputs keep realistic values). Cost = full - without. Scenarios: "
        "`bench_engine.three_market` (three MS-GARCH markets, a quota link with an event "
        "chain, a plain link, a collar, an exemption chain: three variants; `bench_1y` 1,000 "
        "paths x 1 year, `bench_10y` 100 paths x 10 years) and `bench_engine.simple_scenario` "
        "(two GARCH-t markets, a quota link, two variants; `simple_1y` 1,000 paths x 1 year). "
        "Costs do not add up: a skipped section changes the branches later ones take (a "
        "skipped clearing leaves prices constant, so later variants reuse a log) and, above "
        "all, the code LLVM makes of the rest of the 900-line function (see the findings).",
        "",
    ]
    for label, res in allres.items():
        lines += [f"## {label}", "", *_table(res), ""]
    return lines + FINDINGS.splitlines()


def _table(res: dict) -> list[str]:
    ns = res["ns_per_path_step"]
    what = {n: w for n, w, *_ in SECTIONS} | {SOLVER[0]: SOLVER[1]}
    scen = list(ns)
    head = " | ".join(f"{s}: without (ns) | {s}: cost (ns, %)" for s in scen)
    rows = [f"| section | {head} |", "| --- |" + " ---: | ---: |" * len(scen)]
    rows.append("| full kernel | " + " | ".join(f"{ns[s]['full']:.0f} | " for s in scen) + " |")
    for name in ns[scen[0]]:
        if name == "full":
            continue
        cells = []
        for s in scen:
            full, wo = ns[s]["full"], ns[s][name]
            cells.append(f"{wo:.0f} | {full - wo:.0f} ({100 * (full - wo) / full:.0f}%)")
        rows.append(f"| {name}: {what[name]} | " + " | ".join(cells) + " |")
    return [
        f"{res['machine']}, load average at start {res['load_average_at_start']:.1f} (shared "
        f"machine); {res['rounds']} rounds, best of {res['reps']} runs each.",
        "",
        *rows,
    ]


def ab_tree(rev: str, rounds: int, reps: int, paths: int) -> None:
    """The full kernel of the package at ``rev`` against the working tree's: ns per path-step,
    minimum over rounds, each round one child process per version (alternating)."""
    trees = {rev: str(export(rev)), "after": ""}
    best: dict[str, dict[str, float]] = {k: {} for k in trees}
    load = os.getloadavg()[0]
    for r in range(rounds):
        for label, tree in trees.items():
            env = dict(os.environ)
            env.pop(ENV, None)
            if tree:
                env[ENV] = tree
            cmd = [sys.executable, __file__, "--child", "--reps", str(reps), "--paths", str(paths)]
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
            child = json.loads(out.strip().splitlines()[-1])
            assert child["tree"] == (tree or str(ROOT)), child["tree"]  # the version meant
            for sn, ns in child["ns"].items():
                best[label][sn] = min(best[label].get(sn, float("inf")), ns)
        print(f"round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    print(f"load average at start {load:.1f}; {rounds} rounds, best of {reps} runs each")
    for sn in best[rev]:
        a, b = best[rev][sn], best["after"][sn]
        print(f"{sn}: {rev} {a:.0f} ns, after {b:.0f} ns ({b / a:.3f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--only", default="", help="comma-separated sections (default: all)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--label", default="current kernel",
                    help="heading of this run's table (kernel_profile.json keeps one per label)")
    ap.add_argument("--ab", metavar="REV[,REV...]", default="",
                    help="compare kernel.py at git revisions (or kernel source files) REV with "
                    "the working tree's ('after') instead, interleaved; prints only")
    ap.add_argument("--ab-tree", metavar="REV", default="",
                    help="compare the whole package at git revision REV with the working tree's, "
                    "in alternating child processes; prints only")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        import riskmodel
        from riskmodel.sim.kernel import run_paths

        ns = measure({"k": run_paths}, scenarios(args.paths), 1, args.reps)
        row = {sn: r["k"] for sn, r in ns.items()}
        print(json.dumps({"tree": str(Path(riskmodel.__file__).parent.parent), "ns": row}))
        return
    if args.ab_tree:
        ab_tree(args.ab_tree, args.rounds, args.reps, args.paths)
        return
    if args.ab:
        from riskmodel.sim.kernel import run_paths

        revs = args.ab.split(",")
        ks = {rev: load_revision(rev).run_paths for rev in revs} | {"after": run_paths}
        ns = measure(ks, scenarios(args.paths), args.rounds, args.reps)
        for sn, row in ns.items():
            cells = ", ".join(f"{k} {row[k]:.0f} ns ({row[k] / row[revs[0]]:.3f})" for k in row)
            print(f"{sn}: {cells}")
        return
    names = [n for n, *_ in SECTIONS] + [SOLVER[0]]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    load = os.getloadavg()[0]
    ns = measure(kernels(names), scenarios(args.paths), args.rounds, args.reps)
    res = {"ns_per_path_step": ns, "rounds": args.rounds, "reps": args.reps,
           "paths": args.paths, "load_average_at_start": load,
           "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs"}
    print("\n".join(_table(res)))
    if not args.no_write:
        out = ROOT / "benchmarks" / "results"
        path = out / "kernel_profile.json"
        allres = json.loads(path.read_text()) if path.exists() else {}
        allres[args.label] = res
        atomic_write_json(path, allres)
        atomic_write_text(out / "kernel_profile.md", "\n".join(render(allres)))


if __name__ == "__main__":
    main()
