"""Every subcommand answers a usage error with one line and exit status 2, never a traceback.

For each subcommand: an unknown option, a value of the wrong type and a missing argument or
option value, in-process through ``riskmodel.cli.run`` (and a few through the installed
``riskmodel`` script in a subprocess, as a user runs it). Plus the error-path rules: a run that
fails part-way keeps its folder marked failed and ``runs list`` shows it; a damaged run folder
is listed as broken instead of hidden; ``--debug`` gives the traceback back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_bad_inputs import BASES, invoke

from riskmodel import config

#: Subcommand -> (args with an unknown option, args with a wrongly typed value, args missing one).
MATRIX: dict[str, tuple[list[str], list[str], list[str]]] = {
    "run": (
        ["run", "x.yaml", "--colour"],
        ["run", "x.yaml", "--paths", "abc"],
        ["run", "x.yaml", "--seed"],
    ),
    "runs list": (["runs", "list", "--all"], ["runs", "--out"], ["runs", "--out"]),
    "runs show": (
        ["runs", "show", "r1", "--json"],
        ["runs", "show", "r1", "--manifest=maybe"],
        ["runs", "show"],
    ),
    "runs compare": (
        ["runs", "compare", "a", "b", "--z"],
        ["runs", "compare", "a", "b", "--statistic"],
        ["runs", "compare", "a"],
    ),
    "report": (
        ["report", "--firm", "f.yaml", "--pages", "2"],
        ["report", "--firm", "f.yaml", "--paths", "many"],
        ["report", "--scenario", "s"],
    ),
    "fit": (
        ["fit", "eu_ets", "--fast"],
        ["fit", "eu_ets", "--test-size", "ten"],
        ["fit", "eu_ets", "--model"],
    ),
    "data summary": (
        ["data", "summary", "--all"],
        ["data", "summary", "--json"],
        ["data", "summary", "--market"],
    ),
    "data show": (
        ["data", "show", "eu_ets", "--tail"],
        ["data", "show", "eu_ets", "--rows", "x"],
        ["data", "show"],
    ),
    "data fx": (
        ["data", "fx", "--month", "3"],
        ["data", "fx", "--year", "twenty"],
        ["data", "fx", "--year"],
    ),
}
CALLS = [
    (cmd, kind, args)
    for cmd, triple in MATRIX.items()
    for kind, args in zip(("unknown option", "wrong type", "missing"), triple, strict=True)
]


@pytest.mark.parametrize(
    ("cmd", "kind", "args"), CALLS, ids=[f"{c}-{k}".replace(" ", "_") for c, k, _ in CALLS]
)
def test_usage_errors_are_one_line(
    cmd: str, kind: str, args: list[str], tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = invoke(args, capsys)
    lines = err.strip().splitlines()
    assert "Traceback" not in out + err
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error: riskmodel"), err
    assert lines[0].count(": ") >= 2  # error: <file or command>: <field>: <what>


def test_unknown_option_names_option_and_help(
    tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = invoke(["runs", "compare", "a", "b", "--z"], capsys)
    assert err.strip() == (
        "error: riskmodel runs compare: --z: no such option; see "
        "'riskmodel runs compare --help' for the options"
    )


@pytest.mark.parametrize(
    "args", [["run", "--paths", "abc", "x.yaml"], ["nosuch"], ["report", "--firm"]]
)
def test_installed_script_prints_no_traceback(args: list[str], tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("riskmodel")
    if not exe.is_file():
        pytest.skip("the riskmodel script is not installed beside this Python")
    proc = subprocess.run(
        [str(exe), *args], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("error: riskmodel")


def test_debug_shows_the_traceback(tmp_cwd: Path) -> None:
    from riskmodel.cli import run
    from riskmodel.errors import InputError

    with pytest.raises(InputError):
        run(["--debug", "run", "missing.yaml"])


def _fake_run(out: Path, name: str, **changes: object) -> Path:
    d = out / name
    (d / "chunks").mkdir(parents=True)
    m = json.loads((BASES / "manifest.json").read_text(encoding="utf-8"))
    m.update(run_id=name, **changes)
    (d / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    return d


def test_runs_list_shows_broken_and_failed_runs(tmp_cwd: Path) -> None:
    from riskmodel.batch.runs import list_runs

    out = tmp_cwd / "runs"
    _fake_run(out, "good", status="running")
    _fake_run(out, "failed", status="failed", error="RuntimeError: disk full")
    (_fake_run(out, "garbled") / "manifest.json").write_text("{not json", encoding="utf-8")
    (out / "orphan" / "chunks").mkdir(parents=True)
    d = _fake_run(out, "damaged")
    (d / "results.parquet").write_bytes(b"PAR1 truncated")
    frame = list_runs(out).set_index("run_id")
    assert set(frame.index) == {"good", "failed", "garbled", "orphan", "damaged"}
    assert frame.loc["good", "status"] == "running"
    assert frame.loc["failed", "status"] == "failed: RuntimeError: disk full"
    assert frame.loc["garbled", "status"].startswith("broken: not valid JSON")
    assert frame.loc["orphan", "status"] == "broken: no manifest.json"
    assert frame.loc["damaged", "status"] == "broken: not a readable Parquet file (ArrowInvalid)"


def test_run_failing_part_way_is_kept_marked_failed(
    tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import riskmodel.batch.runner as runner

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("worker lost")

    monkeypatch.setattr(runner, "execute", boom)
    shutil.copy(BASES / "scenario.yaml", tmp_cwd / "s.yaml")
    code, _, err = invoke(["run", "s.yaml", "--out", "runs", "--run-id", "r1", "-q"], capsys)
    assert code == 1
    assert err.strip() == (
        "error: runs/r1: run: failed part-way (RuntimeError: worker lost); the folder is kept "
        "with status 'failed'; finish it with riskmodel run --resume runs/r1, or delete it"
    )
    manifest = json.loads((tmp_cwd / "runs" / "r1" / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["error"] == "RuntimeError: worker lost"
    code, out, _ = invoke(["runs", "--out", "runs", "list"], capsys)
    assert code == 0 and "failed: RuntimeError: worker lost" in out


def test_failed_validation_leaves_no_run_folder(
    tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (BASES / "scenario.yaml").read_text().replace("omega: 0.08", "omega: -0.08")
    (tmp_cwd / "s.yaml").write_text(text)
    before = set(config.RUNS_DIR.iterdir()) if config.RUNS_DIR.is_dir() else set()
    code, _, _ = invoke(["run", "s.yaml", "--out", "runs"], capsys)
    assert code == 2
    assert not (tmp_cwd / "runs").exists()
    assert (set(config.RUNS_DIR.iterdir()) if config.RUNS_DIR.is_dir() else set()) == before
