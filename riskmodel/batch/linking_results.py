"""The README's linking tables (``docs/results_linking.md``) from the shipped scenario files.

One command regenerates them::

    python -m riskmodel.batch.linking_results [PATHS]

Each table runs a file of ``data/scenarios/`` through the batch API exactly as
``riskmodel run <name> --paths PATHS`` does (:func:`load_scenario_file`, :func:`run_plan`) and
reads every number from the run's ``results.parquet``: China-Korea from ``china_korea.yaml``
(China's intensity point of its sweep, with the absolute point for comparison), the EU-China
quota sweep from ``eu_china_quota.yaml`` with ``eu_china.yaml`` (no quota) as its reference
row. No scenario is built here: what the tables say is what the library runs.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from riskmodel import config
from riskmodel.batch.runner import RESULTS, RunOptions, read_manifest, run_plan
from riskmodel.batch.scenario_file import ScenarioPlan, load_scenario_file
from riskmodel.io import atomic_write_text

#: The shipped scenario files the tables are built from.
SCENARIOS = ("china_korea", "eu_china", "eu_china_quota")
OUTPUT = Path("docs") / "results_linking.md"


@dataclass
class ShippedRun:
    """A finished run of one shipped scenario file: its plan, folder, results and manifest."""

    name: str
    plan: ScenarioPlan
    run_dir: Path
    results: pd.DataFrame
    manifest: dict[str, Any]

    def get(self, statistic: str, market: str, variant: str, year: int, point: int = 0
            ) -> tuple[float, float]:
        """(value, mcse) of one result row."""
        t = self.results
        r = t[(t.sweep_point == point) & (t.statistic == statistic) & (t.market == market)
              & (t.variant == variant) & (t.year == year)]
        if r.empty:
            raise KeyError(f"{self.name}: point {point} {variant}/{market}/{year}/{statistic}")
        return float(r.value.iloc[0]), float(r.mcse.iloc[0])

    def point(self, path: str, value: float) -> int:
        """The sweep point that sets ``path`` to ``value``."""
        for k, pt in enumerate(self.plan.points):
            if pt.get(path) == value:
                return k
        raise KeyError(f"{self.name}: no sweep point {path}={value}")


def run_shipped(name: str, *, paths: int | None, out: Path, n_jobs: int = 1) -> ShippedRun:
    """Run ``data/scenarios/<name>.yaml`` as ``riskmodel run`` does; read its results."""
    plan = load_scenario_file(config.SCENARIOS_DIR / f"{name}.yaml", paths=paths)
    run_dir = run_plan(plan, out=out, run_id=name, options=RunOptions(n_jobs=n_jobs))
    return ShippedRun(name=name, plan=plan, run_dir=run_dir,
                      results=pd.read_parquet(run_dir / RESULTS), manifest=read_manifest(run_dir))


# --------------------------------------------------------------------------- tables


def _md(frame: pd.DataFrame) -> str:
    """A pipe table (no optional dependency)."""
    cols = list(frame.columns)
    out = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    out += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(out)


def _num(v: float, digits: str = ".3g") -> str:
    return "0" if abs(v) < 1e-10 else format(v, digits)


def _cell(r: ShippedRun, stat: str, market: str, variant: str, year: int, point: int = 0
          ) -> str:
    v, se = r.get(stat, market, variant, year, point)
    return f"{_num(v)} ± {_num(se, '.2g')}" if se == se else _num(v)


def table_china_korea(r: ShippedRun, year: int, point: int) -> str:
    """Prices, volatility, emissions and flows of China and Korea, autarky vs linked."""
    cur = {m: r.results[(r.results.market == m) & (r.results.statistic == "price_mean")]
           ["unit"].iloc[0] for m in ("china_ets", "k_ets")}
    rows = []
    for m in ("china_ets", "k_ets"):
        for var in ("autarky", "linked"):
            rows.append({
                "market": m, "variant": var,
                "price mean (currency/t)": f"{_cell(r, 'price_mean', m, var, year, point)} "
                                           f"{cur[m]}",
                "volatility (annualised)": _cell(r, "volatility", m, var, year, point),
                "emissions mean (Mt)": _cell(r, "emissions_mean", m, var, year, point),
                "emissions sd (Mt)": _cell(r, "emissions_sd", m, var, year, point),
                "net imports (Mt)": _cell(r, "flow_mean", m, var, year, point),
            })
    return _md(pd.DataFrame(rows))


def table_sweep(sweep: ShippedRun, free: ShippedRun, year: int) -> str:
    """The EU-China quota sweep, with autarky and the unrestricted link as reference rows."""
    path = "links[0].quota.share"

    def row(label: str, r: ShippedRun, k: int, var: str, quota: bool) -> dict[str, str]:
        linked = var != "autarky"
        return {
            "quota (share of EU supply)": label,
            "EU price (EUR/t)": _cell(r, "price_mean", "eu_ets", var, year, k),
            "EU vol (annualised)": _cell(r, "volatility", "eu_ets", var, year, k),
            "China price (CNY/t)": _cell(r, "price_mean", "china_ets", var, year, k),
            "China vol (annualised)": _cell(r, "volatility", "china_ets", var, year, k),
            "EU imports (Mt)": _cell(r, "flow_mean", "eu_ets", var, year, k) if linked else "0",
            "P(quota binds) (share of days)": (
                _cell(r, "p_quota", "eu_ets", var, year, k) if quota else "0"),
            "EU emissions sd (Mt)": _cell(r, "emissions_sd", "eu_ets", var, year, k),
            "gains (M EUR)": _cell(r, "gain_mean", "total", var, year, k) if linked else "0",
        }

    rows = [row("autarky", sweep, 0, "autarky", False), row("none", free, 0, "linked", False)]
    shares = sorted((pt[path] for pt in sweep.plan.points), reverse=True)
    rows += [row(f"{s:.0%}", sweep, sweep.point(path, s), "linked", True) for s in shares]
    return _md(pd.DataFrame(rows))


def _dir(a: float, b: float) -> str:
    return "rises" if b > a else "falls"


def _reading_ck(r: ShippedRun, year: int, intensity: int, absolute: int) -> str:
    def g(stat: str, m: str, v: str, k: int = intensity) -> float:
        return r.get(stat, m, v, year, k)[0]

    k_a, k_l = g("emissions_sd", "k_ets", "autarky"), g("emissions_sd", "k_ets", "linked")
    k_abs = g("emissions_sd", "k_ets", "linked", absolute)
    vk = _dir(g("volatility", "k_ets", "autarky"), g("volatility", "k_ets", "linked"))
    vc = _dir(g("volatility", "china_ets", "autarky"), g("volatility", "china_ets", "linked"))
    return (
        f"Reading: Korean emissions sd {_dir(k_a, k_l)} from {k_a:.3g} Mt (autarky: the "
        "absolute cap fixes emissions up to what its firms bank or borrow) to "
        f"{k_l:.3g} Mt once linked to China, whose supply "
        "follows output: Korea takes on part of China's volume uncertainty (with China on an "
        f"absolute cap instead, sweep point {absolute}: {k_abs:.3g} Mt). Korea's price "
        f"volatility {vk} and China's {vc} (one pooled price, weighted by the abatement "
        "slopes c; China's weight dominates).")


def _reading_sweep(sweep: ShippedRun, year: int) -> str:
    path = "links[0].quota.share"
    shares = sorted(pt[path] for pt in sweep.plan.points)
    tight, loose = shares[0], shares[-1]
    g = [sweep.get("gain_mean", "total", "linked", year, sweep.point(path, s))[0]
         for s in shares]
    mono = all(a <= b + 1e-9 for a, b in zip(g, g[1:], strict=False))
    eu = next(m for m in sweep.plan.scenarios[0].markets if m.id == "eu_ets")
    eu_bank = eu.stabilisation.tnac0
    return (
        f"Reading: tightening the quota from {loose:.0%} to {tight:.0%} of EU supply cuts EU "
        "imports, raises the EU price back towards autarky and the quota binds more often; "
        f"gains from linking fall {'monotonically' if mono else 'non-monotonically (MC noise)'}"
        ". While the quota binds on some days and not on others the EU price jumps between "
        "the pooled and the restricted level, which raises its measured daily volatility. "
        "Under banking a quota of the design keeps the two banks apart (docs/BANKING.md §7.4): "
        "each side prices on its own map and the link clears the year's flow, so the EU draws "
        f"on its own {eu_bank:,.1f} Mt bank; without a quota (\"none\") the banks pool and "
        "the EU's bank flows to China in the first year (negative EU net imports).")


def _cv_line(r: ShippedRun, year: int, point: int) -> str:
    from riskmodel.sim.resolve import resolve

    sd = resolve(r.plan.scenarios[point]).meta["fundamentals_emissions_sd"]
    return ("Implied CV of BAU emissions U (driven by price shocks) beside the fundamentals' "
            "annual sd of emissions growth: "
            + "; ".join(f"{m}: CV(U) {r.get('bau_cv', m, 'autarky', year, point)[0]:.3f} vs "
                        f"{sd.get(m, float('nan')):.3f}" for m in ("china_ets", "k_ets")) + ".")


def build(runs: dict[str, ShippedRun], paths: int | None) -> str:
    """The markdown of ``docs/results_linking.md`` from finished runs of :data:`SCENARIOS`."""
    ck, free, sweep = runs["china_korea"], runs["eu_china"], runs["eu_china_quota"]
    year = ck.plan.base.horizon.start_year
    intensity = ck.point("markets[china_ets].cap.degree", 1.0)
    absolute = ck.point("markets[china_ets].cap.degree", 0.0)
    n = ck.plan.scenarios[0].simulation.paths
    dpy = ck.plan.base.horizon.days_per_year
    notes = sorted({str(x) for r in runs.values() for x in r.manifest.get("engine_notes", {})})
    cmd = "python -m riskmodel.batch.linking_results" + (f" {paths}" if paths else "")
    lines = [
        "# Linking results from the shipped scenario files",
        "",
        f"Generated by `{cmd}`, which runs `data/scenarios/china_korea.yaml`, `eu_china.yaml` "
        "and `eu_china_quota.yaml` exactly as `riskmodel run <name>"
        f"{f' --paths {paths}' if paths else ''}` does ({n} paths per sweep point, seed "
        f"{ck.plan.scenarios[0].simulation.seed}; first compliance year {year}, {dpy} trading "
        "days; ± = one Monte Carlo standard error). Volatility = annualised volatility of daily "
        "log returns. Emissions are at the compliance date (MODEL.md §3 bridge: BAU = observed "
        "supply + c · observed price).",
        "",
        "## China (intensity cap) - Korea (absolute cap)",
        "",
        f"`china_korea.yaml`, sweep point {intensity} "
        f"({ck.plan.point_label(intensity)}).",
        "",
        table_china_korea(ck, year, intensity),
        "",
        _cv_line(ck, year, intensity),
        "",
        _reading_ck(ck, year, intensity, absolute),
        "",
        "## EU-China link with an import quota on the EU (share of its supply)",
        "",
        "`eu_china_quota.yaml` (one row per sweep point), with `eu_china.yaml` (no quota) and "
        "the autarky variant as reference rows; all on the same seed.",
        "",
        table_sweep(sweep, free, year),
        "",
        _reading_sweep(sweep, year),
        "",
        "Notes: " + "; ".join(notes) + "." if notes else "Notes: none.",
        "",
    ]
    return "\n".join(lines)


def main(paths: int | None = None, *, output: Path | None = None, runs_out: Path | None = None,
         n_jobs: int = 1) -> str:
    """Run the shipped files (into ``runs_out``, default a temporary folder), write the
    markdown to ``output`` (default docs/results_linking.md) and return it."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(runs_out) if runs_out is not None else Path(tmp)
        runs = {name: run_shipped(name, paths=paths, out=out, n_jobs=n_jobs)
                for name in SCENARIOS}
        text = build(runs, paths)
    atomic_write_text(output or config.PROJECT_ROOT / OUTPUT, text)
    return text


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else None))
