"""Browse run folders: list them, show one, compare two side by side."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskmodel import config
from riskmodel.batch.run_checks import (
    check_digest,
    check_manifest_not_damaged,
    check_results,
    problem,
    read_results,
)
from riskmodel.batch.runner import (
    CHUNKS,
    MANIFEST,
    RESULTS,
    SUMMARY,
    finished_chunks,
    read_manifest,
)
from riskmodel.batch.scenario_file import show_value
from riskmodel.errors import DataError, InputError
from riskmodel.sim.summary import render

#: Columns that identify one number in ``results.parquet`` (apart from the scenario).
KEYS = ["sweep_point", "variant", "market", "year", "statistic"]


def runs_dir(out: str | Path | None = None) -> Path:
    """The folder holding run folders (default ``runs/``)."""
    return Path(out) if out is not None else config.RUNS_DIR


def find_run(ref: str | Path, *, out: str | Path | None = None) -> Path:
    """A run folder from a path, a run id, or a unique prefix of a run id."""
    if not str(ref).strip():  # Path('') is '.': the working folder's only run was taken
        raise InputError(f"empty ({str(ref)!r}); give a run folder or a run id (riskmodel runs "
                         "list shows them)", field="RUN")
    p = Path(ref)
    if (p / MANIFEST).is_file():
        return p
    if p.is_dir() and (p / CHUNKS).is_dir():
        raise InputError("a run folder without manifest.json: it cannot be resumed or read; "
                         "delete it and run the scenario again", file=p, field="manifest")
    base = runs_dir(out)
    if (base / str(ref) / MANIFEST).is_file():
        return base / str(ref)
    if p.is_dir():  # a folder of runs (what ``run --out DIR`` makes): its only run
        base, prefix = p, ""
    elif p.is_absolute() or len(p.parts) > 1:  # a path prefix: glob in its parent folder
        base, prefix = p.parent, p.name
    else:
        prefix = str(ref)
    hits = sorted(d for d in base.glob(f"{prefix}*") if (d / MANIFEST).is_file()) \
        if base.is_dir() else []
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        names = ", ".join(h.name for h in hits[:5])
        raise InputError(f"{ref!r} matches {len(hits)} runs ({names}); be more specific",
                         field="RUN")
    for d in (p, runs_dir(out) / str(ref)):  # a run whose manifest is a folder or broken link
        if d.is_dir():
            check_manifest_not_damaged(d)
    raise InputError(f"no run {ref!r} (not a run folder, nor a run id in {base})", field="RUN")


def list_runs(out: str | Path | None = None) -> pd.DataFrame:
    """One row per run folder, newest first: id, scenario, status, progress, times."""
    base = runs_dir(out)
    rows: list[dict[str, Any]] = []
    for d in sorted(base.iterdir()) if base.is_dir() else []:
        man = d / MANIFEST  # a manifest that is a folder or a broken link: a broken run
        if not d.is_dir() or not (man.exists() or man.is_symlink() or (d / CHUNKS).is_dir()):
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
            "run_id": d.name,  # what show, compare and --resume take (a copy keeps its id)
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


def show_run(ref: str | Path, *, out: str | Path | None = None, width: int | None = None) -> str:
    """The run's summary (or its progress when it has not finished); with ``width``, its tables
    are rendered again from ``results.parquet`` to fit that many columns."""
    d = find_run(ref, out=out)
    m = read_manifest(d)
    if m.get("status") == "complete":
        # never show an old summary over damaged results
        check_results(d, RESULTS, manifest=m)
        text = _read_summary(d, m)
        return text if width is None else fit_summary(d, text, width)
    seeds = m.get("seeds") or []
    n_chunks = sum(s.get("n_chunks", 0) for s in seeds)
    done = len(finished_chunks(d))
    return (f"run {m.get('run_id')}  scenario {m.get('scenario')}  status {m.get('status')}\n"
            f"{done} of {n_chunks} chunks finished; finish it with: riskmodel run --resume {d}\n")


def _read_summary(run_dir: Path, manifest: dict[str, Any] | None = None) -> str:
    """A complete run's ``summary.txt``; a missing or damaged one is one line saying how to
    rebuild it (a resume of a complete run merges its chunks again and rewrites it)."""
    path = run_dir / SUMMARY
    rebuild = (f"run riskmodel run --resume {run_dir} to rebuild it from the chunks (or delete "
               "the run folder)")
    if not path.is_file():
        raise DataError(f"missing from a complete run; {rebuild}", file=path, field="summary")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"not UTF-8 text; delete it and {rebuild}", file=path,
                        field="summary") from None
    check_digest(path, manifest, field="summary", what_next=f"delete it and {rebuild}")
    return text


def fit_summary(run_dir: Path, text: str, width: int) -> str:
    """``summary.txt`` for a terminal ``width`` columns wide: the header and the notes wrapped,
    the tables rendered again at that width (when the results carry units)."""
    head, _, rest = text.partition("\n\n")
    body, sep, notes = rest.partition("\n\nengine notes")
    results = pd.read_parquet(run_dir / RESULTS) if (run_dir / RESULTS).is_file() else None
    if results is not None and "unit" in results.columns:
        body = render(results, width=width)
    out = [_wrap_lines(head, width), "", body.rstrip("\n")]
    if sep:
        out += ["", _wrap_lines("engine notes" + notes.rstrip("\n"), width)]
    return "\n".join(out) + "\n"


def _wrap_lines(text: str, width: int) -> str:
    """Each line wrapped at ``width`` (continuations indented)."""
    return "\n".join(
        "\n".join(textwrap.wrap(line, width=width, subsequent_indent="  ",
                                break_on_hyphens=False) or [""])
        for line in text.splitlines())


def load_results(ref: str | Path, *, out: str | Path | None = None) -> pd.DataFrame:
    """A finished run's ``results.parquet``."""
    d = find_run(ref, out=out)
    m = read_manifest(d)
    path = d / RESULTS
    if not path.is_file() and m.get("status") != "complete":
        raise InputError("the run has no results yet (resume it first)", file=d)
    return read_results(d, RESULTS, manifest=m)


