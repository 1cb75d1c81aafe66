"""The firm report end to end: sections, figures, JSON / CSV, run folders, the command line and
a real browser (headless Chromium; skipped with a reason when it is not installed).

The simulation side is a small stand-in engine defined in this module (``RISKMODEL_ENGINE``
points at it), deterministic in the scenario's seed, with the engine's annual-array contract:
``[variant, path, market, year]`` arrays ``price`` and ``bau``. One test uses the real engine.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from riskmodel.firm.browser import find_chromium, print_pdf, screenshot
from riskmodel.firm.report import FIGURES, SECTIONS, make_report

ENGINE = __name__  # this module is importable by name (tests/ is on sys.path)
SCENARIO = {
    "name": "firm_test",
    "markets": [
        {"id": "aa", "synthetic": True, "currency": "EUR", "bau_emissions": 100.0,
         "output_growth": 0.02, "output_vol": 0.02,
         "process": {"family": "garch", "params": {"mu": 0.0, "omega": 0.05, "alpha": 0.05,
                                                   "beta": 0.9}, "last_price": 30.0}},
        {"id": "bb", "synthetic": True, "currency": "EUR", "bau_emissions": 60.0,
         "output_growth": 0.03, "output_vol": 0.03,
         "process": {"family": "garch", "params": {"mu": 0.0, "omega": 0.1, "alpha": 0.05,
                                                   "beta": 0.9}, "last_price": 15.0}},
    ],
    "links": [{"markets": ["aa", "bb"]}],
    "events": {
        "links": [{"link": "aa-bb", "active_to_restricted": 0.3, "restricted_to_active": 0.5,
                   "active_to_suspended": 0.1, "terminal": True,
                   "restricted_quota": {"share": 0.1}}],
        "markets": [{"market": "bb", "exemption_on": 0.2, "exemption_off": 0.5,
                     "exemption_share": 0.1}],
    },
    "horizon": {"start_year": 2024, "years": 3, "days_per_year": 20},
    "simulation": {"paths": 3000, "paths_per_chunk": 1000, "keep_paths": 4, "seed": 99,
                   "fx": {"USD": 0.9}},
}
FIRM = {
    "name": "Test firm",
    "market": "aa",
    "currency": "USD",
    "emissions": {"level": 5.0, "idiosyncratic_vol": 0.05},
    "abatement": {"slope": 8.0, "max_share": 0.1},
    "allocation": {"level": 4.0, "annual_change": -0.05},
    "bank": 0.5,
    "hedges": [{"type": "futures", "year": 2024, "ratio": 0.5}],
    "sources": ["illustrative"],
}


# --------------------------------------------------------------------------- stand-in engine


def _event_load(scenario: object) -> float:
    ev = scenario.events
    return sum(lk.active_to_restricted + 2 * lk.active_to_suspended for lk in ev.links) + \
        sum(m.exemption_on for m in ev.markets)


def simulate(scenario: object) -> SimpleNamespace:
    """Deterministic in the seed; variants on common random numbers; events add jumps."""
    sim, hz = scenario.simulation, scenario.horizon
    n, m, y, d = sim.paths, len(scenario.markets), hz.years, hz.days_per_year
    rng = np.random.default_rng(np.random.SeedSequence(sim.seed))
    z = rng.standard_normal((n, m, y * d)) * 0.02
    p0 = np.array([mk.process.last_price for mk in scenario.markets])
    daily = p0[None, :, None] * np.exp(np.cumsum(z, axis=-1))
    aut = daily[:, :, d - 1::d]
    lnk_d = np.broadcast_to(daily.mean(axis=1, keepdims=True), daily.shape)
    jumps = rng.random((n, 1, 1)) < min(0.9, 0.3 * _event_load(scenario))
    out_d = {"autarky": daily, "linked": lnk_d,
             "linked_events": np.where(jumps, 0.5 * (daily + lnk_d) + 3.0, lnk_d)}
    bau = 100.0 * np.exp(0.05 * rng.standard_normal((n, m, y)) + 2.0 * (aut / p0[None, :, None]
                                                                       - 1.0))
    vs = list(sim.variants)
    price = np.stack([out_d[v][:, :, d - 1::d] for v in vs])
    annual = {"price": price, "bau": np.broadcast_to(bau, price.shape).copy()}
    kept = np.stack([out_d[v][: sim.keep_paths] for v in vs])
    return SimpleNamespace(annual=annual if sim.keep_annual else {}, paths={"price": kept},
                           table=pd.DataFrame())


# --------------------------------------------------------------------------- fixtures


def _write_inputs(d: Path) -> dict[str, Path]:
    scn = d / "scenario.yaml"
    scn.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    firm = d / "firm.yaml"
    firm.write_text(yaml.safe_dump(FIRM), encoding="utf-8")
    return {"scenario": scn, "firm": firm, "tmp": d}


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("RISKMODEL_ENGINE", ENGINE)
    return _write_inputs(tmp_path)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One report (with the single-event simulations), shared by the read-only tests."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISKMODEL_ENGINE", ENGINE)
        f = _write_inputs(tmp_path_factory.mktemp("firm_report"))
        return make_report(f["firm"], scenario=f["scenario"], out=f["tmp"] / "rep")


# --------------------------------------------------------------------------- tests


def test_report_has_every_section_and_figure_and_no_external_resources(
    built: dict[str, Path]
) -> None:
    page = built["html"].read_text(encoding="utf-8")
    for s in SECTIONS:
        assert f'id="{s}"' in page, s
    for f in FIGURES:
        assert re.search(rf'<figure id="fig-{f}"><img [^>]*src="data:image/png;base64,', page), f
    assert page.count("data:image/png;base64,") == len(FIGURES)
    assert not re.search(r'(src|href)\s*=\s*"(?!data:)[^"#]', page)
    assert "<script" not in page and "@import" not in page and "<link" not in page
    assert "Linking aa with bb" in page
    assert "ES 97.5" in page


def test_json_and_csv_carry_the_same_numbers(built: dict[str, Path]) -> None:
    data = json.loads(built["json"].read_text(encoding="utf-8"))
    assert set(data["figures"]) == set(FIGURES)
    assert data["variants"] == ["autarky", "linked", "linked_events"]
    table = pd.read_csv(built["csv"])
    j = pd.DataFrame(data["table"])
    merged = table.merge(j, on=["variant", "year", "measure"], suffixes=("_csv", "_json"))
    assert len(merged) == len(table) == len(j)
    ok = merged.value_csv.isna() & merged.value_json.isna()
    assert (ok | np.isclose(merged.value_csv, merged.value_json, rtol=1e-12)).all()
    for f in FIGURES:
        assert built[f"{f}.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(pd.read_csv(built[f"{f}.csv"])) == len(data["figures"][f]["data"])
    ev = pd.read_csv(built["events"])
    assert set(ev["event"]) == {"aa-bb: quota imposed", "aa-bb: terminated", "bb: exemption"}
    # reporting currency via the scenario's FX: USD per EUR = 1 / 0.9
    assert data["fx"] == pytest.approx(1 / 0.9)
    assert data["currency"] == "USD"


def test_report_from_run_folder_reads_the_stored_arrays_and_never_simulates(
        files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from riskmodel.batch.runner import ANNUAL, MANIFEST
    from riskmodel.batch.scenario_file import load_scenario_file
    from riskmodel.errors import InputError
    from riskmodel.firm import inputs as firm_inputs
    from riskmodel.firm.cost import firm_costs
    from riskmodel.firm.firm import load_firm
    from riskmodel.firm.inputs import load_inputs, with_annual
    from riskmodel.io import atomic_write_json

    plan = load_scenario_file(files["scenario"])
    run = files["tmp"] / "runs" / "r1"
    run.mkdir(parents=True)
    atomic_write_json(run / MANIFEST, {"schema": "riskmodel.run/1", "plan": plan.to_json(),
                                       "status": "complete"})
    res = simulate(with_annual(plan.scenarios[0]))
    np.savez(run / ANNUAL, **{f"p0000__{k}": v for k, v in res.annual.items()})
    firm = load_firm(files["firm"])

    def table(**kw: object) -> pd.DataFrame:
        inp = load_inputs(firm, events=False, **kw)
        return firm_costs(inp.firm, inp.market, fx=inp.fx, currency=inp.currency).table

    c = table(scenario=files["scenario"])

    def no_simulation(*a: object, **k: object) -> None:
        raise AssertionError("report --run simulated")

    monkeypatch.setattr(firm_inputs, "simulate", no_simulation)
    a = table(run=run)
    pd.testing.assert_frame_equal(a, c)  # same seed, same paths: the same numbers
    # a different stored array changes the report: it reads the run, not the scenario
    np.savez(run / ANNUAL, **{f"p0000__{k}": 1.1 * v for k, v in res.annual.items()})
    assert table(run=run).value.sum() != a.value.sum()
    with pytest.raises(InputError, match="--paths does not apply"):
        load_inputs(firm, run=run, paths=10)
    (run / ANNUAL).unlink()  # the run kept no annual arrays: refused, naming the option
    with pytest.raises(InputError, match="--keep-annual") as ei:
        table(run=run)
    assert ei.value.field == "annual"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str],
         monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Run the root command in-process: (exit status, stderr)."""
    from riskmodel.cli import run

    monkeypatch.setattr(sys, "argv", ["riskmodel", *args])
    try:
        run()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_cli_writes_report_and_reports_a_broken_firm_in_one_line(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = ["report", "--firm", str(files["firm"]), "--scenario", str(files["scenario"]),
            "--out", str(files["tmp"] / "cli"), "--paths", "500", "--no-events"]
    code, err = _cli(args, capsys, monkeypatch)
    assert code == 0, err
    assert (files["tmp"] / "cli" / "report.html").is_file()
    assert json.loads((files["tmp"] / "cli" / "report.json").read_text())["paths"] == 500
    bad = files["tmp"] / "bad.yaml"
    bad.write_text(yaml.safe_dump({**FIRM, "bank": -1}), encoding="utf-8")
    args[args.index(str(files["firm"]))] = str(bad)
    code, err = _cli(args, capsys, monkeypatch)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "bank" in lines[0]


def test_firm_market_must_be_in_the_scenario(files: dict[str, Path]) -> None:
    from riskmodel.errors import InputError

    bad = files["tmp"] / "other.yaml"
    bad.write_text(yaml.safe_dump({**FIRM, "market": "cc"}), encoding="utf-8")
    with pytest.raises(InputError, match="'cc' is not in scenario") as ei:
        make_report(bad, scenario=files["scenario"], out=files["tmp"] / "x", events=False)
    assert ei.value.field == "market"


def _colour_fraction(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 3) -> float:
    px = (img[..., :3] * 255).round() if img.dtype != np.uint8 else img[..., :3]
    return float(np.all(np.abs(px.astype(int) - np.array(rgb)) <= tol, axis=-1).mean())


@pytest.mark.skipif(find_chromium() is None,
                    reason="headless Chromium not installed (apt-get install chromium)")
def test_report_renders_in_a_real_browser(built: dict[str, Path], tmp_path: Path) -> None:
    from matplotlib.image import imread

    shot = screenshot(built["html"], tmp_path / "shot.png", width=1200, height=1000)
    img = imread(shot)
    assert img.shape[0] == 1000 and img.shape[1] == 1200
    # the summary box (background #f4f7fb) and the fan chart (autarky median #4c72b0, linked
    # median #dd8452, drawn 2 px wide) are on the first screen
    assert _colour_fraction(img, (0xF4, 0xF7, 0xFB)) > 0.02
    assert _colour_fraction(img, (0x4C, 0x72, 0xB0)) > 1e-4
    assert _colour_fraction(img, (0xDD, 0x84, 0x52)) > 1e-4
    pdf = print_pdf(built["html"], tmp_path / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"


@pytest.mark.slow
def test_real_engine_annual_arrays_feed_the_cost_model(tmp_path: Path) -> None:
    """The real engine (synthetic markets, a few paths): its annual arrays have the contract's
    shape and the firm's cost with no abatement or allocation is price x emissions. (Seconds
    with the engine's numba cache warm, as after the engine tests; compiling it cold takes
    a minute or two.)"""
    from riskmodel.firm.cost import firm_costs
    from riskmodel.firm.firm import firm_from_dict
    from riskmodel.firm.inputs import market_paths, with_annual
    from riskmodel.sim.engine import simulate as real_simulate
    from riskmodel.sim.scenario import scenario_from_dict

    scn = scenario_from_dict({**SCENARIO, "events": {}, "simulation": {
        **SCENARIO["simulation"], "paths": 200, "paths_per_chunk": 100, "fx": {}}})
    res = real_simulate(with_annual(scn))
    mp = market_paths(res.annual, scn, "aa", "EUR")
    assert mp.price.shape == (3, 200, 3)
    f = firm_from_dict({"name": "plain", "market": "aa", "emissions": {"share": 0.05}})
    r = firm_costs(f, mp)
    np.testing.assert_allclose(r.cost, mp.price * 0.05 * mp.bau, rtol=1e-12)
    assert math.isfinite(r.value("linked", "es975"))


def test_single_events_switch_on_one_event_each() -> None:
    from riskmodel.firm.inputs import single_events
    from riskmodel.sim.scenario import scenario_from_dict

    ev = single_events(scenario_from_dict(SCENARIO))
    assert list(ev) == ["aa-bb: quota imposed", "aa-bb: terminated", "bb: exemption"]
    quota, end, ex = ev.values()
    assert quota.links[0].active_to_restricted == 0.3 and quota.links[0].active_to_suspended == 0
    assert not quota.markets
    assert end.links[0].active_to_restricted == 0 and end.links[0].active_to_suspended == 0.1
    assert not ex.links and ex.markets[0].exemption_on == 0.2
