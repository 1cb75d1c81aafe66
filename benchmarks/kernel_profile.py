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
year). Writes ``benchmarks/results/kernel_profile.{md,json}``.

Run: ``.venv/bin/python benchmarks/kernel_profile.py [--rounds 7] [--reps 3] [--only a,b]``.
The first run compiles one kernel per section (about a minute each).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
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
          "status = solve_step(mkt, ends, lw, lst, out, lout, flags, fwork, iwork)",
          "status = (solve_step(mkt, ends, lw, lst, out, lout, flags, fwork, iwork) "
          "if (_SKIP_SOLVER == 0 or p == 0) else 0)")


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
    engine.kernels_for = lambda _rs: (kernel,)
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


def render(res: dict) -> list[str]:
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
        "# The full kernel's cost by section (issue #14)",
        "",
        f"Measured by `benchmarks/kernel_profile.py` on {res['machine']} (load average at start "
        f"{res['load_average_at_start']:.1f}; shared machine). CPU time per path-step, minimum "
        f"over {res['rounds']} interleaved rounds (best of {res['reps']} runs each) of the full "
        "kernel and of the kernel rebuilt with one section skipped after the first path (so the "
        "skipped section's outputs keep realistic values). Cost = full - without. Scenarios: "
        "`bench_engine.three_market` (three MS-GARCH markets, a quota link with an event "
        "chain, a plain link, a collar, an exemption chain: three variants; `bench_1y` 1,000 "
        "paths x 1 year, `bench_10y` 100 paths x 10 years) and `bench_engine.simple_scenario` "
        "(two GARCH-t markets, a quota link, two variants; 1,000 paths x 1 year). Costs do not "
        "add up exactly: a skipped section changes the branches later ones take (a skipped "
        "clearing leaves prices constant, so later variants reuse a log; a skipped bridge "
        "leaves the autarky prices, so variants reuse the solution) and the CPU overlaps "
        "neighbouring work.",
        "",
        *rows,
        "",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--only", default="", help="comma-separated sections (default: all)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--ab", metavar="REV[,REV...]", default="",
                    help="compare kernel.py at git revisions (or kernel source files) REV with "
                    "the working tree's ('after') instead, interleaved; prints only")
    args = ap.parse_args()
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
    lines = render(res)
    print("\n".join(lines))
    if not args.no_write:
        out = ROOT / "benchmarks" / "results"
        atomic_write_json(out / "kernel_profile.json", res)
        atomic_write_text(out / "kernel_profile.md", "\n".join(lines))


if __name__ == "__main__":
    main()
