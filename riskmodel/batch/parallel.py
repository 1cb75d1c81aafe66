"""Execute chunk tasks through joblib: in process, local processes (loky) or a dask cluster.

A task is one sweep point and a list of whole chunk indices (the engine's fixed grain of random
streams), so how chunks are grouped into tasks, how many workers run them and which backend
runs them never changes a result. Results stream back to the calling process as tasks finish
(in any order); the caller stores each one before the next arrives, which is what makes a killed
run resumable.

Threads: each worker process runs its numba kernels (and any BLAS) with a fixed number of
threads — ``cpu_count // n_jobs`` for local processes, 1 on a dask worker — so workers never
oversubscribe the cores.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import joblib

from riskmodel.errors import InputError

#: Module implementing the engine contract (``simulate_chunk``, ``merge_chunks``).
DEFAULT_ENGINE = "riskmodel.sim.engine"


def default_engine() -> str:
    """The engine module: ``RISKMODEL_ENGINE`` when set (tests use a stand-in), else the real."""
    return os.environ.get("RISKMODEL_ENGINE") or DEFAULT_ENGINE


@dataclass(frozen=True)
class Task:
    """One unit of work: sweep point ``point`` and the chunk indices to simulate."""

    point: int
    chunks: tuple[int, ...]


@dataclass(frozen=True)
class ChunkSpec:
    """Chunk layout of one scenario: ``n_chunks`` chunks of ``grain`` paths (the last shorter)."""

    paths: int
    grain: int

    @property
    def n_chunks(self) -> int:
        """Number of chunks (ceil(paths / grain))."""
        return -(-self.paths // self.grain)

    def bounds(self, c: int) -> tuple[int, int]:
        """(first_path, n_paths) of chunk c."""
        first = c * self.grain
        return first, min(self.grain, self.paths - first)


def load_engine(name: str = DEFAULT_ENGINE) -> Any:
    """Import the engine module by name (workers import it the same way)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # the engine exists but something it imports does not: a bug
            raise
        raise InputError(f"engine module {name!r} cannot be imported ({exc})",
                         field="engine") from None


def set_worker_threads(threads: int | None) -> None:
    """Limit numba's (and BLAS's) threads in this process; ``None`` leaves them alone."""
    if threads is None:
        return
    try:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    except ImportError:  # pragma: no cover - numba is a dependency
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - joblib ships threadpoolctl
        pass


def run_task(
    engine: str, scenario: Any, task: Task, spec: ChunkSpec, threads: int | None
) -> tuple[Task, list[tuple[int, Any]]]:
    """Worker body: simulate the task's chunks; returns ``(task, [(chunk, ChunkStats), ...])``."""
    set_worker_threads(threads)
    eng = load_engine(engine)
    extra = {}
    rs = _resolved(eng, scenario)
    if rs is not None:
        extra["resolved"] = rs
    out = []
    for c in task.chunks:
        first, n = spec.bounds(c)
        out.append((c, eng.simulate_chunk(scenario, chunk_index=c, n_paths=n, first_path=first,
                                          **extra)))
    return task, out


def run_local_task(
    parent_pid: int, engine: str, scenario: Any, task: Task, spec: ChunkSpec, threads: int | None
) -> tuple[Task, list[tuple[int, Any]]]:
    """``run_task`` in a local worker process that exits when ``parent_pid`` dies."""
    from riskmodel.batch.watchdog import die_with_parent

    die_with_parent(parent_pid)
    return run_task(engine, scenario, task, spec, threads)


#: Per-process cache of resolved scenarios (the engine's ``resolve``), so a worker resolves
#: each sweep point once, not once per chunk.
_RESOLVED: dict[str, Any] = {}


def _resolved(eng: Any, scenario: Any) -> Any:
    """``eng.resolve(scenario)``, cached, when the engine takes ``resolved=``; else None."""
    fn = getattr(eng, "resolve", None)
    if fn is None or "resolved" not in inspect.signature(eng.simulate_chunk).parameters:
        return None
    # the fields the user set decide what the catalogue and calibrations fill in, so two
    # scenarios with equal values but other set fields resolve differently: both are in the key
    dumps = [scenario.model_dump(mode="json", exclude_unset=unset) for unset in (False, True)]
    key = f"{eng.__name__}:{json.dumps(dumps, sort_keys=True)}"
    if key not in _RESOLVED:
        if len(_RESOLVED) >= 32:
            _RESOLVED.pop(next(iter(_RESOLVED)))
        _RESOLVED[key] = fn(scenario)
    return _RESOLVED[key]


def resolve_scenario(engine: str, scenario: Any) -> Any:
    """Resolve a scenario with the engine (cached in this process), raising its ``InputError``;
    None when the engine has no ``resolve`` step."""
    return _resolved(load_engine(engine), scenario)


