"""What a run keeps for firm reports, and reading it back.

With ``riskmodel run SCENARIO --keep-annual`` (or ``simulation.keep_annual: true``, or
``--firms``) every chunk carries the engine's per-path compliance-year arrays (``price``,
``bau``, ``supply``, ``emissions``, ``flow``, ``output``, ``price_autarky``, each
``[variant, path, market, year]``); the final merge concatenates them in chunk order into
``annual.npz`` (one key ``p<point>__<name>`` per sweep point and array) beside ``paths.npz`` (the
kept daily price paths for fan charts), so they are the same whatever the workers or
interruptions. ``report --run`` reads these files and never simulates; a run without them is
refused with the option to add. ``--keep-events`` also stores each regulatory event simulated
alone (``events.npz``, ``events.json``) for the reports' event sensitivities; without it a report
of the run shows the events' joint effect and says so. ``--firms`` (which implies both) also
writes ``firm_results.parquet`` beside
``results.parquet``: the firms' risk tables, one row per firm, sweep point, variant, year and
measure.
"""

from __future__ import annotations

import io
import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riskmodel import config
from riskmodel.batch.run_checks import check_digest, rebuild_advice
from riskmodel.batch.runner import (
    ANNUAL,
    MANIFEST,
    PATHS,
    SCHEMA,
    check_fx_unchanged,
    plan_hash,
    read_manifest,
)
from riskmodel.batch.scenario_file import (
    ScenarioPlan,
    check_simulation_as_written,
    plan_from_dict,
    plan_from_json,
    point_range,
)
from riskmodel.errors import DataError, InputError
from riskmodel.io import atomic_write_bytes, atomic_write_json, atomic_write_parquet, read_yaml
from riskmodel.sim.scenario import Scenario
from riskmodel.strict import short_repr

#: The option that makes a run keep what firm reports need.
KEEP_OPTION = "--keep-annual"
FIRM_RESULTS = "firm_results.parquet"
#: Single-event simulations for firm reports (``--keep-events``) and their index.
EVENTS = "events.npz"
EVENTS_INDEX = "events.json"
#: Default paths per single-event simulation.
EVENT_PATHS = 20_000
#: Arrays a firm report cannot do without.
NEEDED = ("price", "bau")


def load_plan_keeping_annual(path: str | Path, *, paths: int | None = None,
                             seed: int | None = None) -> ScenarioPlan:
    """A scenario file's plan with ``simulation.keep_annual`` switched on (every point)."""
    path = Path(path)
    if path.is_dir():
        raise InputError("expected a scenario YAML file, got a directory", file=path)
    data = read_yaml(path)
    if isinstance(data, dict):
        check_simulation_as_written(data, file=path)  # before keep_annual is set over it
        sim = data.setdefault("simulation", {})
        if isinstance(sim, dict):
            sim["keep_annual"] = True
    return plan_from_dict(data, file=path, paths=paths, seed=seed)


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _load_npz(path: Path, prefix: str, *, names: tuple[str, ...], shape: tuple[int, ...],
              label: str) -> dict[str, np.ndarray]:
    """The arrays ``names`` of one sweep point (prefix stripped), none larger than a float64
    array of ``shape`` (the largest the run stores there: its header is checked before it is
    read); a damaged file is one line."""
    from riskmodel.batch.run_checks import load_npz

    if path.exists() and not path.is_file():
        raise DataError(f"a folder (or other non-file) where the run's {path.name} belongs; "
                        f"{_DAMAGED}", file=path, field=path.stem)
    if not path.is_file():
        return {}
    arrays = load_npz(path, prefix=prefix, names=names, label=label,
                      max_bytes=int(np.prod(shape, dtype=np.int64)) * 8)
    return {k[len(prefix):]: v for k, v in arrays.items()}


def run_plan_of(run_dir: Path) -> ScenarioPlan:
    """The plan a run folder ran (from its manifest)."""
    return checked_plan(read_manifest(run_dir), run_dir)


