"""Time the link solver by topology class, and the engine on china_korea vs china_korea_japan.

    python benchmarks/bench_linking_topologies.py --label before|after [--draws 100000]
        [--paths 400] [--skip-engine]

(1) ns per ``solve_step`` call (CPU time inside a numba loop, new autarky prices each call, best
of 3 after a warm-up) for each topology class: a single pair, a linear tree (chain) of 3, a star
of 4, a plain triangle (three links without quota: the shipped ``china_korea_japan``) and a
restricted triangle (three quota links: a cycle the forest solvers cannot take). Markets carry
collars with finite reserves on some members, as in the shipped scenarios; quotas bind on some
draws. The share of calls the fast path answered is reported beside.

(2) Warm wall time per market and sweep point of the shipped ``china_korea`` (2 markets, 2 sweep
points) and ``china_korea_japan`` (3 markets, 4 points), ``--paths`` paths in one chunk per point,
one process (``simulate_chunk``, after a warm-up call of each point with a few paths; CPU time,
best of 5 rounds, interleaved).

Each label's figures go to ``benchmarks/results/linking_topologies.json``; the markdown table
``benchmarks/results/linking_topologies.md`` shows every label side by side.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit

from riskmodel.io import atomic_write_text
from riskmodel.linking import (
    M_C,
    M_CEIL,
    M_FLOOR,
    M_P_AUT,
    M_RES_DOWN,
    M_RES_UP,
    N_LINK_OUT,
    N_OUT,
    O_PRICE,
    Link,
    compile_topology,
    market_array,
    solve_step,
    workspace,
)
from riskmodel.linking.topology import iwork_path_slot

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

Q = 6.0  # Mt, the quota of every restricted link (binds on some draws)

#: topology classes: (number of markets, links)
CLASSES: dict[str, tuple[int, list[Link]]] = {
    "pair": (2, [Link(0, 1, quota_ab=Q, quota_ba=Q)]),
    "chain3": (3, [Link(0, 1, quota_ab=Q, quota_ba=Q), Link(1, 2, quota_ab=Q, quota_ba=Q)]),
    "star4": (4, [Link(0, k, quota_ab=Q, quota_ba=Q) for k in (1, 2, 3)]),
    "plain triangle": (3, [Link(0, 1), Link(0, 2), Link(1, 2)]),
    "restricted triangle": (3, [Link(0, 1, quota_ab=Q, quota_ba=Q),
                                Link(0, 2, quota_ab=Q, quota_ba=Q),
                                Link(1, 2, quota_ab=Q, quota_ba=Q)]),
}


@njit(cache=True)
def _loop(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork, draws, slot):  # noqa: ANN001, ANN202
    acc = 0.0
    fast = 0
    for d in range(draws.shape[0]):
        for i in range(mkt.shape[0]):
            mkt[i, M_P_AUT] = draws[d, i]
        solve_step(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork)
        acc += out[0, O_PRICE]
        fast += iwork[slot]
    return acc, fast


def _markets(n: int, rng: np.random.Generator) -> np.ndarray:
    m = market_array(n)
    m[:, M_C] = rng.uniform(0.3, 3.0, n)
    m[0, M_FLOOR] = 10.0  # a collar with finite reserves on market 0 (as K-ETS, WCI)
    m[0, M_CEIL] = 60.0
    m[0, M_RES_UP] = 8.0
    m[0, M_RES_DOWN] = 8.0
    return m


def bench_topologies(ndraw: int) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(0)
    res: dict[str, dict[str, float]] = {}
    for name, (n, links) in CLASSES.items():
        la = compile_topology(n, links)
        m = _markets(n, rng)
        draws = rng.uniform(0, 80, (ndraw, n))
        out = np.empty((n, N_OUT))
        lout = np.empty((len(links), N_LINK_OUT))
        flags = np.zeros(n, np.int64)
        state = np.zeros(len(links), np.int64)
        fw, iw = workspace(n, len(links))
        slot = iwork_path_slot(n, len(links))
        args = (m, la.ends, la.lpar, state, out, lout, flags, fw, iw)
        _loop(*args, draws[:2], slot)
        best = np.inf
        fast = 0
        for _ in range(3):
            t0 = time.process_time()
            _, fast = _loop(*args, draws, slot)
            best = min(best, time.process_time() - t0)
        res[name] = {"ns": best / ndraw * 1e9, "fast_share": fast / ndraw}
        print(f"{name:20s} {res[name]['ns']:9,.0f} ns/call  fast {fast / ndraw:.3f}", flush=True)
    return res


def _plan(name: str, paths: int):  # noqa: ANN202
    from riskmodel import config
    from riskmodel.batch.scenario_file import plan_from_dict
    from riskmodel.io import read_yaml

    data = read_yaml(config.SCENARIOS_DIR / f"{name}.yaml")
    data["simulation"] = {**data.get("simulation", {}), "paths": paths,
                          "paths_per_chunk": paths, "keep_paths": 0}
    return plan_from_dict(data, file=config.SCENARIOS_DIR / f"{name}.yaml")


def bench_engine(paths: int, rounds: int = 5) -> dict[str, dict[str, float]]:
    from riskmodel.sim.engine import simulate_chunk
    from riskmodel.sim.resolve import resolve

    names = ("china_korea", "china_korea_japan")
    points = {}
    for name in names:
        plan = _plan(name, paths)
        pts = []
        for sc in plan.scenarios:
            rs = resolve(sc)
            warm = sc.model_copy(update={"simulation": sc.simulation.model_copy(
                update={"paths": 8, "paths_per_chunk": 8})})
            simulate_chunk(warm, 0)  # compiles / loads the kernel
            pts.append((sc, rs))
        points[name] = pts
    best = {name: [np.inf] * len(points[name]) for name in names}
    for _ in range(rounds):
        for name in names:
            for k, (sc, rs) in enumerate(points[name]):
                t0 = time.process_time()
                simulate_chunk(sc, 0, resolved=rs)
                best[name][k] = min(best[name][k], time.process_time() - t0)
    res = {}
    for name in names:
        n_mk = len(points[name][0][0].markets)
        tot = float(sum(best[name]))
        res[name] = {"markets": n_mk, "points": len(best[name]), "paths": paths,
                     "point_s": [float(b) for b in best[name]],
                     "per_market_point_s": tot / (n_mk * len(best[name]))}
        print(f"{name:20s} points {[f'{b:.3f}' for b in best[name]]} s; per market and point "
              f"{res[name]['per_market_point_s']:.4f} s", flush=True)
    a, b = (res[n]["per_market_point_s"] for n in names)
    res["ratio"] = {"china_korea_japan / china_korea": b / a}
    print(f"ratio china_korea_japan / china_korea per market and point: {b / a:.2f}")
    return res


def _markdown(allres: dict) -> str:
    labels = list(allres)
    lines = [
        "# Link solver by topology class; china_korea_japan against china_korea",
        "",
        "Generated by `benchmarks/bench_linking_topologies.py` (labels: "
        + ", ".join(f"`{lb}`" for lb in labels) + "). "
        f"Machine: {platform.machine()}, Python {platform.python_version()}, numba "
        f"{numba.__version__}; shared 2-core machine (CPU time, best of 3 for the solver and of "
        "5 for the engine).",
        "",
        "## ns per `solve_step` call (share answered by the fast path)",
        "",
        "| topology | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for name in CLASSES:
        cells = []
        for lb in labels:
            r = allres[lb].get("topologies", {}).get(name)
            cells.append(f"{r['ns']:,.0f} ({r['fast_share']:.2f})" if r else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Markets: c ~ U(0.3, 3), market 0 with a collar 10-60 and 8 Mt reserves; autarky prices "
        f"U(0, 80) each call; restricted links carry a {Q:g} Mt quota both ways.",
        "",
        "## Engine: warm seconds per market and sweep point",
        "",
        "| scenario | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for name in ("china_korea", "china_korea_japan"):
        cells = []
        for lb in labels:
            r = allres[lb].get("engine", {}).get(name)
            cells.append(f"{r['per_market_point_s']:.4f} ({r['paths']} paths; points "
                         + ", ".join(f"{x:.2f}" for x in r["point_s"]) + " s)" if r else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = []
    for lb in labels:
        r = allres[lb].get("engine", {}).get("ratio")
        cells.append(f"{r['china_korea_japan / china_korea']:.2f}" if r else "")
    lines.append("| ratio (goal <= 1.5) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Labels are code versions run back to back (`before`: the solver before issue #14's "
        "cycle work; `after`: with it). Engine figures move by about 2% between repeated runs "
        "here; the shipped china_korea_japan is a triangle of plain links, which the engine "
        "mostly clears with its plain-pool closed form.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True)
    ap.add_argument("--draws", type=int, default=100_000)
    ap.add_argument("--paths", type=int, default=400)
    ap.add_argument("--skip-engine", action="store_true")
    args = ap.parse_args()
    path = RESULTS / "linking_topologies.json"
    allres = json.loads(path.read_text()) if path.exists() else {}
    res = {"topologies": bench_topologies(args.draws)}
    if not args.skip_engine:
        res["engine"] = bench_engine(args.paths)
    allres[args.label] = res
    atomic_write_text(path, json.dumps(allres, indent=1) + "\n")
    atomic_write_text(RESULTS / "linking_topologies.md", _markdown(allres))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
