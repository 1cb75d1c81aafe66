"""ns per ``solve_step`` call on the topologies the kernel clears every day (issue #14).

    python benchmarks/bench_solve_step.py [--rounds 9] [--ab REV] [--no-write]

Cases (inputs drawn once from a fixed seed, then cycled, so the branches vary from call to call:
quotas bind on some draws and not on others, collars bind on some):

* ``pair_quota``: two markets, one link with a 40 Mt quota both ways;
* ``chain3_quota_plain``: the bench scenario's topology (``bench_engine.three_market``): a - b
  with a 40 Mt quota, b - c plain, market a with a collar (20-150, finite reserves);
* ``chain4_quota``: four markets in a chain of three quota links (40, 30, 20 Mt);
* ``pair_collar``: two markets, one plain link, market a's collar (60-90, 20 Mt reserves)
  binding on about half the draws (``collar_root``).

Each case is timed two ways: ``called`` (a numba loop calling ``linking.solve_step``, as
``linking.pool`` and outside callers do) and ``kernel`` (the loop clearing as ``run_paths``
does: ``fast_closed`` inlined, then ``fast_exact`` and the general solver called where the one
before declined; before that split, the copy of ``solve_step`` that ``run_paths`` inlined); the
loop itself (writing the autarky
prices, reading one output; timed without the solver) is subtracted. Timing: CPU time
(``time.process_time``) of one pass over the cycled draws, minimum over rounds that interleave
every case and mode. Each case's outputs (``out``, ``lout``, ``flags``, status of every draw)
are hashed: versions that answer alike print the same digest.

``--ab REV`` runs ``riskmodel`` as of git revision REV (exported to a temporary folder) and the
working tree's in alternating child processes, one round each, prints both with their
digests and writes them (labels ``before (REV)`` and ``after``; ``--no-write``: prints only).
Otherwise the results go to
``benchmarks/results/solve_step.{json,md}`` under ``--label`` (the md shows every label).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rev_tree import ENV, export  # noqa: E402

if os.environ.get(ENV):  # a child measuring another version of the package
    sys.path.insert(0, os.environ[ENV])

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
NDRAW = 4096  # distinct inputs per case, cycled
PASSES = 12  # passes over the draws per timing


def _mk(n: int, c: list[float], collar: tuple[float, float, float] | None) -> np.ndarray:
    m = market_array(n)
    m[:, M_C] = c
    if collar is not None:
        m[0, M_FLOOR], m[0, M_CEIL] = collar[0], collar[1]
        m[0, M_RES_UP] = m[0, M_RES_DOWN] = collar[2]
    return m


#: case -> (markets, links, mean autarky prices, their sd, collar of market 0 or None)
CASES: dict[str, tuple[np.ndarray, list[Link], list[float], float]] = {
    "pair_quota": (
        _mk(2, [5.0, 8.0], None),
        [Link(0, 1, quota_ab=40.0, quota_ba=40.0)],
        [80.0, 30.0],
        15.0,
    ),
    "chain3_quota_plain": (
        _mk(3, [5.0, 8.0, 3.0], (20.0, 150.0, 30.0)),
        [Link(0, 1, quota_ab=40.0, quota_ba=40.0), Link(1, 2)],
        [80.0, 30.0, 40.0],
        15.0,
    ),
    "chain4_quota": (
        _mk(4, [5.0, 8.0, 3.0, 6.0], None),
        [
            Link(0, 1, quota_ab=40.0, quota_ba=40.0),
            Link(1, 2, quota_ab=30.0, quota_ba=30.0),
            Link(2, 3, quota_ab=20.0, quota_ba=20.0),
        ],
        [80.0, 30.0, 40.0, 60.0],
        12.0,
    ),
    "pair_collar": (_mk(2, [5.0, 8.0], (60.0, 90.0, 20.0)), [Link(0, 1)], [75.0, 70.0], 20.0),
}


@njit(cache=True, error_model="numpy")
def _loop_called(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork, draws, passes):  # noqa: ANN001, ANN202
    acc = 0.0
    for _ in range(passes):
        for d in range(draws.shape[0]):
            for i in range(mkt.shape[0]):
                mkt[i, M_P_AUT] = draws[d, i]
            acc += solve_step(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork)
            acc += out[0, O_PRICE]
    return acc


try:  # the kernel's own callables: fast_closed inlined, the others called
    from riskmodel.linking.topology import STATUS_FAST_DECLINED
    from riskmodel.sim.kernel import _solve_general, fast_closed, fast_exact

    @njit(cache=True, error_model="numpy")
    def _loop_kernel(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork, draws, passes):  # noqa: ANN001, ANN202
        acc = 0.0
        for _ in range(passes):
            for d in range(draws.shape[0]):
                for i in range(mkt.shape[0]):
                    mkt[i, M_P_AUT] = draws[d, i]
                st = fast_closed(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork)
                if st == STATUS_FAST_DECLINED:
                    st = fast_exact(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork)
                if st == STATUS_FAST_DECLINED:
                    st = _solve_general(
                        mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork, True
                    )
                acc += st
                acc += out[0, O_PRICE]
        return acc

except ImportError:  # versions before the split: run_paths inlined solve_step
    from riskmodel.sim.kernel import solve_step as solve_step_inline

    @njit(cache=True, error_model="numpy")
    def _loop_kernel(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork, draws, passes):  # noqa: ANN001, ANN202
        acc = 0.0
        for _ in range(passes):
            for d in range(draws.shape[0]):
                for i in range(mkt.shape[0]):
                    mkt[i, M_P_AUT] = draws[d, i]
                acc += solve_step_inline(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork)
                acc += out[0, O_PRICE]
        return acc


@njit(cache=True, error_model="numpy")
def _loop_empty(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork, draws, passes):  # noqa: ANN001, ANN202
    acc = 0.0
    for _ in range(passes):
        for d in range(draws.shape[0]):
            for i in range(mkt.shape[0]):
                mkt[i, M_P_AUT] = draws[d, i]
            out[0, O_PRICE] += 1e-300  # (the loop's own work, kept by the compiler)
            acc += out[0, O_PRICE]
    return acc


@njit(cache=True, error_model="numpy")
def _answers(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork, draws, res):  # noqa: ANN001, ANN202
    """Every draw's outputs into ``res`` (row d: status, path, out, lout, flags)."""
    n, nl = out.shape[0], lout.shape[0]
    slot = 24 * n + 7 * nl + 32
    for d in range(draws.shape[0]):
        for i in range(n):
            mkt[i, M_P_AUT] = draws[d, i]
        res[d, 0] = solve_step(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork)
        res[d, 1] = iwork[slot]
        k = 2
        for i in range(n):
            for j in range(out.shape[1]):
                res[d, k] = out[i, j]
                k += 1
            res[d, k] = flags[i]
            k += 1
        for li in range(nl):
            for j in range(lout.shape[1]):
                res[d, k] = lout[li, j]
                k += 1


