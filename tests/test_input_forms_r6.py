"""Bad inputs of the sixth hunt that the corpus (tests/bad_inputs/) cannot make: symbolic-link
loops and dangling links (F08, F11, F15), RISKMODEL_DATA / ``--data-dir`` that cannot be
resolved (F07), and an over-long value echoed on stderr (F16). Each refusal is one exact line,
exit status 2, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_bad_inputs import invoke

from riskmodel import config
from riskmodel.cli_errors import clean_line, error_line
from riskmodel.errors import InputError

BASES = Path(__file__).resolve().parent / "bad_inputs" / "bases"


def _copy(name: str, to: Path) -> None:
    to.parent.mkdir(parents=True, exist_ok=True)
    to.write_text((BASES / name).read_text(encoding="utf-8"), encoding="utf-8")


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RISKMODEL_DEBUG", raising=False)
    return tmp_path


def _refused(args: list[str], line: str, work: Path,
             capsys: pytest.CaptureFixture[str]) -> None:
    before = _tree(work)
    code, out, err = invoke(args, capsys)
    assert "Traceback" not in err + out
    assert (code, err) == (2, line + "\n")
    assert _tree(work) == before, "a refused command wrote files"


# ------------------------------------------------------------------ F07: the data directory
_LOOP = ("data_dir: loopdir is a symbolic-link loop; pass --data-dir or set RISKMODEL_DATA to "
         "a folder")
_USER = ("data_dir: cannot expand '~nosuchuser_zz': no such user; pass --data-dir or set "
         "RISKMODEL_DATA to a folder")


@pytest.mark.parametrize(("env", "args", "line"), [
    ("loopdir", ["data", "summary"], f"error: riskmodel data summary: {_LOOP}"),
    ("loopdir", ["data", "fx"], f"error: riskmodel data fx: {_LOOP}"),
    ("loopdir", ["fit", "eu_ets", "--out", "fitout"], f"error: riskmodel fit: {_LOOP}"),
    (None, ["--data-dir", "loopdir", "data", "summary"], f"error: riskmodel data summary: {_LOOP}"),
    ("~nosuchuser_zz/data", ["data", "summary"], f"error: riskmodel data summary: {_USER}"),
    (None, ["--data-dir", "~nosuchuser_zz/data", "data", "show", "eu_ets"],
     f"error: riskmodel data show: {_USER}"),
    ("loopdir/sub", ["data", "summary"],
     "error: riskmodel data summary: data_dir: loopdir/sub passes through a symbolic-link loop; "
     "pass --data-dir or set RISKMODEL_DATA to a folder"),
])
def test_data_dir_that_cannot_be_resolved_is_named(
        work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        env: str | None, args: list[str], line: str) -> None:
    """A symbolic-link loop or an unknown user's ``~`` was an internal error in every
    command (Path.resolve / expanduser raised RuntimeError in the CLI callback)."""
    os.symlink("loopdir", work / "loopdir")
    if env is None:
        monkeypatch.delenv(config.ENV_DATA, raising=False)
    else:
        monkeypatch.setenv(config.ENV_DATA, env)
    _refused(args, line, work, capsys)


@pytest.mark.parametrize("env", ["loopdir", "~nosuchuser_zz/data"])
def test_commands_that_need_no_data_ignore_an_unusable_data_dir(
        work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        env: str) -> None:
    """A run of a scenario of synthetic markets, and ``runs``, read no data: they work."""
    os.symlink("loopdir", work / "loopdir")
    monkeypatch.setenv(config.ENV_DATA, env)
    _copy("scenario.yaml", work / "s.yaml")
    code, _out, err = invoke(["run", "s.yaml", "--paths", "20", "--run-id", "A", "--out",
                              "runs", "--quiet"], capsys)
    assert code == 0, err
    code, out, err = invoke(["runs", "--out", "runs", "list"], capsys)
    assert code == 0, err
    assert "corpus_base" in out
    code, _out, err = invoke(["--data-dir", env, "runs", "--out", "runs", "show", "A"], capsys)
    assert code == 0, err


def test_set_data_dir_defers_the_refusal(work: Path) -> None:
    os.symlink("loopdir", work / "loopdir")
    config.set_data_dir("loopdir")  # the CLI callback: must not raise
    with pytest.raises(InputError) as exc:
        config.data_dir()
    assert exc.value.field == "data_dir" and str(exc.value).startswith(_LOOP)
    good = work / "d"
    good.mkdir()
    config.set_data_dir(good)
    assert config.data_dir() == good.resolve()


# ------------------------------------------------------------------ F08: runs compare --csv
def _two_runs(work: Path) -> None:
    for r in ("r1", "r2"):
        _copy("manifest.json", work / "runs" / r / "manifest.json")


@pytest.mark.parametrize(("target", "line"), [
    ("c.csv", "error: riskmodel runs compare: --csv: c.csv is a symbolic-link loop; give the "
              "path of a file to write"),
    ("c.csv/out.csv", "error: riskmodel runs compare: --csv: c.csv/out.csv passes through a "
                      "symbolic-link loop; give the path of a file to write"),
])
def test_compare_csv_symlink_loop(work: Path, capsys: pytest.CaptureFixture[str],
                                  target: str, line: str) -> None:
    _two_runs(work)
    os.symlink("c.csv", work / "c.csv")
    _refused(["runs", "--out", "runs", "compare", "r1", "r2", "--csv", target], line, work,
             capsys)
    assert os.readlink(work / "c.csv") == "c.csv"


# ------------------------------------------------------------------ F11: --firms folder entries
@pytest.mark.parametrize(("link", "what"), [
    ("b.yaml", "a symbolic-link loop"),
    ("nowhere/x.yaml", "a broken symbolic link"),
])
def test_firms_folder_entry_that_is_a_bad_link(
        work: Path, capsys: pytest.CaptureFixture[str], link: str, what: str) -> None:
    """It was left out of the portfolio without a word (``is_file`` filter)."""
    _copy("manifest.json", work / "runs" / "r1" / "manifest.json")
    _copy("firm.yaml", work / "fs" / "a.yaml")
    os.symlink(link, work / "fs" / "b.yaml")
    _refused(["report", "--run", "runs/r1", "--firms", "fs", "--out", "rep"],
             f"error: fs/b.yaml: --firms: not a regular file ({what}); remove it or fix it",
             work, capsys)


def test_firms_folder_whose_only_entry_is_a_loop(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _copy("scenario.yaml", work / "s.yaml")
    (work / "fs").mkdir()
    os.symlink("a.yaml", work / "fs" / "a.yaml")
    _refused(["run", "s.yaml", "--paths", "20", "--firms", "fs", "--out", "runs"],
             "error: fs/a.yaml: --firms: not a regular file (a symbolic-link loop); remove it or "
             "fix it", work, capsys)


# ------------------------------------------------------------------ F15: calibration references
@pytest.mark.parametrize("link", ["cal.json", "nowhere/x.json"])
def test_calibration_beside_the_scenario_that_is_a_bad_link(
        work: Path, capsys: pytest.CaptureFixture[str], link: str) -> None:
    """It was reported as an unknown calibration missing from calibrations/."""
    _copy("real.yaml", work / "s.yaml")
    os.symlink(link, work / "cal.json")
    for args in (["run", "s.yaml", "--out", "runs"], ["scenario", "show", "s.yaml"]):
        _refused(args, "error: s.yaml: markets[0].calibration: cal.json is a broken or looping "
                       "symbolic link", work, capsys)


def test_calibration_reference_as_a_path_that_is_a_bad_link(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "sc").mkdir()
    (work / "sc" / "s.yaml").write_text(
        (BASES / "real.yaml").read_text(encoding="utf-8").replace("calibration: cal.json",
                                                                  "calibration: c/x.json"),
        encoding="utf-8")
    (work / "sc" / "c").mkdir()
    os.symlink("x.json", work / "sc" / "c" / "x.json")
    _refused(["run", "sc/s.yaml", "--out", "runs"],
             "error: sc/s.yaml: markets[0].calibration: sc/c/x.json is a broken or looping "
             "symbolic link", work, capsys)


# ------------------------------------------------------------------ F16: what stderr echoes
def test_a_5000_digit_seed_is_echoed_shortened(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole value was echoed: one stderr line of 5,113 characters."""
    _copy("scenario.yaml", work / "s.yaml")
    line = ("error: riskmodel run: --seed: '99999999999999999999\u2026' (5000 digits) is not a "
            "valid integer (far too many digits)")
    _refused(["run", "s.yaml", "--out", "runs", "--seed", "9" * 5000], line, work, capsys)


