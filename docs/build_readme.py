"""Assemble README.md from docs/README.template.md and the generated tables, so the README
cannot drift from what the code produced.

    python docs/build_readme.py [runs/<china_korea run>]

Inserts: the main job's summary (the given run, else the newest china_korea run), the calibration
and backtest tables (calibrations/README.md), the linking tables (docs/results_linking.md), the
firm-report pictures (docs/report_*.png) and the benchmark results (benchmarks/results/*.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _section(text: str, start: str, stop: str | None = None) -> str:
    body = text.split(start, 1)[1]
    return body.split(stop, 1)[0].strip() if stop else body.strip()


def main_output(run: Path | None) -> str:
    if run is None:
        runs = sorted((ROOT / "runs").glob("china_korea-2*"), key=lambda p: p.stat().st_mtime)
        runs = [r for r in runs if (r / "summary.txt").is_file()]
        if not runs:
            raise SystemExit("no china_korea run: run `riskmodel run china_korea` first")
        run = runs[-1]
    lines = (run / "summary.txt").read_text().splitlines()
    keep, skipping = [], False
    for ln in lines:
        if ln.startswith(("run ", "sources:", "results:")):
            skipping = True  # and its indented continuation lines
            continue
        if skipping and ln.startswith("  "):
            continue
        skipping = False
        keep.append(ln)
    return "\n".join(keep).strip()


def calibrations() -> str:
    text = (ROOT / "calibrations/README.md").read_text()
    chosen = _section(text, "## Chosen models", "## Proxies")
    proxies = _section(text, "## Proxies (auction-only markets, never fitted)", "## Backtests")
    back = _section(text, "## Backtests", "## Notes")
    notes = _section(text, "## Notes") if "## Notes" in text else ""
    return (f"### Chosen models\n\n{chosen}\n\n### Proxies\n\n{proxies}\n\n"
            f"### Backtests (one-day VaR and ES, out of sample)\n\n{back}\n\n{notes}")


def linking() -> str:
    text = (ROOT / "docs/results_linking.md").read_text()
    return text.split("\n", 1)[1].strip().replace("\n## ", "\n### ")


def banking() -> str:
    """The event exposure with and without banking (docs/results_banking.md)."""
    text = (ROOT / "docs/results_banking.md").read_text()
    return text.split("\n", 1)[1].strip().replace("\n## ", "\n### ")


def reports() -> str:
    pics = sorted((ROOT / "docs").glob("report_*.png"))
    portfolio = "**portfolio page** (four firms from one run)\n\n![portfolio](docs/portfolio.png)"
    return portfolio + "\n\n" + "\n\n".join(
        f"**{p.stem.removeprefix('report_').replace('_', ' ')}** "
        f"(`data/firms/{p.stem.removeprefix('report_')}.yaml`)\n\n![{p.stem}](docs/{p.name})"
        for p in pics
    )


def benchmarks() -> str:
    out = []
    for name in ("engine", "memory", "linking", "linking_topologies", "msgarch", "batch",
                 "report", "validation", "banking_oracle", "banking_links",
                 "kernel_structures", "kernel_profile"):
        p = ROOT / "benchmarks/results" / f"{name}.md"
        if p.is_file():
            body = p.read_text().strip()
            title, _, rest = body.partition("\n")
            rest = rest.replace("\n## ", "\n#### ")
            out.append(f"### {title.lstrip('# ')}\n{rest}")
    return "\n\n".join(out)


def timings() -> str:
    """The measured times of the two commands above (docs/timings.md, written by hand after
    measuring them on a clean clone)."""
    p = ROOT / "docs/timings.md"
    return p.read_text().strip() if p.is_file() else ""


def scenario_show() -> str:
    """``riskmodel scenario show china_korea --point 1`` at 100 columns."""
    import os
    import subprocess

    exe = Path(sys.executable).with_name("riskmodel")
    env = {**os.environ, "COLUMNS": "100"}
    out = subprocess.run([str(exe), "scenario", "show", "china_korea", "--point", "1"],
                         capture_output=True, text=True, check=True, env=env, cwd=ROOT).stdout
    lines = out.rstrip().splitlines()
    end = next(i for i, ln in enumerate(lines) if ln.startswith("└"))  # the first market's table
    return ("$ riskmodel scenario show china_korea --point 1\n" + "\n".join(lines[:end + 1])
            + "\n... (then k_ets, the dependence of price innovations, the link and the notes)")


def n_bad() -> str:
    import yaml

    cases = [c for f in sorted((ROOT / "tests/bad_inputs").glob("cases*.yaml"))
             for c in yaml.safe_load(f.read_text()) or []]
    return str(len(cases))


def validation() -> str:
    """The per-market table of the engine as it runs by default (calibrations/validation/
    vol_level, volatility-level draws on), then the base validation's (each model alone, the
    instrument the level sd is estimated from); both written by validation_report."""
    parts = []
    for sub, title in (("vol_level", "The engine as it runs (volatility-level draws on, the "
                                      "default): `calibrations/validation/vol_level/`"),
                       ("", "Each model alone (no volatility-level draws): "
                            "`calibrations/validation/`")):
        path = ROOT / "calibrations/validation" / sub / "README.md"
        if path.is_file():
            body = path.read_text().split("\n", 1)[1].strip().replace("\n## ", "\n#### ")
            parts.append(f"### {title}\n\n{body}")
        why = path.parent / "why.md"  # the reasons of the failed checks (fit.check_reasons)
        if sub and why.is_file():
            body = why.read_text().split("\n", 1)[1].strip()
            parts.append("### Why each market fails the checks it fails: "
                         f"`calibrations/validation/vol_level/why.md`\n\n{body}")
    return "\n\n".join(parts)


def build(run: Path | None = None) -> str:
    text = (ROOT / "docs/README.template.md").read_text()
    parts = (("{{MAIN_OUTPUT}}", lambda: main_output(run)), ("{{CALIBRATIONS}}", calibrations),
             ("{{LINKING}}", linking), ("{{REPORTS}}", reports), ("{{BENCHMARKS}}", benchmarks),
             ("{{TIMINGS}}", timings), ("{{SCENARIO_SHOW}}", scenario_show), ("{{N_BAD}}", n_bad),
             ("{{VALIDATION}}", validation), ("{{BANKING}}", banking))
    for key, fn in parts:
        text = text.replace(key, fn())
    return text


if __name__ == "__main__":
    arg = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    (ROOT / "README.md").write_text(build(arg))
    print("README.md written")