def make_tasks(
    layouts: Sequence[ChunkSpec], done: set[tuple[int, int]], chunks_per_task: int
) -> list[Task]:
    """Group each point's missing chunks into tasks of ``chunks_per_task`` consecutive chunks."""
    tasks = []
    for k, spec in enumerate(layouts):
        todo = [c for c in range(spec.n_chunks) if (k, c) not in done]
        for i in range(0, len(todo), chunks_per_task):
            tasks.append(Task(k, tuple(todo[i : i + chunks_per_task])))
    return tasks


@contextmanager
def connect(scheduler: Any) -> Iterator[Any]:
    """A ``distributed.Client`` for an address (closed afterwards), the given client, or None
    (local execution)."""
    if scheduler is None:
        yield None
        return
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, ValueError, TypeError) as exc:  # unreachable, or not an address at all
        raise InputError(f"cannot reach dask scheduler {scheduler!r} ({exc})",
                         field="--scheduler") from None
    try:
        yield client
    finally:
        client.close()


def backend_name(n_jobs: int, scheduler: Any) -> str:
    """'dask', 'loky' or 'sequential' (what ``execute`` will use)."""
    if scheduler is not None:
        return "dask"
    return "sequential" if n_jobs == 1 else "loky"


def default_threads(n_jobs: int, scheduler: Any) -> int | None:
    """Threads per worker so that workers × threads ≤ cores (None: in-process, leave as is)."""
    if scheduler is not None:
        return 1
    if n_jobs == 1:
        return None
    n = joblib.cpu_count()
    workers = n if n_jobs < 0 else n_jobs
    return max(1, n // max(1, workers))


#: Market-path-days of kernel work each local worker process must have before one more is
#: started: a worker pays for its start (imports, loading the compiled kernels: 3-5 s) only
#: with about 15 s of kernel time (about 300 ns a market-path-day), so a small job runs in
#: one process and more workers never make it slower.
WORK_PER_WORKER = 5e7


def effective_n_jobs(
    n_jobs: int, scheduler: Any, engine: str, work: Sequence[tuple[Any, int]]
) -> tuple[int, str | None]:
    """Local processes to use for ``work`` (pairs of scenario and path count): at most one per
    ``WORK_PER_WORKER`` market-path-days, as the engine's optional ``work_units(scenario,
    n_paths)`` counts them. Returns (n_jobs, why it was lowered or None); a dask scheduler, an
    engine without ``work_units`` or an invalid ``n_jobs`` leave ``n_jobs`` as it is."""
    if scheduler is not None or n_jobs == 1 or n_jobs == 0:
        return n_jobs, None
    units = getattr(load_engine(engine), "work_units", None)
    if units is None:
        return n_jobs, None
    total = float(sum(units(sc, n) for sc, n in work))
    asked = joblib.cpu_count() if n_jobs < 0 else n_jobs
    useful = max(1, int(total // WORK_PER_WORKER))
    if useful >= asked:
        return n_jobs, None
    return useful, (f"{total:.3g} market-path-days: {useful} process(es) instead of {asked} "
                    f"(one per {WORK_PER_WORKER:.0e}; more would start slower than they help)")


def execute(
    tasks: Sequence[Task],
    scenarios: Sequence[Any],
    layouts: Sequence[ChunkSpec],
    on_result: Callable[[Task, list[tuple[int, Any]]], None],
    *,
    n_jobs: int = 1,
    scheduler: Any = None,
    threads: int | None = None,
    engine: str = DEFAULT_ENGINE,
) -> None:
    """Run every task and hand each result to ``on_result`` as soon as it arrives.

    ``scheduler``: a dask scheduler address (``tcp://host:port``) or a ``distributed.Client``;
    then the tasks run on that cluster through joblib's dask backend.
    """
    if not tasks:
        return
    if n_jobs == 0:
        raise InputError("must be a positive number of processes or -1 (all cores)",
                         field="--n-jobs")
    if threads is None:
        threads = default_threads(n_jobs, scheduler)
    calls = (
        joblib.delayed(run_task)(engine, scenarios[t.point], t, layouts[t.point], threads)
        for t in tasks
    )
    if scheduler is not None:
        with connect(scheduler), joblib.parallel_config(backend="dask"):
            par = joblib.Parallel(n_jobs=-1, return_as="generator_unordered")
            for task, parts in par(calls):
                on_result(task, parts)
        return
    if n_jobs == 1:
        for t in tasks:
            on_result(*run_task(engine, scenarios[t.point], t, layouts[t.point], threads))
        return
    # The first task runs here: a cold numba cache is then compiled once (and written to disk)
    # instead of once per worker at the same time on the same cores.
    first, tasks = tasks[0], tasks[1:]
    on_result(*run_task(engine, scenarios[first.point], first, layouts[first.point], None))
    if not tasks:
        return
    parent = os.getpid()
    calls = (
        joblib.delayed(run_local_task)(
            parent, engine, scenarios[t.point], t, layouts[t.point], threads
        )
        for t in tasks
    )
    with joblib.parallel_config(backend="loky", inner_max_num_threads=threads):
        par = joblib.Parallel(
            n_jobs=n_jobs, return_as="generator_unordered", pre_dispatch="2*n_jobs"
        )
        for task, parts in par(calls):
            on_result(task, parts)