def checked_plan(manifest: dict[str, Any], run_dir: Path) -> ScenarioPlan:
    """The manifest's plan, refused when it does not hash to the run's ``plan_hash`` (as a
    resume refuses it): an edited plan would read the run's arrays under a scenario (markets,
    currencies, years) that never made them. Manifests of older schemas are read as stored."""
    plan = plan_from_json(manifest["plan"])
    want = manifest.get("plan_hash")
    if manifest.get("schema") == SCHEMA and want is not None and plan_hash(plan) != want:
        raise DataError("does not match the run's plan_hash (one of them was edited after the "
                        "run): a report would read the run's arrays under a scenario that did "
                        "not make them; the manifest is damaged: delete the folder and run the "
                        "scenario again", file=run_dir / MANIFEST, field="plan")
    return plan


def _stored(manifest: dict[str, Any], name: str, prefix: str) -> bool:
    """Whether the run's merge wrote arrays of the sweep point ``prefix`` into ``name`` (the
    manifest's ``outputs``: the keys and shapes it wrote)."""
    entry = (manifest.get("outputs") or {}).get(name)
    return isinstance(entry, dict) and any(str(k).startswith(prefix) for k in entry)


def rerun_argument(plan: ScenarioPlan) -> str:
    """What to give ``riskmodel run`` to run a plan's scenario again: a library scenario's
    name, else its file as the run was given it (the scenario's ``name`` is no file name)."""
    if plan.file is None:
        return shlex.quote(plan.name)
    file = Path(plan.file)
    if file.suffix == ".yaml" and file.parent.resolve() == config.SCENARIOS_DIR.resolve():
        return shlex.quote(file.stem)
    return shlex.quote(str(file))


