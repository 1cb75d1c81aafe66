"""Compile the kernel's callees in a second process while the kernel compiles (first run only).

A first run spends most of its time compiling the engine kernel in one thread. About a third of
that is the kernel's non-inlined callees (``price_kernels.shock_block``, ``rng.fill_normal``,
``banking_step.pool_exhaustion`` ...; docs/ENGINE.md "First run"), each compiled when the
kernel's type inference first reaches its call, seconds after the compile started. Where a
second CPU is free, a helper process compiles those callees for the kernel's argument types
(``CALLEES``) into the same on-disk numba cache, ahead of the kernel: the kernel's type
inference then loads each from the cache instead of compiling it. numba caches a function with
its optimised LLVM bitcode for inlining into callers, so the kernel's machine code, and every
result, are the same whichever process compiled a callee. A callee the helper has not finished
when the kernel needs it is compiled by the kernel as before (never waited for).

``CALLEES`` is the call sites of the bare pool kernel (``kernel.pool_kernel``, the README's
main job), in the order its type inference reaches them; ``python -m
riskmodel.sim.compile_ahead --print`` prints them from a fresh compile, and
``tests/test_compile_ahead.py`` checks them; for a quota-pool kernel
(``kernel.quota_pool_kernel``: ``eu_china_quota``, ``regulatory_events``, collared pools) the
helper also compiles ``QUOTA_CALLEES``, its two calls of ``sim.quota_pools``. The helper starts
only where the load average leaves a CPU free for it (on a busy machine it would only slow the
kernel's compile);
``RISKMODEL_COMPILE_AHEAD=0`` or ``1`` turns it off or on whatever the load.
"""

from __future__ import annotations

import atexit
import importlib
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: Environment switch: "0" never runs the helper, "1" always does; unset (or anything else):
#: only where a CPU is free for it (``wanted``).
ENV = "RISKMODEL_COMPILE_AHEAD"
#: CPUs the 1-minute load average must leave free to start the helper: one beside the kernel's
#: compile (which has only just started, so the load does not count it yet). On a busy machine
#: the helper only slows the kernel's compile, even at a low priority (measured on 2 CPUs at
#: load 2-4: wall +1.5 to +2 s, with the kernel's CPU unchanged or higher).
CPUS_NEEDED = 1.0

#: Niceness the helper adds to its own: it takes CPU time that the kernel's compile (and other
#: work at the default priority) leaves idle.
NICE = 10

#: (function, numba signature) of each call site of the bare pool kernel as the engine builds it
#: (``run_paths_pool_000001``: the volatility-level draws in), in the order the kernel's type
#: inference reaches them (``print_callees`` writes this). (``rng.normal`` and
#: ``price_kernels.vol_level``, the draws' callees, were missing while the list was taken from
#: a kernel without them: the kernel compiled them itself, about 1.5 s of a first run.)
CALLEES: tuple[tuple[str, str], ...] = (
    (
        "riskmodel.sim.price_kernels.init_state",
        "(int64, float64[:, ::1], int64[:, ::1], float64[:, ::1], float64[:, ::1], float64, "
        "float64[:, ::1], float64[:, ::1], int64[::1])",
    ),
    ("riskmodel.sim.rng.normal", "(uint64[::1], float64[:, ::1])"),
    (
        "riskmodel.sim.price_kernels.vol_level",
        "(int64, float64[:, ::1], int64[:, ::1], float64[:, ::1], float64[:, ::1], float64)",
    ),
    ("riskmodel.sim.rng.fill_normal", "(uint64[::1], float64[:, ::1], float64[::1], int64[::1])"),
    ("riskmodel.sim.rng.fill_uniform", "(uint64[::1], float64[::1])"),
    (
        "riskmodel.sim.price_kernels.shock_block",
        "(int64, float64[:, ::1], int64[:, ::1], float64[:, ::1], float64[:, ::1], "
        "float64[:, ::1], float64[:, ::1], float64[:, :, ::1], float64[:, ::1], float64[::1], "
        "int64, int64[::1], float64[:, ::1], float64[:, ::1], int64[::1], float64[:, ::1], "
        "float64[:, ::1], float64[:, ::1], int64[::1])",
    ),
    (
        "riskmodel.sim.price_kernels.log_price_block",
        "(int64, float64[:, ::1], int64[:, ::1], float64[:, ::1], float64[:, ::1], "
        "float64[:, ::1], float64[:, ::1], float64[:, ::1], float64[:, ::1], float64[::1], "
        "float64[:, ::1])",
    ),
    (
        "riskmodel.sim.banking_step.pool_exhaustion",
        "(float64[:, ::1], int64, int64, float64[:, ::1], int64, float64[:, ::1], float64[::1], "
        "float64[::1], float64[::1], float64[:, ::1], literal(1), literal(12), literal(0), "
        "int64[:, ::1], int64[::1], float64[:, ::1], int64[::1], int64[::1], int64[::1], "
        "int64[::1], float64[::1], int64[::1], float64[:, ::1])",
    ),
    (
        "riskmodel.linking.collar.own_price_s",
        "(float64, float64, float64, float64, float64, float64, float64, float64)",
    ),
    (
        "riskmodel.sim.banking_step.pool_holdings",
        "(float64[:, ::1], int64, int64, int64[:, ::1], int64[::1], boolean[::1], float64[::1], "
        "float64[::1], int64[::1], int64[::1], int64[::1], float64[::1], float64[::1], "
        "float64[::1], float64[::1], float64[::1], float64[:, ::1], float64[:, ::1], "
        "float64[::1], float64[:, ::1], int64)",
    ),
)


