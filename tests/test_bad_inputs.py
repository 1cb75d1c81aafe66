"""The bad-input corpus (tests/bad_inputs/cases.yaml) through the real command-line entry point.

Each case writes its malformed inputs into an empty working folder, runs ``riskmodel`` in-process
(``riskmodel.cli.run``) and asserts the exact one-line error on stderr, the exit status, no
traceback, and that nothing was written: the working folder, the project's ``runs/`` and
``reports/`` hold the same files before and after. Every input must fail before simulation, so
the corpus is cheap. How a case's files are made is described at the top of cases.yaml.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskmodel import config

HERE = Path(__file__).resolve().parent / "bad_inputs"
BASES = HERE / "bases"
REPO = Path(__file__).resolve().parent.parent
#: cases.yaml, then any further cases_<area>.yaml files (same format), in name order
CASES: list[dict[str, Any]] = [c for f in sorted(HERE.glob("cases*.yaml"))
                               for c in yaml.safe_load(f.read_text(encoding="utf-8")) or []]


def _base_text(ref: str) -> str:
    path = REPO / ref.removeprefix("repo:") if ref.startswith("repo:") else BASES / ref
    return path.read_text(encoding="utf-8")


def _set_json(obj: Any, dotted: str, value: Any) -> None:
    *head, last = dotted.split(".")
    for key in head:
        obj = obj[int(key)] if isinstance(obj, list) else obj.setdefault(key, {})
    where: Any = int(last) if isinstance(obj, list) else last
    if value == "<delete>":
        del obj[where]
    else:
        obj[where] = value


def materialise(spec: dict[str, Any], path: Path) -> None:
    """Write one input file from its spec (see cases.yaml)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if "hex" in spec:
        path.write_bytes(bytes.fromhex(spec["hex"]))
        return
    if "parquet" in spec:
        import pandas as pd

        pd.DataFrame(spec["parquet"]).to_parquet(path, index=False)
        return
    if "npz" in spec:  # arrays: a nested list, or {shape: [...], fill: value[, dtype: name]}
        import numpy as np

        arrays = {k: np.full(v["shape"], v["fill"], dtype=v.get("dtype", float))
                  if isinstance(v, dict) else np.asarray(v, dtype=float)
                  for k, v in spec["npz"].items()}
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
        return
    if "dir" in spec:
        path.mkdir(parents=True, exist_ok=True)
        return
    if "text" in spec:
        text = spec["text"]
    else:
        text = _base_text(spec["base"])
    for old, new in spec.get("replace", []):
        assert old in text, f"replace: {old!r} not in the base"
        text = text.replace(old, new, 1)
    if "set" in spec:  # JSON edits (NaN and Infinity allowed, as Python's json writes them)
        obj = json.loads(text)
        for dotted, value in spec["set"].items():
            _set_json(obj, dotted, value)
        text = json.dumps(obj, indent=1)
    if "repeat" in spec:
        text = text.replace("<REPEAT>", spec["repeat"][0] * int(spec["repeat"][1]))
    path.write_bytes(text.encode(spec.get("encoding", "utf-8")))


