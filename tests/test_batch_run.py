"""Batch runs: identical results whatever the workers, task size or backend; kill and resume;
one result block per sweep point; the run folder's contents."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from riskmodel.batch import runner
from riskmodel.batch.runner import RunOptions, resume_run, run_plan
from riskmodel.batch.scenario_file import load_scenario_file
from riskmodel.errors import InputError

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# Worker processes (loky, dask) import the stand-in engine by module name.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(TESTS), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
)


def _engine() -> str:
    """The real engine once it runs; the stand-in with the same contract until then."""
    try:
        from riskmodel.sim import engine  # noqa: F401
    except ImportError:
        return "test_batch_stub_engine"
    return "riskmodel.sim.engine"


ENGINE = _engine()


def _market(mid: str, price: float, omega: float, bau: float) -> dict:
    return {
        "id": mid, "synthetic": True, "currency": "EUR", "jurisdiction": "eu27",
        "bau_emissions": bau,
        "process": {"family": "garch", "dist": "normal",
                    "params": {"mu": 0.0, "omega": omega, "alpha": 0.06, "beta": 0.9},
                    "last_price": price},
    }


def toy_scenario(**sim: object) -> dict:
    """Two synthetic markets, a bilateral link, two short years."""
    return {
        "name": "toy",
        "markets": [_market("north", 20.0, 0.08, 100.0), _market("south", 40.0, 0.2, 60.0)],
        "links": [{"markets": ["north", "south"]}],
        "dependence": {"corr": [[1.0, 0.3], [0.3, 1.0]]},
        "horizon": {"start_year": 2024, "years": 2, "days_per_year": 20},
        "simulation": {"paths": 360, "paths_per_chunk": 40, "keep_paths": 4, "seed": 7,
                       "numeraire": "EUR", **sim},
    }


def write_scenario(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run_dir_for(tmp: Path, name: str, options: RunOptions, data: dict | None = None) -> Path:
    f = write_scenario(tmp / f"{name}.yaml", data or toy_scenario())
    plan = load_scenario_file(f)
    options.engine = ENGINE
    return run_plan(plan, out=tmp / "runs", run_id=name, options=options)


def results(run: Path) -> pd.DataFrame:
    return pd.read_parquet(run / "results.parquet")


def assert_same_run(a: Path, b: Path) -> None:
    """Bit for bit: the tidy results and every kept path."""
    ra, rb = results(a), results(b)
    pd.testing.assert_frame_equal(ra, rb, check_exact=True)
    assert (a / "results.parquet").read_bytes() == (b / "results.parquet").read_bytes()
    if (a / "paths.npz").exists():
        with np.load(a / "paths.npz") as pa, np.load(b / "paths.npz") as pb:
            assert sorted(pa.files) == sorted(pb.files)
            for k in pa.files:
                np.testing.assert_array_equal(pa[k], pb[k])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted in-process run every other execution must reproduce."""
    tmp = tmp_path_factory.mktemp("ref")
    return run_dir_for(tmp, "ref", RunOptions(n_jobs=1))


def test_run_folder_contents(reference: Path) -> None:
    m = json.loads((reference / "manifest.json").read_text())
    assert m["status"] == "complete" and m["finished"] >= m["started"]
    assert m["seeds"][0]["entropy"] == "7" and m["seeds"][0]["n_chunks"] == 9
    assert m["ledger"]["chunks"] == 9 and len(list((reference / "chunks").iterdir())) == 9
    assert {"numpy", "numba", "joblib", "dask", "python"} <= set(m["versions"])
    assert "commit" in m["git"]
    assert m["plan"]["scenario"]["simulation"]["paths"] == 360
    r = results(reference)
    assert list(r.columns[:3]) == ["scenario", "sweep_point", "sweep"]
    assert {"variant", "market", "year", "statistic", "value", "mcse"} <= set(r.columns)
    assert set(r["market"]) >= {"north", "south"}
    assert (reference / "summary.txt").read_text().startswith("run ref")
    assert not list(reference.rglob("*.tmp"))