_QP_SIG = ("(float64[:, ::1], int64[:, ::1], float64[:, ::1], int64[::1], int64[::1], "
           "float64[::1], float64[::1], float64[::1], int64[::1], float64[::1], int64[::1])")
#: The quota-pool kernel's call sites beyond ``CALLEES`` (``kernel.quota_pool_kernel``: the
#: closed form, then its exact version; about 2 s and 9 s of compiling), made after
#: ``own_price_s``'s in its source.
QUOTA_CALLEES: tuple[tuple[str, str], ...] = (
    ("riskmodel.sim.quota_pools.quota_pools", _QP_SIG),
    ("riskmodel.sim.quota_pools.quota_pools_exact", _QP_SIG),
)


def callees(kernel_name: str = "") -> tuple[tuple[str, str], ...]:
    """The call sites the helper compiles for the kernel named ``kernel_name``, in its call
    order: ``CALLEES``, with ``QUOTA_CALLEES`` for a quota-pool kernel (``run_paths_qpool_*``).
    (The full kernels make further calls, which they compile themselves.)"""
    if not kernel_name.startswith("run_paths_qpool_"):
        return CALLEES
    k = next(i for i, (n, _) in enumerate(CALLEES) if n.endswith(".own_price_s")) + 1
    return CALLEES[:k] + QUOTA_CALLEES + CALLEES[k:]


