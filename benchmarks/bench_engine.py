"""Engine benchmarks, measured in one run on one machine; writes benchmarks/results/engine.md.

(a) single-market GARCH(1,1)-t path kernel (``price_kernels.garch_t_paths``: normal draw,
    inverse-CDF table, recursion) against arch's ``forecast(method="simulation")``, per
    path-step; target >= 30x.
(b) the full three-market kernel (MS-GARCH-t prices, output, a quota + collar link and a plain
    link, event chains, streaming statistics, three variants) in market-path-steps per second
    on one core, against the rate of (a); target >= 1/4. The same scenario without links and the
    link solver's time per call are measured too, to show what limits it.
(c) peak memory of ``simulate`` over ten years of trading days for growing path counts (chunks
    are folded in as they finish, so memory does not grow with paths), extrapolated to one
    million paths; target < 2 GB.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

from riskmodel.io import atomic_write_text  # noqa: E402
from riskmodel.sim.engine import simulate, simulate_chunk  # noqa: E402
from riskmodel.sim.innovations import build_table  # noqa: E402
from riskmodel.sim.price_kernels import garch_t_paths  # noqa: E402
from riskmodel.sim.resolve import resolve  # noqa: E402
from riskmodel.sim.rng import ZT, fill_normal, state_from_seed  # noqa: E402
from riskmodel.sim.scenario import scenario_from_dict  # noqa: E402

P = {"mu": 0.02, "omega": 0.05, "alpha": 0.08, "beta": 0.9, "nu": 6.0}


def bench_a(paths: int, steps: int) -> dict[str, float]:
    from arch import arch_model

    rng = np.random.default_rng(0)
    am = arch_model(rng.standard_normal(1000), mean="Constant", vol="GARCH", p=1, q=1, dist="t")
    res = am.fix([P["mu"], P["omega"], P["alpha"], P["beta"], P["nu"]])
    res.forecast(horizon=5, method="simulation", simulations=10, reindex=False)
    arch_ns = _best(lambda: res.forecast(horizon=steps, method="simulation",
                                         simulations=paths, reindex=False)) / (paths * steps)
    mode, lo, step, vals = build_table("t", P["nu"], None, "gaussian", None)
    h0 = P["omega"] / (1 - P["alpha"] - P["beta"])
    g = np.random.default_rng(1)
    st = state_from_seed(np.random.SeedSequence(1))
    args = (P["mu"], P["omega"], P["alpha"], 0.0, P["beta"], h0, lo, step, vals)
    garch_t_paths(*args, st, ZT, 10, 10)
    ours_ns = _best(lambda: garch_t_paths(*args, st, ZT, paths, steps)) / (paths * steps)
    _normals(g, 10)
    normal_ns = _best(lambda: _normals(g, 5_000_000)) / 5_000_000
    buf = np.empty(100_000)
    pend = np.empty(2 * buf.size + 2, dtype=np.int64)
    fill_normal(st, ZT, buf[:10], pend)
    block_ns = _best(lambda: [fill_normal(st, ZT, buf, pend) for _ in range(50)]) / 5_000_000
    return {"arch_ns": arch_ns, "ours_ns": ours_ns, "ratio": arch_ns / ours_ns,
            "normal_ns": normal_ns, "block_normal_ns": block_ns}


def _best(fn, repeats: int = 5) -> float:
    """Fastest of several runs, in ns (the machine is shared: the minimum is the least
    disturbed measurement)."""
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e9


@njit(cache=True)
def _normals(gen, k):
    """Sum of k standard normal draws (the cost of one draw)."""
    s = 0.0
    for _ in range(k):
        s += gen.standard_normal()
    return s


MSG = {"family": "msgarch", "dist": "t", "k_regimes": 2,
       "params": {"mu": 0.0, "omega_0": 0.03, "alpha_0": 0.05, "beta_0": 0.92,
                  "omega_1": 0.3, "alpha_1": 0.1, "beta_1": 0.85, "nu": 6.0,
                  "p_00": 0.98, "p_01": 0.02, "p_10": 0.04, "p_11": 0.96},
       "state": {"regime_probs": [0.6, 0.4], "regime_variances": [0.8, 4.0]}}


def three_market(paths: int, years: int, links: bool = True, ppc: int = 1000) -> object:
    def m(mid, last, bau, **kw):
        return {"id": mid, "synthetic": True, "currency": "EUR", "bau_emissions": bau,
                "output_growth": 0.02, "output_vol": 0.03,
                "process": {**MSG, "last_price": last}, **kw}

    d = {"name": "bench3",
         "markets": [m("a", 80, 1500, collar={"floor": 20.0, "ceiling": 150.0}),
                     m("b", 30, 600), m("c", 40, 300)],
         "links": ([{"markets": ["a", "b"], "quota": {"mt": 40.0}}, {"markets": ["b", "c"]}]
                   if links else []),
         "events": ({"links": [{"link": "a-b", "active_to_restricted": 0.2,
                                "restricted_to_active": 1.0, "active_to_suspended": 0.05,
                                "suspended_to_active": 0.5,
                                "restricted_quota": {"mt": 10.0}}],
                     "markets": [{"market": "c", "exemption_on": 0.1, "exemption_off": 0.5,
                                  "exemption_share": 0.1}]} if links else {}),
         "dependence": {"corr": [[1, 0.4, 0.2], [0.4, 1, 0.3], [0.2, 0.3, 1]]},
         "horizon": {"years": years, "days_per_year": 252},
         "simulation": {"paths": paths, "paths_per_chunk": ppc, "keep_paths": 0}}
    return scenario_from_dict(d)


def bench_b(paths: int) -> dict[str, float]:
    out = {}
    for name, links in (("full", True), ("no_links", False)):
        s = three_market(paths, 1, links, ppc=paths)
        rs = resolve(s)
        simulate_chunk(s, 0, resolved=rs)
        dt = _best(lambda s=s, rs=rs: simulate_chunk(s, 0, resolved=rs), 3) / 1e9
        out[f"{name}_rate"] = paths * 252 * 3 / dt
        out[f"{name}_ns_per_path_step"] = dt / (paths * 252) * 1e9
    out["solver_ns"] = _solver_ns()
    return out


def _solver_ns() -> float:
    from numba import njit

    from riskmodel.linking import (
        M_CEIL,
        M_FLOOR,
        M_P_AUT,
        N_LINK_OUT,
        N_OUT,
        Link,
        compile_topology,
        market_array,
        solve_step,
        workspace,
    )

    @njit(cache=False)
    def loop(mkt, ends, lpar, st, out, lout, flags, fw, iw, n):
        s = 0.0
        for k in range(n):
            mkt[0, M_P_AUT] = 60.0 + (k % 13)
            solve_step(mkt, ends, lpar, st, out, lout, flags, fw, iw)
            s += out[0, 0]
        return s

    la = compile_topology(3, [Link(0, 1, quota_ab=40.0, quota_ba=40.0), Link(1, 2)])
    mkt = market_array(3)
    mkt[:, M_P_AUT] = (80.0, 30.0, 40.0)
    mkt[:, M_FLOOR] = (20.0, 0.0, 0.0)
    mkt[0, M_CEIL] = 150.0
    fw, iw = workspace(3, 2)
    args = (mkt, la.ends, la.lpar, np.zeros(2, np.int64), np.zeros((3, N_OUT)),
            np.zeros((2, N_LINK_OUT)), np.zeros(3, np.int64), fw, iw)
    loop(*args, 10)
    return _best(lambda: loop(*args, 100_000)) / 100_000


def bench_c(path_counts: list[int], years: int) -> list[dict[str, float]]:
    rows = []
    for n in path_counts:
        s = three_market(n, years, True, ppc=1000)
        tracemalloc.start()
        t = time.perf_counter()
        simulate(s)
        dt = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append({"paths": n, "seconds": dt, "traced_peak_mb": peak / 2**20,
                     "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    q = args.quick
    a = bench_a(200 if q else 1000, 252)
    b = bench_b(200 if q else 1000)
    c = bench_c([250, 500] if q else [1000, 2000, 4000], 10)
    rate_a = 1e9 / a["ours_ns"]
    lines = [
        "# Engine benchmarks",
        "",
        f"Measured in one run by `benchmarks/bench_engine.py` on {platform.machine()} "
        f"({os.cpu_count()} logical CPUs, load average at start "
        f"{os.getloadavg()[0]:.1f}: the machine is shared, so absolute times are inflated; "
        "the ratios compare code measured in the same run; each figure is the fastest of 3-5 "
        "repeats). One core throughout.",
        "",
        "## (a) single-market GARCH(1,1)-t path kernel vs arch",
        "",
        "| | ns per path-step |",
        "| --- | ---: |",
        f"| arch `forecast(method=\"simulation\", simulations=1000)`, 252 steps | "
        f"{a['arch_ns']:.1f} |",
        f"| riskmodel `garch_t_paths` (normal draw + table + recursion) | {a['ours_ns']:.1f} |",
        f"| one standard normal draw, numpy `Generator` called from numba | {a['normal_ns']:.1f} |",
        f"| one standard normal draw, `riskmodel.sim.rng.fill_normal` (block) | "
        f"{a['block_normal_ns']:.1f} |",
        "",
        f"Speed-up **{a['ratio']:.0f}x** (target >= 30x). Per step the kernel draws one normal "
        "(xoshiro256++ and the exact ziggurat, drawn for a block of 32 paths x all steps in one "
        "loop without calls), interpolates the inverse-CDF table of the t law and runs the "
        "variance recursion, which the compiler vectorises across the block's paths. With "
        "numpy's generator called per draw the same kernel was 6.7-6.8 ns per step (22x).",
        "",
        "## (b) full three-market kernel",
        "",
        "MS-GARCH-t prices (2 regimes) in three markets, output paths, a quota + collar link "
        "(a-b) and a plain link (b-c), a link event chain and a market exemption chain, three "
        "variants, streaming statistics; one year of 252 days.",
        "",
        "| | market-path-steps / s | ns per path-step (3 markets, 3 variants) |",
        "| --- | ---: | ---: |",
        f"| full kernel | {b['full_rate']:.3g} | {b['full_ns_per_path_step']:.0f} |",
        f"| same without links and events | {b['no_links_rate']:.3g} | "
        f"{b['no_links_ns_per_path_step']:.0f} |",
        f"| (a) single-market kernel | {rate_a:.3g} | |",
        "",
        f"Full kernel / single-market rate: **{b['full_rate'] / rate_a:.3f}** (target >= 0.25); "
        f"without links: {b['no_links_rate'] / rate_a:.3f}. What limits it: per path-step the "
        "full kernel does three markets' worth of (a) (draws, tables, MS-GARCH recursions with "
        "a regime draw), plus per market the output path, the martingale compensator (a log), "
        "the bridge (an exp), and per market and variant the clearing and the daily "
        "statistics (a log of every distinct price); once per linked variant and day whose "
        "inputs differ from the previous variant's it calls the link solver "
        f"(`riskmodel.linking.solve_step`, 3 markets with a quota and a collar: "
        f"**{b['solver_ns']:.0f} ns per call** in this run). The ratio compares that with a "
        "kernel that costs about two normal draws per step: at a quarter of (a)'s rate the "
        f"full kernel would have {12 * a['ours_ns']:.0f} ns per path-step for everything "
        "(three markets), while the same kernel without links and events takes "
        f"{b['no_links_ns_per_path_step']:.0f} ns and one solver call {b['solver_ns']:.0f} ns. "
        "Work is per year in blocks (exogenous paths first, in loops the CPU overlaps; then "
        "the days' clearing), see docs/ENGINE.md.",
        "",
        "## (c) peak memory over ten years of trading days",
        "",
        "| paths | seconds | traced peak (MB) | process max RSS (MB) |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for r in c:
        lines.append(f"| {r['paths']} | {r['seconds']:.1f} | {r['traced_peak_mb']:.1f} | "
                     f"{r['maxrss_mb']:.0f} |")
    per_path = c[-1]["seconds"] / c[-1]["paths"]
    lines += [
        "",
        "Chunks of 1,000 paths are folded into the running statistics as they finish "
        "(``simulate``), so the traced peak (numpy arrays: chunk sums, histograms) is flat in "
        "the number of paths; the max RSS includes the interpreter, numba and the compiled "
        "kernels. One million paths x 10 years therefore peaks at the same memory "
        f"(< 2 GB target); its run time here would be about {per_path * 1e6 / 3600:.1f} "
        "core-hours (the batch layer spreads chunks over workers).",
        "",
    ]
    atomic_write_text(ROOT / "benchmarks" / "results" / "engine.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
