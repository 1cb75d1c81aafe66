"""Firm reports of scenarios that simulate a subset of the variants (``simulation.variants``),
and of runs with few paths: the report shows the variants that exist and says which are absent
(the real engine, 40 paths in one chunk; a few seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_bad_inputs import invoke

BASES = Path(__file__).resolve().parent / "bad_inputs" / "bases"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``riskmodel ARGS`` in-process: (exit status, raw stderr)."""
    code, _out, err = invoke(args, capsys)
    return code, err


def _scenario(d: Path, variants: str) -> Path:
    text = (BASES / "scenario.yaml").read_text(encoding="utf-8")
    old = "paths: 100, paths_per_chunk: 50, keep_paths: 2, numeraire: EUR}"
    assert old in text
    s = d / "s.yaml"
    s.write_text(text.replace(old, f"paths: 40, paths_per_chunk: 40, keep_paths: 2, "
                                  f"numeraire: EUR, variants: {variants}}}"), encoding="utf-8")
    return s


def test_report_of_a_run_with_variants_autarky_and_linked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RISKMODEL_DEBUG", raising=False)
    s = _scenario(tmp_path, "[autarky, linked]")
    firms = tmp_path / "fs"
    firms.mkdir()
    (firms / "a.yaml").write_text((BASES / "firm.yaml").read_text(encoding="utf-8"),
                                  encoding="utf-8")
    code, err = _cli(["run", str(s), "--keep-annual", "--run-id", "V", "--out", "runs",
                      "--quiet"], capsys)
    assert code == 0, err
    code, err = _cli(["report", "--run", "runs/V", "--firm", str(firms / "a.yaml"),
                      "--out", "rep"], capsys)
    assert code == 0, err
    assert "Warning" not in err
    data = json.loads((tmp_path / "rep" / "report.json").read_text(encoding="utf-8"))
    assert data["variants"] == ["autarky", "linked"]
    assert data["variants_absent"] == ["linked_events"]
    assert data["main_variant"] == "linked"
    assert any("variants not simulated" in n and "linked_events" in n for n in data["notes"])
    assert any("only 40 paths" in n for n in data["notes"])
    html = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert "variants not simulated" in html
    table = pd.read_csv(tmp_path / "rep" / "risk_table.csv")
    assert set(table["variant"]) == {"autarky", "linked"}
    # the measures every variant has are finite; var_events exists only under linked_events
    horizon = table[table["year"] == -1].set_index(["variant", "measure"])["value"]
    for v in ("autarky", "linked"):
        for m in ("mean", "sd", "var95", "var99", "es975", "var_total", "var_price"):
            assert pd.notna(horizon[(v, m)]), (v, m)
        assert pd.isna(horizon[(v, "var_events")])
    # the portfolio of the same run works too
    code, err = _cli(["report", "--run", "runs/V", "--firms", str(firms), "--out", "rep2"],
                     capsys)
    assert code == 0, err
    port = json.loads((tmp_path / "rep2" / "portfolio.json").read_text(encoding="utf-8"))
    assert port["variant"] == "linked" and len(port["firms"]) == 1


@pytest.mark.parametrize("variants", ["[linked]", "[autarky]", "[linked_events]",
                                      "[autarky, linked_events]"])
def test_report_of_a_scenario_with_one_or_two_variants(
        variants: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    s = _scenario(tmp_path, variants)
    f = tmp_path / "f.yaml"
    f.write_text((BASES / "firm.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    code, err = _cli(["report", "--firm", str(f), "--scenario", str(s), "--paths", "20",
                      "--out", "rep"], capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "rep" / "report.json").read_text(encoding="utf-8"))
    want = [v.strip() for v in variants.strip("[]").split(",")]
    assert data["variants"] == want
    assert data["variants_absent"] == [v for v in ("autarky", "linked", "linked_events")
                                       if v not in want]


def test_a_failing_firm_of_a_portfolio_leaves_nothing_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every firm is checked and built before the first report is written (a firm whose hedge
    volume is refused only against the run's market, after the run's arrays are read)."""
    monkeypatch.chdir(tmp_path)
    s = _scenario(tmp_path, "[autarky, linked, linked_events]")
    code, err = _cli(["run", str(s), "--keep-annual", "--run-id", "A", "--out", "runs",
                      "--quiet"], capsys)
    assert code == 0, err
    firms = tmp_path / "fs"
    firms.mkdir()
    base = (BASES / "firm.yaml").read_text(encoding="utf-8")
    (firms / "a.yaml").write_text(base, encoding="utf-8")
    (firms / "b.yaml").write_text(base.replace("allocation: {level: 7.0}",
                                               "allocation: {by_year: {2024: 7.0}}")
                                  .replace("name: corpus firm", "name: second firm"),
                                  encoding="utf-8")
    code, err = _cli(["report", "--run", "runs/A", "--firms", str(firms), "--out", "rep"],
                     capsys)
    assert code == 2
    assert err.splitlines() == [f"error: {firms / 'b.yaml'}: allocation.by_year: no allocation "
                                "for simulated year(s) 2025, 2026 (horizon 2024-2026)"]
    assert not (tmp_path / "rep").exists()