def _setup(name: str) -> tuple[tuple, np.ndarray]:
    mkt, links, mean, sd = CASES[name]
    n, nl = mkt.shape[0], len(links)
    la = compile_topology(n, links)
    rng = np.random.default_rng(20261205 + sorted(CASES).index(name))
    draws = np.maximum(rng.normal(mean, sd, (NDRAW, n)), 1.0)
    fw, iw = workspace(n, nl)
    args = (
        mkt.copy(),
        la.ends,
        la.lpar,
        np.zeros(nl, np.int64),
        np.zeros((n, N_OUT)),
        np.zeros((nl, N_LINK_OUT)),
        np.zeros(n, np.int64),
        fw,
        iw,
    )
    return args, draws


def digest_and_share(name: str) -> tuple[str, float]:
    """sha256 (first 16 hex digits) of every draw's outputs; share answered by the fast path."""
    args, draws = _setup(name)
    n, nl = args[0].shape[0], args[1].shape[0]
    res = np.zeros((draws.shape[0], 2 + n * (N_OUT + 1) + nl * N_LINK_OUT))
    _answers(*args, draws, res)
    assert iwork_path_slot(n, nl) == 24 * n + 7 * nl + 32
    return hashlib.sha256(res.tobytes()).hexdigest()[:16], float(res[:, 1].mean())


def one_round(best: dict[str, dict[str, float]]) -> None:
    """Time every case and mode once (one pass of ``PASSES`` x ``NDRAW`` calls each)."""
    loops = {"empty": _loop_empty, "called": _loop_called, "kernel": _loop_kernel}
    for name in CASES:
        args, draws = _setup(name)
        for mode, loop in loops.items():
            loop(*args, draws[:8], 1)  # compile / load
            t0 = time.process_time()
            loop(*args, draws, PASSES)
            ns = (time.process_time() - t0) / (PASSES * NDRAW) * 1e9
            cell = best.setdefault(name, {})
            cell[mode] = min(cell.get(mode, np.inf), ns)


