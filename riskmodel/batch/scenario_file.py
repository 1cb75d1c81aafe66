"""Scenario files: YAML → validated ``Scenario`` plus a sweep → one ``Scenario`` per sweep point.

A scenario file is a ``Scenario`` mapping (``riskmodel.sim.scenario``) with an optional
top-level ``sweep:`` block over any numeric scalar field, addressed by a dotted path with list
indices (``links[0].quota.share``; a market may be addressed by id, ``markets[k_ets].collar.floor``;
a key of a mapping field, ``fundamentals.output_emissions_corr.k_ets``)::

    sweep:
      grid:                       # cartesian product, first path varies slowest
        links[0].quota.share: [0.1, 0.3, 0.5]
        fundamentals.output_emissions_corr.k_ets: {start: 0.2, stop: 0.8, num: 3}
    # or
    sweep:
      list:                       # explicit points
        - {"links[0].quota.share": 0.1}      # quoted: [ ] inside { } is YAML syntax
        - {"links[0].quota.share": 0.9, "links[0].fee": 2.0}

Everything is validated here, before anything is written: the schema, the catalogue ids, the
calibration files a scenario names, and every sweep point (each point is re-validated as a whole
scenario, so a point that breaks a rule, e.g. a floor above the ceiling, is reported with its
sweep path). Errors are ``InputError`` naming the file and the dotted field.

The user's words are kept apart from the design that runs: a plan holds each point's *user form*
(:func:`user_form`, only the fields the file sets; a sweep point is the base's user form with its
paths set), and the manifest stores that sparse form. What the catalogue and the calibrations
supply is filled in later, in one place (``riskmodel.sim.resolve``), so a sweep point resolves
exactly as the same file with that field written out by hand.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.io import read_yaml
from riskmodel.sim.scenario import Scenario, check_markets_known, scenario_from_dict
from riskmodel.strict import short_repr

#: Top-level keys of a scenario file that are not ``Scenario`` fields.
FILE_ONLY_KEYS = ("sweep",)
#: Most sweep points one file may ask for (a guard against a typo exploding a grid).
MAX_SWEEP_POINTS = 10_000

_TOKEN = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


@dataclass
class ScenarioPlan:
    """A validated scenario file: the base scenario and one scenario per sweep point."""

    base: Scenario
    #: One mapping path -> value per sweep point; ``[{}]`` without a sweep.
    points: list[dict[str, float]]
    scenarios: list[Scenario]
    file: Path | None = None
    sweep: dict[str, Any] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.base.name

    def point_label(self, k: int) -> str:
        """``path=value, ...`` for sweep point k (``base`` without a sweep)."""
        pt = self.points[k]
        return ", ".join(f"{p}={show_value(v)}" for p, v in pt.items()) or "base"

    def point_form(self, k: int) -> dict[str, Any]:
        """The user form of sweep point k (what the user set, with the point's paths set)."""
        return user_form(self.scenarios[k])

    def scenario_hash(self, k: int) -> str:
        """SHA-256 of sweep point k's user form and point values (a chunk's identity)."""
        return form_hash(self.point_form(k), self.points[k])

    def to_json(self) -> dict[str, Any]:
        """The plan in the user's words (for the run manifest; ``plan_from_json`` reads it back):
        the sparse user form of the base scenario, the sweep block and the CLI overrides."""
        return {
            "file": str(self.file) if self.file is not None else None,
            "form": "user",
            "scenario": user_form(self.base),
            "sweep": self.sweep,
            "overrides": self.overrides,
            "points": self.points,
        }


def user_form(scenario: Scenario) -> dict[str, Any]:
    """The fields a user set (explicitly, at any depth), as plain JSON data.

    Validating this mapping again gives the same scenario with the same set fields, so
    ``resolve`` fills the same values from the catalogue and the calibrations."""
    return scenario.model_dump(mode="json", exclude_unset=True)


def form_hash(form: dict[str, Any], point: dict[str, Any] | None = None) -> str:
    """SHA-256 of a user form (and sweep point), independent of key order."""
    body = json.dumps({"scenario": form, "point": point or {}}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


# --------------------------------------------------------------------------- loading


def point_range(what: str, n: int, point: int) -> str:
    """The message refusing ``--point`` ``point`` of a run or scenario of ``n`` sweep points
    (numbered from 0, so "has 1 sweep point; got 1" named no problem one could see)."""
    if n == 1:
        return (f"the {what} has one sweep point, point 0: give --point 0 or leave it out "
                f"(got {point})")
    return f"the {what} has {n} sweep points, numbered 0 to {n - 1} (got {point})"


def load_scenario_file(
    path: str | Path,
    *,
    paths: int | None = None,
    seed: int | None = None,
    check_calibrations: bool = True,
) -> ScenarioPlan:
    """Read, validate and expand a scenario file; ``paths`` / ``seed`` override the file's."""
    path = Path(path)
    if path.is_dir():
        raise InputError("expected a scenario YAML file, got a directory", file=path)
    data = read_yaml(path)
    return plan_from_dict(
        data, file=path, paths=paths, seed=seed, check_calibrations=check_calibrations
    )


def _events_act(plan: ScenarioPlan, file: str | Path | None) -> ScenarioPlan:
    """Every regulatory event of a user's scenario can act (derived single-event scenarios,
    which switch parts off on purpose, are not read from files)."""
    from riskmodel.sim.design_checks import events_that_cannot_act

    for k, scn in enumerate(plan.scenarios):
        problem = events_that_cannot_act(scn)
        if problem is not None:
            at = f" at sweep point {k}" if len(plan.scenarios) > 1 else ""
            raise InputError(f"{problem[1]}{at}", file=file, field=problem[0])
    return plan


def _settings_act(plan: ScenarioPlan, file: str | Path | None) -> ScenarioPlan:
    """A market setting that can act at no sweep point is refused (an offset price with
    offsets off). One that acts at some point is kept: a sweep over ``offset_limit_share``
    from 0 switches offsets off and on, and a sweep cannot unset the price at its 0 point."""
    from riskmodel.sim.design_checks import unused_settings

    # a field that acts at no point that sets it (one point's closed link is another point's
    # open one; a sweep.list point may set a field no other point has, and there it never acted)
    per_point = [dict(unused_settings(scn)) for scn in plan.scenarios]
    n = len(per_point)
    forms: dict[int, Any] = {}  # user forms, made only for points asked about

    def sets(k: int, fld: str) -> bool:
        if k not in forms:
            forms[k] = plan.point_form(k)
        return _sets(forms[k], fld)

    for fld in dict.fromkeys(f for p in per_point for f in p):
        setting = [k for k in range(n) if fld in per_point[k] or sets(k, fld)]
        if any(fld not in per_point[k] for k in setting):
            continue
        what = next(per_point[k][fld] for k in setting)
        if n > 1 and len(setting) == n:
            what = what.replace("never acts", "never acts at any sweep point", 1)
        elif n > 1:
            many = len(setting) > 1
            at = ", ".join(str(k) for k in setting)
            what = what.replace("never acts", f"never acts at sweep point{'s' * many} {at}, the "
                                f"only {'ones that set' if many else 'one that sets'} it", 1)
        raise InputError(what, file=file, field=fld)
    return plan


def _sets(form: Any, path: str) -> bool:
    """Whether a user form (``user_form``) holds ``path`` (``markets[0].collar.reserve_up``)."""
    node = form
    for tok in parse_path(path):
        if isinstance(tok, int):
            if not isinstance(node, list) or not 0 <= tok < len(node):
                return False
            node = node[tok]
        elif isinstance(node, dict) and tok in node:
            node = node[tok]
        else:
            return False
    return True


def plan_from_dict(
    data: Any,
    *,
    file: str | Path | None = None,
    paths: int | None = None,
    seed: int | None = None,
    check_calibrations: bool = True,
    check_settings: bool = True,
) -> ScenarioPlan:
    """Validate a parsed scenario mapping (with an optional ``sweep``) into a ``ScenarioPlan``.

    ``check_settings``: refuse a market setting that can act at no sweep point (a user's
    file; off for a run's manifest, which records what ran)."""
    if not isinstance(data, dict):
        raise InputError("a scenario file must be a mapping of fields", file=file)
    data = copy.deepcopy(data)
    sweep = data.pop("sweep", None)
    overrides: dict[str, Any] = {}
    if paths is not None or seed is not None:
        check_simulation_as_written(data, file=file)
    for key, val in (("paths", paths), ("seed", seed)):
        if val is not None:
            sim = data.setdefault("simulation", {})
            if not isinstance(sim, dict):
                raise InputError("must be a mapping", file=file, field="simulation")
            sim[key] = val
            overrides[f"simulation.{key}"] = val
    base = scenario_from_dict(data, file=file)
    check_markets_known(base, file=file)
    if check_calibrations:
        check_calibration_files(base, file=file)
        pin_calibration_paths(base, file=file)
    points = expand_sweep(sweep, base, file=file)
    _check_overrides_not_swept(points, base, overrides)
    scenarios = [apply_point(base, pt, file=file, check_calibrations=check_calibrations)
                 for pt in points] if sweep is not None else [base]
    plan = _events_act(ScenarioPlan(
        base=base, points=points, scenarios=scenarios, file=Path(file) if file else None,
        sweep=sweep, overrides=overrides,
    ), file)
    return _settings_act(plan, file) if check_settings else plan


def check_simulation_as_written(data: dict[str, Any], *, file: str | Path | None = None
                                ) -> None:
    """The file's ``simulation`` block validated as written, before a command-line option
    replaces one of its values (``--paths`` over ``paths: -5`` ran, and the file's error
    surfaced only on the next run without the option)."""
    from pydantic import ValidationError

    from riskmodel.sim.scenario import SimulationSpec, format_validation_error

    sim = data.get("simulation")
    if not isinstance(sim, dict):
        return  # the scenario's own validation says what is wrong with it
    try:
        SimulationSpec.model_validate(sim)
    except ValidationError as exc:
        err = format_validation_error(exc, file=file)
        raise InputError(err.reason, file=file,
                         field=f"simulation.{err.field}" if err.field else "simulation") from None


#: Command-line options that set a simulation field (``--paths`` sets simulation.paths).
OVERRIDE_OPTIONS = {"simulation.paths": "--paths", "simulation.seed": "--seed"}


def _check_overrides_not_swept(points: list[dict[str, Any]], base: Scenario,
                               overrides: dict[str, Any]) -> None:
    """A sweep over a field the command line also sets (``simulation.paths`` and ``--paths``)
    would silently override the option at its points (``--paths 20`` then ran 1e8 paths):
    refused, naming the option."""
    for k, point in enumerate(points):
        for p in point:
            key = canonical_path(base, p)
            if key in overrides:
                opt = OVERRIDE_OPTIONS.get(key, key)
                raise InputError(
                    f"the scenario file's sweep sets {key} (sweep point {k}: {p}="
                    f"{show_value(point[p])}), which {opt} cannot override: drop {opt} or "
                    f"the sweep over {key}", field=opt)


def plan_from_json(obj: dict[str, Any]) -> ScenarioPlan:
    """Rebuild a plan from ``ScenarioPlan.to_json`` (a run's manifest), re-validating it.

    Manifests before the user form (no ``"form": "user"``) stored a full dump of the scenario,
    which marks every field as set; they are read as stored (``resume`` refuses them)."""
    file = obj.get("file")
    data = dict(obj["scenario"])
    if obj.get("sweep") is not None:
        data["sweep"] = obj["sweep"]
    # what ran is read as it ran: a run's settings are not refused after the fact (and a
    # manifest before the user form marks every default as set, kets_probability included)
    plan = plan_from_dict(data, file=file, check_calibrations=False, check_settings=False)
    plan.overrides = dict(obj.get("overrides") or {})
    return plan


def calibration_path(name: str, *, base_dir: Path | None = None) -> Path:
    """Where a calibration reference points: a market id, a file name, or a path."""
    p = Path(name)
    if p.suffix != ".json":
        p = p.with_name(p.name + ".json")
    if p.is_absolute():
        return p
    cands = [config.CALIBRATIONS_DIR / p]
    if base_dir is not None:
        cands.insert(0, base_dir / p)
    for c in cands:
        # a folder of that name is reported as such (not as missing), and a broken or looping
        # link as that (not passed over for a file of the name in calibrations/)
        if c.exists() or c.is_symlink():
            return c
    return cands[-1]


def scenario_calibrations(
    scenario: Scenario, *, base_dir: Path | None = None
) -> dict[str, tuple[str, Path]]:
    """Calibration files a scenario needs: dotted field -> (reference, path)."""
    out: dict[str, tuple[str, Path]] = {}
    for k, m in enumerate(scenario.markets):
        if m.process is not None:
            continue
        ref = m.calibration or m.id
        out[f"markets[{k}].calibration"] = (ref, calibration_path(ref, base_dir=base_dir))
    for fld, ref in (
        ("fundamentals.calibration", scenario.fundamentals.calibration),
        ("dependence.calibration", scenario.dependence.calibration),
    ):
        if ref is not None:
            out[fld] = (ref, calibration_path(ref, base_dir=base_dir))
    return out


def check_calibration_files(scenario: Scenario, *, file: str | Path | None = None) -> None:
    """Every calibration a scenario names (explicitly or by market id) must exist."""
    base_dir = Path(file).parent if file is not None else None
    for fld, (ref, path) in scenario_calibrations(scenario, base_dir=base_dir).items():
        if path.is_dir():
            raise InputError(f"{path} is a folder, not a calibration file", file=file, field=fld)
        if path.is_symlink() and not path.exists():
            shown = (f"{config.CALIBRATIONS_DIR.name}/{path.relative_to(config.CALIBRATIONS_DIR)}"
                     if path.is_relative_to(config.CALIBRATIONS_DIR) else str(path))
            raise InputError(f"{shown} is a broken or looping symbolic link", file=file,
                             field=fld)
        if path.exists() and not path.is_file():
            raise InputError(f"{path} is not a regular file (a device or a pipe)", file=file,
                             field=fld)
        if not path.is_file():
            hint = "; or give the market an inline process" if fld.startswith("markets[") else ""
            if Path(ref).is_absolute():  # a path: say which
                raise InputError(f"no calibration file {path}{hint}", file=file, field=fld)
            if len(Path(ref).parts) > 1:
                raise InputError(f"no calibration file {path.relative_to(config.CALIBRATIONS_DIR)} "
                                 f"beside the scenario or in {config.CALIBRATIONS_DIR.name}/"
                                 f"{hint}", file=file, field=fld)
            have = sorted(p.stem for p in config.CALIBRATIONS_DIR.glob("*.json")
                          if p.stem not in config.NOT_MARKET_CALIBRATIONS)
            listed = f"; available: {', '.join(have) or 'none'}" if hint else ""
            raise InputError(
                f"unknown calibration {ref!r} (no {path.name} in {config.CALIBRATIONS_DIR.name}/"
                f"{listed}{hint})",
                file=file,
                field=fld,
            )


def _engine_reads(ref: str, market: bool) -> Path:
    """The file ``sim.resolve`` opens for a calibration reference: a market's ``x.json`` or a
    shared calibration's path from the working directory, a market id from calibrations/."""
    if market and Path(ref).suffix != ".json":
        return config.CALIBRATIONS_DIR / f"{ref}.json"
    return Path(ref)


def pin_calibration_paths(scenario: Scenario, *, file: str | Path | None = None) -> None:
    """Point every calibration reference at the file the checks and the manifest's hashes
    read (``calibration_path``: beside the scenario first, then calibrations/) wherever the
    engine would open another one (a scenario in another folder naming ``cal.json`` beside it),
    so that the run simulates the file it hashes. References that already agree stay as
    written."""
    base_dir = Path(file).parent if file is not None else None
    for fld, (ref, path) in scenario_calibrations(scenario, base_dir=base_dir).items():
        reads = _engine_reads(ref, fld.startswith("markets["))
        if path.is_file() and not (reads.is_file() and reads.resolve() == path.resolve()):
            head = fld.partition(".")[0]  # markets[k], fundamentals or dependence
            owner = (scenario.markets[int(head.removeprefix("markets[").rstrip("]"))]
                     if head.startswith("markets[") else getattr(scenario, head))
            owner.calibration = str(path.resolve())


# --------------------------------------------------------------------------- sweeps


def expand_sweep(
    sweep: Any, base: Scenario, *, file: str | Path | None = None
) -> list[dict[str, float]]:
    """The sweep points of a ``sweep:`` block (``[{}]`` when there is none)."""
    if sweep is None:
        return [{}]
    if not isinstance(sweep, dict) or set(sweep) - {"grid", "list"} or len(sweep) != 1:
        raise InputError(
            "must be a mapping with exactly one of 'grid' (path: values) or 'list' "
            "(a list of {path: value} points)",
            file=file,
            field="sweep",
        )
    kind, body = next(iter(sweep.items()))
    if kind == "grid":
        if not isinstance(body, dict) or not body:
            raise InputError("must map at least one field path to a list of values",
                             file=file, field="sweep.grid")
        axes: list[tuple[str, list[float]]] = []
        seen: dict[str, str] = {}
        for p, vals in body.items():
            if p is None:  # YAML's ~ (or an empty key)
                raise InputError("a field path is null; give the dotted path of a field",
                                 file=file, field="sweep.grid")
            where = f"sweep.grid.{p}"
            words = check_sweep_path(base, str(p), file=file, where=where)
            _once(seen, base, str(p), file=file, where=where, prefix="sweep.grid.")
            axes.append((str(p), _values(vals, file=file, where=where, words=words)))
        n = math.prod(len(v) for _, v in axes)  # a Python int: numpy's int64 could wrap
        if n > MAX_SWEEP_POINTS:
            raise InputError(f"{n} points is more than {MAX_SWEEP_POINTS}", file=file,
                             field="sweep.grid")
        names = [p for p, _ in axes]
        return [dict(zip(names, combo, strict=True))
                for combo in itertools.product(*(v for _, v in axes))]
    if not isinstance(body, list) or not body:
        raise InputError("must be a non-empty list of {path: value} points", file=file,
                         field="sweep.list")
    if len(body) > MAX_SWEEP_POINTS:
        raise InputError(f"{len(body)} points is more than {MAX_SWEEP_POINTS}", file=file,
                         field="sweep.list")
    points: list[dict[str, float]] = []
    canon: list[dict[str, Any]] = []
    for i, pt in enumerate(body):
        if not isinstance(pt, dict) or not pt:
            raise InputError("a point must be a non-empty mapping {path: value}", file=file,
                             field=f"sweep.list[{i}]")
        point: dict[str, float] = {}
        seen = {}
        for p, v in pt.items():
            where = f"sweep.list[{i}].{p}"
            words = check_sweep_path(base, str(p), file=file, where=where)
            _once(seen, base, str(p), file=file, where=where, prefix=f"sweep.list[{i}].")
            point[str(p)] = _number(v, file=file, where=where, words=words)
        same = {canonical_path(base, p): v for p, v in point.items()}  # spelling aside
        if same in canon:
            raise InputError(f"the same point as sweep.list[{canon.index(same)}]", file=file,
                             field=f"sweep.list[{i}]")
        points.append(point)
        canon.append(same)
    return points


def canonical_path(base: Scenario, path: str) -> str:
    """One spelling of a field path (``markets[north].collar.floor`` and ``markets[-2]...``
    are ``markets[0].collar.floor``): list elements by their position in ``base``. The path
    must have passed :func:`check_sweep_path`."""
    obj: Any = base
    out = ""
    for tok in parse_path(path):
        if isinstance(obj, list):
            idx = _index(obj, tok)
            idx = idx % len(obj) if idx is not None else None  # markets[-1]: the last
            obj = obj[idx] if idx is not None else None
            out += f"[{idx if idx is not None else tok}]"
            continue
        out += f".{tok}" if out else str(tok)
        obj = obj.get(tok) if isinstance(obj, dict) else getattr(obj, str(tok), None)
    return out


def _once(seen: dict[str, str], base: Scenario, path: str, *, file: str | Path | None,
          where: str, prefix: str) -> None:
    """A field swept under two spellings (``markets[0]`` and ``markets[north]``) would be set
    twice in every point, the second value silently winning: refused."""
    key = canonical_path(base, path)
    if key in seen:
        raise InputError(f"the same field as {prefix}{seen[key]} (both are {key}); sweep it "
                         "once", file=file, field=where)
    seen[key] = path


def show_value(v: Any) -> str:
    """A sweep value as a label shows it (numbers with ``:g``, words as they are)."""
    return v if isinstance(v, str) else f"{v:g}"


def _number(v: Any, *, file: str | Path | None, where: str,
            words: tuple[str, ...] | None = None) -> Any:
    """A finite number, or, for a field with named states (``links[0].state``), one of them."""
    if words is not None:
        if v not in words:
            raise InputError(f"must be one of {', '.join(words)} (got {v!r})", file=file,
                             field=where)
        return v
    if isinstance(v, bool) or not isinstance(v, int | float) or not _finite(v):
        hint = ""
        if isinstance(v, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", v.strip()):
            hint = "; YAML reads 1e6 as text: write 1.0e+6"
        raise InputError(f"sweep values must be finite numbers (got {short_repr(v)}{hint})",
                         file=file, field=where)
    return v


def _finite(v: int | float) -> bool:
    """A finite number: an integer too large for a float (a 400-digit typo) is not."""
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def _values(vals: Any, *, file: str | Path | None, where: str,
            words: tuple[str, ...] | None = None) -> list[Any]:
    """A list of numbers (or of a state field's words), or ``{start, stop, num}``."""
    if isinstance(vals, dict) and words is None:
        if set(vals) != {"start", "stop", "num"}:
            raise InputError("a range needs exactly start, stop and num", file=file, field=where)
        start = _number(vals["start"], file=file, where=f"{where}.start")
        stop = _number(vals["stop"], file=file, where=f"{where}.stop")
        num = vals["num"]
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise InputError(f"num must be a positive integer (got {num!r})", file=file,
                             field=f"{where}.num")
        if num == 1 and start != stop:  # linspace gives [start]: the stop would be dropped
            raise InputError(f"num 1 gives the start {short_repr(start)} only, and the stop "
                             f"{short_repr(stop)} would be dropped; give num 2 or more, or "
                             f"a list of values ([{short_repr(start)}])", file=file,
                             field=f"{where}.num")
        if num > MAX_SWEEP_POINTS:  # refused before numpy allocates the axis
            raise InputError(f"{num} points is more than {MAX_SWEEP_POINTS}", file=file,
                             field=f"{where}.num")
        if not math.isfinite(float(stop) - float(start)):  # numpy would warn and give NaN
            raise InputError(f"the range {short_repr(start)}..{short_repr(stop)} is wider than "
                             "a float can hold (its width overflows beyond 1.8e308); narrow it",
                             file=file, field=where)
        whole = [v for v in (start, stop) if isinstance(v, int) and not isinstance(v, bool)]
        if len(whole) == 2 and (num == 1 or (stop - start) % (num - 1) == 0):
            step = 0 if num == 1 else (stop - start) // (num - 1)  # exact: whole-number fields
            out = [start + k * step for k in range(num)]  # (paths, seed, years) stay whole
        else:
            out = [round(float(x), 12) for x in np.linspace(start, stop, num)]
        if len(set(out)) != len(out):
            why = ("start equals stop with num" if start == stop else
                   "the step is below 1e-12, where the values are rounded; num")
            raise InputError(f"values repeat ({why} {num})", file=file, field=where)
        return out
    if not isinstance(vals, list) or not vals:
        raise InputError("must be a non-empty list of numbers or {start, stop, num}",
                         file=file, field=where)
    out = [_number(v, file=file, where=f"{where}[{i}]", words=words)
           for i, v in enumerate(vals)]
    if len(set(out)) != len(out):
        raise InputError("values repeat", file=file, field=where)
    return out


def parse_path(path: str) -> list[str | int]:
    """``a.b[0].c`` -> ``['a', 'b', 0, 'c']`` (non-integer brackets stay strings)."""
    tokens: list[str | int] = []
    pos = 0
    for m in _TOKEN.finditer(path):
        gap = path[pos : m.start()]
        if gap not in ("", "."):
            raise ValueError(f"cannot parse field path {path!r}")
        pos = m.end()
        name, idx = m.group(1), m.group(2)
        if name is not None:
            tokens.append(name)
        else:
            tokens.append(int(idx) if re.fullmatch(r"-?\d+", idx) else idx)
    if not tokens or path[pos:] != "" or path.endswith("."):
        raise ValueError(f"cannot parse field path {path!r}")
    return tokens


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """Strip Annotated / Optional; returns (type, nullable)."""
    nullable = False
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            nullable = nullable or len(args) < len(typing.get_args(tp))
            if len(args) != 1:
                return tp, nullable
            tp = args[0]
        else:
            return tp, nullable


def _numeric(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, int | float) and not issubclass(tp, bool)


def check_sweep_path(
    base: Scenario, path: str, *, file: str | Path | None = None, where: str | None = None
) -> tuple[str, ...] | None:
    """The path must lead to a numeric scalar field of the scenario schema, or to a field with
    named states (``links[0].state``: open / closed), and list indices or market ids must exist
    in ``base``. Returns the allowed words of a state field, None for a numeric one."""
    where = where or f"sweep.{path}"
    try:
        tokens = parse_path(path)
    except ValueError as exc:
        raise InputError(str(exc), file=file, field=where) from None
    tp: Any = Scenario
    obj: Any = base
    walked: list[str] = []
    for tok in tokens:
        tp, _ = _unwrap(tp)
        origin = typing.get_origin(tp)
        here = ".".join(walked).replace(".[", "[") or "scenario"
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if not isinstance(tok, str) or tok not in tp.model_fields:
                allowed = ", ".join(tp.model_fields)
                shown = "null" if tok is None or tok == "None" else repr(tok)
                raise InputError(f"{here} has no field {shown} (fields: {allowed})",
                                 file=file, field=where)
            tp = tp.model_fields[tok].annotation
            obj = getattr(obj, tok, None) if obj is not None else None
        elif origin is list:
            seq = obj if isinstance(obj, list) else []
            idx = _index(seq, tok)
            if idx is None:
                elem = typing.get_args(tp)[0]
                by_id = isinstance(elem, type) and issubclass(elem, BaseModel) and \
                    "id" in elem.model_fields
                n = len(seq)
                if by_id and not isinstance(tok, int):
                    ids = ", ".join(str(getattr(el, "id", "?")) for el in seq)
                    why = f" (its ids: {ids})" if seq else " (it has none)"
                elif not isinstance(tok, int):  # links[north-south]: no id to match
                    span = (f": {here}[0]" if n == 1 else f": {here}[0] to {here}[{n - 1}]"
                            if n else "")
                    why = (f": its elements are addressed by number (it has "
                           f"{n or 'none'}{span})")
                else:
                    why = f" (it has {n})"
                raise InputError(f"{here} has no element [{tok}]{why}",
                                 file=file, field=where)
            tp = typing.get_args(tp)[0]
            obj = seq[idx]
        elif origin is dict:
            if not isinstance(tok, str):
                raise InputError(f"{here} is a mapping; use .key, not [{tok}]", file=file,
                                 field=where)
            tp = typing.get_args(tp)[1]
            obj = obj.get(tok) if isinstance(obj, dict) else None
        else:
            raise InputError(f"{here} is a scalar; it has no part {tok!r}", file=file,
                             field=where)
        walked.append(f"[{tok}]" if isinstance(tok, int) else str(tok))
    tp, _ = _unwrap(tp)
    words = typing.get_args(tp) if typing.get_origin(tp) is typing.Literal else ()
    if words and all(isinstance(w, str) for w in words):
        return tuple(words)
    if not _numeric(tp):
        raise InputError(f"can only sweep numeric fields or fields with named states; {path} "
                         f"is {_kind_in_words(tp)}", file=file, field=where)
    return None


def _kind_in_words(tp: Any) -> str:
    """What a schema type is, in a user's words (not ``Any`` or ``float | str | None``)."""
    if tp is Any:
        return "a free-form value (a mapping or list of the calibration form)"
    origin = typing.get_origin(tp)
    if origin is list:
        return "a list"
    if origin is dict:
        return "a mapping"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "a block of fields (sweep one of its numbers)"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "text"
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if args:
        return " or ".join(_kind_in_words(a) for a in args)
    return {float: "a number", int: "a whole number"}.get(tp, "not a number")


def _index(seq: list[Any], tok: str | int) -> int | None:
    """List position of ``tok``: an integer index, or an element whose ``id`` equals it."""
    if isinstance(tok, int):
        return tok if -len(seq) <= tok < len(seq) else None
    for i, el in enumerate(seq):
        if getattr(el, "id", None) == tok or (isinstance(el, dict) and el.get("id") == tok):
            return i
    return None


def set_path(data: dict[str, Any], tokens: list[str | int], value: Any) -> None:
    """Set a value in a plain (dumped) scenario mapping, creating missing sub-mappings."""
    obj: Any = data
    for i, tok in enumerate(tokens):
        last = i == len(tokens) - 1
        if isinstance(obj, list):
            key: Any = _index(obj, tok)
            if key is None:
                raise KeyError(tok)
        else:
            key = tok
        if last:
            obj[key] = value
            return
        nxt = obj[key] if isinstance(obj, list) else obj.get(key)
        if nxt is None:
            if not isinstance(tokens[i + 1], str):  # an element of a list the file leaves out
                raise _UnwrittenList(tokens[: i + 1])
            nxt = {}
            obj[key] = nxt
        obj = nxt


class _UnwrittenList(KeyError):
    """A sweep path indexes a list the file does not write (its default would be replaced by
    a mapping); ``apply_point`` says so."""

    def __init__(self, prefix: list[str | int]) -> None:
        super().__init__(prefix)
        self.prefix = "".join(f"[{t}]" if isinstance(t, int) else f".{t}" for t in prefix)[1:]


def apply_point(
    base: Scenario,
    point: dict[str, float],
    *,
    file: str | Path | None = None,
    check_calibrations: bool = True,
) -> Scenario:
    """The base scenario's user form with one sweep point's values set, validated as a whole:
    the same scenario as the file with those fields written out by hand."""
    data = user_form(base)
    for p, v in point.items():
        try:
            set_path(data, parse_path(p), v)
        except _UnwrittenList as exc:
            raise InputError(f"the file does not set {exc.prefix} (its default applies); write "
                             "the list out to sweep one of its elements", file=file,
                             field=f"sweep.{p}") from None
    label = ", ".join(f"{p}={show_value(v)}" for p, v in point.items())
    try:
        sc = scenario_from_dict(data, file=file)
        check_markets_known(sc, file=file)
        if check_calibrations:
            check_calibration_files(sc, file=file)
    except InputError as exc:
        raise InputError(
            f"sweep point ({label}) is invalid: {exc.reason}",
            file=file,
            field=exc.field or "sweep",
        ) from None
    return sc
