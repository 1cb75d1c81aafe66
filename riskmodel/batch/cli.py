"""``riskmodel run`` and ``riskmodel runs``: batch runs of scenario files and their results."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from riskmodel import config
from riskmodel.batch.run_checks import check_out_folder
from riskmodel.batch.runner import RunOptions, read_manifest, resume_run, run_plan
from riskmodel.batch.runs import compare_runs, find_run, list_runs, run_mismatch, show_run
from riskmodel.batch.scenario_file import load_scenario_file
from riskmodel.cli_errors import escape_controls, given_path
from riskmodel.errors import InputError
from riskmodel.sim.summary import denoise, terminal_width

_err = Console(stderr=True)
_out = Console()


class _PathsPerSecond(ProgressColumn):
    """Paths per second (over this session)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} paths/s" if speed else "- paths/s", style="progress.data.speed")


class RichProgress:
    """A rich progress bar fed by the runner (paths done, paths/s, time left)."""

    def __init__(self, label: str, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} paths"),
            _PathsPerSecond(),
            TextColumn("left"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=_err,
            disable=quiet,
            transient=False,
        )
        self.label = label
        self.task_id: int | None = None

    def start(self, total_paths: int, done_paths: int) -> None:
        """Begin (a resume starts part-way)."""
        self.progress.start()
        self.task_id = self.progress.add_task(self.label, total=total_paths,
                                              completed=done_paths)

    def advance(self, paths: int) -> None:
        """Paths just finished."""
        if self.task_id is not None:
            self.progress.advance(self.task_id, paths)

    def stop(self, *, failed: bool = False) -> None:
        """Close the bar: nothing when it never started (an input refused before any path ran
        leaves stderr its one error line, not a blank line first), and erased when the run
        failed (the error line is all stderr gets)."""
        if self.task_id is None:
            return
        if failed:
            self.progress.live.transient = True
            self.progress.live.stop()
            return
        self.progress.stop()


def _width() -> int:
    """Columns to fit: the terminal's, or ``COLUMNS`` (default 100) when piped."""
    return _out.width if _out.is_terminal else terminal_width()


def _resume_folder(ref: Path, out: Path) -> Path:
    """The run folder ``--resume`` names: a folder, its manifest.json, or a run id in ``--out``
    (as ``runs show`` finds it)."""
    if ref.name == "manifest.json" and ref.is_file():
        raise InputError(f"{ref} is the run's manifest; give the run folder ({ref.parent})",
                         field="--resume")
    if not ref.exists() and len(ref.parts) == 1 and (out / ref / "manifest.json").is_file():
        return out / ref
    if out.resolve() != Path(config.RUNS_DIR).resolve() and ref.exists() and (
            ref.resolve().parent != out.resolve()):
        raise InputError(f"a resume finishes the run in its own folder ({ref}); --out only "
                         "says where to find a run given by its id alone (--resume <id> --out "
                         "<folder>)", field="--out")
    return ref


def _scenario_path(ref: str) -> Path:
    """A scenario file path, or the name of one in the library (data/scenarios/<name>.yaml)."""
    if not ref.strip():  # Path('') is the working folder
        raise InputError("empty; give a scenario file (or a library scenario's name)",
                         field="SCENARIO")
    p = Path(ref)
    if p.exists() or p.suffix in (".yaml", ".yml"):
        return p
    lib = config.SCENARIOS_DIR / f"{ref}.yaml"
    if lib.is_file():
        return lib
    have = ", ".join(sorted(x.stem for x in config.SCENARIOS_DIR.glob("*.yaml")))
    raise InputError(f"no scenario file {ref!r} (library scenarios: {have or 'none'})",
                     field="SCENARIO")


