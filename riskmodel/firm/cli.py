"""``riskmodel report``: a firm's compliance-cost risk report from a run or a scenario."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from riskmodel import config
from riskmodel.errors import InputError

#: What ``--out`` holds, for its messages.
REPORT = "the report"


def _library(ref: str, folder: Path, what: str) -> Path:
    """A file path, or the name of a file in the project library (``folder/<name>.yaml``)."""
    p = Path(ref)
    if p.exists() or p.suffix in (".yaml", ".yml"):
        return p
    cand = folder / f"{ref}.yaml"
    if cand.is_file():
        return cand
    raise InputError(f"no {what} file {ref!r} (nor {cand})", field=f"--{what}")


def _out_beside_no_run(dest: Path, run: str | None) -> None:
    """``--out`` inside a run folder is that run's ``reports/`` folder or nothing: elsewhere in
    it (its chunks/, beside its arrays) a report mixes with the files the run's commands read,
    and a report of a scenario, or of another run, there reads as this run's."""
    try:
        where = dest.resolve()
    except (RuntimeError, OSError):  # a symbolic-link loop: refused where the folder is made
        return
    from riskmodel.batch.runner import MANIFEST

    for folder in where.parents:
        if not (folder / MANIFEST).is_file():
            continue
        own = False
        if run is not None and where.is_relative_to(folder / "reports"):
            from riskmodel.batch.runs import find_run

            own = find_run(run).resolve() == folder
        if not own:
            raise InputError(f"{dest} is inside the run folder {folder.name}; give a folder "
                             "outside run folders (a run's own reports go to <run>/reports/"
                             "<firm>, the default with --run)", field="--out")
        return


