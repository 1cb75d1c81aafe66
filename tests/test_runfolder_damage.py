"""A finished run folder damaged after the fact: ``run --resume`` refuses it in one line.

One small real run (20 paths, one chunk) is made once; each test copies it, damages one thing
(a chunk's bytes or record, the manifest) and runs ``riskmodel run --resume`` through the
command-line entry point. A refused resume exits 2 with exactly one stderr line naming the
damaged file and leaves the folder byte for byte as it was (no manifest rewritten, no session
added, no status 'failed'); the one thing a resume may not trust is a chunk it did not check.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_bad_inputs import invoke

BASES = Path(__file__).resolve().parent / "bad_inputs" / "bases"
CHUNK = Path("chunks") / "p0000-c000000.pkl"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``runs/A``: the corpus base scenario, 20 paths in one chunk, finished."""
    from riskmodel.batch.runner import run_plan
    from riskmodel.batch.scenario_file import load_scenario_file

    work = tmp_path_factory.mktemp("finished")
    (work / "s.yaml").write_text((BASES / "scenario.yaml").read_text(encoding="utf-8"),
                                 encoding="utf-8")
    plan = load_scenario_file(work / "s.yaml", paths=20)
    run_dir = run_plan(plan, out=work / "runs", run_id="A")
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["status"] == "complete" and m["ledger"]["chunks"] == 1
    return run_dir


