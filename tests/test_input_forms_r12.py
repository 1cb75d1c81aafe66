"""Bad inputs of the twelfth hunt that the corpus (tests/bad_inputs/) cannot make: a folder the
command may not write into, and a terminal width (COLUMNS) too narrow for any table. The atomic
writer (``riskmodel.io``) makes a temporary file beside the one asked for; when the folder
refused it, the error line named that temporary file (``/proc/.x.json.hbn9pw9u.tmp: No such
file or directory``), a name the user never gave."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from test_bad_inputs import invoke

from riskmodel import config, io

PRICES = '"date","price"\n2010-05-14,17.75\n2010-05-17,17.5\n2010-05-18,17.6\n'


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d" / "prices" / "nzu").mkdir(parents=True)
    (tmp_path / "d" / "prices" / "nzu" / "spotprices.csv").write_text(PRICES, encoding="utf-8")
    monkeypatch.setenv(config.ENV_DATA, str(tmp_path / "d"))
    monkeypatch.delenv("RISKMODEL_DEBUG", raising=False)
    return tmp_path


def test_a_folder_refusing_the_temporary_file_is_named_by_the_file_asked_for(
        work: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(*, prefix: str, suffix: str, dir: Path) -> tuple[int, str]:  # noqa: A002
        raise PermissionError(errno.EACCES, "Permission denied",
                              str(Path(dir) / f"{prefix}k3j2h1{suffix}"))

    monkeypatch.setattr(io.tempfile, "mkstemp", refuse)
    (work / "locked").mkdir()
    code, out, err = invoke(["data", "summary", "--json", "locked/s.json"], capsys)
    assert "Traceback" not in out + err
    assert code == 2
    assert err == "error: locked/s.json: Permission denied\n"
    assert list((work / "locked").iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_folder_is_named_by_the_file_asked_for(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = work / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, err = invoke(["data", "summary", "--json", "locked/s.json"], capsys)
    finally:
        locked.chmod(0o755)
    assert code == 2
    assert err == "error: locked/s.json: Permission denied\n"
    assert list(locked.iterdir()) == []


def test_the_writer_still_writes_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    io.atomic_write_text(tmp_path / "a.txt", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


# ------------------------------------------------------------------ COLUMNS below any table
@pytest.mark.parametrize("columns", ["0", "1"])
def test_columns_too_narrow_for_a_table_still_prints(columns: str, tmp_path: Path) -> None:
    """``COLUMNS=0`` made ``scenario show`` print nothing at all with exit 0 (rich laid the
    tables out in no columns), ``COLUMNS=1`` a character a line: below 40 columns the width is
    read as 40, as the run tables (``riskmodel.sim.summary.terminal_width``) read it."""
    import subprocess
    import sys

    base = Path(__file__).resolve().parent / "bad_inputs" / "bases" / "scenario.yaml"
    env = {**os.environ, "COLUMNS": columns, "PYTHONPATH": str(base.parents[3])}
    env.pop("RISKMODEL_DEBUG", None)
    r = subprocess.run([sys.executable, "-m", "riskmodel", "scenario", "show", str(base)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stderr) == (0, "")
    assert "corpus_base" in r.stdout and "market north" in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) >= 40