def _snapshot(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``riskmodel ARGS`` in-process: (exit status, stdout, stderr)."""
    from riskmodel.cli import run

    capsys.readouterr()
    try:
        run(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def case_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "case"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv(config.ENV_DATA, os.environ.get(config.ENV_DATA, "") or str(work))
    monkeypatch.delenv("RISKMODEL_DEBUG", raising=False)
    # the resolver caches resolved scenarios per process, keyed by the scenario alone: a case
    # whose catalogue or calibration file is corrupted must not meet an earlier case's result
    from riskmodel.batch import parallel

    monkeypatch.setattr(parallel, "_RESOLVED", {})
    return work


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(
    case: dict[str, Any],
    case_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, spec in (case.get("files") or {}).items():
        materialise(spec, case_dir / name)
    if case.get("markets"):  # a catalogue folder of the case's own (mutated) market files
        for name, spec in case["markets"].items():
            materialise(spec, case_dir / "markets" / name)
        monkeypatch.setattr(config, "MARKETS_DIR", Path("markets"))  # relative: stable lines
    watched = [case_dir, config.RUNS_DIR, config.PROJECT_ROOT / "reports"]
    before = [_snapshot(d) for d in watched]
    code, out, err = invoke(case["args"], capsys)
    assert "Traceback" not in err + out
    # exactly one line and its newline: no blank line before or after it, no warning line
    assert err == case["stderr"] + "\n", f"stderr was:\n{err!r}"
    assert code == case.get("exit", 2)
    assert [_snapshot(d) for d in watched] == before, "a failed command wrote files"


def test_corpus_size_and_kinds() -> None:
    """At least 80 cases, covering every kind of input."""
    kinds = {c["id"].split("_", 1)[0] for c in CASES}
    assert len(CASES) >= 80
    assert {
        "cli",
        "scenario",
        "sweep",
        "design",
        "calibration",
        "firm",
        "catalogue",
        "prices",
        "runfolder",
    } <= kinds
    assert len({c["id"] for c in CASES}) == len(CASES)


def test_chunk_file_cannot_run_code(tmp_path: Path) -> None:
    """A chunk file is a pickle: one that names any global but the chunk's statistics and
    numpy's array rebuilders is refused before anything runs (``run --resume`` of a folder from
    elsewhere must not execute it); a real chunk record still loads."""
    import pickle

    import numpy as np

    from riskmodel.batch.runner import _load_chunk
    from riskmodel.errors import DataError
    from riskmodel.sim.stats import ChunkStats

    marker = tmp_path / "ran"
    evil = tmp_path / "p0000-c000000.pkl"
    evil.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    with pytest.raises(DataError, match="os.system has no place in a chunk file"):
        _load_chunk(evil)
    assert not marker.exists()
    evil.write_bytes(pickle.dumps({"stats": print}))  # a builtin callable: refused too
    with pytest.raises(DataError, match="builtins.print has no place"):
        _load_chunk(evil)

    z = np.zeros((1, 2, 3))
    stats = ChunkStats(chunk_index=0, first_path=0, n_paths=4, s1=z, s2=z, s12=z, hp=None,
                       he=None, keep_price=np.ones((1, 2, 3)), keep_bau=z, annual=None,
                       meta={"clipped_days": 0})
    good = tmp_path / "p0000-c000001.pkl"
    good.write_bytes(pickle.dumps({"run_id": "r1", "chunk": 1, "stats": stats},
                                  protocol=pickle.HIGHEST_PROTOCOL))
    rec = _load_chunk(good)
    assert rec["run_id"] == "r1" and np.array_equal(rec["stats"].keep_price, stats.keep_price)
    assert rec["stats"].s1.shape == (1, 1, 2, 3)  # the chunk axis, as __post_init__ adds it


def test_chunk_of_another_statistics_layout_is_refused(tmp_path: Path) -> None:
    """A chunk whose statistics have another layout (written by an earlier riskmodel, before
    ``p_guard``: 19 statistics) is refused by name when a resumed run merges it, not passed to
    the merge to fail there."""
    import numpy as np

    from riskmodel.batch.runner import _check_layout
    from riskmodel.errors import DataError
    from riskmodel.sim import layout as L
    from riskmodel.sim.stats import ChunkStats

    def chunk(width: int) -> ChunkStats:
        z = np.zeros((3, 2, 2, width))
        return ChunkStats(chunk_index=0, first_path=0, n_paths=4, s1=z, s2=z, s12=z[0],
                          hp=None, he=None, keep_price=np.zeros((3, 0, 1, 5)),
                          keep_bau=np.zeros((0, 1, 5)), annual=None, meta={})

    f = tmp_path / "p0000-c000001.pkl"
    ok = chunk(L.NSTAT)
    assert _check_layout(f, ok) is ok
    with pytest.raises(DataError, match=f"chunk written by another version of riskmodel "
                                        f"\\(19 statistics, this version keeps {L.NSTAT}\\)"):
        _check_layout(f, chunk(19))
