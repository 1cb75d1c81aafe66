"""Run folders: manifest, chunk ledger, resume, and the final merge.

``runs/<run-id>/`` holds

- ``manifest.json``: the scenario in the user's words (its sparse user form, the sweep block and
  the CLI overrides — never the resolved design, which is resolved again on resume), seed
  entropy, chunk layout, the engine's random streams, package versions, git commit, hashes of
  the calibration and catalogue files, start / end times, one entry per session (first run and
  each resume), and at the end the chunk ledger (a resume refuses a run whose plan, calibration
  or catalogue files, or random streams differ from this version's, naming the file);
- ``design.json``: per sweep point, the design that runs, each value with its source
  (``riskmodel scenario show``);
- ``chunks/p0000-c000017.pkl``: one file per finished chunk (the engine's picklable
  ``ChunkStats``), each written atomically as its task returns — the ledger is the set of these
  files, so a run killed at any moment keeps every finished chunk. Each chunk names the run id,
  the scenario hash of its sweep point, the seed, the random streams and its point and chunk
  index; merge and resume refuse a chunk that does not belong;
- ``results.parquet``: the tidy table (scenario, sweep point, variant, market, year, statistic,
  value, mcse), merged in chunk order per sweep point, so it is the same whatever the workers,
  task size, backend or interruptions;
- ``paths.npz`` (kept sample paths, and ``annual.npz`` when asked), ``summary.txt``.

Every file goes through ``riskmodel.io``'s atomic writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import io
import json
import pickle
import platform
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from riskmodel import config
from riskmodel.batch.parallel import (
    DEFAULT_ENGINE,
    ChunkSpec,
    Task,
    backend_name,
    connect,
    default_engine,
    default_threads,
    effective_n_jobs,
    execute,
    load_engine,
    make_tasks,
    resolve_scenario,
)
from riskmodel.batch.scenario_file import ScenarioPlan, plan_from_json, scenario_calibrations
from riskmodel.errors import DataError, InputError, RunFailed
from riskmodel.io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
    atomic_write_text,
    sha256_file,
    to_json,
)

SCHEMA = "riskmodel.run/2"
#: Schemas a resume refuses with a reason (they stored the resolved design, not the user form).
OLD_SCHEMAS = ("riskmodel.run/1",)
MANIFEST = "manifest.json"
CHUNKS = "chunks"
RESULTS = "results.parquet"
DESIGN = "design.json"
#: What a chunk file records about where it belongs, checked in this order.
CHUNK_IDENTITY = ("run_id", "scenario_hash", "seed", "streams", "point", "chunk")
PATHS = "paths.npz"
ANNUAL = "annual.npz"
SUMMARY = "summary.txt"
#: Columns the batch layer puts in front of the engine's tidy table.
LEAD_COLUMNS = ["scenario", "sweep_point", "sweep"]
_CHUNK_FILE = re.compile(r"^p(\d{4})-c(\d{6})\.pkl$")
_PACKAGES = ("riskmodel", "numpy", "scipy", "pandas", "numba", "arch", "statsmodels", "joblib",
             "dask", "distributed", "pydantic", "pyarrow")


class ProgressSink(Protocol):
    """What the runner reports progress to (the CLI's progress bar, or nothing)."""

    def start(self, total_paths: int, done_paths: int) -> None: ...

    def advance(self, paths: int) -> None: ...


@dataclass
class RunOptions:
    """How to execute (never changes results)."""

    n_jobs: int = 1
    #: dask scheduler address ``tcp://host:port`` or a ``distributed.Client``.
    scheduler: Any = None
    #: Paths per task, rounded up to whole chunks of ``simulation.paths_per_chunk``; default one
    #: chunk per task.
    chunk_size: int | None = None
    threads: int | None = None
    #: Engine module (default ``riskmodel.sim.engine``, or ``RISKMODEL_ENGINE``).
    engine: str = field(default_factory=default_engine)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def plan_hash(plan: ScenarioPlan) -> str:
    """SHA-256 of the plan in the user's words (each point's user form and values): what a
    resume must match."""
    body = {"scenarios": [plan.point_form(k) for k in range(len(plan.scenarios))],
            "points": plan.points}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def new_run_id(plan: ScenarioPlan, *, when: dt.datetime | None = None) -> str:
    """``<scenario-name>-<YYYYmmdd-HHMMSS>-<hash8>`` (hash of plan and time)."""
    when = when or dt.datetime.now(dt.UTC)
    stamp = when.strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", plan.name).strip("_.-") or "run"  # alnum first
    h = hashlib.sha256(f"{plan_hash(plan)}{when.isoformat()}".encode()).hexdigest()[:8]
    return f"{name}-{stamp}-{h}"


def layouts(plan: ScenarioPlan) -> list[ChunkSpec]:
    """Chunk layout of every sweep point."""
    return [ChunkSpec(s.simulation.paths, s.simulation.paths_per_chunk) for s in plan.scenarios]


def _streams() -> str:
    """The engine's random streams (:data:`riskmodel.sim.rng.STREAMS`), for the manifest."""
    from riskmodel.sim.rng import STREAMS

    return STREAMS


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on."""
    out = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def git_commit() -> dict[str, Any]:
    """HEAD commit of the checkout and whether tracked files differ from it (read-only git)."""
    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", "-C", str(config.PROJECT_ROOT), *args],
                               capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if head else None
    return {"commit": head, "dirty": bool(status) if status is not None else None}


def calibration_hashes(plan: ScenarioPlan) -> dict[str, str]:
    """SHA-256 of every calibration file the run reads (and the shared ones that exist)."""
    base_dir = plan.file.parent if plan.file is not None else None
    paths: set[Path] = set()
    for sc in plan.scenarios:
        paths.update(p for _, p in scenario_calibrations(sc, base_dir=base_dir).values())
    for name in ("dependence.json", "fundamentals.json", "fx.json", "carry.json"):
        paths.add(config.CALIBRATIONS_DIR / name)
    return {_rel(p): sha256_file(p) for p in sorted(paths) if p.is_file()}


def catalogue_hashes(plan: ScenarioPlan) -> dict[str, str]:
    """SHA-256 of every catalogue file (``data/markets/<id>.yaml``) the run reads."""
    ids = sorted({m.id for sc in plan.scenarios for m in sc.markets if not m.synthetic})
    out = {}
    for mid in ids:
        p = config.MARKETS_DIR / f"{mid}.yaml"
        if p.is_file():
            out[_rel(p)] = sha256_file(p)
    return out


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(config.PROJECT_ROOT))
    except ValueError:
        return str(p)


def seed_info(plan: ScenarioPlan) -> list[dict[str, Any]]:
    """Seed entropy and chunk layout per sweep point."""
    out = []
    for sc, lay in zip(plan.scenarios, layouts(plan), strict=True):
        ss = np.random.SeedSequence(sc.simulation.seed)
        out.append({"seed": sc.simulation.seed, "entropy": str(ss.entropy),
                    "paths": lay.paths, "paths_per_chunk": lay.grain, "n_chunks": lay.n_chunks})
    return out


# --------------------------------------------------------------------------- ledger


def chunk_file(run_dir: Path, point: int, chunk: int) -> Path:
    """Ledger file of one finished chunk."""
    return run_dir / CHUNKS / f"p{point:04d}-c{chunk:06d}.pkl"


def finished_chunks(run_dir: Path) -> set[tuple[int, int]]:
    """(point, chunk) of every chunk in the ledger."""
    d = run_dir / CHUNKS
    if not d.is_dir():
        return set()
    out = set()
    for p in d.iterdir():
        m = _CHUNK_FILE.match(p.name)
        if m:
            out.add((int(m.group(1)), int(m.group(2))))
    return out


def chunk_identity(manifest: dict[str, Any], plan: ScenarioPlan, point: int, chunk: int
                   ) -> dict[str, Any]:
    """What chunk ``chunk`` of sweep point ``point`` of this run must record."""
    return {"run_id": manifest["run_id"], "scenario_hash": plan.scenario_hash(point),
            "seed": plan.scenarios[point].simulation.seed, "streams": manifest.get("streams"),
            "point": point, "chunk": chunk}


def check_chunk(path: Path, rec: dict[str, Any], want: dict[str, Any]) -> None:
    """Refuse a chunk file that does not belong to this run and place (InputError naming the
    chunk file and the first mismatching key)."""
    for key in CHUNK_IDENTITY:
        if rec.get(key) != want[key]:
            got = rec.get(key, "nothing")
            raise InputError(
                f"chunk does not belong to this run ({key} is {got!r}, the run needs "
                f"{want[key]!r}); delete it and resume to recompute it", file=path, field=key)


def verify_chunks(run_dir: Path, plan: ScenarioPlan, manifest: dict[str, Any]) -> None:
    """Check every chunk file in the ledger before a resume writes anything: its sha256 against
    the one the last merge recorded (``ledger.entries``), its identity, its record and the
    shapes and finiteness of its statistics. A damaged chunk is named, never merged."""
    lays = layouts(plan)
    hashes = {(e["point"], e["chunk"]): e["sha256"]
              for e in (manifest.get("ledger") or {}).get("entries") or []}
    for k, c in sorted(finished_chunks(run_dir)):
        f = chunk_file(run_dir, k, c)
        if k >= len(lays) or c >= lays[k].n_chunks:
            raise InputError(f"chunk does not belong to this run (the run has {len(lays)} sweep "
                             "point(s) of " + ", ".join(str(x.n_chunks) for x in lays)
                             + " chunk(s)); delete it", file=f, field="chunk")
        rec = _load_chunk(f)
        want_id = chunk_identity(manifest, plan, k, c)
        if rec.get("run_id") != want_id["run_id"] and rec.get("run_id") == run_dir.name:
            raise InputError(  # the chunks and the folder agree: the manifest was edited
                f"{want_id['run_id']!r} is not this folder's run (its chunks and its folder name "
                f"say {run_dir.name!r}); the manifest is damaged: restore run_id "
                f"{run_dir.name!r}, or delete the folder and run the scenario again",
                file=run_dir / MANIFEST, field="run_id")
        check_chunk(f, rec, want_id)  # a chunk of another run: named by what differs
        want = hashes.get((k, c))
        if want is not None:  # its own chunk, changed since the merge (a bit flip, an edit)
            got = sha256_file(f)
            if got != want:
                raise DataError(f"damaged: its sha256 ({got[:12]}...) is not the one the run's "
                                f"ledger recorded when it was merged ({want[:12]}...); delete it "
                                "and resume to recompute it", file=f, field="sha256")
        check_record(f, rec, plan, k, c)


#: Keys of a chunk record besides its identity, and their types (``_store`` writes them).
CHUNK_RECORD = {"first_path": int, "n_paths": int, "session": int, "finished": str}


def check_record(path: Path, rec: dict[str, Any], plan: ScenarioPlan, point: int, chunk: int
                 ) -> None:
    """Refuse a chunk record whose bookkeeping or statistics are not what chunk ``chunk`` of
    sweep point ``point`` writes (a key missing, another path range, statistics of another
    shape or not finite): it would fail the merge, or be merged into wrong results."""
    damaged = "the chunk is damaged: delete it and resume to recompute it"
    for key, kind in CHUNK_RECORD.items():
        v = rec.get(key)
        if isinstance(v, bool) or not isinstance(v, kind):
            raise DataError(f"{'missing' if v is None else f'not {kind.__name__} ({v!r})'}; "
                            f"{damaged}", file=path, field=key)
    first, size = layouts(plan)[point].bounds(chunk)
    if (rec["first_path"], rec["n_paths"]) != (first, size):
        raise DataError(f"paths {rec['first_path']}+{rec['n_paths']}, but chunk {chunk} holds "
                        f"paths {first}+{size}; {damaged}", file=path, field="first_path")
    if "stats" not in rec:
        raise DataError(f"missing; {damaged}", file=path, field="stats")
    _check_stats(path, rec["stats"], plan.scenarios[point], chunk, first, size)


def _store(run_dir: Path, session: int, task: Task, parts: list[tuple[int, Any]],
           lay: ChunkSpec, identity: dict[str, Any]) -> int:
    """Write each chunk of a finished task atomically, with its identity; returns the paths
    stored."""
    n = 0
    for c, part in parts:
        first, size = lay.bounds(c)
        blob = pickle.dumps(
            {**identity, "point": task.point, "chunk": c, "first_path": first,
             "n_paths": size, "session": session, "finished": _now(), "stats": part},
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        atomic_write_bytes(chunk_file(run_dir, task.point, c), blob)
        n += size
    return n


#: The only globals a chunk file may name: its statistics and numpy's array rebuilders. A
#: pickle can call any importable function on load, so a run folder from elsewhere (or edited
#: by hand) must never reach a plain ``pickle.load``.
CHUNK_GLOBALS = frozenset({
    ("riskmodel.sim.stats", "ChunkStats"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    *((mod, name) for mod in ("numpy._core.numeric", "numpy.core.numeric")
      for name in ("_frombuffer",)),
    *((mod, name) for mod in ("numpy._core.multiarray", "numpy.core.multiarray")
      for name in ("_reconstruct", "scalar")),
})


class _ChunkUnpickler(pickle.Unpickler):
    """Unpickles chunk files only: refuses every global outside :data:`CHUNK_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in CHUNK_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name} has no place in a chunk file")
        return super().find_class(module, name)


def _load_chunk(path: Path) -> dict[str, Any]:
    if not path.is_file():  # a folder, a device or a pipe under a chunk's name
        raise DataError("not a chunk file (not a regular file); delete it and resume to "
                        "recompute it", file=path)
    try:
        with open(path, "rb") as fh:
            rec = _ChunkUnpickler(fh).load()
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError,
            IndexError, KeyError, MemoryError, RecursionError) as exc:
        raise DataError(f"unreadable chunk ({exc}); delete it and resume to recompute it",
                        file=path) from None
    if not isinstance(rec, dict):
        raise DataError(f"not a chunk record (a {type(rec).__name__}); delete it and resume to "
                        "recompute it", file=path)
    return rec


# --------------------------------------------------------------------------- runs


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The manifest of a run folder (InputError when there is none)."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        from riskmodel.batch.run_checks import check_manifest_not_damaged

        check_manifest_not_damaged(Path(run_dir))
        raise InputError("not a run folder (no manifest.json); give a folder made by "
                         "riskmodel run", file=Path(run_dir), field="manifest")
    from riskmodel.batch.run_checks import parse_manifest

    return parse_manifest(path)


def new_run_dir(
    plan: ScenarioPlan, *, out: str | Path | None = None, run_id: str | None = None
) -> Path:
    """The folder a new run will use (checked, not created)."""
    out = Path(out) if out is not None else config.RUNS_DIR
    run_id = new_run_id(plan) if run_id is None else run_id
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,120}", run_id) or run_id in (".", ".."):
        raise InputError(f"use at most 120 letters, digits, '.', '_' and '-' (got {run_id[:40]!r}"
                         f"{'...' if len(run_id) > 40 else ''})", field="--run-id")
    if not run_id[0].isalnum():  # '-x' reads as an option, '.x' is a hidden folder
        raise InputError(f"must start with a letter or a digit (got {run_id[:40]!r})",
                         field="--run-id")
    for folder in (out, *out.parents):  # a run inside a run is never listed, and its files
        if (folder / MANIFEST).is_file():  # mix with the outer run's
            raise InputError(f"{folder} is a run folder; give the folder of run folders "
                             "(e.g. runs)", field="--out")
    run_dir = out / run_id
    from riskmodel.batch.run_checks import manifest_damage

    if run_dir.is_symlink() and not run_dir.exists():  # making its chunks/ failed on it
        raise InputError("a broken symbolic link (or a loop) stands where the run folder "
                         "would go; give another --run-id, or remove the link",
                         file=run_dir, field="--run-id")
    if run_dir.exists() and not (run_dir / MANIFEST).is_file() and not (
            run_dir / CHUNKS).is_dir() and manifest_damage(run_dir / MANIFEST) is None:
        raise InputError("something that is no run stands where the run folder would go (it "
                         "has no manifest.json); give another --run-id, or remove it",
                         file=run_dir, field="--run-id")
    if run_dir.exists():
        raise InputError("a run with this id exists; use --resume to finish it",
                         file=run_dir, field="--run-id")
    return run_dir


def create_run(
    plan: ScenarioPlan,
    *,
    out: str | Path | None = None,
    run_id: str | None = None,
    engine: str = DEFAULT_ENGINE,
    products: dict[str, Any] | None = None,
) -> Path:
    """Make ``<out>/<run-id>/`` with its manifest (status 'running'); the plan is already valid.

    ``products``: what the user asked for beyond the tables (``events``: single-event arrays,
    ``firms``: firm files), recorded so that a resumed run still writes them."""
    run_dir = new_run_dir(plan, out=out, run_id=run_id)
    manifest = {
        "schema": SCHEMA,
        "run_id": run_dir.name,
        "scenario": plan.name,
        "status": "running",
        "started": _now(),
        "finished": None,
        "plan": plan.to_json(),
        "plan_hash": plan_hash(plan),
        "scenario_file_sha256": sha256_file(plan.file) if plan.file and plan.file.is_file()
        else None,
        "seeds": seed_info(plan),
        "engine": engine,
        "streams": _streams(),
        "versions": package_versions(),
        "git": git_commit(),
        "calibrations": calibration_hashes(plan),
        "catalogue": catalogue_hashes(plan),
        "host": {"name": socket.gethostname(), "platform": platform.platform()},
        "sessions": [],
        "ledger": None,
        "outputs": None,
        "products": products or {},
    }
    (run_dir / CHUNKS).mkdir(parents=True)
    atomic_write_json(run_dir / MANIFEST, manifest)
    write_design(run_dir, plan)
    return run_dir


def write_design(run_dir: Path, plan: ScenarioPlan) -> None:
    """``design.json``: per sweep point, the design that runs with each value's source."""
    from riskmodel.sim.provenance import design_report

    # the engine's resolution, cached in this process where the engine ran check_engine: not
    # a second one (design_report resolves as the engine does)
    cached = DEFAULT_ENGINE in sys.modules
    points = [{"point": k, "label": plan.point_label(k), "scenario_hash": plan.scenario_hash(k),
               "design": design_report(sc, resolve_scenario(DEFAULT_ENGINE, sc) if cached
                                       else None)}
              for k, sc in enumerate(plan.scenarios)]
    atomic_write_json(run_dir / DESIGN, {"scenario": plan.name, "points": points})


def run_plan(
    plan: ScenarioPlan,
    *,
    out: str | Path | None = None,
    run_id: str | None = None,
    options: RunOptions | None = None,
    progress: ProgressSink | None = None,
    preflight: bool = True,
    products: dict[str, Any] | None = None,
) -> Path:
    """Create a run folder for a validated plan, run every chunk, merge; returns the folder."""
    options = options or RunOptions()
    run_dir = new_run_dir(plan, out=out, run_id=run_id)
    if preflight:
        # the compile-ahead head start serves a run whose chunks run here or in local workers
        # (one numba cache), not a dask cluster's
        check_engine(plan, options.engine, compile_ahead=options.scheduler is None)
    with connect(options.scheduler) as client:  # an unreachable cluster writes nothing
        run_dir = create_run(plan, out=out, run_id=run_dir.name, engine=options.engine,
                             products=products)
        opts = replace(options, scheduler=client) if client is not None else options
        return _execute(run_dir, plan, read_manifest(run_dir), opts, progress)


def _check_layout_records(run_dir: Path, plan: ScenarioPlan, manifest: dict[str, Any]) -> None:
    """The manifest's seeds and chunk layout are what its plan gives, and its ledger lists as
    many chunks as it counts: an edited record would put false numbers in the summary, or let
    an edited chunk be merged unchecked."""
    damaged = "the manifest is damaged: delete the folder and run the scenario again"
    want, got = seed_info(plan), manifest.get("seeds") or []
    if len(got) != len(want):
        raise InputError(f"{len(got)} entries for {len(want)} sweep point(s); {damaged}",
                         file=run_dir / MANIFEST, field="seeds")
    for k, (w, g) in enumerate(zip(want, got, strict=True)):
        for key, value in w.items():
            if g.get(key) != value:
                raise InputError(f"{g.get(key)!r}, but the run's plan gives {value!r}; {damaged}",
                                 file=run_dir / MANIFEST, field=f"seeds[{k}].{key}")
    ledger = manifest.get("ledger") or {}
    count, entries = ledger.get("chunks"), ledger.get("entries") or []
    if count is not None and count != len(entries):
        raise InputError(f"{len(entries)} entries for {count} chunk(s); {damaged}",
                         file=run_dir / MANIFEST, field="ledger.entries")


def resume_run(
    run_dir: str | Path,
    *,
    options: RunOptions | None = None,
    progress: ProgressSink | None = None,
) -> Path:
    """Finish a run: simulate only the chunks missing from its ledger, then merge."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest.get("schema") in OLD_SCHEMAS:
        raise InputError(
            f"the run was made by an older version ({manifest['schema']}) that stored the "
            "resolved scenario instead of the user's; its chunks cannot be trusted to match: "
            "start a new run", file=run_dir / MANIFEST, field="schema")
    if manifest.get("schema") != SCHEMA:
        raise InputError(f"unknown run schema {manifest.get('schema')!r}", file=run_dir / MANIFEST,
                         field="schema")
    if not manifest.get("run_id"):  # every chunk records it: without it none can be checked
        raise InputError("missing; the manifest is damaged: delete the folder and run the "
                         "scenario again", file=run_dir / MANIFEST, field="run_id")
    from riskmodel.sim.rng import STREAMS  # (numba is imported only when a run is touched)

    if manifest.get("streams") != STREAMS:
        raise InputError(
            f"the run's chunks were drawn with other random streams "
            f"({manifest.get('streams') or 'numpy PCG64, before riskmodel.sim.rng'}) than this "
            "version's: finished chunks would mix two samplers; start a new run",
            file=run_dir / MANIFEST, field="streams",
        )
    plan = plan_from_json(manifest["plan"])
    if plan_hash(plan) != manifest.get("plan_hash"):
        raise InputError("the scenario no longer validates to the same plan (the schema or its "
                         "defaults changed); start a new run", file=run_dir / MANIFEST,
                         field="plan")
    check_inputs_unchanged(run_dir, plan, manifest)
    _check_layout_records(run_dir, plan, manifest)
    chunks = run_dir / CHUNKS
    if (chunks.exists() or chunks.is_symlink()) and not chunks.is_dir():
        # a broken or looping link too: making the folder there failed part-way (exit 1, the
        # run marked failed, and the resume it advised failed the same way)
        what = ("a broken symbolic link (or a loop), not a folder" if chunks.is_symlink()
                and not chunks.exists() else "not a folder")
        raise InputError(f"{what}: the run's finished chunks go there; delete the run "
                         "folder and run the scenario again", file=chunks, field="chunks")
    for name in (RESULTS, DESIGN, PATHS, ANNUAL, SUMMARY, "events.npz", "events.json",
                 "firm_results.parquet"):  # the merge rewrites them: a folder there fails it
        if (run_dir / name).exists() and not (run_dir / name).is_file():
            raise InputError(f"a folder (or other non-file) where the run's {name} belongs; "
                             "delete it and resume", file=run_dir / name, field=name)
    for f in (manifest.get("products") or {}).get("firms") or []:  # --firms, written at the end
        if not Path(f).is_file():
            raise InputError("a firm file the run was started with (--firms) is gone; restore "
                             "it, or start a new run", file=f, field="products.firms")
    firm_files = (manifest.get("products") or {}).get("firms") or []
    from riskmodel.batch.run_arrays import FIRM_RESULTS

    if firm_files and not (run_dir / FIRM_RESULTS).is_file():
        # the firm results are written after the chunks: a firm file edited since the run
        # started must fail now, naming it, before any chunk runs or the manifest is rewritten
        from riskmodel.firm.firm import load_firm
        from riskmodel.firm.inputs import check_firm_fits

        for f in firm_files:
            firm = load_firm(Path(f))
            for scn in plan.scenarios:
                check_firm_fits(firm, scn, firm_file=Path(f))
    verify_chunks(run_dir, plan, manifest)
    options = options or RunOptions()
    options.engine = manifest.get("engine", options.engine)
    with connect(options.scheduler) as client:
        for tmp in run_dir.rglob("*.tmp"):  # half-written files of a killed session
            tmp.unlink(missing_ok=True)
        # written once when the run began, read by nobody since: deleted or edited, the
        # finished run would hold no design, or one that never ran; the plan (checked above
        # against its hash, with its calibrations and catalogue) gives it again
        write_design(run_dir, plan)
        opts = replace(options, scheduler=client) if client is not None else options
        return _execute(run_dir, plan, manifest, opts, progress)


def check_inputs_unchanged(run_dir: Path, plan: ScenarioPlan, manifest: dict[str, Any]) -> None:
    """Refuse (naming the file) when a calibration or catalogue file the run resolved against
    changed or disappeared since the run began: finished chunks would mix two designs."""
    for key, now in (("calibrations", calibration_hashes(plan)),
                     ("catalogue", catalogue_hashes(plan))):
        then = manifest.get(key) or {}
        for name in sorted(set(then) | set(now)):
            if then.get(name) == now.get(name):
                continue
            what = ("is gone" if name not in now else "is new" if name not in then
                    else "changed")
            raise InputError(
                f"{what} since the run began (sha256 {str(then.get(name))[:12]} -> "
                f"{str(now.get(name))[:12]}): finished chunks would mix two designs; restore "
                "it or start a new run", file=name, field=key)


def check_fx_unchanged(manifest: dict[str, Any]) -> None:
    """A report converts a run's costs with calibrations/fx.json: refused when the file is
    not the one the run was made with (its sha256 in the manifest), as a resume is
    (:func:`check_inputs_unchanged`)."""
    path = config.CALIBRATIONS_DIR / "fx.json"
    then = (manifest.get("calibrations") or {}).get(_rel(path))
    now = sha256_file(path) if path.is_file() else None
    if then is not None and now != then:
        raise InputError(f"{'changed' if now else 'is gone'} since the run was made (sha256 "
                         f"{then[:12]} -> {str(now)[:12]}): the report would convert the run's "
                         "costs at other rates; restore it, or run the scenario again",
                         file=path, field="fx")


def check_engine(plan: ScenarioPlan, engine: str, compile_ahead: bool = True) -> None:
    """Resolve every sweep point (calibrations, catalogue, fx) with the engine before any
    folder is made, so a scenario the engine cannot run writes nothing. ``compile_ahead``: once
    the first point is resolved, let the engine start compiling what its chunks need
    (``engine.start_compile_ahead``: a cold numba cache only)."""
    for k, sc in enumerate(plan.scenarios):
        try:
            rs = resolve_scenario(engine, sc)
            if k == 0 and rs is not None and compile_ahead:
                # a cold numba cache: the kernel's callees start compiling now, while the
                # other points resolve and the run's folder is written
                ahead = getattr(load_engine(engine), "start_compile_ahead", None)
                if ahead is not None:
                    ahead(sc, rs)
        except InputError as exc:
            where = f" at sweep point {k} ({plan.point_label(k)})" if plan.sweep else ""
            raise InputError(f"{exc.reason}{where}", file=exc.file or plan.file,
                             field=exc.field) from None


def _scheduler_label(scheduler: Any) -> str | None:
    """The scheduler address of a client (or the address given)."""
    if scheduler is None or isinstance(scheduler, str):
        return scheduler
    return str(getattr(getattr(scheduler, "scheduler", None), "address", None) or scheduler)


def _execute(
    run_dir: Path,
    plan: ScenarioPlan,
    manifest: dict[str, Any],
    options: RunOptions,
    progress: ProgressSink | None,
) -> Path:
    lays = layouts(plan)
    done = finished_chunks(run_dir)
    grain_max = max(lay.grain for lay in lays)
    per_task = 1 if options.chunk_size is None else max(1, -(-options.chunk_size // grain_max))
    tasks = make_tasks(lays, done, per_task)
    session = len(manifest.get("sessions", []))
    n_jobs, why = effective_n_jobs(
        options.n_jobs, options.scheduler, options.engine,
        [(plan.scenarios[t.point], lays[t.point].bounds(c)[1]) for t in tasks for c in t.chunks],
    )
    info = {
        "session": session,
        "started": _now(),
        "finished": None,
        "backend": backend_name(n_jobs, options.scheduler),
        "n_jobs": n_jobs,
        "n_jobs_requested": options.n_jobs,
        "n_jobs_note": why,
        "scheduler": _scheduler_label(options.scheduler),
        "chunks_per_task": per_task,
        "tasks": len(tasks),
        "threads_per_worker": options.threads
        if options.threads is not None else default_threads(n_jobs, options.scheduler),
        "chunks_found": len(done),
        "chunks_run": sum(len(t.chunks) for t in tasks),
    }
    manifest.setdefault("sessions", []).append(info)
    manifest["status"] = "running"
    atomic_write_json(run_dir / MANIFEST, manifest)

    total = sum(lay.paths for lay in lays)
    done_paths = sum(lays[k].bounds(c)[1] for k, c in done if k < len(lays))
    if progress is not None:
        progress.start(total, done_paths)
    t0 = time.perf_counter()

    idents = [chunk_identity(manifest, plan, k, 0) for k in range(len(lays))]

    def on_result(task: Task, parts: list[tuple[int, Any]]) -> None:
        n = _store(run_dir, session, task, parts, lays[task.point], idents[task.point])
        if progress is not None:
            progress.advance(n)

    try:
        execute(tasks, plan.scenarios, lays, on_result, n_jobs=n_jobs,
                scheduler=options.scheduler, threads=options.threads, engine=options.engine)
        info["seconds"] = round(time.perf_counter() - t0, 3)
        info["finished"] = _now()
        finalize(run_dir, plan, manifest, options.engine)
    except Exception as exc:  # a run that fails part-way keeps its folder, marked failed
        mark_failed(run_dir, manifest, info, exc)
        raise RunFailed(f"failed part-way ({type(exc).__name__}: {exc}); the folder is kept "
                        f"with status 'failed'; finish it with riskmodel run --resume "
                        f"{run_dir}, or delete it", file=run_dir, field="run") from exc
    return run_dir


def mark_failed(run_dir: Path, manifest: dict[str, Any], info: dict[str, Any],
                exc: BaseException) -> None:
    """Record a failure in the manifest (status 'failed' and the reason) for ``runs list``."""
    info["finished"] = _now()
    manifest["status"] = "failed"
    manifest["error"] = f"{type(exc).__name__}: {exc}"
    atomic_write_json(run_dir / MANIFEST, manifest)


# --------------------------------------------------------------------------- merge


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _check_layout(path: Path, stats: Any) -> Any:
    """Refuse an engine chunk whose statistics have another layout than this version's (a run
    begun by an earlier riskmodel, resumed by this one) rather than fail inside the merge."""
    from riskmodel.sim import layout as L
    from riskmodel.sim.stats import ChunkStats

    if isinstance(stats, ChunkStats):
        width = np.shape(stats.s1)[-1] if np.ndim(stats.s1) else 0
        if width != L.NSTAT:
            raise DataError(f"chunk written by another version of riskmodel ({width} "
                            f"statistics, this version keeps {L.NSTAT}); delete it and resume "
                            "to recompute it", file=path)
    return stats


def _check_stats(path: Path, stats: Any, scenario: Any, chunk: int, first: int, size: int
                 ) -> None:
    """The statistics of riskmodel's engine (``ChunkStats``) must have the shapes its
    accumulators give one chunk of this scenario (``riskmodel.sim.kernel_args.accumulators``:
    3 variants, the markets plus their total, the years plus the horizon) and finite values;
    other engines' chunks (tests, ``RISKMODEL_ENGINE``) are theirs to check. None, a bit flip
    or a sliced array would otherwise be merged into NaN or shorter tables."""
    from riskmodel.sim import layout as L
    from riskmodel.sim.stats import ChunkStats

    if stats is None:
        raise DataError("no statistics (None); the chunk is damaged: delete it and resume to "
                        "recompute it", file=path, field="stats")
    if not isinstance(stats, ChunkStats):
        return
    _check_layout(path, stats)
    n, years, dpy = len(scenario.markets), scenario.horizon.years, scenario.horizon.days_per_year
    keep = max(0, min(scenario.simulation.keep_paths - first, size))
    want: dict[str, tuple[int, ...] | None] = {
        "s1": (1, 3, n + 1, years + 1, L.NSTAT), "s2": (1, 3, n + 1, years + 1, L.NSTAT),
        "s12": (1, n + 1, years + 1, L.NSTAT), "keep_price": (3, keep, n, years * dpy),
        "keep_bau": (keep, n, years * dpy)}
    for name in ("hp", "he", "annual"):  # shapes checked on their named axes only
        want[name] = None
    field, bad = "stats", ""
    for name, shape in want.items():
        arr = getattr(stats, name, None)
        if arr is None and name in ("hp", "he", "annual"):
            continue
        field = f"stats.{name}"
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
            bad = f"not an array of numbers ({type(arr).__name__})"
        elif shape is not None and arr.shape != shape:
            bad = f"shaped {arr.shape}, where one chunk of this run has {shape}"
        elif name in ("hp", "he") and (arr.ndim != 4 or arr.shape[:3] != (
                3, n + (name == "he"), years + 1) or (arr < 0).any()):
            bad = f"not this run's histogram counts (shaped {arr.shape})"
        elif name == "annual" and (arr.ndim != 5 or arr.shape[1:] != (3, size, n, years)):
            bad = f"shaped {arr.shape}, not [array, 3, {size}, {n}, {years}]"
        elif arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = f"{int((~np.isfinite(arr)).sum())} non-finite value(s)"
        if bad:
            break
    if not bad and (list(stats.chunk_ids) != [chunk] or list(stats.path_counts) != [size]
                    or stats.n_paths != size):
        field, bad = "stats", (f"chunks {stats.chunk_ids} of {stats.path_counts} paths, not "
                               f"chunk {chunk} of {size}")
    if bad:
        raise DataError(f"{bad}; the chunk is damaged: delete it and resume to recompute it",
                        file=path, field=field)


def _fold_in(parts: list[Any], part: Any) -> None:
    """Append a chunk's statistics, folding its histograms into the first chunk's as it is
    read (the engine's ``fold_in``) so the merge's memory does not grow with the chunk count;
    other engines' chunks are kept as they are."""
    from riskmodel.sim.stats import ChunkStats, fold_in

    if isinstance(part, ChunkStats) and all(isinstance(p, ChunkStats) for p in parts[:1]):
        fold_in(parts, part)
    else:
        parts.append(part)


def finalize(run_dir: Path, plan: ScenarioPlan, manifest: dict[str, Any], engine: str) -> None:
    """Merge every point's chunks in chunk order; write results, paths, summary, manifest."""
    eng = load_engine(engine)
    takes_resolved = "resolved" in inspect.signature(eng.merge_chunks).parameters
    lays = layouts(plan)
    frames: list[pd.DataFrame] = []
    paths: dict[str, np.ndarray] = {}
    annual: dict[str, np.ndarray] = {}
    texts: list[str] = []
    ledger: list[dict[str, Any]] = []
    notes: dict[str, list[int]] = {}
    for k, (sc, lay) in enumerate(zip(plan.scenarios, lays, strict=True)):
        parts = []
        for c in range(lay.n_chunks):
            f = chunk_file(run_dir, k, c)
            if not f.is_file():
                raise DataError("chunk missing from the ledger; resume the run", file=f)
            rec = _load_chunk(f)
            check_chunk(f, rec, chunk_identity(manifest, plan, k, c))
            check_record(f, rec, plan, k, c)
            _fold_in(parts, rec.pop("stats"))
            ledger.append({"point": k, "chunk": c, "first_path": rec["first_path"],
                           "n_paths": rec["n_paths"], "session": rec["session"],
                           "finished": rec["finished"], "sha256": sha256_file(f)})
        rs = resolve_scenario(engine, sc) if takes_resolved else None
        res = eng.merge_chunks(sc, parts, **({"resolved": rs} if rs is not None else {}))
        table = res.table.copy()
        table.insert(0, "sweep", plan.point_label(k))
        table.insert(0, "sweep_point", np.int32(k))
        table.insert(0, "scenario", plan.name)
        frames.append(table)
        for name, arr in (getattr(res, "paths", None) or {}).items():
            paths[f"p{k:04d}__{name}"] = np.asarray(arr)
        for name, arr in (getattr(res, "annual", None) or {}).items():
            annual[f"p{k:04d}__{name}"] = np.asarray(arr)
        head = f"## sweep point {k}: {plan.point_label(k)}" if plan.sweep is not None else ""
        texts.append("\n".join(x for x in (head, res.summary()) if x))
        for note in [*(getattr(res, "notes", None) or []), *guard_note(res)]:
            notes.setdefault(str(note), []).append(k)
    results = pd.concat(frames, ignore_index=True)
    results["sweep_point"] = results["sweep_point"].astype("int32")
    atomic_write_parquet(run_dir / RESULTS, results)
    outputs = {RESULTS: {"rows": len(results), "columns": list(results.columns)}}
    if paths:
        atomic_write_bytes(run_dir / PATHS, _npz_bytes(paths))
        outputs[PATHS] = {k: list(v.shape) for k, v in paths.items()}
    if annual:
        atomic_write_bytes(run_dir / ANNUAL, _npz_bytes(annual))
        outputs[ANNUAL] = {k: list(v.shape) for k, v in annual.items()}
    manifest["finished"] = _now()
    note_lines = [f"- {n}" + (f" (sweep points {', '.join(map(str, ks))})"
                               if plan.sweep is not None and len(ks) < len(lays) else "")
                  for n, ks in notes.items()]
    tail = "\n\nengine notes (assumed or repaired):\n" + "\n".join(note_lines) if notes else ""
    summary = summary_header(manifest, plan) + "\n\n" + "\n\n".join(texts) + tail + "\n"
    atomic_write_text(run_dir / SUMMARY, summary)
    outputs[SUMMARY] = {"lines": summary.count("\n")}
    manifest["status"] = "complete"
    manifest["ledger"] = {"chunks": len(ledger), "entries": ledger}
    manifest["outputs"] = outputs
    from riskmodel.batch.run_checks import record_digests

    record_digests(manifest, run_dir, outputs)
    manifest["engine_notes"] = notes
    atomic_write_json(run_dir / MANIFEST, manifest)


def guard_note(res: Any) -> list[str]:
    """The run's own count of each market's daily guard (``p_guard`` over the horizon: the
    share of the market's simulated days on which it clipped the price residual), beside each
    calibration's one-year share in the notes: the guard is a safety net, and a share above
    1e-4 says it shaped that market's tails. None from an engine without the statistic."""
    t = getattr(res, "table", None)
    if t is None or "p_guard" not in set(t["statistic"]):
        return []
    g = t[(t.statistic == "p_guard") & (t.year == -1) & (t.market != "total")]
    g = g[g.variant == g.variant.iloc[0]]  # the same in every variant (shared draws)
    pairs = list(zip(g.market, g.value, strict=True))
    over = [m for m, v in pairs if v >= 1e-4]
    verdict = (f"above 1e-4 in {', '.join(over)}: there it shaped the simulated tails"
               if over else "all below 1e-4")
    shares = ", ".join(f"{m} {v:.1e}" for m, v in pairs)
    return [f"this run: the daily guard acted on these shares of each market's simulated days "
            f"(p_guard): {shares} ({verdict})"]


def chunk_line(seed: dict[str, Any]) -> str:
    """``4 chunks of 500 paths`` / ``1 chunk of 200 paths`` / ``2 chunks (500 + 300 paths)``:
    the chunks as they ran (a chunk never holds more paths than the run)."""
    paths, grain = int(seed.get("paths") or 0), int(seed.get("paths_per_chunk") or 1)
    n = int(seed.get("n_chunks") or ChunkSpec(paths, grain).n_chunks)
    last = paths - (n - 1) * grain
    if n == 1:
        return f"1 chunk of {paths:,} paths"
    if last == grain:
        return f"{n} chunks of {grain:,} paths"
    head = f"{grain:,}" if n == 2 else f"{n - 1} x {grain:,}"
    return f"{n} chunks ({head} + {last:,} paths)"


def horizon_label(start_year: int, years: int) -> str:
    """``2024–2026 (3 compliance years)``."""
    end = start_year + years - 1
    span = f"{start_year}–{end}" if years > 1 else str(start_year)
    return f"{span} ({years} compliance year{'s' if years > 1 else ''})"


def summary_header(manifest: dict[str, Any], plan: ScenarioPlan) -> str:
    """First lines of ``summary.txt``: what ran, how much, how long."""
    seeds = manifest.get("seeds") or [{}]
    secs = sum(s.get("seconds", 0.0) for s in manifest.get("sessions", []))
    lines = [
        f"run {manifest['run_id']}  scenario {plan.name}",
        f"{plan.base.description.strip()}" if plan.base.description.strip() else "",
        f"paths {seeds[0].get('paths')} x {len(plan.scenarios)} sweep point(s), "
        f"seed {seeds[0].get('seed')}, {chunk_line(seeds[0])}; horizon "
        f"{horizon_label(plan.base.horizon.start_year, plan.base.horizon.years)}; simulated "
        f"in {secs:.1f}s over {len(manifest.get('sessions', []))} session(s)",
    ]
    lines += [f"workers: {s['n_jobs_note']}" for s in manifest.get("sessions", [])
              if s.get("n_jobs_note")]
    if plan.base.sources:
        lines.append("sources: " + "; ".join(plan.base.sources))
    return "\n".join(x for x in lines if x)


def describe(run_dir: str | Path) -> str:
    """A manifest as pretty JSON (for ``riskmodel runs show --manifest``)."""
    return to_json(read_manifest(run_dir))