def run_mismatch(a: str | Path, b: str | Path, *, out: str | Path | None = None) -> list[str]:
    """How two runs' sweep points and path counts differ (empty when they match), read from
    each run's plan (checked against its ``plan_hash``, as a resume and a report check it)."""
    from riskmodel.batch.run_arrays import checked_plan

    plan_a, plan_b = (checked_plan(read_manifest(d), d)
                      for d in (find_run(r, out=out) for r in (a, b)))
    pa, pb = plan_a.points, plan_b.points
    problems: list[str] = []
    if pa != pb:
        def show(pts: list[dict[str, Any]]) -> str:
            labels = [", ".join(f"{k}={show_value(v)}" for k, v in p.items()) or "base"
                      for p in pts[:3]]
            return "; ".join(labels) + (f"; ... ({len(pts)} points)" if len(pts) > 3 else "")

        problems.append(f"sweep points differ (A: {show(pa)} | B: {show(pb)})")
    na, nb = (sorted({sc.simulation.paths for sc in plan.scenarios})
              for plan in (plan_a, plan_b))
    if na != nb:
        problems.append(f"path counts differ (A: {', '.join(map(str, na))} paths, "
                        f"B: {', '.join(map(str, nb))} paths)")
    return problems


def _check_comparable(ra: pd.DataFrame, rb: pd.DataFrame) -> None:
    """Refuse rows that would pair different units (a market in EUR in one run and CHF in the
    other: differences of unlike numbers under one label), and runs without a common market
    (a table of NaN)."""
    ma, mb = set(ra["market"]) - {"total"}, set(rb["market"]) - {"total"}  # not a market
    if not ma & mb:
        raise InputError(f"the runs have no market in common (A: {', '.join(sorted(ma))}; B: "
                         f"{', '.join(sorted(mb))})", field="RUN_B")
    if "period" in ra.columns and "period" in rb.columns:  # the horizon's totals (year -1)
        pa, pb = (sorted(set(r.loc[r["year"] == -1, "period"].astype(str))) for r in (ra, rb))
        if pa and pb and pa != pb:
            raise InputError(f"the runs simulate different horizons (A: {', '.join(pa)}; B: "
                             f"{', '.join(pb)}): their totals over the horizon are sums over "
                             "different years and their years do not all pair (pass --force "
                             "to compare anyway)", field="RUN_B")
    if "unit" in ra.columns and "unit" in rb.columns:
        keys = ["market", "statistic"]
        ua = ra[[*keys, "unit"]].drop_duplicates(keys)
        both = ua.merge(rb[[*keys, "unit"]].drop_duplicates(keys), on=keys,
                        suffixes=("_a", "_b"))
        odd = both[both["unit_a"].astype(str) != both["unit_b"].astype(str)]
        if len(odd):
            r = odd.iloc[0]
            raise InputError(f"{r['market']} {r['statistic']} is in {r['unit_b']} in B but "
                             f"{r['unit_a']} in A: rows would pair different units (pass "
                             "--force to compare anyway)", field="RUN_B")


def compare_runs(
    a: str | Path,
    b: str | Path,
    *,
    out: str | Path | None = None,
    statistics: list[str] | None = None,
    force: bool = False,
) -> pd.DataFrame:
    """Two runs side by side: value and mcse of each, difference and its z-score.

    Refused (``InputError``) unless ``force`` when the runs' sweep points or path counts differ
    (:func:`run_mismatch`): sweep point k of one run is not sweep point k of the other.

    Rows are matched on sweep point, variant, market, year and statistic (an outer join: a row
    only one run has keeps NaN on the other side). ``z = diff / sqrt(mcse_a² + mcse_b²)``
    (runs on the same seed share random numbers, so this z is conservative).
    """
    if not force:
        problems = run_mismatch(a, b, out=out)
        if problems:
            raise InputError(
                "; ".join(problems) + ": rows would pair different designs or sample sizes "
                "(pass --force to compare anyway)", field="RUN_B")
    ra, rb = load_results(a, out=out), load_results(b, out=out)
    if not force:
        _check_comparable(ra, rb)
    # a total over the horizon pairs only with a total over the same years (--force)
    keys = [*KEYS, "period"] if "period" in ra.columns and "period" in rb.columns else KEYS
    keep = [*keys, "value", "mcse"]
    m = ra[keep].merge(rb[keep], on=keys, how="outer", suffixes=("_a", "_b"))
    labels = [c for c in ("unit",) if c in ra.columns and c in rb.columns]
    if labels:  # what each row is: "KRW/t" (from either run)
        lab = pd.concat([ra[[*keys, *labels]], rb[[*keys, *labels]]]).drop_duplicates(keys)
        m = m.merge(lab, on=keys, how="left")
    if statistics:
        have = sorted(set(m["statistic"]))
        unknown = [s for s in statistics if s not in have]
        if unknown:
            raise InputError(f"unknown statistic {unknown[0]!r} (the runs have: "
                             f"{', '.join(have)})", field="--statistic")
        m = m[m["statistic"].isin(statistics)]
    m["diff"] = m["value_b"] - m["value_a"]
    se = np.sqrt(m["mcse_a"].astype(float) ** 2 + m["mcse_b"].astype(float) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        m["z"] = np.where(se > 0, m["diff"] / se, np.nan)
    return m.sort_values(KEYS, ignore_index=True)