def test_summary_reports_how_often_the_guard_acted(reference: Path, tmp_path: Path) -> None:
    """Each market's own guard count (``p_guard``, horizon) is in the notes and the results:
    none at the default 25% guard on these calm markets; often with a 1% guard on a market
    whose daily sd is about 1.4%, and there it equals the share of clipped residuals the
    kernel counted."""
    from riskmodel.sim import engine
    from riskmodel.sim.scenario import scenario_from_dict

    text = (reference / "summary.txt").read_text()
    assert "(p_guard): north 0.0e+00, south 0.0e+00 (all below 1e-4)" in text
    data = toy_scenario()
    data["markets"][1]["max_daily_return"] = 1.0
    run = run_dir_for(tmp_path, "tight", RunOptions(n_jobs=1), data)
    m = re.search(r"\(p_guard\): north (\S+), south (\S+) \(above 1e-4 in south",
                  (run / "summary.txt").read_text())
    assert m is not None and float(m.group(1)) == 0.0
    res = engine.simulate(scenario_from_dict(data))
    # one of the two markets clips: all of the kernel's count is south's
    south = 2 * res.meta["clipped_share"]
    assert 0.2 < south < 0.9
    assert float(m.group(2)) == pytest.approx(south, rel=0.05)  # printed to two digits
    r = results(run)
    g = r[(r.statistic == "p_guard") & (r.market == "south") & (r.variant == "linked")]
    assert g[g.year == -1].value.iloc[0] == pytest.approx(south, rel=1e-12)
    assert g[g.year > 0].value.mean() == pytest.approx(south, rel=1e-12)  # two equal years
    assert (g.mcse > 0).all()
    assert any("(p_guard)" in k for k in
               json.loads((run / "manifest.json").read_text())["engine_notes"])


@pytest.mark.parametrize(
    ("label", "options"),
    [
        ("jobs2", RunOptions(n_jobs=2)),
        ("chunk120", RunOptions(n_jobs=2, chunk_size=120)),
        ("chunkall", RunOptions(n_jobs=1, chunk_size=10_000)),
    ],
)
def test_same_results_any_workers_or_task_size(
    reference: Path, tmp_path: Path, label: str, options: RunOptions
) -> None:
    run = run_dir_for(tmp_path, label, options)
    m = json.loads((run / "manifest.json").read_text())
    assert m["sessions"][0]["tasks"] == {"jobs2": 9, "chunk120": 3, "chunkall": 1}[label]
    assert_same_run(reference, run)


