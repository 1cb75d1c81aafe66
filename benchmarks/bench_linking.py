"""Time the link solver kernels per solve, against the scipy convex-QP reference.

    python benchmarks/bench_linking.py [--draws 200000] [--qp-draws 20]

For N = 2, 3, 5, 10 markets, the time per call (ns) inside a numba loop (as the Monte Carlo engine
calls it: new autarky prices each call, preallocated arrays), after a warm-up call:

* ``pool``: :func:`solve_pool`, linear abatement, no collars (the closed-form case);
* ``pool+collars``: :func:`solve_pool` with collars, finite reserves, market quotas and fees;
* ``quota link``: :func:`solve_step`, a quota on link 0-1, the other links plain, a collar on
  market 0 (the engine benchmark's topology);
* ``step plain``: :func:`solve_step` with a chain of plain links (contracted into one pool);
* ``network``: :func:`solve_step` with a chain of restricted links (fee and quota on each);
* ``network eta``: the same with power-law abatement (Illinois root-finder);
* ``qp``: the scipy SLSQP reference on the ``network`` problems (ratio = qp / network).

Prints a table and writes ``benchmarks/results/linking.md``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit

from riskmodel.io import atomic_write_text
from riskmodel.linking import (
    M_C,
    M_CEIL,
    M_ETA,
    M_FEE_IMP,
    M_FLOOR,
    M_IMP_CAP,
    M_P_AUT,
    M_RES_DOWN,
    M_RES_UP,
    N_LINK_OUT,
    N_OUT,
    O_PRICE,
    Link,
    compile_topology,
    market_array,
    solve_pool,
    solve_step,
    workspace,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from test_linking_qp import qp_reference  # noqa: E402


@njit(cache=True)
def _loop_pool(mkt, out, flags, fwork, iwork, draws):  # noqa: ANN001, ANN202
    acc = 0.0
    for d in range(draws.shape[0]):
        for i in range(mkt.shape[0]):
            mkt[i, M_P_AUT] = draws[d, i]
        solve_pool(mkt, out, flags, fwork, iwork)
        acc += out[0, O_PRICE]
    return acc


@njit(cache=True)
def _loop_step(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork, draws):  # noqa: ANN001, ANN202
    acc = 0.0
    for d in range(draws.shape[0]):
        for i in range(mkt.shape[0]):
            mkt[i, M_P_AUT] = draws[d, i]
        solve_step(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork)
        acc += out[0, O_PRICE]
    return acc


QUOTA = 25.0  # Mt, the quota of the ``quota link`` case


def _markets(n: int, rng: np.random.Generator, collars: bool, eta: float = 1.0) -> np.ndarray:
    m = market_array(n)
    m[:, M_C] = rng.uniform(0.3, 3.0, n)
    m[:, M_ETA] = eta
    if collars:
        m[:, M_FLOOR] = rng.uniform(5, 15, n)
        m[:, M_CEIL] = rng.uniform(50, 70, n)
        m[:, M_RES_UP] = rng.uniform(2, 10, n)
        m[:, M_RES_DOWN] = rng.uniform(2, 10, n)
        m[:, M_IMP_CAP] = rng.uniform(5, 20, n)
        m[:, M_FEE_IMP] = rng.uniform(0, 1, n)
    return m


def _time(fn, *args) -> float:  # noqa: ANN001
    """CPU ns per call (process time: robust to other jobs on a shared machine), best of 3;
    the number of draws is cut so that one run takes about 0.3 s at most."""
    draws = args[-1]
    fn(*args[:-1], draws[:2])  # warm-up (compiles)
    t0 = time.process_time()
    fn(*args[:-1], draws[:100])
    per = max((time.process_time() - t0) / 100, 1e-9)
    draws = draws[: max(100, min(draws.shape[0], int(0.3 / per)))]
    best = np.inf
    for _ in range(3):
        t0 = time.process_time()
        fn(*args[:-1], draws)
        best = min(best, time.process_time() - t0)
    return best / draws.shape[0] * 1e9


def bench(n: int, ndraw: int, nqp: int, rng: np.random.Generator) -> dict[str, float]:
    draws = rng.uniform(0, 80, (ndraw, n))
    out = np.empty((n, N_OUT))
    flags = np.empty(n, np.int64)
    res: dict[str, float] = {}
    # pools
    for name, collars in (("pool", False), ("pool+collars", True)):
        m = _markets(n, rng, collars)
        fwork, iwork = workspace(n, 0)
        res[name] = _time(_loop_pool, m, out, flags, fwork, iwork,
                          draws)
    # chains
    plain = compile_topology(n, [Link(i, i + 1) for i in range(n - 1)])
    restricted = compile_topology(n, [Link(i, i + 1, fee_ab=0.5, fee_ba=0.5, quota_ab=8.0,
                                           quota_ba=8.0) for i in range(n - 1)])
    lout = np.empty((n - 1, N_LINK_OUT))
    state = np.zeros(n - 1, np.int64)
    fwork, iwork = workspace(n, n - 1)
    for name, la, eta in (("step plain", plain, 1.0), ("network", restricted, 1.0),
                          ("network eta", restricted, 0.8)):
        m = _markets(n, rng, True, eta)
        res[name] = _time(_loop_step, m, la.ends, la.lpar, state, out,
                          lout, flags, fwork, iwork, draws)
    # one restricted link (quota 0-1) and plain links, a collar on market 0 (the engine's case)
    one = compile_topology(n, [Link(0, 1, quota_ab=QUOTA, quota_ba=QUOTA)]
                           + [Link(i, i + 1) for i in range(1, n - 1)])
    m = _markets(n, rng, False)
    m[0, M_FLOOR] = 20.0
    m[0, M_CEIL] = 70.0
    m[0, M_RES_UP] = 10.0
    m[0, M_RES_DOWN] = 10.0
    res["quota link"] = _time(_loop_step, m, one.ends, one.lpar, state, out, lout, flags,
                              fwork, iwork, draws)
    # QP reference on the network problems
    m = _markets(n, rng, True)
    t0 = time.process_time()
    for d in range(nqp):
        m[:, M_P_AUT] = draws[d]
        qp_reference(m, restricted, strict=False)
    res["qp"] = (time.process_time() - t0) / nqp * 1e9
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=200_000)
    ap.add_argument("--qp-draws", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    cols = ["pool", "pool+collars", "quota link", "step plain", "network", "network eta", "qp"]
    rows = []
    for n in (2, 3, 5, 10):
        r = bench(n, args.draws, args.qp_draws, rng)
        rows.append((n, r))
        print(f"N={n:2d} " + "  ".join(f"{c}={r[c]:,.0f}ns" for c in cols), flush=True)
    lines = [
        "# Link solver: time per solve",
        "",
        f"Machine: {platform.machine()} / {platform.processor() or 'cpu'}, Python "
        f"{platform.python_version()}, numba {numba.__version__}, numpy {np.__version__}. "
        f"Draws per kernel timing: up to {args.draws:,} (CPU time, best of 3 after warm-up); "
        f"QP: mean of "
        f"{args.qp_draws} scipy SLSQP solves. Generated by `benchmarks/bench_linking.py`.",
        "",
        "| N | " + " | ".join(f"{c} (ns)" for c in cols) + " | qp / network |",
        "|---|" + "---|" * (len(cols) + 1),
    ]
    for n, r in rows:
        lines.append(f"| {n} | " + " | ".join(f"{r[c]:,.0f}" for c in cols)
                     + f" | {r['qp'] / r['network']:,.0f} |")
    lines += [
        "",
        "pool: solve_pool, no collars; pool+collars: collars with finite reserves, market quotas "
        "and fees; quota link: solve_step on a chain whose first link has a quota "
        f"({QUOTA:g} Mt both ways) and whose other links are plain, a collar (20-70, reserves "
        "10 Mt) on market 0 only; step plain: solve_step on a chain of plain links (one pool); "
        "network: "
        "solve_step on a chain of links each with a fee and a quota (tree solver); network eta: "
        "the same with eta = 0.8 (Illinois root-finder); qp: scipy SLSQP on the network problem.",
        "",
    ]
    path = atomic_write_text(ROOT / "benchmarks" / "results" / "linking.md", "\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
