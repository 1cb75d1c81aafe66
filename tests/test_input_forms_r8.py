"""Bad inputs of the eighth hunt that the corpus (tests/bad_inputs/) cannot make: names echoed
on stdout by ``riskmodel runs list`` (control characters and rich markup in ``--out``), and
the firm report's rerun hint for a library scenario (an absolute path in the manifest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_bad_inputs import invoke

from riskmodel import config
from riskmodel.batch.run_arrays import rerun_argument
from riskmodel.batch.scenario_file import ScenarioPlan, load_scenario_file

BASES = Path(__file__).resolve().parent / "bad_inputs" / "bases"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RISKMODEL_DEBUG", raising=False)
    return tmp_path


# ------------------------------------------------------------------ runs list echoes --out
@pytest.mark.parametrize(("name", "shown"), [
    ("r\x1b[2J", "r\\x1b[2J"),        # an escape sequence: written as text, never sent
    ("r\u202eevil", "r\\u202eevil"),  # a bidirectional override
    ("[red]r", "[red]r"),             # rich markup: shown as written, not eaten as a style
])
def test_runs_list_echoes_the_folder_safely(name: str, shown: str, work: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (work / name).mkdir()
    code, out, err = invoke(["runs", "--out", name, "list"], capsys)
    assert (code, err) == (0, "")
    assert out == f"no runs in {shown}\n"


def test_runs_list_table_title_escapes_the_folder(work: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A folder holding a run: the table's title names the folder escaped (piped output)."""
    run = work / "o\x1bx" / "r1"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text((BASES / "manifest.json").read_text(encoding="utf-8"),
                                       encoding="utf-8")
    code, out, err = invoke(["runs", "--out", "o\x1bx", "list"], capsys)
    assert (code, err) == (0, "")
    assert "\x1b" not in out
    assert out.startswith("runs in o\\x1bx\n")


# ------------------------------------------------------------------ the rerun hint
def _plan(file: Path | None) -> ScenarioPlan:
    plan = load_scenario_file(BASES / "scenario.yaml", check_calibrations=False)
    plan.file = file
    return plan


def test_rerun_hint_names_a_library_scenario_by_name() -> None:
    assert rerun_argument(_plan(config.SCENARIOS_DIR / "china_korea.yaml")) == "china_korea"


def test_rerun_hint_names_a_file_as_given_quoted() -> None:
    assert rerun_argument(_plan(Path("my runs/s.yaml"))) == "'my runs/s.yaml'"
    assert rerun_argument(_plan(Path("s.yaml"))) == "s.yaml"


def test_rerun_hint_without_a_file_is_the_name() -> None:
    assert rerun_argument(_plan(None)) == "corpus_base"