def run(
    scenario: Annotated[
        str | None,
        typer.Argument(help="Scenario YAML file, or the name of one in data/scenarios/.",
                       show_default=False),
    ] = None,
    n_jobs: Annotated[int, typer.Option("--n-jobs", "-j", help="Local worker processes "
                                        "(-1: all cores).")] = 1,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="dask.distributed scheduler (tcp://host:port): run the chunks on "
        "that cluster instead of local processes.", show_default=False)] = None,
    paths: Annotated[int | None, typer.Option("--paths", help="Override simulation.paths.",
                                              show_default=False)] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Override simulation.seed.",
                                             show_default=False)] = None,
    chunk_size: Annotated[int | None, typer.Option(
        "--chunk-size", help="Paths per task, rounded up to whole chunks of "
        "simulation.paths_per_chunk (default one chunk per task). Never changes results.",
        show_default=False)] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Finish an interrupted run folder (only its missing chunks).",
        metavar="<path>", show_default=False)] = None,
    run_id: Annotated[str | None, typer.Option(
        "--run-id", help="Run folder name (default <scenario>-<time>-<hash>).",
        show_default=False)] = None,
    out: Annotated[str, typer.Option("--out", help="Folder of run folders.", metavar="<path>")]
    = str(config.RUNS_DIR),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table; "
                                        "print only the run folder.")] = False,
    keep_annual: Annotated[bool, typer.Option(
        "--keep-annual", help="Keep the per-path annual arrays (annual.npz) that firm reports "
        "read (report --run).")] = False,
    keep_events: Annotated[bool, typer.Option(
        "--keep-events", help="Also simulate each regulatory event alone and keep it "
        "(events.npz) for the firm reports' event sensitivities; implies --keep-annual.")]
        = False,
    firms: Annotated[str | None, typer.Option(
        "--firms", help="Also write firm_results.parquet for these firms (a folder of firm "
        "YAML files or a CSV with a 'firm' column); implies --keep-annual --keep-events.",
        show_default=False)] = None,
) -> None:
    """Run a scenario file (all its sweep points) and write runs/<run-id>/."""
    if n_jobs == 0 or n_jobs < -1 or n_jobs > 1024:
        raise InputError(f"must be a number of processes from 1 to 1024, or -1 (got {n_jobs})",
                         field="--n-jobs")
    if chunk_size is not None and chunk_size < 1:
        raise InputError(f"must be a positive number of paths (got {chunk_size})",
                         field="--chunk-size")
    if scheduler is not None and not scheduler.strip():
        raise InputError("empty; give the scheduler's address (tcp://host:port), or leave "
                         "--scheduler out to run local processes", field="--scheduler")
    if scheduler is not None and n_jobs != 1:  # the cluster's workers run every chunk
        what = "all cores" if n_jobs < 0 else f"{n_jobs}"
        raise InputError(f"asks for local worker processes ({what}), but --scheduler runs the "
                         "chunks on the dask cluster's workers, so --n-jobs would be ignored; "
                         "drop --n-jobs (or --scheduler)", field="--n-jobs")
    out_dir = check_out_folder(out)  # (a str: Path("") would read as ".")
    options = RunOptions(n_jobs=n_jobs, scheduler=scheduler, chunk_size=chunk_size)
    if resume is not None:
        if scenario is not None or paths is not None or seed is not None or run_id is not None:
            raise InputError("--resume takes the run folder only (its scenario, paths and seed "
                             "are fixed)", field="--resume")
        given = [name for name, on in (("--keep-annual", keep_annual),
                                       ("--keep-events", keep_events),
                                       ("--firms", firms is not None)) if on]
        if given:  # a resume finishes what the run was started with: these would be ignored
            raise InputError(f"a resume cannot add {', '.join(given)}: the run's products are "
                             "fixed when it starts; start a new run with them", field="--resume")
    firm_list = None
    if firms is not None:  # checked before the run starts
        from riskmodel.firm.portfolio import firm_files

        firm_list = firm_files(firms)
    if resume is not None:
        resume = _resume_folder(given_path(resume, "--resume", "a run folder or run id"),
                                out_dir)
        bar = RichProgress(f"resume {resume.name}", quiet=quiet)
        try:
            run_dir = resume_run(resume, options=options, progress=bar)
        finally:
            bar.stop(failed=sys.exc_info()[0] is not None)
    else:
        if scenario is None:
            raise InputError("give a scenario file (or --resume RUN_DIR)", field="SCENARIO")
        if keep_annual or keep_events or firms is not None:
            from riskmodel.batch.run_arrays import load_plan_keeping_annual

            plan = load_plan_keeping_annual(_scenario_path(scenario), paths=paths, seed=seed)
        else:
            plan = load_scenario_file(_scenario_path(scenario), paths=paths, seed=seed)
        for f in firm_list or []:  # every firm must fit every sweep point before any path runs
            from riskmodel.firm.firm import load_firm
            from riskmodel.firm.inputs import check_firm_fits

            firm = load_firm(f)
            for scn in plan.scenarios:
                check_firm_fits(firm, scn, firm_file=f)
        bar = RichProgress(plan.name, quiet=quiet)
        try:
            products = {"events": bool(keep_events or firm_list),
                        "firms": [str(f.resolve()) for f in firm_list or []]}
            run_dir = run_plan(plan, out=out_dir, run_id=run_id, options=options, progress=bar,
                               products=products)
        finally:
            bar.stop(failed=sys.exc_info()[0] is not None)
    from riskmodel.batch.run_arrays import finish_products

    finish_products(run_dir)  # also after a resume: what the killed session did not write
    if quiet:
        typer.echo(str(run_dir))
        return
    typer.echo(show_run(run_dir, width=_width()))
    typer.echo(f"results: {run_dir}")


runs_app = typer.Typer(
    help="List runs, show one run's summary, compare two runs.",
    no_args_is_help=False,
    invoke_without_command=True,
)

# a str, checked by check_out_folder: a Path option reads --out '' as the working folder
_OutOpt = Annotated[str, typer.Option("--out", help="Folder of run folders.", metavar="<path>")]


