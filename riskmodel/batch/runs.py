"""Browse run folders: list them, show one, compare two side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskmodel import config
from riskmodel.batch.run_checks import check_results, problem, read_results
from riskmodel.batch.runner import (
    CHUNKS,
    MANIFEST,
    RESULTS,
    SUMMARY,
    finished_chunks,
    read_manifest,
)
from riskmodel.errors import InputError

#: Columns that identify one number in ``results.parquet`` (apart from the scenario).
KEYS = ["sweep_point", "variant", "market", "year", "statistic"]


def runs_dir(out: str | Path | None = None) -> Path:
    """The folder holding run folders (default ``runs/``)."""
    return Path(out) if out is not None else config.RUNS_DIR


def find_run(ref: str | Path, *, out: str | Path | None = None) -> Path:
    """A run folder from a path, a run id, or a unique prefix of a run id."""
    p = Path(ref)
    if (p / MANIFEST).is_file():
        return p
    if p.is_dir() and (p / CHUNKS).is_dir():
        raise InputError("a run folder without manifest.json: it cannot be resumed or read; "
                         "delete it and run the scenario again", file=p, field="manifest")
    base = runs_dir(out)
    if (base / str(ref) / MANIFEST).is_file():
        return base / str(ref)
    hits = sorted(d for d in base.glob(f"{ref}*") if (d / MANIFEST).is_file()) if base.is_dir() \
        else []
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        names = ", ".join(h.name for h in hits[:5])
        raise InputError(f"{ref!r} matches {len(hits)} runs ({names}); be more specific",
                         field="RUN")
    raise InputError(f"no run {ref!r} (not a run folder, nor a run id in {base})", field="RUN")


def list_runs(out: str | Path | None = None) -> pd.DataFrame:
    """One row per run folder, newest first: id, scenario, status, progress, times."""
    base = runs_dir(out)
    rows: list[dict[str, Any]] = []
    for d in sorted(base.iterdir()) if base.is_dir() else []:
        if not d.is_dir() or not ((d / MANIFEST).is_file() or (d / CHUNKS).is_dir()):
            continue
        broken = problem(d)
        if broken is not None:  # shown, not hidden: the user must resume or delete it
            rows.append({"run_id": d.name, "status": f"broken: {broken}",
                         "started": _mtime(d)})
            continue
        m = read_manifest(d)
        seeds = m.get("seeds") or []
        n_chunks = sum(s.get("n_chunks", 0) for s in seeds)
        done = len(finished_chunks(d)) if (d / CHUNKS).is_dir() else 0
        rows.append({
            "run_id": m.get("run_id", d.name),
            "scenario": m.get("scenario"),
            "status": m.get("status"),
            "chunks": f"{done}/{n_chunks}",
            "points": len(seeds),
            "paths": seeds[0].get("paths") if seeds else None,
            "started": m.get("started"),
            "finished": m.get("finished"),
            "seconds": round(sum(s.get("seconds", 0.0) for s in m.get("sessions", [])), 1),
        })
        if m.get("status") == "failed" and m.get("error"):
            rows[-1]["status"] = f"failed: {m['error']}"
    cols = ["run_id", "scenario", "status", "chunks", "points", "paths", "started", "finished",
            "seconds"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.sort_values("started", ascending=False, ignore_index=True)


def _mtime(d: Path) -> str:
    """A folder's modification time (ISO, UTC) for sorting a broken run among the others."""
    import datetime as dt

    return dt.datetime.fromtimestamp(d.stat().st_mtime, tz=dt.UTC).isoformat(timespec="seconds")


def show_run(ref: str | Path, *, out: str | Path | None = None) -> str:
    """The run's summary (or its progress when it has not finished)."""
    d = find_run(ref, out=out)
    m = read_manifest(d)
    if m.get("status") == "complete":
        check_results(d, RESULTS)  # never show an old summary over damaged results
        if (d / SUMMARY).is_file():
            return (d / SUMMARY).read_text(encoding="utf-8")
    seeds = m.get("seeds") or []
    n_chunks = sum(s.get("n_chunks", 0) for s in seeds)
    done = len(finished_chunks(d))
    return (f"run {m.get('run_id')}  scenario {m.get('scenario')}  status {m.get('status')}\n"
            f"{done} of {n_chunks} chunks finished; finish it with: riskmodel run --resume {d}\n")


def load_results(ref: str | Path, *, out: str | Path | None = None) -> pd.DataFrame:
    """A finished run's ``results.parquet``."""
    d = find_run(ref, out=out)
    path = d / RESULTS
    if not path.is_file():
        raise InputError("the run has no results yet (resume it first)", file=d)
    return read_results(d, RESULTS)


def compare_runs(
    a: str | Path,
    b: str | Path,
    *,
    out: str | Path | None = None,
    statistics: list[str] | None = None,
) -> pd.DataFrame:
    """Two runs side by side: value and mcse of each, difference and its z-score.

    Rows are matched on sweep point, variant, market, year and statistic (an outer join: a row
    only one run has keeps NaN on the other side). ``z = diff / sqrt(mcse_a² + mcse_b²)``
    (runs on the same seed share random numbers, so this z is conservative).
    """
    ra, rb = load_results(a, out=out), load_results(b, out=out)
    keep = [*KEYS, "value", "mcse"]
    m = ra[keep].merge(rb[keep], on=KEYS, how="outer", suffixes=("_a", "_b"))
    if statistics:
        m = m[m["statistic"].isin(statistics)]
    m["diff"] = m["value_b"] - m["value_a"]
    se = np.sqrt(m["mcse_a"].astype(float) ** 2 + m["mcse_b"].astype(float) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        m["z"] = np.where(se > 0, m["diff"] / se, np.nan)
    return m.sort_values(KEYS, ignore_index=True)