def test_a_long_path_is_echoed_whole_and_a_longer_value_shortened(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path of 310 characters is the user's way to the file: kept whole. A pasted value of
    over 1,000 characters is shortened to its ends and its size."""
    _copy("manifest.json", work / "runs" / "r1" / "manifest.json")
    name = "d" * 150 + "/" + "e" * 150 + "/list.csv"
    code, _out, err = invoke(["report", "--run", "runs/r1", "--firms", name, "--out", "rep"],
                             capsys)
    assert (code, err) == (2, f"error: {name}: --firms: no such firm list (a folder of firm "
                              "YAML files or a CSV)\n")
    name = "/".join(["d" * 200] * 6) + "/list.csv"
    code, _out, err = invoke(["report", "--run", "runs/r1", "--firms", name, "--out", "rep"],
                             capsys)
    assert (code, err) == (2, f"error: {'d' * 30}\u2026{'d' * 21}/list.csv (1214 characters): "
                              "--firms: no such firm list (a folder of firm YAML files or a CSV)\n")


@pytest.mark.parametrize(("exc", "line"), [
    (FileNotFoundError(2, "No such file or directory", "a\x1b[2Jb"),
     "error: a\\x1b[2Jb: No such file or directory"),
    (InputError("two\nproblems\n", file="f\x07.yaml", field="a\tb"),
     "error: f\\x07.yaml: a\\tb: two (+1 more problem)"),
    (InputError("bad value '\x1b]0;title\x07'", field="x"),
     "error: riskmodel run: x: bad value '\\x1b]0;title\\x07'"),
    (InputError("name 'a\u202eb'", file="f.yaml"), "error: f.yaml: name 'a\\u202eb'"),
])
def test_error_line_escapes_control_characters(exc: BaseException, line: str) -> None:
    assert error_line(exc, "riskmodel run") == (line, 2)


def test_clean_line_leaves_ordinary_lines_alone() -> None:
    line = "error: s.yaml: markets[0].calibration: unknown calibration 'x' (available: " + \
           ", ".join(f"m{i}" for i in range(60)) + ")"
    assert len(line) > 300 and clean_line(line) == line
    assert clean_line("error: a: " + "-" * 120) == "error: a: " + "-" * 120