def report(
    firm: Annotated[str | None, typer.Option("--firm", help="Firm YAML file, or the name of "
                                             "one in data/firms/.", show_default=False)] = None,
    firms: Annotated[str | None, typer.Option(
        "--firms", help="Many firms from one run: a folder of firm YAML files or a CSV with a "
        "'firm' column; writes one report per firm and portfolio.html.",
        show_default=False)] = None,
    run: Annotated[str | None, typer.Option("--run", help="Run folder or run id (runs/<id>).",
                                            show_default=False)] = None,
    scenario: Annotated[str | None, typer.Option(
        "--scenario", help="Scenario YAML file or library name (simulated here).",
        show_default=False)] = None,
    out: Annotated[str | None, typer.Option(
        "--out", metavar="<path>", help="Output folder (default: <run>/reports/<firm>, or "
        "reports/<firm>-<scenario>).",
        show_default=False)] = None,
    paths: Annotated[int | None, typer.Option(
        "--paths", min=1, max=100_000_000,
        help="Paths to simulate with --scenario (default: the scenario's); a report of a run "
        "reads the run's paths.",
        show_default=False)] = None,
    point: Annotated[int, typer.Option("--point", min=0, help="Sweep point to report.")] = 0,
    events: Annotated[bool, typer.Option(
        "--events/--no-events", help="Simulate each regulatory event alone for its effect.")]
        = True,
    event_paths: Annotated[int | None, typer.Option(
        "--event-paths", min=1, max=100_000_000,
        help="Paths per single-event simulation (default: min(paths, 20000)).",
        show_default=False)] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also print report.pdf (headless "
                                      "Chromium).")] = False,
    screenshot: Annotated[str | None, typer.Option(
        "--screenshot", help="Also save a PNG of the first page here (headless Chromium).",
        show_default=False)] = None,
) -> None:
    """Write a firm's compliance-cost risk report (HTML, JSON, CSV) for a run or a scenario."""
    from riskmodel.firm.report import make_report

    # an empty value is refused by name (Path("") reads as ".", and "" as "not given")
    for opt, value, want in (("--firm", firm, "a firm file, or the name of one in data/firms/"),
                             ("--firms", firms, "a folder of firm YAML files or a CSV with a "
                              "'firm' column"),
                             ("--run", run, "a run folder or run id"),
                             ("--scenario", scenario, "a scenario file or library name"),
                             ("--screenshot", screenshot, "a .png file to write")):
        if value is not None and not value.strip():
            raise InputError(f"empty; give {want}", field=opt)
    if (run is None) == (scenario is None):
        raise InputError("give exactly one of --run or --scenario", field="--run")
    if paths is not None:
        from riskmodel.firm.inputs import check_paths

        check_paths(paths)
    if event_paths is not None:
        from riskmodel.firm.inputs import check_paths

        if run is not None:  # as --paths: a run's report reads what the run stored
            raise InputError("does not apply to --run: the report reads the run's stored "
                             "events (run --keep-events), or none", field="--event-paths")
        if not events:
            raise InputError("has no effect with --no-events (no single-event simulation)",
                             field="--event-paths")
        check_paths(event_paths, field="--event-paths", what="the single-event effects")
    shot = None if screenshot is None else Path(screenshot)
    if shot is not None:
        if shot.is_dir() or not shot.parent.is_dir():
            what = "is a folder" if shot.is_dir() else "is in a folder that does not exist"
            raise InputError(f"{shot} {what}; give the path of a PNG file to write",
                             field="--screenshot")
        if shot.suffix.lower() != ".png":  # Chromium writes PNG only, after the whole report
            raise InputError(f"give a .png file (got {screenshot})", field="--screenshot")
    if pdf or shot is not None:  # looked for before anything is simulated or written
        from riskmodel.firm.browser import find_chromium

        if find_chromium() is None:
            raise InputError("headless Chromium is not installed (apt-get install chromium)",
                             field="--pdf" if pdf else "--screenshot")
    if (firm is None) == (firms is None):
        raise InputError("give exactly one of --firm or --firms", field="--firm")
    from riskmodel.batch.run_checks import check_out_folder

    # (a str: Path("") would read as ".", writing the report into the working folder)
    dest = None if out is None else check_out_folder(out, field="--out", what=REPORT)
    if dest is not None and (dest / "manifest.json").is_file():
        raise InputError(f"{dest} is a run folder; give a folder for the report (by default "
                         "a run's reports go to <run>/reports/<firm>)", field="--out")
    if dest is not None:
        _out_beside_no_run(dest, run)
    if firms is not None:
        if run is None:
            raise InputError("--firms reads a run: give --run RUN (made with --keep-annual)",
                             field="--firms")
        for opt, given in (("--scenario", scenario is not None), ("--paths", paths is not None),
                           ("--event-paths", event_paths is not None), ("--no-events", not events)):
            if given:  # it would be ignored: the portfolio reads the run's stored arrays
                raise InputError("does not apply to --firms: the portfolio reads the run's "
                                 "stored paths and single-event arrays", field=opt)
        from riskmodel.firm.portfolio import make_portfolio

        t0 = time.perf_counter()
        written = make_portfolio(run, firms, out=dest, point=point, pdf=pdf)
        if screenshot is not None:
            from riskmodel.firm.browser import screenshot as shoot

            shoot(written["portfolio.html"], shot)
        typer.echo(f"portfolio written to {written['portfolio.html']} "
                   f"({len(written) - 4} firm reports, {time.perf_counter() - t0:.1f}s)")
        return
    assert firm is not None
    firm_path = _library(firm, config.FIRMS_DIR, "firm")
    if firm_path.is_dir() or firm_path.suffix.lower() == ".csv":  # (read as YAML: "must be a
        # mapping of fields" or "expected a YAML file, got a folder", --firms never named)
        what = "a folder" if firm_path.is_dir() else "a CSV list"
        raise InputError(f"{what}, not a firm file: report --firms takes a folder of firm YAML "
                         "files or a CSV with a 'firm' column; --firm takes one firm YAML file",
                         file=firm_path, field="--firm")
    scn = _library(scenario, config.SCENARIOS_DIR, "scenario") if scenario else None
    if dest is None:  # beside the run, or reports/<firm>-<scenario>
        if run is not None:
            from riskmodel.batch.runs import find_run

            dest = find_run(run) / "reports" / firm_path.stem
        else:
            dest = config.PROJECT_ROOT / "reports" / f"{firm_path.stem}-{scn.stem}"
    check_out_folder(dest, field="--out", what=REPORT)
    t0 = time.perf_counter()
    files = make_report(firm_path, out=dest, run=run, scenario=scn, paths=paths, point=point,
                        events=events, event_paths=event_paths, pdf=pdf)
    if shot is not None:
        from riskmodel.firm.browser import screenshot as shoot

        shoot(files["html"], shot)
    typer.echo(f"report written to {files['html']} ({time.perf_counter() - t0:.1f}s)")