def point_arrays(run_dir: str | Path, point: int = 0, *, plan: ScenarioPlan | None = None,
                 precheck: Callable[[Scenario], None] | None = None
                 ) -> tuple[Scenario, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Scenario, annual arrays and kept daily paths of a finished run's sweep point.

    InputError when the point does not exist, ``precheck`` refuses its scenario, the run has
    not finished, or it kept no annual arrays (the message names ``--keep-annual``)."""
    d = Path(run_dir)
    manifest = read_manifest(d)
    plan = plan or checked_plan(manifest, d)
    if not 0 <= point < len(plan.scenarios):
        raise InputError(point_range("run", len(plan.scenarios), point), field="--point")
    if precheck is not None:
        precheck(plan.scenarios[point])
    if manifest.get("status") != "complete":
        raise InputError(f"the run has not finished; finish it with: riskmodel run --resume {d}",
                         file=d, field="RUN")
    check_fx_unchanged(manifest)
    prefix = f"p{point:04d}__"
    for name in (ANNUAL, PATHS):  # written by the merge, gone since: not 'kept none'
        if not (d / name).exists() and _stored(manifest, name, prefix):
            raise DataError(f"missing, though the run wrote it (its manifest lists the arrays); "
                            f"{_DAMAGED}", file=d / name, field=Path(name).stem)
    scn = plan.scenarios[point]
    nv, nm, years = len(scn.simulation.variants), len(scn.markets), scn.horizon.years
    annual = _load_npz(d / ANNUAL, prefix, names=(*NEEDED, "output"), label="annual.",
                       shape=(nv, scn.simulation.paths, nm, years))
    missing = [n for n in NEEDED if n not in annual]
    if missing:
        raise InputError(
            f"the run kept no per-path annual arrays ({', '.join(missing)}), which firm reports "
            f"read; run the scenario again with `riskmodel run {rerun_argument(plan)} "
            f"{KEEP_OPTION}`",
            file=d / ANNUAL, field="annual")
    _check_annual(annual, scn, scn.simulation.paths, d / ANNUAL, "annual.")
    check_digest(d / ANNUAL, manifest, field="annual", what_next=rebuild_advice(d))
    kept = min(scn.simulation.keep_paths, scn.simulation.paths)  # the engine keeps these
    paths = _load_npz(d / PATHS, prefix, names=NEEDED, label="paths.",
                      shape=(nv, kept, nm, years * scn.horizon.days_per_year))
    _check_kept_paths(paths, scn, d / PATHS)
    if paths:
        check_digest(d / PATHS, manifest, field="paths", what_next=rebuild_advice(d))
    return scn, annual, paths


_DAMAGED = "the stored arrays are damaged: delete the run and run it again"


def _check_annual(annual: dict[str, np.ndarray], scn: Scenario, n_paths: int, file: Path,
                  label: str) -> None:
    """Stored annual arrays are numbers shaped [variant, path, market, year], as the engine
    keeps them, and finite (the firm layer indexes and sums them)."""
    want = (len(scn.simulation.variants), n_paths, len(scn.markets), scn.horizon.years)
    for name in (*NEEDED, "output"):
        arr = annual.get(name)
        if arr is None:
            continue
        if arr.shape != want or arr.dtype.kind != "f":  # the engine keeps float64
            raise DataError(
                f"expected numbers shaped [variant, path, market, year] = {want}, got "
                f"{arr.dtype} {arr.shape}; {_DAMAGED}", file=file, field=f"{label}{name}")
        _check_values(arr, name, file, f"{label}{name}")


#: Arrays the engine stores at or above 0 (False) or above 0 (True): prices and BAU emissions,
#: output (a damaged file that kept its shape would be read into a firm's costs).
_POSITIVE = {"price": False, "bau": False, "output": True}


def _check_values(arr: np.ndarray, name: str, file: Path, field: str) -> None:
    if arr.dtype.itemsize != 8:  # float16, float32 (rounded), float128: not the engine's
        raise DataError(f"{arr.dtype} numbers, where the engine stores float64; {_DAMAGED}",
                        file=file, field=field)
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{int((~np.isfinite(arr)).sum())} non-finite value(s); {_DAMAGED}",
                        file=file, field=field)
    if name not in _POSITIVE:
        return
    strict = _POSITIVE[name]
    bad = arr <= 0.0 if strict else arr < 0.0
    what = "at or below 0" if strict else "below 0"
    if bad.any():
        raise DataError(f"{int(bad.sum())} value(s) {what} (the lowest {arr.min():.6g}), which "
                        f"the engine never stores; {_DAMAGED}", file=file, field=field)


def _check_kept_paths(paths: dict[str, np.ndarray], scn: Scenario, file: Path) -> None:
    """Kept daily paths are numbers shaped [variant, path, market, day] (prices) or [path,
    market, day] (BAU emissions)."""
    nv, nm = len(scn.simulation.variants), len(scn.markets)
    days = scn.horizon.years * scn.horizon.days_per_year
    for name, arr in paths.items():
        lead = (nv,) if name == "price" else ()
        ok = (arr.dtype.kind == "f" and arr.ndim == len(lead) + 3
              and arr.shape[:len(lead)] == lead and arr.shape[-2:] == (nm, days))
        if not ok:
            shape = "variant, path, market, day" if lead else "path, market, day"
            raise DataError(
                f"expected numbers shaped [{shape}] with {nm} market(s) and {days} days"
                f"{f' and {nv} variant(s)' if lead else ''}, got {arr.dtype} {arr.shape}; "
                f"{_DAMAGED}", file=file, field=f"paths.{name}")
        _check_values(arr, name, file, f"paths.{name}")


def write_event_arrays(run_dir: str | Path, *, paths: int | None = None) -> Path | None:
    """Simulate each regulatory event of every sweep point alone (variants ``linked`` and
    ``linked_events`` on the run's seed, so on common random numbers) and store their annual
    arrays in ``events.npz`` with ``events.json`` naming them; None when no point has events.
    Each is one whole simulation, deterministic in the seed like the run."""
    from riskmodel.firm.inputs import event_scenarios, simulate

    d = Path(run_dir)
    plan = run_plan_of(d)
    arrays: dict[str, np.ndarray] = {}
    index: dict[str, Any] = {"paths": None, "points": {}}
    for k, scn in enumerate(plan.scenarios):
        n = paths or min(scn.simulation.paths, EVENT_PATHS)
        names = []
        for i, (name, one) in enumerate(event_scenarios(scn, paths=n).items()):
            res = simulate(one)
            for arr_name in ("price", "bau", "output"):
                if arr_name in res.annual:
                    arrays[f"p{k:04d}__e{i:02d}__{arr_name}"] = np.asarray(res.annual[arr_name])
            names.append(name)
            index["paths"] = n
        index["points"][str(k)] = names
    if not arrays:
        return None
    atomic_write_bytes(d / EVENTS, _npz_bytes(arrays))
    return atomic_write_json(d / EVENTS_INDEX, index)


class EventsIndex(BaseModel):
    """``events.json`` (:func:`write_event_arrays`): paths per single-event simulation and,
    per sweep point, the names of its events in the order of ``events.npz``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    paths: Annotated[int, Field(ge=1, le=100_000_000)]  # simulation.paths' bound
    points: dict[str, list[str]]


def read_events_index(path: Path) -> EventsIndex:
    """A run's ``events.json``; a damaged one is one line naming it (like the array files)."""
    again = ("delete the run and run it again (reports read these arrays and never "
             "re-simulate)")
    from riskmodel.io import DuplicateKeyError, InputShapeError, check_shape, loads_unique

    try:
        obj = loads_unique(path.read_text(encoding="utf-8"))
        check_shape(obj)
    except UnicodeDecodeError:
        raise DataError(f"not UTF-8 text; {again}", file=path, field="events") from None
    except DuplicateKeyError as exc:  # json would keep the last (the events dropped)
        raise DataError(f"{exc}; {again}", file=path, field=f"line {exc.line}") from None
    except InputShapeError as exc:
        raise DataError(f"{exc.problem}; {again}", file=path,
                        field=f"events.{exc.where}" if exc.where else "events") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        what = f"{exc.msg}, line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) \
            else "nested too deeply"
        raise DataError(f"not valid JSON ({what}); {again}", file=path, field="events") from None
    except ValueError as exc:  # json's integer of over sys.get_int_max_str_digits() digits
        if "digits" not in str(exc):
            raise
        raise DataError(f"a number with thousands of digits; {again}", file=path,
                        field="events") from None
    try:
        return EventsIndex.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        msg = str(err["msg"])
        if err["type"] == "model_type":
            msg = "Input should be a JSON object"
        raise DataError(f"{msg[:1].lower()}{msg[1:]} (got {short_repr(err.get('input'))}); "
                        f"{again}", file=path, field=f"events{loc}") from None


def point_event_arrays(run_dir: Path, point: int
                       ) -> dict[str, tuple[Scenario, dict[str, np.ndarray]]] | None:
    """The stored single-event simulations of a sweep point: name → (scenario, annual arrays);
    None when the run stored none."""
    from riskmodel.firm.inputs import event_scenarios

    manifest = read_manifest(run_dir)
    have = {name: (run_dir / name).is_file() for name in (EVENTS, EVENTS_INDEX)}
    if not all(have.values()):
        gone = [name for name, ok in have.items() if not ok]
        if (manifest.get("products") or {}).get("events"):
            # written after the merge: gone since, or never written (a run killed then)
            raise DataError(f"missing, though the run was made with --keep-events (the report "
                            "would show the events' joint effect as if it was not); run riskmodel "
                            f"run --resume {run_dir} to simulate the events again",
                            file=run_dir / gone[0], field="events")
        if len(gone) == 1:  # one without the other: which arrays are which is lost
            raise DataError(f"missing beside {[n for n in have if n not in gone][0]}; delete the "
                            "run and run it again (reports read these arrays and never "
                            "re-simulate)", file=run_dir / gone[0], field="events")
        return None
    index = read_events_index(run_dir / EVENTS_INDEX)
    again = f"delete it and run riskmodel run --resume {run_dir} to simulate the events again"
    check_digest(run_dir / EVENTS_INDEX, manifest, field="events", what_next=again)
    plan = checked_plan(manifest, run_dir)
    odd = sorted(set(index.points) - {str(k) for k in range(len(plan.scenarios))})
    if odd:  # a point the run does not have: its events would be silently missing
        raise DataError(f"sweep point {odd[0]!r}, but the run has {len(plan.scenarios)} "
                        "point(s); delete the run and run it again", file=run_dir / EVENTS_INDEX,
                        field=f"events.points.{odd[0]}")
    names = index.points.get(str(point), [])
    scn = plan.scenarios[point]
    scns = event_scenarios(scn, paths=index.paths)
    if names != list(scns):  # the arrays are stored in this order: another would swap them
        raise DataError(f"sweep point {point} lists the events {names}, but its scenario's "
                        f"events, in the order the run stores them, are {list(scns)}; delete "
                        "the run and run it again",
                        file=run_dir / EVENTS_INDEX, field=f"events.points.{point}")
    out = {}
    for i, name in enumerate(names):
        one = scns[name]  # (every name is one of them: checked above)
        annual = _load_npz(run_dir / EVENTS, f"p{point:04d}__e{i:02d}__",
                           names=(*NEEDED, "output"), label=f"events.p{point:04d}__e{i:02d}__",
                           shape=(len(one.simulation.variants), index.paths, len(one.markets),
                                  one.horizon.years))
        if not all(n in annual for n in NEEDED):
            raise InputError(f"stored event {name!r} does not match the run's scenario",
                             file=run_dir / EVENTS, field="events")
        _check_annual(annual, scns[name], index.paths, run_dir / EVENTS,
                      f"events.p{point:04d}__e{i:02d}__")
        out[name] = (scns[name], annual)
    if out:
        check_digest(run_dir / EVENTS, manifest, field="events", what_next=again)
    return out


def firm_results(run_dir: str | Path, firm_files: list[Path]) -> pd.DataFrame:
    """Every firm's risk table on every sweep point of a run (read once, no simulation);
    money in million of each firm's reporting currency, with a unit column."""
    from riskmodel.firm.cost import firm_costs
    from riskmodel.firm.firm import load_firm
    from riskmodel.firm.inputs import inputs_from_arrays
    from riskmodel.firm.units import unit_of

    d = Path(run_dir)
    plan = run_plan_of(d)
    firms = [(Path(p), load_firm(p)) for p in firm_files]
    frames = []
    for k in range(len(plan.scenarios)):
        scn, annual, kept = point_arrays(d, k, plan=plan)
        for path, firm in firms:
            inputs = inputs_from_arrays(firm, scn, annual, kept, source=f"run {d.name}",
                                        firm_file=path)
            r = firm_costs(inputs.firm, inputs.market, fx=inputs.fx, currency=inputs.currency)
            t = r.table.copy()
            t.insert(0, "sweep_point", np.int32(k))
            t.insert(0, "firm", path.stem)
            t["unit"] = [unit_of(m, r.currency, market_currency=inputs.market.currency)
                         for m in t["measure"]]
            frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_firm_results(run_dir: str | Path, firm_files: list[Path]) -> Path:
    """Write ``firm_results.parquet`` into the run folder (atomically)."""
    d = Path(run_dir)
    return atomic_write_parquet(d / FIRM_RESULTS, firm_results(d, firm_files))


def finish_products(run_dir: str | Path) -> list[str]:
    """Write what the run's manifest asked for beyond the tables and is not there yet: the
    single-event arrays (``--keep-events``) and the firm results (``--firms``). A run killed
    after its chunks but before these, then resumed, ends with them as if never interrupted.
    Returns the names written."""

    d = Path(run_dir)
    manifest = read_manifest(d)
    products = manifest.get("products") or {}
    written = []
    if products.get("events") and not ((d / EVENTS).is_file() and (d / EVENTS_INDEX).is_file()):
        if write_event_arrays(d) is not None:
            written += [EVENTS, EVENTS_INDEX]
    firms = products.get("firms")
    if firms and not (d / FIRM_RESULTS).is_file():
        write_firm_results(d, [Path(f) for f in firms])
        written.append(FIRM_RESULTS)
    if written:  # their digests beside the merge's (readers check them)
        from riskmodel.batch.run_checks import record_digests

        record_digests(manifest, d, written)
        atomic_write_json(d / MANIFEST, manifest)
    return written
