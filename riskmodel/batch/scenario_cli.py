"""``riskmodel scenario show``: what a scenario file will run, and where each value comes from."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from riskmodel.batch.cli import _scenario_path
from riskmodel.batch.scenario_file import load_scenario_file, point_range
from riskmodel.errors import InputError
from riskmodel.io import to_json

app = typer.Typer(
    help="Inspect scenario files: the design that runs and its sources.", no_args_is_help=True
)


def _table(title: str, rows: dict[str, dict[str, Any]]) -> Table:
    from riskmodel.sim.provenance import fmt_value

    t = Table(title=Text(title), title_justify="left", expand=False)
    t.add_column("setting", no_wrap=True)
    t.add_column("value", overflow="fold")
    t.add_column("source", overflow="fold", min_width=28)  # a catalogue path on one line
    for item, e in rows.items():
        # Text, not markup: field paths such as markets[0].cap must print as written
        t.add_row(Text(item), Text(fmt_value(e["value"], e.get("unit"))), Text(str(e["source"])))
    return t


@app.command("show")
def show(
    scenario: Annotated[
        str,
        typer.Argument(
            metavar="NAME|FILE", help="Scenario YAML file, or the name of one in data/scenarios/."
        ),
    ],
    point: Annotated[
        int | None,
        typer.Option(
            "--point",
            help="Sweep point K (0-based); default: the file without its sweep.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (as design.json).")] = False,
) -> None:
    """Print per market the effective design and price process, the dependence and each link,
    every value with its source (scenario field, catalogue file, calibration, or default)."""
    from riskmodel.sim.provenance import design_report

    plan = load_scenario_file(_scenario_path(scenario))
    n = len(plan.scenarios)
    if point is not None and not 0 <= point < n:
        raise InputError(point_range("scenario", n, point), field="--point")
    sc = plan.base if point is None else plan.scenarios[point]
    try:
        rep = design_report(sc)
    except InputError as exc:  # as ``run`` names it (runner.check_engine): file and point
        where = f" at sweep point {point} ({plan.point_label(point)})" if point is not None \
            else ""
        raise InputError(f"{exc.reason}{where}", file=exc.file or plan.file,
                         field=exc.field) from None
    label = (
        "base (no sweep)" if point is None else f"sweep point {point}: {plan.point_label(point)}"
    )
    if as_json:
        rep = {"point": point, "label": label, **rep}
        typer.echo(to_json(rep), nl=False)
        return
    con = Console()
    con.print(
        f"[bold]{escape(plan.name)}[/bold]  {escape(label)}"
        + (f"  ({n} sweep point(s); --point K shows one)" if plan.sweep and point is None else "")
    )
    for mid, rows in rep["markets"].items():
        con.print(_table(f"market {mid}", rows))
    if rep["dependence"]:
        con.print(_table("dependence of price innovations", rep["dependence"]))
    for name, rows in rep["links"].items():
        con.print(_table(f"link {name}", rows))
    if rep["notes"]:
        con.print("notes (assumed or repaired):")
        for note in rep["notes"]:
            con.print(Text(f"- {note}"), highlight=False)
