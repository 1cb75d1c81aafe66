"""Inputs that are valid and must stay so, beside the refusals of the bad-input corpus: a YAML
merge that overrides a key, collars of markets that are not linked, a scenario name that does
not start with a letter; and the checks that need a real file system object the corpus cannot
make (a pipe as ``--csv``) or a calibrations folder of the test's own (``fx.json``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from test_bad_inputs import invoke

from riskmodel import config
from riskmodel.io import read_yaml

BASES = Path(__file__).resolve().parent / "bad_inputs" / "bases"
REPO = Path(__file__).resolve().parent.parent


def _base(replace: list[tuple[str, str]]) -> str:
    text = (BASES / "scenario.yaml").read_text(encoding="utf-8")
    for old, new in replace:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def test_yaml_merge_with_an_override_is_read_as_yaml_says(tmp_path: Path) -> None:
    """``{<<: *c, floor: 25}`` takes the merged mapping and overrides one key: not a duplicate."""
    p = tmp_path / "s.yaml"
    p.write_text(_base([("collar: {floor: 10.0, ceiling: 90.0}",
                         "collar: &c {floor: 10.0, ceiling: 90.0}"),
                        ("collar: {floor: 25.0, ceiling: 50.0}",
                         "collar: {<<: *c, floor: 25.0}")]), encoding="utf-8")
    doc = read_yaml(p)
    assert doc["markets"][1]["collar"] == {"floor": 25.0, "ceiling": 90.0}
    assert doc["markets"][0]["collar"] == {"floor": 10.0, "ceiling": 90.0}


@pytest.mark.parametrize(("text", "value"), [("2_024", 2024), ("0x10", 16), ("10", 10),
                                             ("0.5", 0.5), ("0200.5", 200.5), ("1.0e+3", 1e3)])
def test_plain_number_forms_still_read(tmp_path: Path, text: str, value: float) -> None:
    p = tmp_path / "n.yaml"
    p.write_text(f"x: {text}\n", encoding="utf-8")
    assert read_yaml(p)["x"] == value


def test_collars_of_markets_that_are_not_linked_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A floor above another market's ceiling matters only across a link (was refused as
    'inconsistent collars under linking' with no link at all)."""
    monkeypatch.chdir(tmp_path)
    text = _base([("collar: {floor: 10.0, ceiling: 90.0}", "collar: {floor: 10.0, ceiling: 20.0}")])
    doc = yaml.safe_load(text)
    doc["links"] = []
    doc["simulation"].update(paths=20, paths_per_chunk=20)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    code, _out, err = invoke(["run", "s.yaml", "--out", "runs", "--quiet"], capsys)
    assert code == 0, err


def test_run_id_of_a_name_starting_with_a_dash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The run folder is named after the scenario from its first letter or digit."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(
        _base([("name: corpus_base", "name: '-rf'"),
               ("paths: 100, paths_per_chunk: 50", "paths: 10, paths_per_chunk: 10")]),
        encoding="utf-8")
    code, _out, err = invoke(["run", "s.yaml", "--out", "runs", "--quiet"], capsys)
    assert code == 0, err
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("rf-")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_compare_csv_refuses_a_pipe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``--csv`` naming a device or pipe (``/dev/null``) is refused; written through a
    temporary file and a rename, it used to put a plain file in the device's place."""
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    for r in ("r1", "r2"):
        (runs / r).mkdir(parents=True)
        (runs / r / "manifest.json").write_text(
            (BASES / "manifest.json").read_text(encoding="utf-8"), encoding="utf-8")
    os.mkfifo(tmp_path / "p.csv")
    code, _out, err = invoke(["runs", "--out", "runs", "compare", "r1", "r2", "--csv", "p.csv"],
                             capsys)
    assert code == 2
    assert err == ("error: riskmodel runs compare: --csv: p.csv is not a regular file (a device "
                   "or a pipe); give the path of a .csv file to write\n")
    assert (tmp_path / "p.csv").is_fifo()


