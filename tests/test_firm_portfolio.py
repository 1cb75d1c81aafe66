"""Many firms from one run, and every number of a report reconciled with the run's stored paths.

One real run of the shipped ``firm_portfolio`` scenario (the markets of the four example firms,
200 paths, ``--keep-annual``) feeds ``report --run RUN --firms data/firms``; the engine
is then disabled, so the reports prove they read the run. The reconciliation test recomputes
every number of each report's JSON risk table from the run's ``annual.npz`` with plain numpy (its
own short implementation of the firm model of MODEL.md §6, below), in the report's one unit.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from riskmodel import config

PATHS = 200
FIRMS = ("california_utility", "chinese_power_generator", "eu_cement", "korean_steelmaker")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from riskmodel.batch.run_arrays import load_plan_keeping_annual
    from riskmodel.batch.runner import run_plan

    out = tmp_path_factory.mktemp("runs")
    plan = load_plan_keeping_annual(config.SCENARIOS_DIR / "firm_portfolio.yaml", paths=PATHS)
    return run_plan(plan, out=out, run_id="fp")


@pytest.fixture(scope="module")
def portfolio(run_dir: Path) -> dict[str, Path]:
    """The four reports and the portfolio page, with the engine switched off."""
    import riskmodel.firm.inputs as firm_inputs
    from riskmodel.firm.portfolio import make_portfolio

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("a report of a run simulated")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(firm_inputs, "simulate", boom)
        mp.setattr(firm_inputs, "engine", boom)
        # an absolute path to the folder of runs (what run --out DIR makes)
        return make_portfolio(run_dir.parent.resolve(), config.FIRMS_DIR,
                              out=run_dir / "reports")


# --------------------------------------------------------------------------- plain numpy model


def _factor(firm: dict[str, Any], n: int, y: int, vol: float) -> np.ndarray:
    em = firm["emissions"]
    seed = em.get("seed")
    if seed is None:
        seed = int.from_bytes(hashlib.sha256(firm["name"].encode()).digest()[:8], "little")
    rho = em.get("idiosyncratic_persistence", 0.0)
    z = np.random.default_rng(seed).standard_normal((n, y))
    x = z.copy()
    for j in range(1, y):
        x[:, j] = rho * x[:, j - 1] + math.sqrt(1 - rho * rho) * z[:, j]
    return np.exp(vol * x - vol * vol / 2) if vol > 0 else np.ones((n, y))


def _year_costs(firm: dict[str, Any], price: np.ndarray, gross: np.ndarray
                ) -> dict[str, np.ndarray]:
    """One variant ``[path, year]``: abatement, bank, purchases and the unhedged cost."""
    ab, al = firm.get("abatement", {}), firm.get("allocation", {})
    pen = firm.get("penalty")
    faced = np.minimum(price, pen["amount"]) if pen and not pen.get("make_good") else price
    s, c, cap = ab.get("slope", 0.0), ab.get("curvature", 0.0), ab.get("max_share", 1.0)
    p = np.maximum(faced, 0)
    a = p / s if c == 0 else 2 * p / (s + np.sqrt(s * s + 4 * c * p))
    a = np.minimum(a, cap * gross)
    acost = s * a**2 / 2 + c * a**3 / 3
    ny = price.shape[1]
    if "output_based" in al:
        alloc = al["output_based"] * gross
    else:
        alloc = np.broadcast_to(al.get("level", 0.0) * (1 + al.get("annual_change", 0.0))
                                ** np.arange(ny), gross.shape)
    bank = np.full(price.shape[0], float(firm.get("bank", 0.0)))
    bought, short, cost = np.zeros_like(price), np.zeros(price.shape, bool), np.zeros_like(price)
    for j in range(ny):
        need = gross[:, j] - a[:, j] - alloc[:, j]
        use = np.clip(need, 0, bank)
        b = need - use
        short[:, j] = b > 0
        if firm.get("surplus", "bank") == "bank":
            bank = bank - use + np.maximum(-b, 0)
            b = np.maximum(b, 0)
        else:
            bank = bank - use
        bought[:, j] = b
        cost[:, j] = acost[:, j] + np.where(b > 0, faced[:, j], price[:, j]) * b
    return {"a": a, "bought": bought, "short": short, "cost": cost}


def _es(x: np.ndarray) -> float:
    k = math.ceil(len(x) * 0.025 - 1e-9)
    return float(np.sort(x)[-k:].mean())


def expected_table(firm: dict[str, Any], annual: dict[str, np.ndarray], k: int, fx: float,
                   vol: float, years: list[int], variants: list[str]) -> dict[tuple, float]:
    """Every measure of the risk table (money in million of the reporting currency)."""
    em = firm["emissions"]
    price, bau = annual["price"][:, :, k, :], annual["bau"][:, :, k, :]
    nv, n, ny = price.shape
    z = _factor(firm, n, ny, vol)
    x = annual["output"][:, :, k, :] if em.get("driver") == "output" else bau
    trend = em["level"] * (1 + em.get("annual_change", 0.0)) ** np.arange(ny)
    rel = x / x[variants.index("autarky")].mean(axis=0)
    gross = np.minimum(trend * rel ** em.get("elasticity", 1.0) * z, em["capacity"] * trend)
    out: dict[tuple, float] = {}
    yrs = [*years, -1]

    def put(v: str, m: str, arr: np.ndarray | list[float]) -> None:
        for j, y in enumerate(yrs):
            out[(v, y, m)] = float(arr[j])

    for iv, v in enumerate(variants):
        p, g = price[iv], gross[iv]
        pos = _year_costs(firm, p, g)
        fwd = p.mean(axis=0)
        exp_buy = pos["bought"].mean(axis=0)
        firm_add = np.zeros_like(p)
        hedges = []
        for h in firm.get("hedges", []):
            j = years.index(h["year"])
            f0 = h.get("price", fwd[j])
            vol_h = h["volume"] if "volume" in h else h["ratio"] * exp_buy[j]
            firm_add[:, j] += (f0 - p[:, j]) * vol_h
            hedges.append((j, f0, vol_h))
        h_free = np.array([np.cov(pos["cost"][:, j], p[:, j])[0, 1] / p[:, j].var(ddof=1)
                           for j in range(ny)])
        h_mv = np.clip(h_free, 0, np.maximum(exp_buy, 0))
        costs = {"": pos["cost"] + firm_add, "_unhedged": pos["cost"],
                 "_expected_hedged": pos["cost"] + exp_buy * (fwd - p),
                 "_mv_hedged": pos["cost"] + h_mv * (fwd - p)}
        for suf, c in costs.items():
            full = np.column_stack([fx * c, fx * c.sum(1)])
            put(v, f"mean{suf}", full.mean(0))
            put(v, f"sd{suf}", full.std(0, ddof=1))
            put(v, f"var95{suf}", np.quantile(full, 0.95, axis=0))
            put(v, f"var99{suf}", np.quantile(full, 0.99, axis=0))
            put(v, f"es975{suf}", [_es(full[:, j]) for j in range(ny + 1)])
            car = np.quantile(full, 0.95, axis=0) - full.mean(0)
            put(v, f"car95{suf}", car)
            put(v, f"car95_share{suf}", np.where(full.mean(0) > 0, car / full.mean(0), np.nan))
            if suf == "":
                for w in ("revenue", "ebitda"):
                    if w in firm:
                        put(v, f"car95_per_{w}", car / (firm[w] * np.array([1] * ny + [ny])))
        for suf in ("", "_expected_hedged", "_mv_hedged"):
            for y in yrs:
                sd0, es0 = out[(v, y, "sd_unhedged")], out[(v, y, "es975_unhedged")]
                out[(v, y, f"var_reduction{suf}")] = 1 - out[(v, y, f"sd{suf}")] ** 2 / sd0**2
                out[(v, y, f"es_reduction{suf}")] = 1 - out[(v, y, f"es975{suf}")] / es0
        put(v, "p_shortfall", [*pos["short"].mean(0), pos["short"].any(1).mean()])
        for name, arr in (("emissions", g - pos["a"]), ("gross_emissions", g),
                          ("abatement", pos["a"]), ("bought", pos["bought"])):
            full = np.column_stack([arr, arr.sum(1)])
            put(v, f"{name}_mean", full.mean(0))
            put(v, f"{name}_sd", full.std(0, ddof=1))
            if name in ("gross_emissions", "bought"):
                put(v, f"{name}_q95", np.quantile(full, 0.95, axis=0))
        put(v, "price_mean", [*fwd, np.nan])
        for q in (5, 25, 50, 75, 95):
            put(v, f"price_q{q:02d}", [*np.quantile(p, q / 100, axis=0), np.nan])
        put(v, "hedge_mv_mt", [*h_mv, h_mv.sum()])
        put(v, "hedge_mv_free_mt", [*h_free, np.nan])
        put(v, "hedge_expected_mt", [*exp_buy, pos["bought"].sum(1).mean()])
        buy_all = [*exp_buy, pos["bought"].sum(1).mean()]
        put(v, "hedge_mv_ratio", [hm / b if b > 0 else np.nan
                                  for hm, b in zip([*h_mv, h_mv.sum()], buy_all, strict=True)])

        # Shapley parts of Var(cost with the firm's hedges): average over every order
        def var_cost(pp: np.ndarray, gg: np.ndarray, hedges: list = hedges) -> np.ndarray:
            c = _year_costs(firm, pp, gg)["cost"].copy()
            for j, f0, vol_h in hedges:
                c[:, j] += (f0 - pp[:, j]) * vol_h
            return np.column_stack([fx * c, fx * c.sum(1)]).var(0, ddof=1)

        lk = variants.index("linked")
        fac = {"price": p, "volume": g}
        if v == "linked_events":
            fac = {"price": price[lk], "volume": g, "events": p - price[lk]}

        def value(s: frozenset, fac: dict = fac) -> np.ndarray:
            a = {n_: (x_ if n_ in s else np.broadcast_to(x_.mean(0), x_.shape))
                 for n_, x_ in fac.items()}
            return var_cost(a["price"] + a.get("events", 0.0), a["volume"])

        orders = list(itertools.permutations(fac))
        for name in ("price", "volume", "events"):
            if name not in fac:
                put(v, f"var_{name}", [np.nan] * (ny + 1))
                continue
            acc = np.zeros(ny + 1)
            for order in orders:
                before = frozenset(order[: order.index(name)])
                acc += value(before | {name}) - value(before)
            put(v, f"var_{name}", acc / len(orders))
        put(v, "var_total", var_cost(p, g))
    return out


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", FIRMS)
def test_every_number_of_the_report_is_reproduced_from_the_stored_paths(
        name: str, run_dir: Path, portfolio: dict[str, Path]) -> None:
    from riskmodel.firm.units import is_money

    rep = json.loads((run_dir / "reports" / name / "report.json").read_text())
    firm = yaml.safe_load((config.FIRMS_DIR / f"{name}.yaml").read_text())
    firm["emissions"].setdefault("capacity", 1.2)
    with np.load(run_dir / "annual.npz") as z:
        annual = {k[len("p0000__"):]: z[k] for k in z.files}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    ids = [m["id"] for m in manifest["plan"]["scenario"]["markets"]]
    # the calibrated default dispersion, read here from the fundamentals file itself
    fund = json.loads((config.CALIBRATIONS_DIR / "fundamentals.json").read_text())
    jur = {"k_ets": "korea", "eu_ets": "eu27", "china_ets": "china", "california": "usa"}
    vol = firm["emissions"].get("idiosyncratic_vol",
                                fund["stats"][jur[firm["market"]]]["sd_dlog_emissions"])
    assert str(round(vol, 3))[:4] in rep["emissions_law"]
    want = expected_table(firm, annual, ids.index(firm["market"]), rep["fx"], vol,
                          rep["years"], rep["variants"])
    scale = rep["unit_in_millions"]
    assert rep["unit"].endswith(rep["currency"])
    seen = set()
    for row in rep["table"]:
        key = (row["variant"], row["year"], row["measure"])
        m = row["measure"]
        assert key in want, f"{key} is not reconciled"
        w = want[key]
        variance = m in ("var_total", "var_price", "var_volume", "var_events")
        w = w / scale if is_money(m) else (w / scale**2 if variance else w)
        want_unit = (rep["unit"] if is_money(m) else f"({rep['unit']})²" if variance else
                     "share" if m.startswith("p_") or "_share" in m or "_reduction" in m
                     or "_ratio" in m or "_per_" in m else
                     f"{rep['market_currency']}/t" if m.startswith("price_") else "Mt CO2e")
        assert row["unit"] == want_unit, key
        if np.isnan(w):  # NaN (e.g. the price of the horizon) is null in JSON
            assert row["value"] is None or np.isnan(row["value"]), key
        else:
            assert row["value"] == pytest.approx(w, rel=1e-7, abs=1e-9 * (1 + abs(w))), key
        seen.add(key)
    assert seen == set(want)  # and every recomputed number is in the report
    csv = pd.read_csv(run_dir / "reports" / name / "risk_table.csv")
    money = csv[csv["measure"].map(is_money)]
    assert set(money["unit"]) == {rep["unit"]}  # one unit in the CSV
    # the hedge proposed never goes short and never exceeds the net short position
    t = pd.DataFrame(rep["table"])
    h = t[t.measure == "hedge_mv_mt"].set_index(["variant", "year"])["value"]
    b = t[t.measure == "bought_mean"].set_index(["variant", "year"])["value"]
    assert (h >= 0).all() and (h <= b.clip(lower=0) + 1e-12).all()
    # the summary quotes the table's numbers, in the report's unit
    es = t[(t.measure == "es975_unhedged") & (t.variant == rep["main_variant"]) & (t.year == -1)]
    text = f"{float(es['value'].iloc[0]):,.4g}" if abs(float(es["value"].iloc[0])) < 1e4 else \
        f"{float(es['value'].iloc[0]):,.0f}"
    assert f"{text} {rep['unit']} unhedged" in " ".join(rep["summary"])


def test_portfolio_reads_one_run_and_ranks_cost_at_risk(run_dir: Path,
                                                         portfolio: dict[str, Path]) -> None:
    from riskmodel.firm.cost import var_es

    data = json.loads(portfolio["portfolio.json"].read_text())
    assert sorted(r["firm"] for r in data["firms"]) == sorted(FIRMS)
    cars = [r["car95_p"] for r in data["firms"]]
    assert cars == sorted(cars, reverse=True) and [r["rank"] for r in data["firms"]] == [1, 2, 3,
                                                                                          4]
    for r in data["firms"]:  # the firm's own CaR, converted at one rate to the numeraire
        rep = json.loads((run_dir / "reports" / r["firm"] / "report.json").read_text())
        ratio = r["car95_p"] / r["car95"]
        assert r["expected_cost_p"] / r["expected_cost"] == pytest.approx(ratio, rel=1e-9)
        assert rep["unit"] == r["unit"]
    tot = data["total"]
    # ES 97.5 on the same paths (the mean of the worst ceil(2.5% n) outcomes) is subadditive
    # exactly: the portfolio's worst paths are no worse, firm by firm, than each firm's own.
    # (CaR, a quantile, need not be: with skewed costs it can exceed the sum.)
    assert tot["es975_p"] <= sum(r["es975_p"] for r in data["firms"]) * (1 + 1e-12)
    assert tot["diversification_p"] == pytest.approx(tot["sum_car95_p"] - tot["car95_p"])
    assert tot["expected_cost_p"] == pytest.approx(sum(r["expected_cost_p"]
                                                        for r in data["firms"]), rel=1e-9)
    assert var_es(np.arange(1.0, 101.0))["var95"] == pytest.approx(95.05)
    frame = pd.read_csv(portfolio["portfolio.csv"])
    assert set(frame["portfolio_unit"]) == {data["unit"]}
    html = portfolio["portfolio.html"].read_text()
    assert all(f'href="{f}/report.html"' in html for f in FIRMS)


def _as_if_never_kept(d: Path) -> None:
    """A copy of a run without annual.npz, as a run without --keep-annual is: its manifest
    does not list the arrays either (an annual.npz the manifest lists and the folder lacks is
    a damaged run, tests/bad_inputs/cases_r11.yaml)."""
    import json

    man = json.loads((d / "manifest.json").read_text())
    man["outputs"].pop("annual.npz")
    (d / "manifest.json").write_text(json.dumps(man))


def test_a_run_without_annual_arrays_is_refused_naming_the_option(tmp_path: Path,
                                                                   run_dir: Path) -> None:
    import shutil

    from riskmodel.errors import InputError
    from riskmodel.firm.portfolio import make_portfolio

    d = tmp_path / "bare"
    shutil.copytree(run_dir, d, ignore=shutil.ignore_patterns("annual.npz", "reports"))
    _as_if_never_kept(d)
    with pytest.raises(InputError, match="--keep-annual") as ei:
        make_portfolio(d, config.FIRMS_DIR, out=tmp_path / "out")
    assert ei.value.field == "annual"
    assert not (tmp_path / "out").exists()  # nothing written


def test_run_with_firms_writes_firm_results_beside_the_market_statistics(
        tmp_path: Path, run_dir: Path, portfolio: dict[str, Path]) -> None:
    from riskmodel.batch.run_arrays import FIRM_RESULTS, write_firm_results

    write_firm_results(run_dir, [config.FIRMS_DIR / f"{f}.yaml" for f in FIRMS])
    t = pd.read_parquet(run_dir / FIRM_RESULTS)
    assert sorted(t["firm"].unique()) == sorted(FIRMS)
    rep = json.loads((run_dir / "reports" / "eu_cement" / "report.json").read_text())
    row = t[(t.firm == "eu_cement") & (t.variant == "linked") & (t.year == -1)
            & (t.measure == "es975")]
    want = next(r for r in rep["table"] if r["variant"] == "linked" and r["year"] == -1
                and r["measure"] == "es975")
    assert row["unit"].iloc[0] == "million EUR"
    assert float(row["value"].iloc[0]) == pytest.approx(want["value"] * rep["unit_in_millions"],
                                                         rel=1e-12)


def test_cli_portfolio_and_screenshot_of_the_portfolio_page(
        tmp_path: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from riskmodel.cli import run
    from riskmodel.firm.browser import find_chromium

    csv = tmp_path / "firms.csv"
    csv.write_text("firm\neu_cement\nkorean_steelmaker\n", encoding="utf-8")
    args = ["riskmodel", "report", "--run", str(run_dir), "--firms", str(csv), "--out",
            str(tmp_path / "p")]
    if find_chromium() is not None:
        args += ["--screenshot", str(tmp_path / "p.png")]
    monkeypatch.setattr(sys, "argv", args)
    try:
        run()
    except SystemExit as exc:
        assert not exc.code
    assert "portfolio written" in capsys.readouterr().out
    assert len(json.loads((tmp_path / "p" / "portfolio.json").read_text())["firms"]) == 2
    if find_chromium() is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    png = (tmp_path / "p.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_cli_run_with_firms_keeps_annual_arrays_and_writes_firm_results(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from riskmodel.batch.run_arrays import FIRM_RESULTS
    from riskmodel.cli import run

    monkeypatch.setattr(sys, "argv", ["riskmodel", "run", "firm_portfolio", "--paths", "100",
                                      "--firms", str(config.FIRMS_DIR), "--out",
                                      str(tmp_path), "--run-id", "cli", "-q"])
    try:
        run()
    except SystemExit as exc:
        assert not exc.code
    d = tmp_path / "cli"
    assert (d / "annual.npz").is_file() and (d / FIRM_RESULTS).is_file()
    t = pd.read_parquet(d / FIRM_RESULTS)
    assert sorted(t["firm"].unique()) == sorted(FIRMS) and t["unit"].notna().all()
    # a firm list that does not exist is refused before anything runs
    monkeypatch.setattr(sys, "argv", ["riskmodel", "run", "firm_portfolio", "--paths", "100",
                                      "--firms", str(tmp_path / "none.csv"), "--out",
                                      str(tmp_path), "--run-id", "bad", "-q"])
    with pytest.raises(SystemExit) as ei:
        run()
    assert ei.value.code != 0
    assert "--firms" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_a_run_killed_before_its_event_and_firm_files_writes_them_on_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--firms asks for events.npz and firm_results.parquet after the chunks; a run killed then
    (simulated: the two files and a chunk removed) and resumed ends with the same files."""
    from riskmodel.batch.run_arrays import EVENTS, EVENTS_INDEX, FIRM_RESULTS
    from riskmodel.cli import run

    def cli(*args: str) -> None:
        monkeypatch.setattr(sys, "argv", ["riskmodel", "run", *args, "-q"])
        try:
            run()
        except SystemExit as exc:
            assert not exc.code

    firms = tmp_path / "firms"
    firms.mkdir()
    (firms / "k.yaml").write_bytes((config.FIRMS_DIR / "korean_steelmaker.yaml").read_bytes())
    cli("firm_portfolio", "--paths", "60", "--firms", str(firms), "--out", str(tmp_path),
        "--run-id", "k")
    d = tmp_path / "k"
    want_events = dict(np.load(d / EVENTS))
    want_firms = pd.read_parquet(d / FIRM_RESULTS)
    assert want_events and len(want_firms)
    for f in (EVENTS, EVENTS_INDEX, FIRM_RESULTS):
        (d / f).unlink()
    sorted((d / "chunks").glob("*.pkl"))[-1].unlink()
    cli("--resume", str(d))
    got = dict(np.load(d / EVENTS))
    assert got.keys() == want_events.keys()
    for k, v in want_events.items():
        np.testing.assert_array_equal(got[k], v)
    pd.testing.assert_frame_equal(pd.read_parquet(d / FIRM_RESULTS), want_firms)