def dispatcher(name: str) -> Any:
    """The numba dispatcher ``module.function`` named by a ``CALLEES`` entry."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def signature(text: str) -> tuple[Any, ...]:
    """The argument types of a ``CALLEES`` signature (numba's own signature syntax)."""
    from numba.core import sigutils

    args, _ = sigutils.normalize_signature(text)
    return tuple(args)


def type_text(t: Any) -> str:
    """``t`` in the signature syntax of ``CALLEES`` (C-contiguous arrays, scalars, literals,
    omitted defaults); ValueError for any other type, so that ``CALLEES`` never names an
    approximation."""
    from numba.core import types

    if isinstance(t, types.Array):
        if t.layout != "C" or not t.mutable or not t.aligned:
            raise ValueError(f"no signature text for {t!r}")
        dtype = "boolean" if t.dtype == types.boolean else str(t.dtype)
        return f"{dtype}[{', '.join([':'] * (t.ndim - 1) + ['::1'])}]"
    if isinstance(t, types.IntegerLiteral | types.BooleanLiteral):
        return f"literal({t.literal_value!r})"
    if isinstance(t, types.Omitted):  # a default argument left out at the call
        return f"Omitted({t.value!r})"
    if t == types.boolean:
        return "boolean"
    if isinstance(t, types.Integer | types.Float):
        return str(t)
    raise ValueError(f"no signature text for {t!r}")


def kernel_callees(kernel: Any) -> list[tuple[str, str]]:
    """(function, signature) of every numba function ``kernel`` calls (not inlined), in the
    order of the call sites in its source, from the kernel's typed IR: only a kernel compiled
    in this process has one (not one loaded from the on-disk cache)."""
    from numba.core import ir, types

    cres = kernel.overloads[kernel.signatures[0]]
    ann = cres.type_annotation
    if ann is None:
        raise ValueError(f"{kernel.__name__} was loaded from the numba cache: no typed IR")
    sites: dict[tuple[str, str], int] = {}
    for expr, sig in ann.calltypes.items():
        if not (isinstance(expr, ir.Expr) and expr.op == "call"):
            continue
        fnty = ann.typemap[expr.func.name]
        if not isinstance(fnty, types.Dispatcher):
            continue
        py = fnty.dispatcher.py_func
        key = (
            f"{py.__module__}.{py.__qualname__}",
            "(" + ", ".join(type_text(a) for a in sig.args) + ")",
        )
        sites[key] = min(sites.get(key, expr.loc.line), expr.loc.line)
    return sorted(sites, key=sites.__getitem__)


#: Seconds over which ``idle_cpus`` samples the CPUs, and how many must be idle meanwhile (the
#: parent sleeps through the sample): the kernel's compile and the helper, less a fifth of a CPU
#: for the noise of a short sample.
IDLE_SAMPLE_S = 0.1
IDLE_NEEDED = CPUS_NEEDED + 0.8


def idle_cpus(sample_s: float = IDLE_SAMPLE_S, stat: str = "/proc/stat") -> float | None:
    """How many CPUs are idle right now: the idle share of the CPU time ``stat`` (Linux
    ``/proc/stat``, its first line) counts over ``sample_s`` seconds, times the CPU count;
    None where it cannot be read. The load average lags a minute: just after other work ends
    it still reads busy while every CPU is idle (the README's first run took 22.7 s there at
    load 1.0-1.5 without the helper; 17.3 s with it at load 0.3)."""

    def ticks() -> tuple[int, int]:
        with open(stat, encoding="ascii") as fh:
            v = [int(x) for x in fh.readline().split()[1:9]]
        return v[3] + v[4], sum(v)  # idle + iowait; user ... steal

    try:
        i0, t0 = ticks()
        time.sleep(sample_s)
        i1, t1 = ticks()
    except (OSError, ValueError, IndexError):
        return None
    if t1 <= t0:
        return None
    return (os.cpu_count() or 1) * (i1 - i0) / (t1 - t0)


def wanted(cpus: int | None = None, load: float | None = None,
           idle: float | None = None) -> bool:
    """Whether to run the helper: ``RISKMODEL_COMPILE_AHEAD=1``, or not ``0``; else two CPUs or
    more, and either the 1-minute load average leaves ``CPUS_NEEDED`` of them free or, sampled
    now (``idle_cpus``, when the load average says busy), ``IDLE_NEEDED`` CPUs are idle."""
    switch = os.environ.get(ENV, "")
    if switch in ("0", "1"):
        return switch == "1"
    if cpus is None:
        cpus = os.cpu_count() or 1
    if cpus < 2:
        return False
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # no load average here: only the sample decides
            load = math.inf
    if cpus - load >= CPUS_NEEDED:
        return True
    if idle is None:
        idle = idle_cpus()
    return idle is not None and idle >= IDLE_NEEDED


def start(kernel_name: str = "") -> subprocess.Popen[bytes] | None:
    """Start the helper (``python -m riskmodel.sim.compile_ahead``) for the kernel named
    ``kernel_name`` (``callees``) in the numba cache folder of this process
    (``numba_cache.configure`` has set ``NUMBA_CACHE_DIR``); None when not ``wanted`` or it
    cannot start."""
    running = _RUNNING.get(kernel_name)
    if running is not None and running.poll() is None:
        return running  # started ahead (``engine.start_compile_ahead``)
    if not wanted():
        return None
    # the helper imports this copy of the package (its numba functions, the same cache folder)
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    try:
        helper = subprocess.Popen(
            [sys.executable, "-m", "riskmodel.sim.compile_ahead", str(os.getpid()),
             kernel_name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, ENV: "0", "PYTHONPATH": path},
        )
    except OSError:
        return None
    if not _RUNNING:
        atexit.register(_stop_all)  # a run that ends before its kernel compiled
    _RUNNING[kernel_name] = helper
    return helper


#: Helpers started in this process and not yet stopped, by kernel name: a second ``start`` for
#: the same kernel (``simulate_chunk`` after ``engine.start_compile_ahead``) finds it here.
_RUNNING: dict[str, subprocess.Popen[bytes]] = {}


def _stop_all() -> None:
    for helper in list(_RUNNING.values()):
        stop(helper)


def stop(helper: subprocess.Popen[bytes] | None) -> None:
    """Ask the helper to end if it is still compiling (the kernel is built: nothing left to
    gain), without waiting for it: at its low priority on a busy machine it may take a while to
    be scheduled, and the run goes on meanwhile (``reap`` collects it later)."""
    for name, running in list(_RUNNING.items()):
        if running is helper:
            del _RUNNING[name]
    if helper is not None and helper.poll() is None:
        helper.terminate()
        _STOPPED.append(helper)
    reap()


#: Helpers asked to end and not yet seen to exit.
_STOPPED: list[subprocess.Popen[bytes]] = []


def reap() -> None:
    """Collect the exit status of stopped helpers that have ended (never waits)."""
    _STOPPED[:] = [h for h in _STOPPED if h.poll() is None]


def compile_callees(parent: int | None = None, kernel_name: str = "") -> None:
    """Compile (or load from the cache) every entry of ``callees(kernel_name)`` in order; return
    early once ``parent`` has exited (this process then belongs to another)."""
    for name, text in callees(kernel_name):
        if parent is not None and os.getppid() != parent:
            return
        dispatcher(name).compile(signature(text))


def bare_pool_callees(scenario: Any, quota: bool = False) -> list[tuple[str, str]]:
    """``kernel_callees`` of the bare pool kernel as the engine builds it (``quota``: the bare
    quota-pool kernel; the volatility-level draws compiled in, ``engine.kernel_flags``)
    compiled afresh in this process (a copy without the on-disk cache) for the argument types
    of ``scenario``'s first chunk."""
    from numba import njit

    from riskmodel.linking import workspace
    from riskmodel.sim import engine
    from riskmodel.sim.kernel import pool_kernel, quota_pool_kernel
    from riskmodel.sim.kernel_args import Chunk, Workspace, accumulators, kernel_inputs
    from riskmodel.sim.resolve import resolve

    rs = resolve(scenario)
    sim = scenario.simulation
    bare = (quota_pool_kernel if quota else pool_kernel)(*(False,) * 5, True)
    kernel = njit(error_model="numpy")(bare.py_func)
    args = (
        Chunk(1, 0, rs.years, rs.dpy, 3 if rs.has_events else 2),
        *kernel_inputs(rs, *engine.chunk_streams(sim.seed, 0)),
        accumulators(rs, 1, 0, sim.keep_paths, sim.keep_annual),
        Workspace(*workspace(rs.n, len(rs.ends))),
    )
    kernel.compile(tuple(kernel.typeof_pyval(a) for a in args))
    return kernel_callees(kernel)


def print_callees() -> None:
    """Print ``CALLEES`` afresh: the bare pool kernel's call sites on the README's main
    scenario (``data/scenarios/china_korea.yaml``, first sweep point)."""
    from riskmodel.batch.scenario_file import load_scenario_file

    root = Path(__file__).resolve().parents[2]
    plan = load_scenario_file(root / "data" / "scenarios" / "china_korea.yaml")
    for name, text in bare_pool_callees(plan.scenarios[0]):
        print(f"    ({name!r},\n     {text!r}),")


class Stopped(Exception):
    """The parent ended the helper (SIGTERM)."""


def _stopped(signum: int, frame: Any) -> None:
    raise Stopped


def main(argv: list[str]) -> None:
    """``--print``: print ``CALLEES`` afresh; ``PID [KERNEL]``: the helper of process PID,
    compiling ``callees(KERNEL)``."""
    if argv[:1] == ["--print"]:
        print_callees()
        return
    if NICE and hasattr(os, "nice"):
        os.nice(NICE)  # CPU time the kernel's compile leaves idle, imports included
    import riskmodel  # noqa: F401 - the numba cache folder (inherited from the parent)

    # stopped mid-compile: an exception, so that numba removes a half-written cache file
    signal.signal(signal.SIGTERM, _stopped)
    try:
        compile_callees(int(argv[0]) if argv else None, argv[1] if len(argv) > 1 else "")
    except Exception:  # noqa: BLE001 - a helper: the kernel compiles whatever failed here
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
