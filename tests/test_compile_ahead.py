"""The first run's compile-ahead helper (``sim.compile_ahead``): its list of the kernel's callees
is the kernel's own, the helper leaves each of them in the numba cache where the kernel's type
inference looks for it, and it runs only where asked or where a CPU is free."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from riskmodel.batch.scenario_file import load_scenario_file
from riskmodel.sim import compile_ahead
from riskmodel.sim.compile_ahead import CALLEES, ENV

ROOT = Path(__file__).resolve().parent.parent
CHINA_KOREA = ROOT / "data" / "scenarios" / "china_korea.yaml"

#: Run in a fresh process on the helper's cache: which CALLEES entries load from the cache.
CHECK = """
import riskmodel
from riskmodel.sim.compile_ahead import CALLEES, dispatcher, signature
for name, text in CALLEES:
    d = dispatcher(name)
    print(name, d._cache.load_overload(signature(text), d.targetctx) is not None)
"""


def test_callees_are_the_bare_pool_kernels_call_sites():
    # compiled afresh (typed IR): every numba function the README's kernel calls, with the
    # argument types of its call sites, in source order; a stale list would compile in vain
    sc = load_scenario_file(CHINA_KOREA).scenarios[0]
    assert compile_ahead.bare_pool_callees(sc) == list(CALLEES)


def test_quota_callees_are_the_bare_quota_pool_kernels_call_sites():
    # the quota-pool kernel (nested_collars: plain links with collars, no optional feature)
    # calls the pool kernel's callees and the two quota_pools functions, in this order
    sc = load_scenario_file(ROOT / "data" / "scenarios" / "nested_collars.yaml").scenarios[0]
    assert compile_ahead.bare_pool_callees(sc, quota=True) == list(
        compile_ahead.callees("run_paths_qpool_000001"))
    assert compile_ahead.callees("run_paths_pool_000001") == CALLEES
    assert compile_ahead.callees("run_paths") == CALLEES


def test_helper_leaves_every_callee_in_the_cache(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), ENV: "0"}
    env.pop("PYTHONPATH", None)
    run = subprocess.run(
        [sys.executable, "-m", "riskmodel.sim.compile_ahead"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    out = subprocess.run(
        [sys.executable, "-c", CHECK],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    assert out == [w for name, _ in CALLEES for w in (name, "True")]
    folders = list((tmp_path / "numba").glob("src-*"))
    assert len(folders) == 1  # the package's fingerprint folder, as the parent's kernel uses
    assert not list(folders[0].rglob("*.tmp.*"))


def test_stopped_helper_ends(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    helper = compile_ahead.start()
    assert helper is not None
    compile_ahead.stop(helper)
    assert helper.wait(timeout=60) != 0  # ended by the signal, not run to the end
    compile_ahead.stop(None)  # no helper: nothing to do


@pytest.mark.parametrize(
    ("switch", "cpus", "load", "idle", "runs"),
    [
        ("", 2, 0.7, 0.0, True),  # a CPU free beside the kernel's (no sample taken)
        ("", 2, 1.8, 1.0, False),  # the shared 2-CPU machine, busy: the helper would slow it
        ("", 2, 1.4, 1.95, True),  # the load average lags: both CPUs idle right now
        ("", 2, 1.4, 1.5, False),  # one of them half busy
        ("", 2, 1.4, None, False),  # no sample to read: the load average decides
        ("", 16, 3.0, 0.0, True),
        ("", 1, 0.0, 1.0, False),  # one CPU: nothing to overlap with
        ("0", 16, 0.0, 16.0, False),
        ("1", 2, 3.0, 0.0, True),
    ],
)
def test_helper_runs_where_asked_or_a_cpu_is_free(monkeypatch, switch, cpus, load, idle, runs):
    monkeypatch.setenv(ENV, switch)
    monkeypatch.setattr(compile_ahead, "idle_cpus", lambda: idle)
    assert compile_ahead.wanted(cpus=cpus, load=load) is runs
    assert compile_ahead.wanted(cpus=cpus, load=load, idle=idle) is runs


def test_idle_cpus_reads_the_idle_share_of_proc_stat(tmp_path, monkeypatch):
    """Two reads of a /proc/stat first line 0.1 s apart: idle + iowait over all ticks, times
    the CPU count; None for an unreadable file or no ticks in between."""
    stat = tmp_path / "stat"
    lines = iter(["cpu  100 0 100 700 100 0 0 0 0 0\n", "cpu  150 0 150 1450 150 0 0 0 0 0\n"])

    def sleep(_s: float) -> None:
        stat.write_text(next(lines))

    stat.write_text(next(lines))
    monkeypatch.setattr(compile_ahead.time, "sleep", sleep)
    monkeypatch.setattr(compile_ahead.os, "cpu_count", lambda: 2)
    # ticks: idle + iowait 800 -> 1600 (+800), total 1000 -> 1900 (+900): 2 x 8/9 idle CPUs
    assert compile_ahead.idle_cpus(stat=str(stat)) == pytest.approx(2 * 800 / 900)
    stat.write_text("cpu  1 0 1 1 1 0 0 0 0 0\n")
    monkeypatch.setattr(compile_ahead.time, "sleep", lambda _s: None)
    assert compile_ahead.idle_cpus(stat=str(stat)) is None  # no ticks in between
    assert compile_ahead.idle_cpus(stat=str(tmp_path / "missing")) is None
    real = compile_ahead.idle_cpus(sample_s=0.0)
    assert real is None or 0.0 <= real <= 2.0 + 1e-9


class _FakeHelper:
    """A helper process that never ends by itself (``poll`` None until terminated)."""

    def __init__(self) -> None:
        self.ended = False

    def poll(self) -> int | None:
        return -15 if self.ended else None

    def terminate(self) -> None:
        self.ended = True


def test_a_helper_started_ahead_is_the_one_the_first_chunk_uses(monkeypatch):
    # the run's preflight (runner.check_engine) starts the helper as soon as the first sweep
    # point is resolved, for the kernel its chunks take on a cold cache; simulate_chunk's start
    # then finds it running (one helper, not two) and stops it once the kernel is built
    from riskmodel.batch.runner import check_engine
    from riskmodel.sim import engine

    started: list[str] = []

    def popen(argv, **_kw):
        started.append(argv[-1])
        return _FakeHelper()

    monkeypatch.setenv(ENV, "1")
    monkeypatch.setattr(compile_ahead.subprocess, "Popen", popen)
    monkeypatch.setattr(engine, "cache_is_cold", lambda k: True)
    monkeypatch.setattr(engine, "announce_compile", lambda k: False)
    plan = load_scenario_file(CHINA_KOREA)
    check_engine(plan, "riskmodel.sim.engine")
    assert started == ["run_paths_pool_000001"]  # the bare pool kernel of china_korea
    ahead = compile_ahead._RUNNING["run_paths_pool_000001"]
    assert compile_ahead.start("run_paths_pool_000001") is ahead
    sc = plan.scenarios[0].model_copy(update={"simulation": plan.scenarios[0].simulation
                                              .model_copy(update={"paths": 10,
                                                                  "paths_per_chunk": 10})})
    engine.simulate_chunk(sc, 0)
    assert started == ["run_paths_pool_000001"]
    assert ahead.ended and "run_paths_pool_000001" not in compile_ahead._RUNNING


def test_no_helper_ahead_for_a_warm_kernel(monkeypatch):
    from riskmodel.sim import engine

    started: list[str] = []
    monkeypatch.setenv(ENV, "1")
    monkeypatch.setattr(compile_ahead.subprocess, "Popen",
                        lambda argv, **_kw: started.append(argv[-1]) or _FakeHelper())
    monkeypatch.setattr(engine, "cache_is_cold", lambda k: False)
    engine.start_compile_ahead(load_scenario_file(CHINA_KOREA).scenarios[0])
    assert started == []
    # nor for a run on a dask cluster (its workers have their own numba caches)
    from riskmodel.batch.runner import check_engine

    monkeypatch.setattr(engine, "cache_is_cold", lambda k: True)
    check_engine(load_scenario_file(CHINA_KOREA), "riskmodel.sim.engine", compile_ahead=False)
    assert started == []