def test_stored_single_event_simulations_feed_the_event_sensitivities(
        tmp_path: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--keep-events: each event simulated alone at run time; the report of the run reads them
    (no simulation) and gets the same effects as simulating them now."""
    import shutil

    import riskmodel.firm.inputs as firm_inputs
    from riskmodel.batch.run_arrays import run_plan_of, write_event_arrays
    from riskmodel.firm.cost import event_effects
    from riskmodel.firm.firm import load_firm
    from riskmodel.firm.report import make_report

    d = tmp_path / "run"
    shutil.copytree(run_dir, d, ignore=shutil.ignore_patterns("reports"))
    write_event_arrays(d, paths=80)
    firm_file = config.FIRMS_DIR / "korean_steelmaker.yaml"
    scn = run_plan_of(d).scenarios[0]
    inp = firm_inputs.load_inputs(load_firm(firm_file), run=d)
    want = event_effects(inp.firm, firm_inputs.event_paths(scn, "k_ets", paths=80,
                                                           currency="KRW"))
    monkeypatch.setattr(firm_inputs, "simulate", lambda *a, **k: pytest.fail("simulated"))
    make_report(firm_file, run=d, out=tmp_path / "rep")
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    got = pd.DataFrame(rep["events"])
    assert list(got["event"]) == list(want["event"]) and len(got) == 3
    np.testing.assert_allclose(got["es975_change"] * rep["unit_in_millions"],
                               want["es975_change"], rtol=1e-10)
    assert any("stored by the run" in n for n in rep["notes"])


def test_cli_report_of_a_run_without_arrays_is_one_line_naming_the_option(
        tmp_path: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from riskmodel.batch.runs import find_run
    from riskmodel.cli import run

    d = tmp_path / "runs" / "bare-run"
    shutil.copytree(run_dir, d, ignore=shutil.ignore_patterns("annual.npz", "reports"))
    _as_if_never_kept(d)
    # an absolute path prefix and an absolute folder of runs both find the run
    assert find_run(str(d.resolve())[:-2]) == d.resolve()
    assert find_run(d.parent.resolve()) == d.resolve()
    monkeypatch.setattr(sys, "argv", ["riskmodel", "report", "--run", str(d.parent.resolve()),
                                      "--firm", "eu_cement", "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as ei:
        run()
    err = capsys.readouterr().err.strip()
    assert ei.value.code != 0 and "\n" not in err and "Traceback" not in err
    assert err.startswith("error: ") and "--keep-annual" in err
    assert not (tmp_path / "o").exists()


def test_report_of_a_run_ignores_calibrations_changed_after_it(
        run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #10: a report of an existing run reads the run's stored arrays; changing a
    calibration afterwards (here the K-ETS start price doubled) leaves the report unchanged."""
    import json
    import shutil

    from riskmodel.firm.report import make_report

    firm = config.FIRMS_DIR / "korean_steelmaker.yaml"
    before = make_report(firm, out=tmp_path / "a", run=run_dir, events=False)
    cal_dir = tmp_path / "calibrations"
    shutil.copytree(config.CALIBRATIONS_DIR, cal_dir)
    cal = json.loads((cal_dir / "k_ets.json").read_text())
    cal["state"]["last_price"] *= 2.0
    (cal_dir / "k_ets.json").write_text(json.dumps(cal))
    monkeypatch.setattr(config, "CALIBRATIONS_DIR", cal_dir)
    after = make_report(firm, out=tmp_path / "b", run=run_dir, events=False)
    a = json.loads(Path(before["json"]).read_text())
    b = json.loads(Path(after["json"]).read_text())
    a.pop("generated"), b.pop("generated")  # the time the report was written
    assert a == b
    # ... while resolving the scenario afresh does see the change (log start price + log 2)
    import math

    from riskmodel.batch.scenario_file import load_scenario_file
    from riskmodel.sim import layout as L
    from riskmodel.sim.resolve import resolve

    scn = load_scenario_file(config.SCENARIOS_DIR / "firm_portfolio.yaml").scenarios[0]
    changed = resolve(scn)
    monkeypatch.undo()
    original = resolve(scn)
    k = original.ids.index("k_ets")
    assert changed.mp[k, L.LOGP0] - original.mp[k, L.LOGP0] == pytest.approx(math.log(2.0))