def _print_frame(frame: pd.DataFrame, title: str | None = None, *, floatfmt: str = "{:.4g}"
                 ) -> None:
    frame = frame.copy()
    title = escape_controls(title) if title else title
    if "period" in frame.columns and "year" in frame.columns:  # "2024–2026", not year -1
        frame = frame.drop(columns="year")
        frame.insert(list(frame.columns).index("market") + 1, "period", frame.pop("period"))
    for c in frame.columns:  # rounding noise (-6.3e-14 beside 60) prints as 0
        if frame[c].dtype.kind == "f":
            frame[c] = denoise(frame[c].to_numpy())
        elif frame[c].dtype.kind == "O":  # names from folders and manifests, echoed safely
            frame[c] = frame[c].map(lambda v: escape_controls(v) if isinstance(v, str) else v
                                    ).astype(object)
    if not _out.is_terminal:  # piped: plain text, wrapped at COLUMNS (default 100)
        if title:
            typer.echo(title)
        typer.echo(frame.to_string(index=False, float_format=lambda v: floatfmt.format(v),
                                   line_width=terminal_width()))
        return
    table = Table(title=Text(title) if title else None, show_lines=False)  # no markup
    for c in frame.columns:
        table.add_column(str(c), justify="right" if frame[c].dtype.kind in "fiu" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*[
            Text(floatfmt.format(v) if isinstance(v, float) and pd.notna(v)
                 else ("" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)))
            for v in row
        ])
    _out.print(table)


@runs_app.callback()
def _runs_default(ctx: typer.Context, out: _OutOpt = str(config.RUNS_DIR)) -> None:
    """Without a subcommand: list the runs."""
    ctx.obj = {"out": check_out_folder(out)}
    if ctx.invoked_subcommand is None:
        _list(ctx.obj["out"])


def _list(out: Path) -> None:
    frame = list_runs(out)
    if frame.empty:
        _out.print(f"no runs in {escape_controls(str(out))}", markup=False, highlight=False)
        return
    for c in ("points", "paths"):  # whole numbers, also beside a broken run's empty cells
        frame[c] = frame[c].map(lambda v: v if pd.isna(v) else int(v)).astype(object)
    _print_frame(frame.astype(object).where(frame.notna(), "–"), title=f"runs in {out}")


@runs_app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """List the run folders, newest first."""
    _list(ctx.obj["out"])


@runs_app.command("show")
def show_cmd(
    ctx: typer.Context,
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or prefix) or folder.")],
    manifest: Annotated[bool, typer.Option("--manifest", help="Print the manifest JSON.")] = False,
) -> None:
    """Show one run's summary (or its manifest)."""
    out = ctx.obj["out"]
    if manifest:
        d = find_run(run_ref, out=out)
        read_manifest(d)  # a damaged manifest is one line naming it, as without --manifest
        typer.echo((d / "manifest.json").read_text(encoding="utf-8"))
        return
    typer.echo(show_run(run_ref, out=out, width=_width()))


@runs_app.command("compare")
def compare_cmd(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(metavar="RUN_A")],
    b: Annotated[str, typer.Argument(metavar="RUN_B")],
    statistic: Annotated[list[str] | None, typer.Option(
        "--statistic", "-s", help="Only these statistics (repeatable).", show_default=False)
    ] = None,
    variant: Annotated[str | None, typer.Option(
        "--variant", help="Only this variant (autarky, linked, linked_events).",
        show_default=False)] = None,
    csv_arg: Annotated[str | None, typer.Option(
        "--csv", help="Also write the full comparison.", metavar="<path>",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Compare even when the runs' sweep points or path counts differ.")
    ] = False,
) -> None:
    """Compare two runs (e.g. the same scenario under two designs) side by side."""
    out = ctx.obj["out"]
    csv = None if csv_arg is None else given_path(csv_arg, "--csv", "a .csv file name")
    try:
        csv_parents = csv.resolve().parents if csv is not None else []
    except (RuntimeError, OSError):  # a symbolic-link loop (OSError from Python 3.13)
        what = "is" if csv is not None and csv.is_symlink() else "passes through"
        raise InputError(f"{csv} {what} a symbolic-link loop; give the path of a file to write",
                         field="--csv") from None
    for folder in csv_parents:  # never over (or beside)
        if (folder / "manifest.json").is_file():  # a run's own files
            raise InputError(f"{csv} is inside the run folder {folder.name}; give a path "
                             "outside run folders", field="--csv")
    if csv is not None and csv.exists() and not csv.is_file() and not csv.is_dir():
        raise InputError(f"{csv} is not a regular file (a device or a pipe); give the path of "
                         "a .csv file to write", field="--csv")
    if csv is not None and not csv.is_dir() and csv.suffix.lower() != ".csv":
        raise InputError(f"give a file name ending in .csv (got {str(csv)!r}): --csv writes "
                         "over the file it names", field="--csv")
    for problem in run_mismatch(a, b, out=out) if force else []:
        _err.print(f"warning: {problem}", markup=False, highlight=False)
    frame = compare_runs(a, b, out=out, statistics=statistic, force=force)
    if variant is not None:
        have = sorted(set(frame["variant"]))
        if variant not in have:
            raise InputError(f"unknown variant {variant!r} (the runs have: {', '.join(have)})",
                             field="--variant")
        frame = frame[frame["variant"] == variant]
    if csv is not None:
        from riskmodel.io import atomic_write_text


        atomic_write_text(csv, frame.to_csv(index=False))
    na, nb = find_run(a, out=out).name, find_run(b, out=out).name
    _print_frame(frame, title=f"A = {na}   B = {nb}   diff = B - A")
