"""The ``riskmodel`` command line.

Subcommands live beside the code they drive and are imported lazily, so ``riskmodel --help``
stays fast: ``data`` (riskmodel.data.cli), ``fit`` (riskmodel.fit.cli), ``run`` and ``runs``
(riskmodel.batch.cli), ``report`` (riskmodel.firm.cli).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from riskmodel import config
from riskmodel.errors import RiskmodelError

app = typer.Typer(
    name="riskmodel",
    help=(
        "Quantify the risks of linking carbon markets: clean real price histories, fit autarky "
        "price processes, simulate linked markets on common random numbers, report firm risk."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar=config.ENV_DATA,
            help="Directory of third-party price and fundamentals files, read in place "
            "(default: ../shared/data beside the checkout).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Global options."""
    config.set_data_dir(data_dir)


def _mount(module: str, attr: str, name: str, *, group: bool) -> None:
    """Register a subcommand (group) defined in ``module.attr``."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:  # a subcommand whose module is not written yet
        if exc.name != module:
            raise
        return
    obj = getattr(mod, attr, None)
    if obj is None:
        return
    if group:
        app.add_typer(obj, name=name)
    else:
        app.command(name)(obj)


_mount("riskmodel.data.cli", "app", "data", group=True)
_mount("riskmodel.fit.cli", "fit", "fit", group=False)
_mount("riskmodel.batch.cli", "run", "run", group=False)
_mount("riskmodel.batch.cli", "runs_app", "runs", group=True)
_mount("riskmodel.firm.cli", "report", "report", group=False)


def run() -> None:
    """Entry point: user errors print one line and exit 2; bugs keep their traceback."""
    try:
        app(standalone_mode=False)
    except RiskmodelError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    run()
