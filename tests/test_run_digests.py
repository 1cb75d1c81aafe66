"""The sha256 of every file a run writes after its chunks, recorded in its manifest
(``digests``) and checked by every reader: a results table, array file or summary edited,
copied from another run or damaged without becoming unreadable is refused in one line naming
it, where before it was read as the run's numbers. A resume rebuilds the merge's files bit for
bit (same digests), and manifests written before the digests are read as they are."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_bad_inputs import invoke

BASES = Path(__file__).resolve().parent / "bad_inputs" / "bases"
MERGED = ("results.parquet", "annual.npz", "paths.npz", "summary.txt")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(work: Path, run_id: str, seed: int) -> Path:
    """The corpus base scenario, 20 paths in one chunk, annual arrays kept, finished."""
    from riskmodel.batch.run_arrays import load_plan_keeping_annual
    from riskmodel.batch.runner import run_plan

    (work / "s.yaml").write_text((BASES / "scenario.yaml").read_text(encoding="utf-8"),
                                 encoding="utf-8")
    plan = load_plan_keeping_annual(work / "s.yaml", paths=20, seed=seed)
    return run_plan(plan, out=work / "runs", run_id=run_id)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``runs/A`` and ``runs/B``: the same scenario on two seeds."""
    work = tmp_path_factory.mktemp("digests")
    return _run(work, "A", 1), _run(work, "B", 2)


