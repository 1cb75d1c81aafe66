"""A short first run: a small job runs in one process whatever ``--n-jobs`` asks (recorded in
the run notes), and the compile notice fires exactly when numba's cache is cold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from riskmodel.batch.parallel import WORK_PER_WORKER, effective_n_jobs
from riskmodel.batch.runner import RunOptions, run_plan
from riskmodel.batch.scenario_file import load_scenario_file
from riskmodel.sim.engine import work_units

ROOT = Path(__file__).resolve().parent.parent
CHINA_KOREA = ROOT / "data" / "scenarios" / "china_korea.yaml"
ENGINE = "riskmodel.sim.engine"


def test_small_jobs_run_in_one_process_large_ones_spread():
    plan = load_scenario_file(CHINA_KOREA)  # the README's main job: 2 points x 2,000 paths
    sc = plan.scenarios[0]
    assert work_units(sc, 2000) == 2000 * 3 * 252 * 2
    small = [(s, s.simulation.paths) for s in plan.scenarios]
    n, why = effective_n_jobs(2, None, ENGINE, small)
    assert n == 1 and "instead of 2" in why
    big = [(sc, -(-int(8 * WORK_PER_WORKER) // int(work_units(sc, 1))))]
    assert effective_n_jobs(4, None, ENGINE, big) == (4, None)
    assert effective_n_jobs(16, None, ENGINE, big)[0] == 8
    # a scheduler, one process, or an engine that cannot count its work: left as asked
    assert effective_n_jobs(2, "tcp://x:1", ENGINE, small) == (2, None)
    assert effective_n_jobs(1, None, ENGINE, big) == (1, None)
    assert effective_n_jobs(2, None, "riskmodel.batch.parallel", small) == (2, None)


def test_run_records_the_process_choice(tmp_path):
    plan = load_scenario_file(CHINA_KOREA, paths=40)
    run = run_plan(plan, out=tmp_path, run_id="small", options=RunOptions(n_jobs=2))
    session = json.loads((run / "manifest.json").read_text())["sessions"][0]
    assert session["n_jobs_requested"] == 2 and session["n_jobs"] == 1
    assert session["backend"] == "sequential"
    assert "workers: " in (run / "summary.txt").read_text()


MODULE = """
from numba import njit

@njit(cache=True)
def twice(x):
    return {k} * x
"""
PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
from riskmodel.sim.compile_notice import announce_compile
from tiny_kernel import twice
first = announce_compile(twice)
twice(1.0)
print(first, announce_compile(twice))
"""


def _probe(folder: Path, cache: Path) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", PROBE, str(folder)], capture_output=True,
                         text=True, check=True, env=env)
    return out.stdout.strip() + "|" + out.stderr.strip()


def test_compile_notice_only_when_the_cache_is_cold(tmp_path):
    src = tmp_path / "tiny_kernel.py"
    src.write_text(textwrap.dedent(MODULE.format(k=2)))
    cache = tmp_path / "cache"
    first = _probe(tmp_path, cache)
    assert first.startswith("True False|compiling kernels")  # cold: said once, before compiling
    assert _probe(tmp_path, cache) == "False False|"  # warm: loaded from the cache, silent
    src.write_text(textwrap.dedent(MODULE.format(k=3)) + "\n")  # source changed: cold again
    os.utime(src, (1, 1))
    assert _probe(tmp_path, cache).startswith("True False|compiling kernels")
