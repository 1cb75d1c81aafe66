"""Where the engine kernel's time goes, by compiled function and by hot spot (``perf``).

``kernel_profile.py`` skips one section of the kernel at a time; its costs do not add up (a
skipped section changes the code LLVM makes of the rest). This tool instead samples the
running kernel with ``perf record`` and attributes each sample to the compiled function it
falls in: the kernel's own body, each non-inlined callee (``quota_pools``,
``price_kernels.shock_block``, ``rng.fill_normal`` ...), libm (``log``, ``exp``), Python.

numba's on-disk cache keeps no symbol table, so the child process compiles a fresh copy of the
kernel the engine picks for the scenario (``engine.kernels_for``; about 40 s), then reads every
compiled function's address from its LLVM library, and runs the scenario's chunk in a loop
for ``--seconds``. Samples (``perf script``) are mapped to the nearest function start below
them; ``--hot N`` also lists the kernel body's N hottest 128-byte stretches (offsets from the
function's start, to be read with ``--dump``, which writes the kernel's machine code for
``objdump -D -b binary -mi386:x86-64``).

Run: ``.venv/bin/python benchmarks/kernel_perf.py [--scenario simple|bench] [--seconds 8]
[--hot 10] [--dump DIR]`` (needs ``perf`` and permission to sample; prints only).
"""

from __future__ import annotations

import argparse
import bisect
import collections
import ctypes
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))


def _scenario(name: str) -> object:
    from bench_engine import simple_scenario, three_market

    if name == "nolink":  # the bench markets alone: no links, no events (two autarky variants)
        return three_market(1000, 1, False, 1000)
    return simple_scenario(1000, 1) if name == "simple" else three_market(1000, 1, True, 1000)


def child(args: argparse.Namespace) -> None:
    """Compile a fresh kernel, write its functions' addresses, run the chunk in a loop."""
    from numba import njit

    from riskmodel.sim import engine
    from riskmodel.sim.resolve import resolve

    sc = _scenario(args.scenario)
    rs = resolve(sc)
    cached = engine.kernels_for(rs, False)[0]
    kernel = njit(error_model="numpy")(cached.py_func)  # uncached: its LLVM module is kept
    engine.kernels_for = lambda rs, annual=True: (kernel,)
    engine.simulate_chunk(sc, 0, resolved=rs)
    rows = []
    for cres in kernel.overloads.values():
        lib = cres.library
        for fn in lib._final_module.functions:
            if fn.is_declaration:
                continue
            addr = lib.get_pointer_to_function(fn.name)
            if addr:
                rows.append((addr, fn.name))
    rows.sort()
    Path(args.funcs).write_text("".join(f"{a:x} {n}\n" for a, n in rows))
    if args.dump:
        main_fn = next(a for a, n in rows if n.startswith("_ZN9") and "run_paths" in n)
        nxt = next((a for a, _ in rows if a > main_fn), main_fn + 0x40000)
        Path(args.dump).mkdir(parents=True, exist_ok=True)
        (Path(args.dump) / "kernel.bin").write_bytes(ctypes.string_at(main_fn, nxt - main_fn))
    t0 = time.time()
    n = 0
    while time.time() - t0 < args.seconds:
        engine.simulate_chunk(sc, 0, resolved=rs)
        n += 1
    print(f"{n} chunks of {cached.__name__}'s scenario timed", file=sys.stderr)


def _short(name: str) -> str:
    """``module.function`` from numba's mangled name (``_ZN<len><id>...``, Itanium style)."""
    m = re.match(r"_ZN(?:7cpython)?((?:\d+[A-Za-z_][A-Za-z0-9_]*)+)", name)
    if not m:
        return name[:40]
    ids, rest = [], m.group(1)
    while rest and rest[0].isdigit():
        k = re.match(r"\d+", rest).group(0)
        ids.append(rest[len(k):len(k) + int(k)])
        rest = rest[len(k) + int(k):]
    return ".".join(ids[-2:])


def report(funcs_file: str, data: str, hot: int) -> None:
    """Samples per function (share of all samples in JIT code and libm) and hot stretches."""
    funcs = []
    for line in Path(funcs_file).read_text().splitlines():
        a, n = line.split(" ", 1)
        funcs.append((int(a, 16), n))
    starts = [a for a, _ in funcs]
    script = subprocess.run(["perf", "script", "-i", data, "-F", "ip,dso"], check=True,
                            capture_output=True, text=True).stdout
    per = collections.Counter()
    body = collections.Counter()
    total = 0
    for line in script.splitlines():
        parts = line.split(None, 1)
        if len(parts) != 2:
            continue
        ip, dso = parts
        if "libm" in dso:
            per["libm (log, exp)"] += 1
            total += 1
            continue
        if "perf-" not in dso and "JIT" not in dso:
            continue
        x = int(ip, 16)
        k = bisect.bisect_right(starts, x) - 1
        if k < 0:
            continue
        total += 1
        name = funcs[k][1]
        label = "NRT refcount" if name.startswith("NRT_") else _short(name)
        if name.startswith("_ZN9") and "run_paths" in name:
            label = "kernel body"
            body[(x - funcs[k][0]) // 128 * 128] += 1
        per[label] += 1
    print(f"{total} samples in compiled code and libm")
    print("| function | share |\n| --- | ---: |")
    for label, v in per.most_common(15):
        print(f"| {label} | {100 * v / total:.1f}% |")
    if hot:
        nb = sum(body.values())
        print("\nkernel body, hottest 128-byte stretches (offset: share of the body)")
        for off, v in body.most_common(hot):
            print(f"  {off:#07x}: {100 * v / nb:.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", choices=("simple", "bench", "nolink"), default="simple")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--hot", type=int, default=0)
    ap.add_argument("--dump", default="", help="folder for the kernel's machine code")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--funcs", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="kernel-perf-") as tmp:
        funcs = str(Path(tmp) / "funcs.txt")
        data = str(Path(tmp) / "perf.data")
        cmd = [sys.executable, __file__, "--child", "--funcs", funcs, "--scenario",
               args.scenario, "--seconds", str(args.seconds)]
        if args.dump:
            cmd += ["--dump", args.dump]
        subprocess.run(["perf", "record", "-q", "-o", data, "--", *cmd], check=True)
        report(funcs, data, args.hot)


if __name__ == "__main__":
    main()
