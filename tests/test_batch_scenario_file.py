"""Scenario files: malformed ones get one clear line naming file and field, and write nothing;
sweeps expand and re-validate; the CLI's one-line errors."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskmodel.batch import cli
from riskmodel.batch.scenario_file import (
    check_sweep_path,
    load_scenario_file,
    parse_path,
    plan_from_dict,
)
from riskmodel.errors import InputError

ROOT = Path(__file__).resolve().parent.parent


def good() -> dict[str, Any]:
    """A valid two-market synthetic scenario."""
    def market(mid: str, price: float) -> dict[str, Any]:
        return {"id": mid, "synthetic": True, "currency": "EUR", "bau_emissions": 100.0,
                "process": {"params": {"omega": 0.05, "alpha": 0.05, "beta": 0.9},
                            "last_price": price}}

    return {
        "name": "ok",
        "markets": [market("aa", 20.0), market("bb", 30.0)],
        "links": [{"markets": ["aa", "bb"]}],
        "horizon": {"years": 2, "days_per_year": 10},
        "simulation": {"paths": 100, "paths_per_chunk": 50},
    }


def edit(fn) -> dict[str, Any]:
    d = copy.deepcopy(good())
    fn(d)
    return d


def _set(path: list[Any], value: Any):
    def f(d: dict[str, Any]) -> None:
        obj = d
        for p in path[:-1]:
            obj = obj.setdefault(p, {}) if isinstance(obj, dict) else obj[p]
        obj[path[-1]] = value
    return f


# (id, scenario mapping or raw YAML text, expected field in the message, a word of the reason)
MALFORMED: list[tuple[str, Any, str, str]] = [
    ("name-type", edit(_set(["name"], ["x"])), "name", "string"),
    ("markets-not-list", edit(_set(["markets"], "aa")), "markets", "list"),
    ("no-markets", edit(_set(["markets"], [])), "markets", "at least 1"),
    ("unknown-market",
     edit(lambda d: (d["markets"][0].update(id="atlantis", synthetic=False),
                     d["links"][0].update(markets=["atlantis", "bb"]))), "markets[0].id",
     "unknown market"),
    ("negative-paths", edit(_set(["simulation", "paths"], -5)), "simulation.paths",
     "greater than or equal"),
    ("paths-text", edit(_set(["simulation", "paths"], "many")), "simulation.paths",
     "must be a number, not text"),
    ("floor-above-ceiling", edit(_set(["markets", 0, "collar"], {"floor": 50, "ceiling": 10})),
     "markets[0].collar", "above ceiling"),
    ("corr-not-pd", edit(_set(["dependence", "corr"], [[1, 1.2], [1.2, 1]])),
     "dependence.corr", "outside"),
    ("corr-singular", edit(_set(["dependence", "corr"], [[1, 1], [1, 1]])),
     "dependence.corr", "positive definite"),
    ("unknown-calibration", edit(_set(["fundamentals", "calibration"], "nope_fund")),
     "fundamentals.calibration", "unknown calibration"),
    ("unknown-dep-calibration", edit(_set(["dependence", "calibration"], "nope_dep")),
     "dependence.calibration", "unknown calibration"),
    ("unknown-field", edit(_set(["horizn"], {"years": 3})), "horizn", "not permitted"),
    ("bad-currency", edit(_set(["markets", 0, "currency"], "XYZ")), "markets[0].currency",
     "EUR"),
    ("link-unknown-market", edit(_set(["links", 0, "markets"], ["aa", "zz"])),
     "links[0].markets", "not among"),
    ("quota-both", edit(_set(["links", 0, "quota"], {"mt": 1, "share": 0.2})),
     "links[0].quota", "exactly one"),
    ("quota-share-above-1", edit(_set(["links", 0, "quota"], {"share": 1.5})),
     "links[0].quota.share", "less than or equal"),
    ("zero-years", edit(_set(["horizon", "years"], 0)), "horizon.years", "greater than"),
    ("cap-type", edit(_set(["markets", 0, "cap"], {"type": "hybrid"})), "markets[0].cap.type",
     "hybrid"),
    ("indexed-no-degree", edit(_set(["markets", 0, "cap"], {"type": "indexed"})),
     "markets[0].cap", "degree"),
    ("synthetic-no-process", edit(_set(["markets", 0, "process"], None)), "markets[0]",
     "process"),
    ("event-unknown-link", edit(_set(["events"], {"links": [{"link": "aa-zz"}]})),
     "events.links[0].link", "not a link"),
    ("fx-currency", edit(_set(["simulation", "fx"], {"ABC": 1.0})), "simulation.fx",
     "unknown currency"),
    ("duplicate-market", edit(lambda d: d["markets"].append(copy.deepcopy(d["markets"][0]))),
     "markets", "listed twice"),
    ("sweep-non-numeric", edit(_set(["sweep"], {"grid": {"markets[0].currency": [1, 2]}})),
     "sweep.grid.markets[0].currency", "numeric"),
    ("sweep-bool-field", edit(_set(["sweep"], {"grid": {"simulation.keep_annual": [0, 1]}})),
     "sweep.grid.simulation.keep_annual", "numeric"),
    ("sweep-missing-path", edit(_set(["sweep"], {"grid": {"links[3].fee": [1, 2]}})),
     "sweep.grid.links[3].fee", "no element"),
    ("sweep-unknown-field", edit(_set(["sweep"], {"grid": {"horizon.yeers": [1, 2]}})),
     "sweep.grid.horizon.yeers", "no field"),
    ("sweep-text-values", edit(_set(["sweep"], {"grid": {"links[0].fee": ["a", "b"]}})),
     "sweep.grid.links[0].fee[0]", "numbers"),
    ("sweep-both-kinds", edit(_set(["sweep"], {"grid": {}, "list": []})), "sweep",
     "exactly one"),
    ("sweep-point-breaks-rule",
     edit(lambda d: (d["markets"][0].update(collar={"ceiling": 10.0}),
                     d.update(sweep={"grid": {"markets[aa].collar.floor": [5, 50]}}))),
     "markets[0].collar", "floor=50"),
    ("sweep-negative-paths", edit(_set(["sweep"], {"list": [{"simulation.paths": -1}]})),
     "simulation.paths", "sweep point"),
    ("yaml-syntax", "name: [unclosed\nmarkets: {", "line", "not valid YAML"),
    ("not-a-mapping", "- just\n- a list\n", "", "mapping"),
]


def test_at_least_twenty_malformed_cases() -> None:
    assert len(MALFORMED) >= 20


@pytest.mark.parametrize(("case", "data", "field", "reason"), MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_scenario_one_clear_line_and_nothing_written(
    tmp_path: Path, case: str, data: Any, field: str, reason: str
) -> None:
    f = tmp_path / f"{case}.yaml"
    f.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "runs"
    with pytest.raises(InputError) as info:
        cli.run(scenario=str(f), out=out, quiet=True, n_jobs=1, scheduler=None, paths=None,
                seed=None, chunk_size=None, resume=None, run_id=None)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(f)), msg  # names the file first
    assert field in msg and reason in msg, msg
    assert not out.exists()


def test_error_field_is_the_dotted_path() -> None:
    with pytest.raises(InputError) as info:
        plan_from_dict(edit(_set(["simulation", "paths"], -5)), file="s.yaml")
    assert info.value.file == "s.yaml" and info.value.field == "simulation.paths"


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(edit(_set(["simulation", "paths"], -5))), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "riskmodel", "run", str(f), "--out",
                        str(tmp_path / "runs")], capture_output=True, text=True, cwd=ROOT,
                       timeout=120, check=False)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "simulation.paths" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_bad_options_are_errors(tmp_path: Path) -> None:
    f = tmp_path / "ok.yaml"
    f.write_text(yaml.safe_dump(good()), encoding="utf-8")
    kw = dict(scenario=str(f), out=tmp_path / "runs", quiet=True, scheduler=None, paths=None,
              seed=None, chunk_size=None, resume=None, run_id=None, n_jobs=1)
    for k, v, name in (("n_jobs", 0, "--n-jobs"), ("chunk_size", 0, "--chunk-size"),
                       ("paths", 0, "simulation.paths"), ("run_id", "a/b", "--run-id")):
        with pytest.raises(InputError, match=name.replace(".", r"\.")):
            cli.run(**{**kw, k: v})
    assert not (tmp_path / "runs").exists()


def test_overrides_and_grid_expansion(tmp_path: Path) -> None:
    d = good()
    d["sweep"] = {"grid": {"links[0].quota.share": {"start": 0.1, "stop": 0.9, "num": 5},
                           "fundamentals.output_emissions_corr.bb": [0.2, 0.8]}}
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    plan = load_scenario_file(f, paths=40, seed=3)
    assert len(plan.scenarios) == 10
    assert [p["links[0].quota.share"] for p in plan.points[::2]] == [0.1, 0.3, 0.5, 0.7, 0.9]
    last = plan.scenarios[-1]
    assert last.links[0].quota is not None and last.links[0].quota.share == 0.9
    assert last.fundamentals.output_emissions_corr == {"bb": 0.8}
    assert all(s.simulation.paths == 40 and s.simulation.seed == 3 for s in plan.scenarios)
    assert plan.base.links[0].quota is None  # the base is untouched


def test_list_sweep_and_market_by_id() -> None:
    d = good()
    d["sweep"] = {"list": [{"markets[bb].collar.floor": 5.0, "links[0].fee": 1.0},
                           {"markets[1].collar.floor": 7.0}]}
    plan = plan_from_dict(d)
    assert [s.markets[1].collar.floor for s in plan.scenarios] == [5.0, 7.0]
    assert [s.links[0].fee for s in plan.scenarios] == [1.0, 0.0]
    assert plan.point_label(0) == "markets[bb].collar.floor=5, links[0].fee=1"


def test_parse_path() -> None:
    assert parse_path("links[0].quota.share") == ["links", 0, "quota", "share"]
    assert parse_path("markets[k_ets].collar.floor") == ["markets", "k_ets", "collar", "floor"]
    for bad in ("", "a..b", "a.", "a[0"):
        with pytest.raises(ValueError):
            parse_path(bad)
    base = plan_from_dict(good()).base
    check_sweep_path(base, "horizon.years")  # an int field is numeric
    with pytest.raises(InputError, match="numeric"):
        check_sweep_path(base, "markets[0].process")


def test_a_calibration_beside_the_scenario_is_the_one_simulated_and_hashed(tmp_path, monkeypatch):
    """``calibration: cal.json`` in a scenario of another folder: the checks, the engine and the
    manifest's hashes all read the file beside the scenario, not one of that name in the
    working directory (which here is invalid)."""
    import json
    import shutil

    from riskmodel import config
    from riskmodel.batch.runner import calibration_hashes
    from riskmodel.batch.scenario_file import load_scenario_file
    from riskmodel.sim.resolve import resolve

    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(config.CALIBRATIONS_DIR / "eu_ets.json", sub / "cal.json")
    (sub / "s.yaml").write_text(
        "name: beside\nmarkets:\n  - id: eu_ets\n    calibration: cal.json\n"
        "  - id: swiss_ets\n    bau_emissions: 40\nlinks:\n  - markets: [eu_ets, swiss_ets]\n"
        "horizon: {start_year: 2024, years: 1}\nsimulation: {paths: 20, paths_per_chunk: 20}\n")
    bad = json.loads((sub / "cal.json").read_text())
    bad["params"]["sigma2_0"] = -1.0
    (tmp_path / "cal.json").write_text(json.dumps(bad))
    monkeypatch.chdir(tmp_path)
    plan = load_scenario_file(Path("sub/s.yaml"))
    want = str((sub / "cal.json").resolve())
    assert all(sc.markets[0].calibration == want for sc in plan.scenarios)
    rs = resolve(plan.scenarios[0])
    assert want in rs.sources["markets.eu_ets.process.model"]["source"]
    assert any(want.endswith(k) or k.endswith("sub/cal.json") for k in calibration_hashes(plan))
    # run from the scenario's own folder the reference stays as written
    monkeypatch.chdir(sub)
    assert load_scenario_file(Path("s.yaml")).scenarios[0].markets[0].calibration == "cal.json"


def test_a_range_over_whole_numbers_gives_whole_numbers():
    """{start: 50, stop: 100, num: 2} over simulation.paths gave 50.0 and 100.0, refused as
    "write 50, not 50.0" (the user wrote 50); seeds beyond 2^53 were rounded by the float
    range. Whole endpoints with a whole step now give exact integers."""
    from riskmodel.batch.scenario_file import _values

    assert _values({"start": 50, "stop": 100, "num": 2}, file=None, where="w") == [50, 100]
    big = 9007199254740993
    assert _values({"start": big, "stop": big + 2, "num": 3}, file=None, where="w") == [
        big, big + 1, big + 2]
    assert _values({"start": 1, "stop": 2, "num": 3}, file=None, where="w") == [1.0, 1.5, 2.0]
    assert _values({"start": 0.1, "stop": 0.9, "num": 9}, file=None, where="w")[1] == 0.2
