"""Time the regime models against references on the same data, machine and run.

    python benchmarks/bench_msgarch.py [--nobs 3000] [--repeats 7] [--fit-repeats 3]

Compares (median of repeats after a warm-up call; compile time measured separately in a fresh
process with an empty numba cache):

* MS-GARCH log-likelihood: numba kernel vs the pure-numpy reference ``msgarch_loglik_numpy``;
* MS-GARCH fit (``fit_msgarch``) vs statsmodels ``MarkovRegression`` fit (switching mean and
  variance), and our ``fit_markov`` vs the same statsmodels fit (like for like);
* Hamilton filter log-likelihood: ``markov_loglik`` (numba) vs statsmodels ``loglike``.

Prints a table and writes ``benchmarks/results/msgarch.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import statsmodels
import statsmodels.api as sm

from riskmodel.fit import markov as mk
from riskmodel.fit import msgarch as mg
from riskmodel.io import atomic_write_text

TRUE = {
    "mu": 0.05,
    "omega_0": 0.05,
    "omega_1": 0.5,
    "alpha_0": 0.05,
    "alpha_1": 0.10,
    "beta_0": 0.90,
    "beta_1": 0.80,
    "p_00": 0.98,
    "p_01": 0.02,
    "p_10": 0.04,
    "p_11": 0.96,
}
MS = {
    "mu_0": 0.05,
    "mu_1": -0.1,
    "sigma2_0": 1.0,
    "sigma2_1": 6.0,
    "p_00": 0.98,
    "p_01": 0.02,
    "p_10": 0.05,
    "p_11": 0.95,
}
RESULTS = Path(__file__).resolve().parent / "results" / "msgarch.md"

COMPILE_SNIPPET = """
import time, numpy as np
t0 = time.perf_counter()
from riskmodel.fit import markov as mk, msgarch as mg
y = np.random.default_rng(0).standard_normal(500)
t1 = time.perf_counter()
mk.markov_loglik(y, {ms!r})
t2 = time.perf_counter()
mg.msgarch_loglik(y, {mg!r})
t3 = time.perf_counter()
print(t2 - t1, t3 - t2)
"""


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compile_times() -> tuple[float, float]:
    """First-call seconds of the Hamilton filter and MS-GARCH likelihood with an empty cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run(
            [sys.executable, "-c", COMPILE_SNIPPET.format(ms=MS, mg=TRUE)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    a, b = (float(x) for x in out.split())
    return a, b


def simulate(nobs: int, seed: int) -> np.ndarray:
    """A 2-state MS-GARCH series (the benchmark data)."""
    res = mg.filter_with_params(np.random.default_rng(seed).standard_normal(200), TRUE)
    return res.simulate(nobs, 1, rng=seed, start="ergodic").returns[0]


def machine_info() -> list[str]:
    """Lines describing the machine and library versions."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"- machine: {cpu}, {os.cpu_count()} logical CPUs, {platform.system()} "
        f"{platform.release()}",
        f"- load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared machine: "
        "ratios are more stable than absolute times)",
        f"- python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__},"
        f" statsmodels {statsmodels.__version__}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nobs", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--fit-repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    T, R, RF = args.nobs, args.repeats, args.fit_repeats
    y = simulate(T, args.seed)
    info = machine_info()

    c_ham, c_msg = compile_times()
    rows: list[tuple[str, float, str, float]] = []

    # 1. MS-GARCH likelihood, numba vs numpy
    t_nb = median_time(lambda: mg.msgarch_loglik(y, TRUE), max(R, 20))
    t_np = median_time(lambda: mg.msgarch_loglik_numpy(y, TRUE), R)
    rows.append(("MS-GARCH loglik, numba", t_nb, "pure-numpy reference", t_np))

    # 2. Hamilton filter, numba vs statsmodels loglike at the same parameters
    mod = sm.tsa.MarkovRegression(y, k_regimes=2, switching_variance=True)
    sp = np.array([MS["p_00"], MS["p_10"], MS["mu_0"], MS["mu_1"], MS["sigma2_0"], MS["sigma2_1"]])
    assert abs(mk.markov_loglik(y, MS) - mod.loglike(sp)) < 1e-6
    t_h = median_time(lambda: mk.markov_loglik(y, MS), max(R, 20))
    t_hs = median_time(lambda: mod.loglike(sp), max(R, 20))
    rows.append(("MS loglik (Hamilton), numba", t_h, "statsmodels MarkovRegression.loglike", t_hs))

    # 3. fits on the same data
    def sm_fit() -> object:
        return sm.tsa.MarkovRegression(y, k_regimes=2, switching_variance=True).fit(disp=False)

    t_sm = median_time(sm_fit, RF)
    t_fg = median_time(lambda: mg.fit_msgarch(y, k_regimes=2), RF)
    t_fm = median_time(lambda: mk.fit_markov(y, k_regimes=2), RF)
    rows.append(
        ("MS-GARCH fit (K=2, normal, 4 starts)", t_fg, "statsmodels MarkovRegression fit", t_sm)
    )
    rows.append(("MS fit (K=2, 5 starts), numba", t_fm, "statsmodels MarkovRegression fit", t_sm))
    fg, fm, fs = mg.fit_msgarch(y), mk.fit_markov(y), sm_fit()

    table = [
        "| timed | seconds | reference | seconds | ratio (reference / ours) |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for name, t, ref, tr in rows:
        table.append(f"| {name} | {t:.6f} | {ref} | {tr:.6f} | {tr / t:.1f} |")
    lines = [
        "# Regime-model benchmark (`benchmarks/bench_msgarch.py`)",
        "",
        f"Data: one simulated 2-state MS-GARCH(1,1) series, T = {T} (seed {args.seed}); "
        f"likelihoods: median of {max(R, 20)} (numba, statsmodels loglike) or {R} (numpy) calls; "
        f"fits: median of {RF}; each after one warm-up call (compile excluded).",
        "",
        *info,
        "",
        *table,
        "",
        f"Compile time (first call, empty numba cache, separate process): Hamilton filter "
        f"{c_ham:.2f} s, MS-GARCH likelihood {c_msg:.2f} s.",
        "",
        f"Log-likelihoods reached: MS-GARCH {fg.loglik:.2f} (true model), our MS {fm.loglik:.2f},"
        f" statsmodels MS {fs.llf:.2f}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    atomic_write_text(RESULTS, text)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
