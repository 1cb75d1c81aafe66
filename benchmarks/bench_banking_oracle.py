"""The gap between the certainty-equivalent rolling rule and the competitive-storage oracle
(precautionary banking), on one market over a phase.

Writes ``benchmarks/results/banking_oracle.md``.

    .venv/bin/python benchmarks/bench_banking_oracle.py [--paths N]

A phase of T = 6 years, expected required abatement n̄ = 100 Mt a year, c = 2 Mt per currency
unit (static price 50), carry r = 3 %/yr, an opening bank of 50 Mt, no borrowing, banks void
after the phase. Shocks z are AR(1) (persistence ρ, innovation sd σ as a share of n̄) on a
5-node Rouwenhorst chain. Both rules run on the same shock paths.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from riskmodel.banking.storage_oracle import simulate_both, solve_storage
from riskmodel.io import atomic_write_text

HERE = Path(__file__).resolve().parent
T, NBAR, C, R, BANK0 = 6, 100.0, 2.0, 0.03, 50.0


def row(rho: float, sigma_share: float, paths: int) -> tuple[str, float]:
    nbar = np.full(T, NBAR)
    t0 = time.perf_counter()
    sol = solve_storage(nbar, C, R, rho=rho, sigma=sigma_share * NBAR, nz=5)
    solve_s = time.perf_counter() - t0
    worst = 0.0
    rng = np.random.default_rng(0)
    for t in range(T - 1):
        for i in range(5):
            av = rng.uniform(-300.0, 300.0, 2000)
            worst = max(worst, float(np.abs(sol.euler_residuals(t, i, av)).max()))
    out = simulate_both(sol, BANK0, paths, seed=1)
    po, pr = out["p_oracle"], out["p_rolling"]
    bo, br = out["b_oracle"], out["b_rolling"]
    so = (bo[:, 1:T] <= 1e-9).mean()
    sr = (br[:, 1:T] <= 1e-9).mean()
    q = [5, 50, 95]
    cells = [
        f"{rho:g}",
        f"{sigma_share:.0%}",
        f"{po[:, 0].mean():.2f} / {pr[:, 0].mean():.2f}",
        f"{po.mean():.2f} / {pr.mean():.2f}",
        f"{so:.1%} / {sr:.1%}",
        " / ".join(f"{v:.0f}" for v in np.percentile(bo[:, 3], q))
        + " vs "
        + " / ".join(f"{v:.0f}" for v in np.percentile(br[:, 3], q)),
        f"{worst:.1e}",
        f"{solve_s:.2f}",
    ]
    return "| " + " | ".join(cells) + " |", worst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=4000)
    args = ap.parse_args()
    head = (
        "| ρ | σ / n̄ | year-1 price, oracle / rolling | mean price 6 y | stock-out share "
        "(year-ends 1-5) | bank at start of year 4, p5/p50/p95 (Mt) | max Euler residual | "
        "solve (s) |\n|---|---|---|---|---|---|---|---|"
    )
    rows = [row(rho, s, args.paths)[0] for rho in (0.0, 0.6) for s in (0.05, 0.1, 0.2, 0.3)]
    text = "\n".join(
        [
            "# Precautionary banking: storage oracle against the rolling rule",
            "",
            f"T = {T} years, n̄ = {NBAR:g} Mt/yr, c = {C:g} Mt per currency unit (static price "
            f"{NBAR / C:g}), r = {R:.0%}, opening bank {BANK0:g} Mt, no borrowing, {args.paths} "
            "paths (common shocks). Prices in currency units per tonne; Euler residuals in "
            "currency units at 50,000 random off-grid states. Written by "
            "benchmarks/bench_banking_oracle.py.",
            "",
            head,
            *rows,
            "",
        ]
    )
    out = HERE / "results" / "banking_oracle.md"
    atomic_write_text(out, text)
    print(text)


if __name__ == "__main__":
    main()
