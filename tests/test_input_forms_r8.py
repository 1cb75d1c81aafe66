"""Bad inputs of the eighth hunt that the corpus (tests/bad_inputs/) cannot make: names echoed
on stdout by ``riskmodel runs list`` (control characters and rich markup in ``--out``), the
firm report's rerun hint for a library scenario (an absolute path in the manifest), a price
file of the data folder damaged into a folder or a broken link (F18), and run folders whose
manifest.json or chunks/ is a broken or looping link (N9)."""

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


# ------------------------------------------------------------------ F18: a damaged price file
def _real_file(rel: str) -> Path:
    from riskmodel.errors import InputError

    try:
        path = config.data_dir() / "prices" / rel
    except InputError:
        pytest.skip("no data directory (RISKMODEL_DATA)")
    if not path.is_file():
        pytest.skip(f"the data directory has no {rel}")
    return path


@pytest.fixture
def damaged(work: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of one real price file (linked, not copied) beside the place of another."""
    data = work / "data"
    (data / "prices" / "nzu").mkdir(parents=True)
    (data / "prices" / "clearblue").mkdir()
    (data / "prices" / "nzu" / "spotprices.csv").symlink_to(_real_file("nzu/spotprices.csv"))
    monkeypatch.setenv(config.ENV_DATA, str(data))
    return data / "prices" / "clearblue" / "eu_ets.csv"


_FOLDER = ("error: clearblue/eu_ets.csv: a folder where the price file belongs: restore the "
           "file, or delete the folder to go without it\n")
_LINK = ("error: clearblue/eu_ets.csv: a broken symbolic link (its target is missing, or a "
         "loop) where the price file belongs: restore the file, or delete the link to go "
         "without it\n")


@pytest.mark.parametrize("args", [["data", "summary"], ["data", "show", "eu_ets"],
                                  ["data", "show", "clearblue.eua_front_dec"]])
@pytest.mark.parametrize("kind", ["folder", "broken link"])
def test_damaged_price_file_is_one_error_for_show_and_summary(
        args: list[str], kind: str, damaged: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder or a broken link where a price file belongs: ``data summary`` skipped it as
    absent while ``data show`` failed on it (a bare OSError for the link)."""
    if kind == "folder":
        damaged.mkdir()
    else:
        damaged.symlink_to("nowhere.csv")
    code, out, err = invoke(args, capsys)
    assert (code, err) == (2, _FOLDER if kind == "folder" else _LINK)


def test_absent_price_file_is_named_by_data_show(damaged: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An absent file: not 'no loader produces it' (the loader exists; its file is gone)."""
    code, out, err = invoke(["data", "show", "eu_ets"], capsys)
    assert (code, err) == (2, "error: clearblue/eu_ets.csv: not in the data folder "
                              f"{damaged.parent.parent}, and it holds eu_ets's price series "
                              "clearblue.eua_front_dec: restore the file, or point --data-dir "
                              "at a complete data folder\n")
    code, out, err = invoke(["data", "show", "clearblue.eua_front_dec"], capsys)
    assert code == 2
    assert err.startswith("error: riskmodel data show: clearblue.eua_front_dec: unknown price "
                          "series, or its file is not in the data folder ")
    assert "clearblue/eu_ets.csv" in err and err.endswith(" are absent\n")


# ------------------------------------------------------------------ runs list: damaged folders
def _run_folder(where: Path) -> None:
    """A run that has not finished (nothing to check but its manifest), whose id is r1."""
    import json

    m = json.loads((BASES / "manifest.json").read_text(encoding="utf-8"))
    m.update(run_id="r1", status="running")
    where.mkdir(parents=True)
    (where / "manifest.json").write_text(json.dumps(m), encoding="utf-8")


def test_runs_list_names_each_run_by_its_folder(work: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A copied or renamed run folder was listed by its manifest's run id, which
    ``runs show`` then did not find; the folder name is what show, compare and --resume take."""
    _run_folder(work / "runs" / "copy_of_r1")
    code, out, err = invoke(["runs", "--out", "runs", "list"], capsys)
    assert (code, err) == (0, "")
    assert "copy_of_r1" in out and " r1 " not in out
    code, out, err = invoke(["runs", "--out", "runs", "show", "copy_of_r1", "--manifest"], capsys)
    assert (code, err) == (0, "")


@pytest.mark.parametrize(("make", "what"), [
    (lambda p: p.symlink_to("nowhere.json"), "a broken symbolic link (or a loop)"),
    (lambda p: p.symlink_to(p.name), "a broken symbolic link (or a loop)"),
    (lambda p: p.mkdir(), "a folder"),
])
def test_run_with_a_damaged_manifest_is_listed_and_named(
        make: object, what: str, work: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A manifest.json that is a broken link, a link loop or a folder: the run was left out of
    ``runs list`` and ``runs show`` said there was no such run."""
    monkeypatch.setenv("COLUMNS", "400")  # one table line per run
    (work / "runs" / "r2").mkdir(parents=True)
    make(work / "runs" / "r2" / "manifest.json")  # type: ignore[operator]
    code, out, err = invoke(["runs", "--out", "runs", "list"], capsys)
    assert (code, err) == (0, "")
    row = next(line for line in out.splitlines() if line.strip().startswith("r2 "))
    assert f"broken: manifest.json is {what}" in row
    for args in (["runs", "--out", "runs", "show", "r2"], ["run", "--resume", "runs/r2"]):
        code, out, err = invoke(args, capsys)
        assert (code, err) == (2, f"error: runs/r2/manifest.json: manifest: {what} where the "
                                  "run's manifest belongs: the run folder is damaged; delete it "
                                  "and run the scenario again\n")


# ------------------------------------------------------------------ N9: chunks/ a looping link
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``runs/A``: the corpus base scenario, 20 paths in one chunk, finished."""
    from riskmodel.batch.runner import run_plan

    work = tmp_path_factory.mktemp("finished")
    (work / "s.yaml").write_text((BASES / "scenario.yaml").read_text(encoding="utf-8"),
                                 encoding="utf-8")
    return run_plan(load_scenario_file(work / "s.yaml", paths=20), out=work / "runs",
                    run_id="A")


@pytest.mark.parametrize("target", ["chunks", "/nonexistent/chunks"])
def test_resume_with_chunks_a_broken_or_looping_link(
        target: str, finished_run: Path, work: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A resume failed part-way on it (exit 1, FileExistsError), marked the run failed and
    advised the same resume; now one line, exit 2, and the manifest left as it was."""
    import shutil

    run = work / "runs" / "A"
    shutil.copytree(finished_run, run)
    shutil.rmtree(run / "chunks")
    (run / "chunks").symlink_to(target)
    before = (run / "manifest.json").read_bytes()
    code, out, err = invoke(["run", "--resume", "runs/A"], capsys)
    assert (code, err) == (2, "error: runs/A/chunks: chunks: a broken symbolic link (or a loop), "
                              "not a folder: the run's finished chunks go there; delete the run "
                              "folder and run the scenario again\n")
    assert (run / "manifest.json").read_bytes() == before


def test_run_id_of_a_looping_link(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--run-id X`` where ``<out>/X`` is a link to itself: a bare 'Too many levels of symbolic
    links' naming X/chunks; now the run id is refused, naming the link."""
    (work / "s.yaml").write_text((BASES / "scenario.yaml").read_text(encoding="utf-8"),
                                 encoding="utf-8")
    (work / "runs").mkdir()
    (work / "runs" / "loop").symlink_to("loop")
    code, out, err = invoke(["run", "s.yaml", "--out", "runs", "--run-id", "loop"], capsys)
    assert (code, err) == (2, "error: runs/loop: --run-id: a broken symbolic link (or a loop) "
                              "stands where the run folder would go; give another --run-id, "
                              "or remove the link\n")
    assert sorted(p.name for p in (work / "runs").iterdir()) == ["loop"]
