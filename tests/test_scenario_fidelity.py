"""What a scenario says is what runs (issue #10).

- Every sweep point of every shipped scenario resolves exactly as the same file with that
  point's fields written out by hand (China keeps its intensity cap, the copula stays t).
- Random sparse scenarios: user form -> file -> load -> resolve is the identity.
- Resume after a deleted chunk is byte-identical; a chunk from another run (other seed, other
  scenario) is refused with one line naming it; a changed calibration or catalogue file refuses
  the resume, naming the file.
- ``riskmodel scenario show`` and ``design.json`` give each resolved value with its source.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from riskmodel import cli, config
from riskmodel.batch import runner
from riskmodel.batch.runner import RunOptions, resume_run, run_plan
from riskmodel.batch.scenario_file import load_scenario_file, plan_from_dict, user_form
from riskmodel.errors import InputError
from riskmodel.sim import layout as L
from riskmodel.sim.innovations import T_COPULA_GAUSSIAN_NU
from riskmodel.sim.resolve import Resolved, resolve
from riskmodel.sim.scenario import scenario_from_dict

SHIPPED = sorted(config.SCENARIOS_DIR.glob("*.yaml"))
NAMES = [p.stem for p in SHIPPED]


def _raw(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _set_by_hand(data: dict[str, Any], path: str, value: float) -> None:
    """Set ``a.b[0].c`` / ``markets[id].x`` in a plain mapping, as a user editing the YAML would
    (written independently of the package's own path setter)."""
    tokens = re.findall(r"[^.\[\]]+|\[[^\]]*\]", path)
    obj: Any = data
    for i, tok in enumerate(tokens):
        last = i == len(tokens) - 1
        if tok.startswith("["):
            key = tok[1:-1]
            idx = (
                int(key)
                if key.lstrip("-").isdigit()
                else next(j for j, el in enumerate(obj) if el.get("id") == key)
            )
            if last:
                obj[idx] = value
            else:
                obj = obj[idx]
        elif last:
            obj[tok] = value
        else:
            obj = obj.setdefault(tok, {})


def assert_same_resolved(a: Resolved, b: Resolved) -> None:
    """Bit for bit: every kernel array, the notes, the facts and the recorded sources."""
    for f in dataclasses.fields(Resolved):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and va.shape == vb.shape, f.name
            assert va.tobytes() == vb.tobytes(), f"{f.name} differs"
        elif f.name == "meta":
            assert json.dumps(va, sort_keys=True, default=str) == json.dumps(
                vb, sort_keys=True, default=str
            )
        else:
            assert va == vb, f.name


# --------------------------------------------------------------------------- sweep points


@pytest.mark.parametrize("path", SHIPPED, ids=NAMES)
def test_every_sweep_point_resolves_as_the_file_written_by_hand(path: Path, tmp_path: Path) -> None:
    plan = load_scenario_file(path)
    raw = _raw(path)
    raw.pop("sweep", None)
    for k, point in enumerate(plan.points):
        by_hand = copy.deepcopy(raw)
        for p, v in point.items():
            _set_by_hand(by_hand, p, v)
        f = tmp_path / f"{path.stem}_p{k}.yaml"
        f.write_text(yaml.safe_dump(by_hand, sort_keys=False), encoding="utf-8")
        hand = load_scenario_file(f)
        assert hand.sweep is None
        assert user_form(hand.base) == plan.point_form(k)
        assert_same_resolved(resolve(plan.scenarios[k]), resolve(hand.base))


def test_china_keeps_its_intensity_cap_and_the_t_copula_in_every_point() -> None:
    plan = load_scenario_file(config.SCENARIOS_DIR / "eu_china_quota.yaml")
    dep = json.loads((config.CALIBRATIONS_DIR / "dependence.json").read_text())
    cat = yaml.safe_load((config.MARKETS_DIR / "china_ets.yaml").read_text())
    assert cat["cap"]["type"] == "intensity"
    assert len(plan.scenarios) == 9
    for sc in plan.scenarios:
        r = resolve(sc)
        c = r.ids.index("china_ets")
        assert r.mp[c, L.B_CF] == 1.0 and r.mp[c, L.B_OBS] == 1.0
        # the calibrated copula is what resolves (a t copula with nu above the threshold is
        # then simulated as Gaussian, and the design says so)
        assert r.sources["dependence.copula"]["value"] == dep["copula"] == "t"
        assert r.sources["dependence.copula"]["source"].startswith("calibration")
        assert r.cnu == pytest.approx(float(dep["nu"]))
        assert r.copula_t == (float(dep["nu"]) <= T_COPULA_GAUSSIAN_NU)
        if not r.copula_t:
            assert r.sources["dependence.copula_simulated"]["value"] == "gaussian"
        assert r.sources["markets.china_ets.cap.type"]["value"] == "intensity"
        assert r.sources["markets.china_ets.cap.type"]["source"].startswith(
            "catalogue: data/markets/china_ets.yaml"
        )


@pytest.mark.parametrize(
    "name", ["china_korea_japan", "china_korea_one_way", "korea_stabilisation", "regulatory_events"]
)
def test_china_cap_follows_the_catalogue_in_swept_scenarios(name: str) -> None:
    plan = load_scenario_file(config.SCENARIOS_DIR / f"{name}.yaml")
    for sc in plan.scenarios:
        r = resolve(sc)
        if "china_ets" in r.ids:
            assert r.mp[r.ids.index("china_ets"), L.B_CF] == 1.0


# --------------------------------------------------------------------------- property


_CATALOGUED = ["eu_ets", "k_ets", "china_ets", "nz_ets", "california"]


def _random_form(rng: random.Random) -> dict[str, Any]:
    """A sparse scenario: a few catalogue markets, each with a random handful of fields."""
    ids = rng.sample(_CATALOGUED, rng.randint(1, 3))
    markets = []
    for mid in ids:
        m: dict[str, Any] = {"id": mid, "bau_emissions": round(rng.uniform(50, 5000), 3)}
        if rng.random() < 0.5:
            kind = rng.choice(["absolute", "intensity", "indexed"])
            m["cap"] = {"type": kind}
            if kind == "indexed":
                m["cap"]["degree"] = round(rng.random(), 4)
            if rng.random() < 0.5:
                m["cap"]["annual_change"] = round(rng.uniform(-0.05, 0.02), 4)
        if rng.random() < 0.5:
            m["abatement"] = {"share": round(rng.uniform(0.02, 0.4), 4)}
        if rng.random() < 0.3:
            m["max_daily_return"] = round(rng.uniform(5, 40), 2)
        if mid == "eu_ets" and rng.random() < 0.5:
            m["stabilisation"] = {"msr": True}
        if mid == "k_ets" and rng.random() < 0.5:
            m["stabilisation"] = {"kets_triggers": True, "kets_probability": round(rng.random(), 3)}
        markets.append(m)
    form: dict[str, Any] = {"name": f"random_{rng.randint(0, 10**6)}", "markets": markets}
    if len(ids) > 1:
        form["links"] = []
        for a, b in zip(ids, ids[1:], strict=False):
            lk: dict[str, Any] = {"markets": [a, b]}
            if rng.random() < 0.5:
                lk["quota"] = (
                    {"share": round(rng.random(), 3)}
                    if rng.random() < 0.5
                    else {"mt": round(rng.uniform(0, 200), 2)}
                )
            if rng.random() < 0.3:
                lk["fee"] = round(rng.uniform(0, 5), 3)
            form["links"].append(lk)
    if rng.random() < 0.5:
        form["dependence"] = {"copula": rng.choice(["gaussian", "t"])}
    if rng.random() < 0.5:
        form["horizon"] = {"start_year": rng.randint(2023, 2026), "years": rng.randint(1, 5)}
    if rng.random() < 0.5:
        form["simulation"] = {"paths": rng.randint(1, 5000), "seed": rng.randint(0, 2**31)}
    return form


def test_user_form_to_file_to_load_to_resolve_is_the_identity(tmp_path: Path) -> None:
    rng = random.Random(20261204)
    for i in range(25):
        form = _random_form(rng)
        sc = scenario_from_dict(form)
        assert user_form(sc) == form  # the user form is exactly what was set
        f = tmp_path / f"random_{i}.yaml"
        f.write_text(yaml.safe_dump(user_form(sc), sort_keys=False), encoding="utf-8")
        back = load_scenario_file(f).base
        assert user_form(back) == form
        try:
            want = resolve(sc)
        except InputError as exc:  # a design the engine refuses is refused the same way
            with pytest.raises(InputError) as again:
                resolve(back)
            assert str(again.value) == str(exc)
            continue
        assert_same_resolved(want, resolve(back))


# --------------------------------------------------------------------------- runs


def _small(name: str, **sim: Any) -> dict[str, Any]:
    """A shipped scenario with few paths (china_korea_japan is slow on the general network
    solver), chunks of 10, one year."""
    data = _raw(config.SCENARIOS_DIR / f"{name}.yaml")
    data.setdefault("simulation", {}).update(paths=30, paths_per_chunk=10, keep_paths=2, **sim)
    data.setdefault("horizon", {})["years"] = 1
    return data


def _run(tmp: Path, name: str, run_id: str, **sim: Any) -> Path:
    plan = plan_from_dict(_small(name, **sim), file=tmp / f"{name}.yaml")
    return run_plan(plan, out=tmp / "runs", run_id=run_id, options=RunOptions(n_jobs=1))


def _same_outputs(a: Path, b: Path) -> None:
    for name in ("results.parquet", "paths.npz", "design.json"):
        if (a / name).exists() or (b / name).exists():
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("name", NAMES)
def test_resume_after_a_deleted_chunk_is_byte_identical(name: str, tmp_path: Path) -> None:
    ref = _run(tmp_path, name, "ref")
    cut = _run(tmp_path, name, "cut")
    last = sorted((cut / "chunks").iterdir())[-1]
    last.unlink()
    m = json.loads((cut / "manifest.json").read_text())
    (cut / "manifest.json").write_text(json.dumps({**m, "status": "running"}))
    for out in ("results.parquet", "paths.npz"):
        (cut / out).unlink(missing_ok=True)
    resume_run(cut, options=RunOptions(n_jobs=1))
    assert last.is_file()
    _same_outputs(ref, cut)
    assert json.loads((cut / "manifest.json").read_text())["sessions"][-1]["chunks_run"] == 1


def _cli(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["riskmodel", *argv])
    with pytest.raises(SystemExit) as ex:
        cli.run()
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(ex.value.code or 0), out.out, out.err


@pytest.fixture
def two_seeds(tmp_path: Path) -> tuple[Path, Path]:
    """eu_switzerland run twice with other seeds."""
    return _run(tmp_path, "eu_switzerland", "a", seed=1), _run(
        tmp_path, "eu_switzerland", "b", seed=2
    )


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_a_foreign_chunk_is_refused_on_resume(
    two_seeds: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, b = two_seeds
    other = _run(tmp_path, "nested_collars", "other")
    target = a / "chunks" / "p0000-c000001.pkl"
    for foreign in (b / "chunks" / "p0000-c000001.pkl", other / "chunks" / "p0000-c000001.pkl"):
        shutil.copyfile(foreign, target)
        code, _, err = _cli(["run", "--resume", str(a), "-q"], monkeypatch, capsys)
        _one_line_error(code, err, str(target), ": run_id: ")
    # same run id, other seed or other scenario: the first mismatching key is named
    rec = pickle.loads((a / "chunks" / "p0000-c000000.pkl").read_bytes())
    for key, val in (("seed", 2), ("scenario_hash", "0" * 64), ("chunk", 3), ("streams", "x")):
        target.write_bytes(pickle.dumps({**rec, "chunk": 1, key: val}))
        code, _, err = _cli(["run", "--resume", str(a), "-q"], monkeypatch, capsys)
        _one_line_error(code, err, str(target), f": {key}: ")
    # the merge refuses it too
    m = runner.read_manifest(a)
    with pytest.raises(InputError) as exc:
        runner.finalize(a, runner.plan_from_json(m["plan"]), m, m["engine"])
    assert exc.value.field == "streams" and exc.value.file == str(target)


def test_a_chunk_beyond_the_layout_is_refused(two_seeds: tuple[Path, Path]) -> None:
    a, _ = two_seeds
    shutil.copyfile(a / "chunks" / "p0000-c000000.pkl", a / "chunks" / "p0007-c000000.pkl")
    with pytest.raises(InputError, match="does not belong") as exc:
        resume_run(a, options=RunOptions(n_jobs=1))
    assert exc.value.field == "chunk"


def test_resume_refuses_a_changed_calibration_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cal = tmp_path / "my_eu_ets.json"
    shutil.copyfile(config.CALIBRATIONS_DIR / "eu_ets.json", cal)
    data = _small("eu_switzerland")
    data["markets"][0]["calibration"] = str(cal)
    plan = plan_from_dict(data, file=tmp_path / "s.yaml")
    run = run_plan(plan, out=tmp_path / "runs", run_id="r", options=RunOptions(n_jobs=1))
    assert str(cal) in json.loads((run / "manifest.json").read_text())["calibrations"]
    (run / "chunks" / "p0000-c000002.pkl").unlink()
    d = json.loads(cal.read_text())
    key = "omega" if "omega" in d["params"] else "sigma2_0"  # GARCH family or MS fit
    d["params"][key] *= 1.5
    cal.write_text(json.dumps(d))
    code, _, err = _cli(["run", "--resume", str(run), "-q"], monkeypatch, capsys)
    _one_line_error(code, err, f"error: {cal}: calibrations: changed since the run began")
    assert not (run / "chunks" / "p0000-c000002.pkl").exists()


def test_resume_refuses_a_changed_catalogue_file_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    markets = tmp_path / "markets"
    shutil.copytree(config.MARKETS_DIR, markets)
    monkeypatch.setattr(config, "MARKETS_DIR", markets)
    run = _run(tmp_path, "eu_switzerland", "r")
    (run / "chunks" / "p0000-c000000.pkl").unlink()
    f = markets / "eu_ets.yaml"
    f.write_text(f.read_text() + "\n# edited\n")
    with pytest.raises(InputError, match="changed since the run began") as exc:
        resume_run(run, options=RunOptions(n_jobs=1))
    assert exc.value.field == "catalogue" and exc.value.file == str(f)


def test_a_run_of_the_old_schema_is_refused_with_a_reason(two_seeds: tuple[Path, Path]) -> None:
    a, _ = two_seeds
    m = json.loads((a / "manifest.json").read_text())
    (a / "manifest.json").write_text(json.dumps({**m, "schema": "riskmodel.run/1"}))
    with pytest.raises(InputError, match="older version") as exc:
        resume_run(a, options=RunOptions(n_jobs=1))
    assert exc.value.field == "schema"


def test_manifest_and_chunks_hold_the_user_form(two_seeds: tuple[Path, Path]) -> None:
    a, _ = two_seeds
    m = json.loads((a / "manifest.json").read_text())
    raw = _small("eu_switzerland", seed=1)
    assert m["plan"]["form"] == "user"
    assert m["plan"]["scenario"] == user_form(scenario_from_dict(raw))
    # nothing the user did not set (no defaults, no catalogue or calibration values)
    assert [set(x) for x in m["plan"]["scenario"]["markets"]] == [set(x) for x in raw["markets"]]
    assert set(m["plan"]["scenario"]) == set(raw) - {"sweep"}
    plan = runner.plan_from_json(m["plan"])
    rec = pickle.loads((a / "chunks" / "p0000-c000001.pkl").read_bytes())
    assert {k: rec[k] for k in runner.CHUNK_IDENTITY} == {
        "run_id": "a",
        "scenario_hash": plan.scenario_hash(0),
        "seed": 1,
        "streams": m["streams"],
        "point": 0,
        "chunk": 1,
    }
    assert set(m["catalogue"]) == {"data/markets/eu_ets.yaml", "data/markets/swiss_ets.yaml"}


# --------------------------------------------------------------------------- scenario show


@pytest.mark.parametrize("name", NAMES)
def test_scenario_show_every_shipped_scenario(name: str) -> None:
    r = CliRunner().invoke(cli.app, ["scenario", "show", name, "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    plan = load_scenario_file(config.SCENARIOS_DIR / f"{name}.yaml")
    assert list(rep["markets"]) == plan.base.market_ids()
    assert rep["notes"] == resolve(plan.base).notes
    for mid, rows in rep["markets"].items():
        for item in (
            "cap.type",
            "cap.degree",
            "cap.path",
            "collar.floor",
            "collar.ceiling",
            "penalty_cap",
            "offsets.limit_share",
            "msr.on",
            "kets.on",
            "process.model",
            "bau_emissions",
        ):
            assert item in rows, (mid, item)
            src = rows[item]["source"]
            assert re.match(r"(scenario|catalogue|calibration|derived|default)\b", src), src
    assert set(rep["links"]) == {lk.name for lk in plan.base.all_links()}
    if len(rep["markets"]) > 1:
        assert rep["dependence"]["copula"]["value"] in ("gaussian", "t")


def test_scenario_show_text_fits_columns_and_names_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "90")
    r = CliRunner().invoke(cli.app, ["scenario", "show", "eu_china_quota", "--point", "0"])
    assert r.exit_code == 0, r.output
    assert max(len(line) for line in r.output.splitlines()) <= 90
    assert "links[0].quota.share=0.1" in r.output
    assert "intensity" in r.output and "data/markets/china_ets.yaml" in r.output
    assert "markets[0]." in r.output  # field paths are text, not rich markup
    r = CliRunner().invoke(cli.app, ["scenario", "show", "china_korea", "--point", "1"])
    assert "sweep point 1: markets[china_ets].cap.degree=1" in r.output
    r = CliRunner().invoke(cli.app, ["scenario", "show", "eu_china_quota", "--point", "9"])
    assert r.exit_code != 0 and "--point" in str(r.exception)


def test_china_intensity_cap_in_the_design_json_of_a_run(tmp_path: Path) -> None:
    run = _run(tmp_path, "eu_china_quota", "d")
    design = json.loads((run / "design.json").read_text())
    assert len(design["points"]) == 9
    for k, p in enumerate(design["points"]):
        china = p["design"]["markets"]["china_ets"]
        assert china["cap.type"]["value"] == "intensity"
        assert china["cap.degree"]["value"] == 1.0
        link = p["design"]["links"]["eu_ets-china_ets"]
        assert link["quota"]["source"] == "scenario: links[0].quota"
        assert p["label"] == f"links[0].quota.share={0.1 * (k + 1):g}"


def test_design_json_from_the_runs_own_resolution_is_a_fresh_one(tmp_path: Path) -> None:
    """A run writes design.json from the resolution its preflight made (not a second one per
    point): every point's design is the one ``scenario show`` resolves afresh."""
    from riskmodel.sim.provenance import design_report

    run = _run(tmp_path, "eu_china_quota", "d")
    design = json.loads((run / "design.json").read_text())
    plan = plan_from_dict(_small("eu_china_quota"), file=tmp_path / "eu_china_quota.yaml")
    fresh = [json.loads(json.dumps(design_report(sc))) for sc in plan.scenarios]
    assert [p["design"] for p in design["points"]] == fresh


def test_the_resolve_cache_tells_set_fields_from_defaults() -> None:
    """Two scenarios with equal values, one with every field marked set (as sweep points were
    built before), resolve differently; the per-process cache must not hand one the other's."""
    from riskmodel.batch.parallel import DEFAULT_ENGINE, resolve_scenario

    sc = load_scenario_file(config.SCENARIOS_DIR / "eu_china_quota.yaml").scenarios[0]
    full = scenario_from_dict(sc.model_dump(mode="python"))
    assert full.model_dump() == sc.model_dump()
    c = sc.market_ids().index("china_ets")
    assert resolve_scenario(DEFAULT_ENGINE, sc).mp[c, L.B_CF] == 1.0
    assert resolve_scenario(DEFAULT_ENGINE, full).mp[c, L.B_CF] == 0.0
    assert resolve_scenario(DEFAULT_ENGINE, sc).mp[c, L.B_CF] == 1.0


@pytest.mark.parametrize("path", SHIPPED, ids=NAMES)
def test_sweep_points_keep_their_set_fields_on_the_way_to_workers(path: Path) -> None:
    """Workers get the scenarios pickled (loky, dask): the set fields must travel with them."""
    cloudpickle = pytest.importorskip("cloudpickle")
    for sc in load_scenario_file(path).scenarios:
        for mod in (pickle, cloudpickle):
            back = mod.loads(mod.dumps(sc))
            assert user_form(back) == user_form(sc)
            assert [m.model_fields_set for m in back.markets] == [
                m.model_fields_set for m in sc.markets
            ]