def test_same_results_on_dask_local_cluster(reference: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        run = run_dir_for(tmp_path, "dask", RunOptions(scheduler=client))
        again = run_dir_for(tmp_path, "dask_addr", RunOptions(scheduler=cluster.scheduler_address))
    assert json.loads((run / "manifest.json").read_text())["sessions"][0]["backend"] == "dask"
    assert_same_run(reference, run)
    assert_same_run(reference, again)


def test_sweep_gives_one_block_per_point(tmp_path: Path) -> None:
    data = toy_scenario(paths=80)
    data["sweep"] = {"grid": {"links[0].quota.share": [0.1, 0.5, 0.9],
                              "markets[south].abatement.share": [0.1, 0.2]}}
    run = run_dir_for(tmp_path, "sweep", RunOptions(n_jobs=1), data)
    r = results(run)
    assert sorted(r["sweep_point"].unique()) == list(range(6))
    sizes = r.groupby("sweep_point").size()
    assert sizes.nunique() == 1  # the same block of statistics at every point
    labels = r.groupby("sweep_point")["sweep"].first()
    assert labels[0] == "links[0].quota.share=0.1, markets[south].abatement.share=0.1"
    assert labels[5] == "links[0].quota.share=0.9, markets[south].abatement.share=0.2"
    m = json.loads((run / "manifest.json").read_text())
    assert len(m["plan"]["points"]) == 6 and m["ledger"]["chunks"] == 6 * 2
    # a tighter quota widens the price gap: the cheap exporter's linked price falls, the dear
    # importer's rises (points 0, 2, 4 share abatement 0.1 and loosen the quota)
    lk = r[(r.variant == "linked") & (r.statistic == "price_mean") & (r.year == -1)]
    for mkt, sign in (("north", 1), ("south", -1)):
        v = lk[lk.market == mkt].set_index("sweep_point")["value"].loc[[0, 2, 4]].to_numpy()
        assert np.all(sign * np.diff(v) >= 0), (mkt, v)
    # each point is the same engine call as a scenario with that value written in
    one = toy_scenario(paths=80)
    one["links"][0]["quota"] = {"share": 0.5}
    one["markets"][1]["abatement"] = {"share": 0.2}
    single = run_dir_for(tmp_path, "single", RunOptions(n_jobs=1), one)
    cols = ["variant", "market", "year", "statistic", "value", "mcse"]
    pd.testing.assert_frame_equal(
        r[r["sweep_point"] == 3][cols].reset_index(drop=True), results(single)[cols],
        check_exact=True,
    )


def test_killed_run_resumes_to_the_same_results(reference: Path, tmp_path: Path) -> None:
    """SIGKILL a CLI run after some chunks are in the ledger; resume; compare bit for bit."""
    f = write_scenario(tmp_path / "toy.yaml", toy_scenario())
    env = dict(os.environ, RISKMODEL_ENGINE="test_batch_stub_engine", RISKMODEL_STUB_SLEEP="0.4",
               RISKMODEL_STUB_REAL="1" if ENGINE != "test_batch_stub_engine" else "0")
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "riskmodel", "run", str(f), "--out", str(out), "--run-id",
           "killed", "--n-jobs", "1", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    chunks = out / "killed" / "chunks"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if chunks.is_dir() and len(runner.finished_chunks(out / "killed")) >= 3:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        else:
            pytest.fail("no chunks finished within a minute")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed = out / "killed"
    done = runner.finished_chunks(killed)
    assert 3 <= len(done) < 9
    assert json.loads((killed / "manifest.json").read_text())["status"] == "running"
    assert not (killed / "results.parquet").exists()
    before = {p.name: p.stat().st_mtime_ns for p in chunks.iterdir()}

    # the resume runs in this process: the manifest's stand-in engine must be allowed here too
    # (it is imported only where another test of the session loaded it first)
    os.environ["RISKMODEL_STUB_REAL"] = env["RISKMODEL_STUB_REAL"]
    os.environ["RISKMODEL_ENGINE"] = env["RISKMODEL_ENGINE"]
    try:
        resume_run(killed, options=RunOptions(n_jobs=1, chunk_size=80))
    finally:
        os.environ.pop("RISKMODEL_STUB_REAL", None)
        os.environ.pop("RISKMODEL_ENGINE", None)
    m = json.loads((killed / "manifest.json").read_text())
    assert m["status"] == "complete" and len(m["sessions"]) == 2
    assert m["sessions"][1]["chunks_found"] == len(done)
    assert m["sessions"][1]["chunks_run"] == 9 - len(done)
    after = {p.name: p.stat().st_mtime_ns for p in chunks.iterdir()}
    assert all(after[k] == v for k, v in before.items())  # finished chunks were not redone
    assert_same_run(reference, killed)


def test_a_run_with_other_random_streams_is_not_resumed(tmp_path: Path) -> None:
    """A run begun by a version with other random streams (e.g. numpy's PCG64 before
    riskmodel.sim.rng) must not be finished with these: refused, naming the manifest field."""
    from riskmodel.sim.rng import STREAMS

    run = run_dir_for(tmp_path, "old", RunOptions(n_jobs=1), toy_scenario(paths=80))
    mpath = run / "manifest.json"
    m = json.loads(mpath.read_text())
    assert m["streams"] == STREAMS
    del m["streams"]  # as written before the streams were recorded
    m["status"] = "running"
    mpath.write_text(json.dumps(m))
    with pytest.raises(InputError, match="other random streams") as err:
        resume_run(run, options=RunOptions(n_jobs=1))
    assert err.value.field == "streams" and "manifest.json" in str(err.value.file)


@pytest.mark.parametrize("damage", ["deleted", "edited"])
def test_a_resume_writes_the_design_again(tmp_path: Path, damage: str) -> None:
    """design.json is written when the run begins and read by nobody after: deleted or edited,
    a resume finished the run without it (or with a design that never ran). The resume gives it
    again from the plan, byte for byte as the run began."""
    run = run_dir_for(tmp_path, "d", RunOptions(n_jobs=1), toy_scenario(paths=80))
    design = run / "design.json"
    first = design.read_bytes()
    if damage == "deleted":
        design.unlink()
    else:
        d = json.loads(first)
        d["points"][0]["label"] = "edited"
        design.write_text(json.dumps(d))
    resume_run(run, options=RunOptions(n_jobs=1))
    assert design.read_bytes() == first