def net(best: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """ns per call net of the loop's own cost."""
    return {
        name: {
            "called": b["called"] - b["empty"],
            "kernel": b["kernel"] - b["empty"],
            "loop": b["empty"],
        }
        for name, b in best.items()
    }


def measure(rounds: int) -> dict:
    best: dict[str, dict[str, float]] = {}
    for r in range(rounds):
        one_round(best)
        print(f"round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    res = {"ns": net(best)}
    res["digest"] = {}
    res["fast_share"] = {}
    for name in CASES:
        res["digest"][name], res["fast_share"][name] = digest_and_share(name)
    return res


def ab(rev: str, rounds: int) -> dict:
    """REV against the working tree, alternating child processes (one round each); returns
    both results as ``measure`` would (labels ``REV`` and ``after``)."""
    load = os.getloadavg()[0]
    trees = {rev: export(rev), "after": None}
    best: dict[str, dict[str, dict[str, float]]] = {k: {} for k in trees}
    digests: dict[str, dict] = {}
    for r in range(rounds):
        for label, tree in trees.items():
            env = dict(os.environ)
            if tree is not None:
                env[ENV] = str(tree)
            cmd = [sys.executable, __file__, "--child", "--rounds", "1"]
            if r == 0:
                cmd.append("--digest")
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
            child = json.loads(out)
            assert child["tree"] == str(tree or ROOT), child["tree"]  # the version meant
            for name, cell in child["raw"].items():
                for mode, ns in cell.items():
                    b = best[label].setdefault(name, {})
                    b[mode] = min(b.get(mode, np.inf), ns)
            if r == 0:
                digests[label] = child
        print(f"round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    nets = {label: net(b) for label, b in best.items()}
    for name in CASES:
        a, b = nets[rev][name], nets["after"][name]
        same = (
            "identical"
            if digests[rev]["digest"][name] == digests["after"]["digest"][name]
            else "DIFFERENT"
        )
        print(
            f"{name:20s} called {a['called']:6.1f} -> {b['called']:6.1f} ns, kernel "
            f"{a['kernel']:6.1f} -> {b['kernel']:6.1f} ns (loop {b['loop']:.1f} ns); "
            f"outputs {same}"
        )
    return {
        label: {
            "ns": nets[label],
            "digest": digests[label]["digest"],
            "fast_share": digests[label]["fast_share"],
            "rounds": rounds,
            "load_average_at_start": load,
        }
        for label in trees
    }


def _markdown(allres: dict) -> str:
    labels = list(allres)
    lines = [
        "# ns per `solve_step` call",
        "",
        "Generated by `benchmarks/bench_solve_step.py` (see its docstring for the cases). "
        f"Machine: {platform.machine()}, {os.cpu_count()} logical CPUs (shared), Python "
        f"{platform.python_version()}, numba {numba.__version__}. CPU time per call net of the "
        "driving loop, minimum over interleaved rounds; `called`: a numba loop calling "
        "`linking.solve_step`; `kernel`: the calls `run_paths` makes (before the split: its "
        "inlined copy). Digest: hash of every draw's outputs (equal digests: bit-identical "
        "answers).",
        "",
        "| case | "
        + " | ".join(f"{lb}: called / kernel (ns)" for lb in labels)
        + " | fast-path share | digest |",
        "|---|" + "---:|" * len(labels) + "---:|---|",
    ]
    for name in CASES:
        cells = []
        for lb in labels:
            r = allres[lb]["ns"].get(name)
            cells.append(f"{r['called']:.0f} / {r['kernel']:.0f}" if r else "")
        last = allres[labels[-1]]
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {last['fast_share'][name]:.2f} | `{last['digest'][name]}` |"
        )
    same = all(allres[lb]["digest"] == allres[labels[0]]["digest"] for lb in labels)
    lines += ["", f"Digests equal across the labels: {'yes' if same else 'NO'}.", ""]
    for lb in labels:
        r = allres[lb]
        lines.append(
            f"- `{lb}`: {r['rounds']} rounds, load average at start "
            f"{r['load_average_at_start']:.1f}."
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--label", default="current")
    ap.add_argument(
        "--ab",
        metavar="REV",
        default="",
        help="compare riskmodel at git revision REV with the working tree; prints only",
    )
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--digest", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.rounds):
            one_round(best)
        import riskmodel

        res = {"raw": best, "tree": str(Path(riskmodel.__file__).resolve().parent.parent)}
        if args.digest:
            both = {name: digest_and_share(name) for name in CASES}
            res["digest"] = {name: d for name, (d, _) in both.items()}
            res["fast_share"] = {name: f for name, (_, f) in both.items()}
        print(json.dumps(res))
        return
    if args.ab:
        both = ab(args.ab, args.rounds)
        if not args.no_write:
            allres = {f"before ({args.ab})": both[args.ab], "after": both["after"]}
            atomic_write_text(RESULTS / "solve_step.json", json.dumps(allres, indent=1) + "\n")
            atomic_write_text(RESULTS / "solve_step.md", _markdown(allres))
        return
    load = os.getloadavg()[0]
    res = measure(args.rounds)
    res |= {"rounds": args.rounds, "load_average_at_start": load}
    for name, r in res["ns"].items():
        print(
            f"{name:20s} called {r['called']:6.1f} ns, kernel {r['kernel']:6.1f} ns "
            f"(loop {r['loop']:.1f} ns), fast {res['fast_share'][name]:.2f}, "
            f"{res['digest'][name]}"
        )
    if not args.no_write:
        path = RESULTS / "solve_step.json"
        allres = json.loads(path.read_text()) if path.exists() else {}
        allres[args.label] = res
        atomic_write_text(path, json.dumps(allres, indent=1) + "\n")
        atomic_write_text(RESULTS / "solve_step.md", _markdown(allres))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