@pytest.mark.parametrize(("rates", "line"), [
    ("{not json", "error: cals/fx.json: fx: not valid JSON (line 1)"),
    ("[1]", "error: cals/fx.json: rates: must be a JSON object with a 'rates' mapping"),
    ('{"numeraire": "EUR", "rates": {"KRW": 0}}',
     "error: cals/fx.json: rates.KRW: must be a finite number > 0 (got 0)"),
    ('{"numeraire": "EUR", "rates": {"KRW": "abc"}}',
     "error: cals/fx.json: rates.KRW: must be a finite number > 0 (got 'abc')"),
])
def test_report_checks_fx_json_as_the_engine_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], rates: str, line: str) -> None:
    """A firm reporting in another currency reads calibrations/fx.json: damaged, it is one
    line naming the file and key (it was an internal error)."""
    monkeypatch.chdir(tmp_path)
    cals = tmp_path / "cals"
    cals.mkdir()
    (cals / "fx.json").write_text(rates, encoding="utf-8")
    monkeypatch.setattr(config, "CALIBRATIONS_DIR", Path("cals"))
    (tmp_path / "s.yaml").write_text((BASES / "scenario.yaml").read_text(encoding="utf-8"),
                                     encoding="utf-8")
    firm = (BASES / "firm.yaml").read_text(encoding="utf-8")
    assert "currency: EUR" in firm
    (tmp_path / "f.yaml").write_text(firm.replace("currency: EUR", "currency: KRW"),
                                     encoding="utf-8")
    code, _out, err = invoke(["report", "--firm", "f.yaml", "--scenario", "s.yaml", "--paths",
                              "20", "--out", "rep"], capsys)
    # the engine reads the file first (resolve._fx, field simulation.fx), the report's reader
    # after it: either way one line naming the file and what is wrong
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("error: cals/fx.json: ") and err.endswith(line.split(": ", 3)[-1] + "\n")
    assert not (tmp_path / "rep").exists()
    assert (cals / "fx.json").read_text(encoding="utf-8") == rates


def test_firm_fx_rate_reads_fx_json_checked(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's own reader of fx.json (a run's report reads it without the engine)."""
    from riskmodel.batch.scenario_file import load_scenario_file
    from riskmodel.errors import InputError
    from riskmodel.firm.firm import load_firm
    from riskmodel.firm.inputs import fx_rate

    cals = tmp_path / "cals"
    cals.mkdir()
    (cals / "fx.json").write_text('{"numeraire": "EUR", "rates": {"KRW": 0}}', encoding="utf-8")
    monkeypatch.setattr(config, "CALIBRATIONS_DIR", cals)
    (tmp_path / "f.yaml").write_text((BASES / "firm.yaml").read_text(encoding="utf-8").replace(
        "currency: EUR", "currency: KRW"), encoding="utf-8")
    firm = load_firm(tmp_path / "f.yaml")
    scn = load_scenario_file(BASES / "scenario.yaml").scenarios[0]
    with pytest.raises(InputError) as exc:
        fx_rate(scn, firm, "EUR", "KRW")
    assert exc.value.field == "rates.KRW" and str(exc.value.file).endswith("fx.json")


def test_out_a_broken_symlink_is_named_as_such(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text((BASES / "scenario.yaml").read_text(encoding="utf-8"),
                                     encoding="utf-8")
    os.symlink("nothere", tmp_path / "lnk")
    code, _out, err = invoke(["run", "s.yaml", "--out", "lnk"], capsys)
    assert (code, err) == (2, "error: riskmodel run: --out: lnk is a broken symbolic link (to "
                              "nothere); give a folder\n")
    assert not (tmp_path / "nothere").exists()


def test_a_report_of_a_run_refuses_an_fx_file_changed_since_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A report converts a run's costs with fx.json: today's rates times ten gave costs ten
    times lower without a word; now the file must be the run's (as for a resume)."""
    import shutil

    monkeypatch.chdir(tmp_path)
    cals = tmp_path / "cals"
    shutil.copytree(REPO / "calibrations", cals, ignore=shutil.ignore_patterns("validation"))
    monkeypatch.setattr(config, "CALIBRATIONS_DIR", cals)
    (tmp_path / "s.yaml").write_text(_base([("paths: 100, paths_per_chunk: 50",
                                              "paths: 20, paths_per_chunk: 20")]),
                                     encoding="utf-8")
    code, _out, err = invoke(["run", "s.yaml", "--keep-annual", "--run-id", "A", "--out",
                              "runs", "--quiet"], capsys)
    assert code == 0, err
    (tmp_path / "f.yaml").write_text((BASES / "firm.yaml").read_text(encoding="utf-8"),
                                     encoding="utf-8")
    fx = json.loads((cals / "fx.json").read_text(encoding="utf-8"))
    fx["rates"] = {c: 10 * v for c, v in fx["rates"].items()}
    (cals / "fx.json").write_text(json.dumps(fx), encoding="utf-8")
    code, _out, err = invoke(["report", "--run", "runs/A", "--firm", "f.yaml", "--out", "rep"],
                             capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: {cals / 'fx.json'}: fx: changed since the run was made")
    assert not (tmp_path / "rep").exists()


def test_a_calibration_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    """A BOM (some Windows editors write one) is read past, as in YAML inputs."""
    from riskmodel.io import read_json

    p = tmp_path / "c.json"
    p.write_bytes(b"\xef\xbb\xbf" + b'{"a": 1}')
    assert read_json(p) == {"a": 1}


def test_firm_folders_read_yml_and_upper_case_suffixes(tmp_path: Path) -> None:
    from riskmodel.firm.portfolio import firm_files

    for name in ("a.yaml", "b.yml", "c.YAML", "notes.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [f.name for f in firm_files(tmp_path)] == ["a.yaml", "b.yml", "c.YAML"]
