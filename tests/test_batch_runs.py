"""``riskmodel run`` end to end through the CLI, and ``riskmodel runs`` list / show / compare."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_batch_run import ENGINE, toy_scenario
from typer.testing import CliRunner

from riskmodel.batch.runner import resume_run
from riskmodel.batch.runs import compare_runs, find_run, list_runs, show_run
from riskmodel.cli import app
from riskmodel.errors import InputError


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same scenario under two designs (unrestricted link vs a 5% quota), via the CLI."""
    tmp = tmp_path_factory.mktemp("runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("RISKMODEL_ENGINE", ENGINE)
    free = toy_scenario(paths=120)
    tight = toy_scenario(paths=120)
    tight["links"][0]["quota"] = {"share": 0.05}
    cli = CliRunner()
    try:
        for name, data in (("free", free), ("tight", tight)):
            f = tmp / f"{name}.yaml"
            f.write_text(yaml.safe_dump(data), encoding="utf-8")
            r = cli.invoke(app, ["run", str(f), "--out", str(tmp / "runs"), "--run-id", name,
                                 "--n-jobs", "1"])
            assert r.exit_code == 0, r.output
            assert "results:" in r.output and "run " + name in r.output
    finally:
        mp.undo()
    return tmp / "runs"


def test_cli_run_writes_a_complete_folder(two_runs: Path) -> None:
    d = two_runs / "free"
    for f in ("manifest.json", "results.parquet", "summary.txt"):
        assert (d / f).is_file()
    m = json.loads((d / "manifest.json").read_text())
    assert m["status"] == "complete" and m["plan"]["file"].endswith("free.yaml")


def test_list_and_show(two_runs: Path) -> None:
    frame = list_runs(two_runs)
    assert set(frame["run_id"]) == {"free", "tight"}
    assert set(frame["status"]) == {"complete"} and set(frame["chunks"]) == {"3/3"}
    assert show_run("tig", out=two_runs).startswith("run tight")
    assert find_run(two_runs / "free") == two_runs / "free"
    with pytest.raises(InputError, match="no run"):
        find_run("nothing", out=two_runs)
    r = CliRunner().invoke(app, ["runs", "--out", str(two_runs)])
    assert r.exit_code == 0 and "free" in r.output and "tight" in r.output
    r = CliRunner().invoke(app, ["runs", "--out", str(two_runs), "show", "free"])
    assert r.exit_code == 0 and r.output.startswith("run free")


def test_compare_side_by_side(two_runs: Path) -> None:
    c = compare_runs("free", "tight", out=two_runs)
    a = pd.read_parquet(two_runs / "free" / "results.parquet")
    assert len(c) == len(a)
    assert {"value_a", "value_b", "diff", "z"} <= set(c.columns)
    pd.testing.assert_series_equal(c["diff"], c["value_b"] - c["value_a"], check_names=False)
    # on common random numbers the autarky variant cannot depend on the link design
    aut = c[c["variant"] == "autarky"]
    assert len(aut) and (aut["diff"] == 0).all()
    r = CliRunner().invoke(app, ["runs", "--out", str(two_runs), "compare", "free", "tight",
                                 "--variant", "linked"])
    assert r.exit_code == 0 and "diff = B - A" in r.output


def test_incomplete_run_shows_progress(two_runs: Path, tmp_path: Path) -> None:
    import shutil

    d = tmp_path / "runs" / "half"
    shutil.copytree(two_runs / "free", d)
    m = json.loads((d / "manifest.json").read_text())
    m["status"] = "running"  # (the run keeps its id: its chunks record it)
    (d / "manifest.json").write_text(json.dumps(m))
    (d / "chunks" / "p0000-c000002.pkl").unlink()
    text = show_run(d)
    assert "2 of 3 chunks" in text and "--resume" in text
    # a calibration that changed since the run started would mix two models: refused
    if m["calibrations"]:
        bad = dict(m, calibrations={k: "0" * 64 for k in m["calibrations"]})
        (d / "manifest.json").write_text(json.dumps(bad))
        with pytest.raises(InputError, match="changed since the run began"):
            resume_run(d)
        (d / "manifest.json").write_text(json.dumps(m))
    resume_run(d)
    pd.testing.assert_frame_equal(pd.read_parquet(d / "results.parquet"),
                                  pd.read_parquet(two_runs / "free" / "results.parquet"),
                                  check_exact=True)