@pytest.fixture
def runs(finished: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Copies of both runs under ``runs/`` in a fresh working folder (the cwd), with the
    corpus firm as ``f.yaml``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RISKMODEL_DEBUG", raising=False)
    for run in finished:
        shutil.copytree(run, tmp_path / "runs" / run.name)
    shutil.copy(BASES / "firm.yaml", tmp_path / "f.yaml")
    return tmp_path / "runs"


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def test_the_manifest_records_the_sha256_of_each_merged_file(runs: Path) -> None:
    digests = _manifest(runs / "A")["digests"]
    assert sorted(digests) == sorted(MERGED)
    for name in MERGED:
        assert digests[name] == _sha(runs / "A" / name)


def _one_line(code: int, err: str, file: str, field: str) -> str:
    assert code == 2 and err.count("\n") == 1, err
    head = f"error: {file}: {field}: changed since the run wrote it (its sha256 is not the one "
    assert err.startswith(head), err
    return err


def test_results_with_a_value_changed_are_refused_by_every_reader(
        runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One number of results.parquet changed, rows, columns and types as they were: every
    structural check passes, the digest does not."""
    path = runs / "A" / "results.parquet"
    frame = pd.read_parquet(path)
    frame.loc[0, "value"] = frame.loc[0, "value"] + 1.0
    frame.to_parquet(path, index=False)
    advice = ("delete it and run riskmodel run --resume runs/A to rebuild it from the chunks "
              "(or delete the run folder)")
    for args in (["runs", "--out", "runs", "show", "A"],
                 ["runs", "--out", "runs", "compare", "A", "B"],
                 ["runs", "--out", "runs", "compare", "B", "A"]):
        err = _one_line(*invoke(args, capsys)[::2], "runs/A/results.parquet", "results")
        assert err.endswith(advice + "\n")
    code, out, _ = invoke(["runs", "--out", "runs", "list"], capsys)
    assert code == 0 and out.count("broken: changed since the run wrote it") == 1


def test_a_resume_rebuilds_the_results_bit_for_bit(
        runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The advice works: the damaged file deleted, a resume merges the chunks again and writes
    the same bytes (the recorded digest), and the run reads again."""
    path = runs / "A" / "results.parquet"
    want = _manifest(runs / "A")["digests"]["results.parquet"]
    path.write_bytes(path.read_bytes()[:-100])  # truncated, as by a full disk
    code, _, err = invoke(["runs", "--out", "runs", "show", "A"], capsys)
    assert code == 2 and "not a readable Parquet file" in err
    path.unlink()
    assert invoke(["run", "--resume", "runs/A", "-q"], capsys)[0] == 0
    assert _sha(path) == want == _manifest(runs / "A")["digests"]["results.parquet"]
    assert invoke(["runs", "--out", "runs", "show", "A"], capsys)[0] == 0


def test_arrays_of_another_run_are_refused_by_report(
        runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """annual.npz of the same scenario on another seed has every shape and value check right:
    a report would have priced the firm on the other run's paths."""
    args = ["report", "--run", "runs/A", "--firm", "f.yaml", "--out", "rep"]
    for name, field in (("annual.npz", "annual"), ("paths.npz", "paths")):
        keep = (runs / "A" / name).read_bytes()
        shutil.copy(runs / "B" / name, runs / "A" / name)
        code, _, err = invoke(args, capsys)
        _one_line(code, err, f"runs/A/{name}", field)
        assert not Path("rep").exists()
        (runs / "A" / name).write_bytes(keep)
    assert invoke(args, capsys)[0] == 0


def test_an_edited_summary_is_refused(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = runs / "A" / "summary.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("paths 20", "paths 20000"),
                    encoding="utf-8")
    _one_line(*invoke(["runs", "--out", "runs", "show", "A"], capsys)[::2],
              "runs/A/summary.txt", "summary")


def test_a_run_written_before_the_digests_is_read_as_it_is(
        runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for run in ("A", "B"):
        m = _manifest(runs / run)
        del m["digests"]
        (runs / run / "manifest.json").write_text(json.dumps(m))
    assert invoke(["runs", "--out", "runs", "show", "A"], capsys)[0] == 0
    assert invoke(["runs", "--out", "runs", "compare", "A", "B"], capsys)[0] == 0


def test_a_digest_that_is_not_one_is_a_damaged_manifest(
        runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = _manifest(runs / "A")
    m["digests"]["results.parquet"] = "0" * 63
    (runs / "A" / "manifest.json").write_text(json.dumps(m))
    code, _, err = invoke(["runs", "--out", "runs", "show", "A"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: runs/A/manifest.json: digests.results.parquet: string should "
                          "match pattern")


def test_the_events_arrays_digests_are_recorded_after_the_merge(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--keep-events writes events.npz and events.json after the merge (the shipped
    firm_portfolio scenario, which has regulatory events): their digests join the manifest's,
    and events.npz with its numbers changed in the last digit is refused by the reader."""
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke(["run", "firm_portfolio", "--paths", "60", "--keep-events", "--out",
                           "runs", "--run-id", "E", "-q"], capsys)
    assert code == 0, err
    run = Path("runs/E")
    digests = _manifest(run)["digests"]
    assert sorted(digests) == sorted((*MERGED, "events.npz", "events.json"))
    for name in digests:
        assert digests[name] == _sha(run / name)
    from riskmodel.batch.run_arrays import point_event_arrays
    from riskmodel.errors import DataError

    assert point_event_arrays(run, 0)
    with np.load(run / "events.npz") as z:
        arrays = {k: z[k] * (1.0 + 1e-12) for k in z.files}
    np.savez_compressed(run / "events.npz", **arrays)
    with pytest.raises(DataError, match="changed since the run wrote it") as exc:
        point_event_arrays(run, 0)
    assert exc.value.field == "events"


def test_a_large_file_is_hashed_once_per_process_until_it_changes(
        runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A portfolio's firms read the same arrays: a large file found equal to its digest is
    not hashed again while its size, time and inode stay; rewritten, it is."""
    import riskmodel.io
    from riskmodel.batch import run_checks
    from riskmodel.errors import DataError

    calls: list[Path] = []
    real = riskmodel.io.sha256_file
    monkeypatch.setattr(riskmodel.io, "sha256_file", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(run_checks, "_MEMO_BYTES", 0)
    m = _manifest(runs / "A")
    path = runs / "A" / "annual.npz"
    for _ in range(3):
        run_checks.check_digest(path, m, field="annual", what_next="-")
    assert len(calls) == 1
    keep = path.read_bytes()
    path.write_bytes(keep + b"x")  # one byte more (within the same clock tick, maybe)
    with pytest.raises(DataError, match="changed since the run wrote it"):
        run_checks.check_digest(path, m, field="annual", what_next="-")
    assert len(calls) == 2