@pytest.fixture
def run_copy(finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the finished run as ``runs/A`` in a fresh working folder (the cwd)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RISKMODEL_DEBUG", raising=False)
    shutil.copytree(finished_run, tmp_path / "runs" / "A")
    return tmp_path / "runs" / "A"


def _tree(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- damage


def _edit_manifest(fn: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        p = run / "manifest.json"
        m = json.loads(p.read_text())
        fn(m)
        p.write_text(json.dumps(m, indent=1))
    return edit


def _edit_chunk(fn: Callable[[dict[str, Any]], Any], *, unledgered: bool = False
                ) -> Callable[[Path], None]:
    """Re-pickle the chunk record after ``fn``; ``unledgered``: as a run killed before its
    merge (status running, no ledger), where only the record's own checks can see the damage."""
    def edit(run: Path) -> None:
        from riskmodel.batch.runner import _load_chunk

        rec = _load_chunk(run / CHUNK)
        fn(rec)
        (run / CHUNK).write_bytes(pickle.dumps(rec, protocol=pickle.HIGHEST_PROTOCOL))
        if unledgered:
            _edit_manifest(lambda m: m.update(ledger=None, status="running"))(run)
    return edit


def _flip_bits(run: Path) -> None:
    """500 bytes in the middle of the chunk XOR 0x40: it still unpickles."""
    b = bytearray((run / CHUNK).read_bytes())
    mid = len(b) // 2
    b[mid:mid + 500] = bytes(x ^ 0x40 for x in b[mid:mid + 500])
    (run / CHUNK).write_bytes(bytes(b))


def _nan_s1(rec: dict[str, Any]) -> None:
    rec["stats"].s1[...] = np.nan


def _slice_s1(rec: dict[str, Any]) -> None:
    rec["stats"].s1 = rec["stats"].s1[:, :, :1]


CHUNK_FILE = "error: runs/A/chunks/p0000-c000000.pkl"
DAMAGED = "the chunk is damaged: delete it and resume to recompute it"
MANIFEST_DAMAGED = "the manifest is damaged: delete the folder and run the scenario again"

CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    # the ledger's sha256 (recorded at the merge) catches any change of a merged chunk
    "bit_flip": (_flip_bits, f"{CHUNK_FILE}: sha256: damaged: its sha256 ("),
    "nan_statistics": (_edit_chunk(_nan_s1), f"{CHUNK_FILE}: sha256: damaged: its sha256 ("),
    "sliced_statistics": (_edit_chunk(_slice_s1),
                          f"{CHUNK_FILE}: sha256: damaged: its sha256 ("),
    # a chunk the ledger does not know yet: its record and statistics are checked
    "unledgered_nan_statistics": (
        _edit_chunk(_nan_s1, unledgered=True),
        f"{CHUNK_FILE}: stats.s1: 720 non-finite value(s); {DAMAGED}"),
    "unledgered_sliced_statistics": (
        _edit_chunk(_slice_s1, unledgered=True),
        f"{CHUNK_FILE}: stats.s1: shaped (1, 3, 1, 4, 20), where one chunk of this run has "
        f"(1, 3, 3, 4, 20); {DAMAGED}"),
    "unledgered_no_statistics": (
        _edit_chunk(lambda r: r.update(stats=None), unledgered=True),
        f"{CHUNK_FILE}: stats: no statistics (None); {DAMAGED}"),
    "unledgered_no_first_path": (
        _edit_chunk(lambda r: r.pop("first_path"), unledgered=True),
        f"{CHUNK_FILE}: first_path: missing; {DAMAGED}"),
    "unledgered_other_path_range": (
        _edit_chunk(lambda r: r.update(n_paths=7), unledgered=True),
        f"{CHUNK_FILE}: first_path: paths 0+7, but chunk 0 holds paths 0+20; {DAMAGED}"),
    # the manifest: checked before anything is written
    "seeds_not_mappings": (
        _edit_manifest(lambda m: m.update(seeds=[1, 2])),
        "error: runs/A/manifest.json: seeds[0]: input should be a valid dictionary (got 1); "
        + MANIFEST_DAMAGED),
    "session_seconds_text": (
        _edit_manifest(lambda m: m["sessions"][0].update(seconds="fast")),
        "error: runs/A/manifest.json: sessions[0].seconds: input should be a valid number "
        f"(got 'fast'); {MANIFEST_DAMAGED}"),
    "plan_overrides_not_a_mapping": (
        _edit_manifest(lambda m: m["plan"].update(overrides=5)),
        "error: runs/A/manifest.json: plan.overrides: input should be a valid dictionary (got "
        f"5); {MANIFEST_DAMAGED}"),
    "ledger_entry_without_hash": (
        _edit_manifest(lambda m: m["ledger"]["entries"][0].pop("sha256")),
        f"error: runs/A/manifest.json: ledger.entries[0].sha256: field required; "
        f"{MANIFEST_DAMAGED}"),
    # records the summary is written from, and the ledger's count (hunt round 4)
    "seeds_paths_edited": (
        _edit_manifest(lambda m: m["seeds"][0].update(paths=999)),
        "error: runs/A/manifest.json: seeds[0].paths: 999, but the run's plan gives 20; "
        + MANIFEST_DAMAGED),
    "seed_edited": (
        _edit_manifest(lambda m: m["seeds"][0].update(seed=999)),
        "error: runs/A/manifest.json: seeds[0].seed: 999, but the run's plan gives "),
    "ledger_entries_emptied": (
        _edit_manifest(lambda m: m["ledger"].update(entries=[])),
        "error: runs/A/manifest.json: ledger.entries: 0 entries for 1 chunk(s); "
        + MANIFEST_DAMAGED),
    "summary_a_folder": (
        lambda run: ((run / "summary.txt").unlink(), (run / "summary.txt").mkdir()),
        "error: runs/A/summary.txt: summary.txt: a folder (or other non-file) where the run's "
        "summary.txt belongs; delete it and resume"),
    "products_firms_a_number": (
        _edit_manifest(lambda m: m.setdefault("products", {}).update(firms=5)),
        "error: runs/A/manifest.json: products.firms: input should be a valid list (got 5); "
        + MANIFEST_DAMAGED),
    "products_firms_text": (
        _edit_manifest(lambda m: m.setdefault("products", {}).update(firms="abc")),
        "error: runs/A/manifest.json: products.firms: input should be a valid list (got 'abc'); "
        + MANIFEST_DAMAGED),
    "status_given_twice": (
        lambda run: (run / "manifest.json").write_text(
            (run / "manifest.json").read_text(encoding="utf-8").replace(
                '"status": "complete"', '"status": "running", "status": "complete"', 1),
            encoding="utf-8"),
        "error: runs/A/manifest.json: line "),
    # hostile manifests (hunt 6): a number json cannot read, nesting the writer cannot write
    "number_of_5000_digits": (
        lambda run: (run / "manifest.json").write_text(
            (run / "manifest.json").read_text(encoding="utf-8").replace(
                '"run_id": "A"', '"run_id": ' + "7" * 5000, 1), encoding="utf-8"),
        "error: runs/A/manifest.json: manifest: a number with thousands of digits; the folder "
        "cannot be resumed: delete it and run the scenario again"),
    "nested_300_deep": (
        _edit_manifest(lambda m: m.update(host=json.loads("[" * 300 + "1" + "]" * 300))),
        "error: runs/A/manifest.json: host" + "[0]" * 18 + "[0…: "
        "nested too deeply to be a riskmodel input (lists or mappings inside each other "
        "hundreds of levels down); the folder cannot be resumed"),
    # an edited run id: the chunks are fine, the manifest is not (it is named, not the chunks)
    "run_id_edited": (
        _edit_manifest(lambda m: m.update(run_id="X")),
        "error: runs/A/manifest.json: run_id: 'X' is not this folder's run (its chunks and its "
        "folder name say 'A'); the manifest is damaged: restore run_id 'A', or delete the "
        "folder and run the scenario again"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_resume_is_one_line_and_changes_nothing(
    case: str, run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damage, line = CASES[case]
    damage(run_copy)
    before = _tree(run_copy)
    code, out, err = invoke(["run", "--resume", "runs/A"], capsys)
    assert code == 2
    assert "Traceback" not in err + out
    assert err.endswith("\n") and err.count("\n") == 1, f"stderr was:\n{err!r}"
    assert err.startswith(line), f"stderr was:\n{err}"
    assert _tree(run_copy) == before, "a refused resume changed the run folder"


def test_deleting_the_damaged_chunk_and_resuming_restores_the_results(
    run_copy: Path, finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The advice of the chunk errors works: the recomputed chunk is the original, bit for bit
    (same seed, same stream), and the results match the undamaged run's."""
    import pandas as pd

    _flip_bits(run_copy)
    assert invoke(["run", "--resume", "runs/A", "-q"], capsys)[0] == 2
    (run_copy / CHUNK).unlink()
    code, _, err = invoke(["run", "--resume", "runs/A", "-q"], capsys)
    assert code == 0, err
    assert (run_copy / CHUNK).read_bytes() != b""
    a = pd.read_parquet(finished_run / "results.parquet")
    b = pd.read_parquet(run_copy / "results.parquet")
    pd.testing.assert_frame_equal(a, b)
    m = json.loads((run_copy / "manifest.json").read_text())
    assert m["status"] == "complete" and len(m["sessions"]) == 2


def test_runs_list_shows_a_damaged_manifest_as_broken_with_its_field(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit_manifest(lambda m: m["seeds"][0].update(n_chunks="1", ) or m.update(
        status="running"))(run_copy)
    code, out, err = invoke(["runs", "--out", "runs", "list"], capsys)
    assert code == 0 and err == ""
    assert "broken: seeds[0].n_chunks: input should be a valid integer (got '1')" in " ".join(
        out.split())
    assert "NaN" not in out and "None" not in out  # a broken run's empty cells show "–"


def test_an_error_inside_run_is_one_line_without_a_blank_line(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Errors raised once ``run`` has made its progress bar (a run id that exists, ``..``)
    come alone: no empty line from a bar that never drew anything."""
    (run_copy.parent.parent / "s.yaml").write_text(
        (BASES / "scenario.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    code, _, err = invoke(["run", "s.yaml", "--paths", "20", "--out", "runs", "--run-id", "A"],
                          capsys)
    assert code == 2
    assert err == ("error: runs/A: --run-id: a run with this id exists; use --resume to finish "
                   "it\n")
    code, _, err = invoke(["run", "s.yaml", "--paths", "20", "--out", "runs", "--run-id", ".."],
                          capsys)
    assert code == 2
    assert err == ("error: riskmodel run: --run-id: use at most 120 letters, digits, '.', '_' "
                   "and '-' (got '..')\n")


def test_resume_with_another_out_folder_is_refused_not_ignored(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out`` with ``--resume <folder>`` elsewhere would be ignored (a resume finishes the
    run where it is): refused in one line, nothing written there; a run id found in ``--out``
    and a folder inside ``--out`` still resume."""
    before = _tree(run_copy)
    (run_copy.parent.parent / "elsewhere").mkdir()
    code, _, err = invoke(["run", "--resume", "runs/A", "--out", "elsewhere"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: riskmodel run: --out: a resume finishes the run in its own "
                          "folder (runs/A)")
    assert not any((run_copy.parent.parent / "elsewhere").iterdir())
    assert _tree(run_copy) == before
    for args in (["A", "--out", "runs"], ["runs/A", "--out", "runs"]):
        assert invoke(["run", "--resume", *args, "-q"], capsys)[0] == 0


def _as_written(run: Path) -> None:
    """Record the run's results.parquet, edited by a test to stand for another run's, in its
    manifest (rows and digest) as the run's merge would have."""
    import pyarrow.parquet as pq

    man = json.loads((run / "manifest.json").read_text())
    man["outputs"]["results.parquet"]["rows"] = pq.read_metadata(run / "results.parquet").num_rows
    man["digests"]["results.parquet"] = hashlib.sha256(
        (run / "results.parquet").read_bytes()).hexdigest()
    (run / "manifest.json").write_text(json.dumps(man))


def test_compare_refuses_rows_in_different_units_and_runs_without_a_common_market(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A market in EUR/t in one run and CHF/t in the other: the table paired unlike numbers
    under A's label; runs with no market in common gave a table of NaN."""
    import pandas as pd

    b = run_copy.parent / "B"
    shutil.copytree(run_copy, b)
    res = pd.read_parquet(b / "results.parquet")
    res.loc[res["market"] == "north", "unit"] = res.loc[res["market"] == "north", "unit"].map(
        lambda u: str(u).replace("EUR", "CHF"))
    res.to_parquet(b / "results.parquet")
    _as_written(b)
    code, _, err = invoke(["runs", "--out", "runs", "compare", "A", "B"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "RUN_B: north" in err and "is in CHF/" in err and "but EUR/" in err
    res["market"] = res["market"].replace({"north": "east", "south": "west"})
    res.to_parquet(b / "results.parquet")
    _as_written(b)
    code, _, err = invoke(["runs", "--out", "runs", "compare", "A", "B"], capsys)
    assert code == 2 and err == ("error: riskmodel runs compare: RUN_B: the runs have no market "
                                 "in common (A: north, south; B: east, west)\n")
    assert invoke(["runs", "--out", "runs", "compare", "A", "A"], capsys)[0] == 0


def test_compare_refuses_runs_over_different_horizons(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs over 2024-2026 and 2024-2025: their horizon totals (year -1) were paired as one
    row under A's period label (a 3-year sum minus a 2-year sum); runs over 2024-2026 and
    2030-2032 gave a table of NaN (hunt 9). --force pairs a total only with the same period."""
    import pandas as pd

    b = run_copy.parent / "B"
    shutil.copytree(run_copy, b)
    res = pd.read_parquet(b / "results.parquet")
    short = res[res["year"] != 2026].copy()
    short.loc[short["year"] == -1, "period"] = "2024–2025"
    short.to_parquet(b / "results.parquet")
    _as_written(b)  # what a run over 2024-2025 records
    code, _, err = invoke(["runs", "--out", "runs", "compare", "A", "B"], capsys)
    assert code == 2
    assert err == ("error: riskmodel runs compare: RUN_B: the runs simulate different horizons "
                   "(A: 2024–2026; B: 2024–2025): their totals over the horizon are sums over "
                   "different years and their years do not all pair (pass --force to compare "
                   "anyway)\n")
    code, _, err = invoke(["runs", "--out", "runs", "compare", "A", "B", "--force", "--csv",
                           "c.csv"], capsys)
    assert code == 0
    frame = pd.read_csv("c.csv")
    totals = frame[frame["year"] == -1]
    assert set(totals["period"]) == {"2024–2026", "2024–2025"}
    assert totals["diff"].isna().all()  # never paired across periods
    later = res.copy()
    later["year"] = later["year"].where(later["year"] == -1, later["year"] + 6)
    later["period"] = later["period"].str.replace("2024–2026", "2030–2032").where(
        later["year"] == -1, later["year"].astype(str))
    later.to_parquet(b / "results.parquet")
    _as_written(b)
    code, _, err = invoke(["runs", "--out", "runs", "compare", "A", "B"], capsys)
    assert code == 2 and "(A: 2024–2026; B: 2030–2032)" in err and err.count("\n") == 1


def test_compare_reads_sweep_points_and_paths_from_the_checked_plan(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``runs compare`` judged two runs comparable from the manifest's ``seeds`` and
    ``plan.points`` as written: an empty ``seeds`` list gave "path counts differ (A: 20 paths,
    B:  paths)", and an edited plan was compared as if the run had made it. It now reads both
    from the plan, refused where the plan does not hash to the run's ``plan_hash``."""
    b = run_copy.parent / "B"
    shutil.copytree(run_copy, b)
    _edit_manifest(lambda m: m.update(seeds=[]))(b)
    assert invoke(["runs", "--out", "runs", "compare", "A", "B"], capsys)[0] == 0
    _edit_manifest(lambda m: m["plan"]["scenario"]["simulation"].update(paths=40))(b)
    code, _, err = invoke(["runs", "--out", "runs", "compare", "A", "B"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: runs/B/manifest.json: plan: does not match the run's plan_hash")
