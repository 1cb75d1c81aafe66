"""The ``riskmodel`` command line.

Subcommands live beside the code they drive and are imported lazily (only the one that runs):
``data`` (riskmodel.data.cli), ``fit`` (riskmodel.fit.cli), ``run`` and ``runs``
(riskmodel.batch.cli), ``report`` (riskmodel.firm.cli).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from riskmodel import config
from riskmodel.errors import RiskmodelError

#: Subcommands: name -> (module, attribute, is a sub-app). Imported only when used, so that
#: ``riskmodel run`` does not pay for arch/statsmodels and ``riskmodel data`` not for numba.
SUBCOMMANDS: dict[str, tuple[str, str, bool]] = {
    "data": ("riskmodel.data.cli", "app", True),
    "fit": ("riskmodel.fit.cli", "fit", False),
    "run": ("riskmodel.batch.cli", "run", False),
    "runs": ("riskmodel.batch.cli", "runs_app", True),
    "report": ("riskmodel.firm.cli", "report", False),
    "validate": ("riskmodel.fit.validate_cli", "validate", False),
}


class _LazyGroup(TyperGroup):
    """A click group that imports a subcommand's module the first time it is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *SUBCOMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attr, group = SUBCOMMANDS[cmd_name]
        obj = getattr(importlib.import_module(module), attr)
        if group:
            cmd = typer.main.get_group(obj)
        else:
            single = typer.Typer(add_completion=False)
            single.command(cmd_name)(obj)
            cmd = typer.main.get_command(single)
        cmd.name = cmd_name
        return cmd


app = typer.Typer(
    name="riskmodel",
    cls=_LazyGroup,
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
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    run()
