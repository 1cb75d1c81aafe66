"""Time the firm report on 100,000 paths against a reference measured in the same run.

    python benchmarks/bench_report.py [--paths 100000] [--years 5] [--events 2] [--repeats 3]

The paths are constructed (lognormal prices, correlated BAU; three variants on common random
numbers, plus one ``linked`` / ``linked_events`` pair per single event), so this measures the
report, not the engine. Stages (median of repeats after a warm-up):

* reference: the least a cost distribution needs, ``price × emissions`` summed over years and
  sorted, for every variant (numpy);
* ``firm_costs``: cost model, bank, hedges, risk table, variance decomposition, hedge analysis;
* ``build_report``: the above plus the single-event effects, six figures and the HTML page;
* ``write_report``: HTML, JSON, CSV and PNG files.

Prints a table and writes ``benchmarks/results/report.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from riskmodel.firm.cost import MarketPaths, firm_costs
from riskmodel.firm.firm import firm_from_dict
from riskmodel.firm.inputs import FirmInputs
from riskmodel.firm.report import build_report, write_report
from riskmodel.io import atomic_write_text
from riskmodel.sim.scenario import scenario_from_dict

VARIANTS = ["autarky", "linked", "linked_events"]
FIRM = {
    "name": "Benchmark firm", "market": "aa",
    "emissions": {"level": 10.0, "idiosyncratic_vol": 0.05, "idiosyncratic_persistence": 0.3},
    "abatement": {"slope": 5.0, "curvature": 0.5, "max_share": 0.15},
    "allocation": {"level": 8.0, "annual_change": -0.03}, "bank": 1.0,
    "hedges": [{"type": "futures", "year": 2024, "ratio": 0.6},
               {"type": "fixed_price", "year": 2025, "volume": 1.0, "price": 30.0}],
}


def make_paths(n: int, years: int, seed: int) -> MarketPaths:
    """Constructed [variant, path, year] prices and BAU emissions."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, years))
    u = 0.4 * z + math.sqrt(1 - 0.16) * rng.standard_normal((n, years))
    aut = 30.0 * np.exp(np.cumsum(0.25 * z, axis=1) - 0.03125 * np.arange(1, years + 1))
    lnk = 0.6 * aut + 10.0
    jump = (rng.random((n, 1)) < 0.15) * rng.normal(0, 8.0, (n, years))
    price = np.stack([aut, lnk, np.maximum(lnk + jump, 0.5)])
    bau = np.broadcast_to(200.0 * np.exp(0.06 * u), price.shape).copy()
    return MarketPaths(VARIANTS, list(range(2024, 2024 + years)), price, bau, "EUR", "aa")


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call."""
    fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--events", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    mp = make_paths(args.paths, args.years, 1)
    per_event = {}
    for k in range(args.events):
        e = make_paths(args.paths, args.years, 100 + k)
        per_event[f"event {k + 1}"] = MarketPaths(VARIANTS[1:], e.years, e.price[1:],
                                                  e.bau[1:], "EUR", "aa")
    proc = {"family": "garch", "params": {"omega": 0.05, "alpha": 0.05, "beta": 0.9},
            "last_price": 30.0}
    scn = scenario_from_dict({
        "name": "bench", "links": [{"markets": ["aa", "bb"]}],
        "markets": [{"id": i, "synthetic": True, "currency": "EUR", "bau_emissions": 100.0,
                     "process": proc} for i in ("aa", "bb")],
        "horizon": {"start_year": 2024, "years": args.years}})
    firm = firm_from_dict(FIRM)
    inputs = FirmInputs(scenario=scn, market=mp, daily=None, per_event=per_event, fx=1.0,
                        currency="EUR", source="constructed paths")

    def reference() -> None:
        em = 0.05 * mp.bau
        np.sort((mp.price * em).sum(-1), axis=-1)

    out_dir = Path(tempfile.mkdtemp(prefix="bench_report_"))
    rep = build_report(firm, inputs)
    stages = {
        "reference (price × emissions, sorted)": timed(reference, args.repeats),
        "firm_costs (risk table, decomposition, hedges)":
            timed(lambda: firm_costs(firm, mp), args.repeats),
        f"build_report ({args.events} single events, 6 figures, HTML)":
            timed(lambda: build_report(firm, inputs), args.repeats),
        "write_report (HTML, JSON, CSV, PNG)":
            timed(lambda: write_report(rep, out_dir), args.repeats),
    }
    ref = next(iter(stages.values()))
    total = stages[f"build_report ({args.events} single events, 6 figures, HTML)"] + \
        stages["write_report (HTML, JSON, CSV, PNG)"]
    lines = [
        "# Firm report benchmark",
        "",
        f"`python benchmarks/bench_report.py --paths {args.paths} --years {args.years} "
        f"--events {args.events} --repeats {args.repeats}` on {platform.machine()}, "
        f"{os.cpu_count()} logical CPUs, Python {platform.python_version()}, numpy "
        f"{np.__version__} (the machine was shared with other jobs: ratios are the "
        "comparable numbers). Median of repeats after a warm-up; constructed paths, "
        f"{len(VARIANTS)} variants on common random numbers, {args.years} compliance years.",
        "",
        "| stage | seconds | × reference |",
        "| --- | ---: | ---: |",
        *[f"| {k} | {v:.3f} | {v / ref:,.0f} |" for k, v in stages.items()],
        f"| **report end to end (build + write)** | **{total:.2f}** | {total / ref:,.0f} |",
        "",
        f"HTML size: {len(rep.html) / 1e3:,.0f} kB (six embedded PNGs).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    atomic_write_text(Path(__file__).parent / "results" / "report.md", text)


if __name__ == "__main__":
    main()
