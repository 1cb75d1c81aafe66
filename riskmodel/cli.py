"""The ``riskmodel`` command line.

Subcommands live beside the code they drive and are imported lazily (only the one that runs):
``data`` (riskmodel.data.cli), ``fit`` (riskmodel.fit.cli), ``run`` and ``runs``
(riskmodel.batch.cli), ``scenario`` (riskmodel.batch.scenario_cli), ``report``
(riskmodel.firm.cli).

Every failure ends as one line on stderr, ``error: <file or command>: <field>: <what is wrong>``
(riskmodel.cli_errors). Exit status: 0 success, 2 a usage or input error (nothing written),
1 a run that failed part-way (its folder kept, marked failed) or an internal error, 130 Ctrl-C.
``--debug`` (or ``RISKMODEL_DEBUG=1``) shows the Python traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
import typing
from typing import Annotated, Any

import typer
from typer._click.exceptions import BadParameter
from typer.core import TyperCommand, TyperGroup

from riskmodel import config
from riskmodel.cli_errors import EXIT_ABORT, EXIT_INPUT, command_path, error_line

#: Subcommands: name -> (module, attribute, is a sub-app). Imported only when used, so that
#: ``riskmodel run`` does not pay for arch/statsmodels and ``riskmodel data`` not for numba.
SUBCOMMANDS: dict[str, tuple[str, str, bool]] = {
    "data": ("riskmodel.data.cli", "app", True),
    "fit": ("riskmodel.fit.cli", "fit", False),
    "run": ("riskmodel.batch.cli", "run", False),
    "runs": ("riskmodel.batch.cli", "runs_app", True),
    "report": ("riskmodel.firm.cli", "report", False),
    "scenario": ("riskmodel.batch.scenario_cli", "app", True),
    "validate": ("riskmodel.fit.validate_cli", "validate", False),
}


#: One-line help of each subcommand, shown by ``riskmodel --help`` without importing them.
SHORT_HELP: dict[str, str] = {
    "data": "Price data: summary of every series and of its cleaning.",
    "fit": "Fit price processes and write calibrations (see `riskmodel fit --help`).",
    "run": "Run a scenario file (all its sweep points) and write runs/<run-id>/.",
    "runs": "List runs, show one run's summary, compare two runs.",
    "report": "Write a firm's compliance-cost risk report (HTML, JSON, CSV) for a run or a "
    "scenario.",
    "scenario": "Inspect scenario files: the design that runs and its sources.",
    "validate": "Validate candidates per market; write JSON, markdown, PIT and fan PNGs and a "
    "README.",
}


class _LazyGroup(TyperGroup):
    """A click group that imports a subcommand's module the first time it is needed; its own
    help lists the subcommands from ``SHORT_HELP`` (no arch, statsmodels or numba import)."""

    _listing = False

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    lazy_names = tuple(SUBCOMMANDS)

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *SUBCOMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any | None:
        if cmd_name not in SUBCOMMANDS:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            return TyperCommand(cmd_name, help=SHORT_HELP[cmd_name])
        module, attr, group = SUBCOMMANDS[cmd_name]
        obj = getattr(importlib.import_module(module), attr)
        if group:
            cmd = typer.main.get_group(obj)
        else:
            single = typer.Typer(add_completion=False)
            single.command(cmd_name)(obj)
            cmd = typer.main.get_command(single)
        cmd.name = cmd_name
        strict_option_parsing(cmd)
        return cmd


def _whole_numbers_written_whole(cmd: Any, ctx: Any, values: dict[str, Any]) -> None:
    """An option that takes a whole number refuses ``20.0`` (the library reads it as 20; a
    scenario file refuses the same value), as it refuses ``20.5``."""
    for param in cmd.params:
        desc = getattr(param, "type_descriptor", None)
        ann = getattr(desc, "annotation", None)
        kinds = [a for a in typing.get_args(ann) if a is not type(None)] or [ann]
        if kinds != [int] or param.name not in values:
            continue
        raw = values[param.name]
        for v in raw if isinstance(raw, list | tuple) else [raw]:
            if isinstance(v, str) and not v.strip().lstrip("+-").isdigit():
                try:
                    whole = float(v).is_integer()
                except (ValueError, OverflowError):
                    continue  # not a number at all: the library's own message says so
                if not whole:
                    continue  # 20.5: the library says it is not a valid integer
                raise BadParameter(f"{v!r} is not a whole number as written; write it without "
                                   "a decimal point or exponent", ctx=ctx, param=param)


def strict_option_parsing(cmd: Any) -> None:
    """Make ``cmd`` (and its subcommands) refuse an option given twice and a whole number
    written as ``20.0``.

    click keeps the last of ``--paths 20 --paths 40`` without a word, so a user who edited one
    copy of a long command line would run the other. Options that take a list (``multiple``)
    and counters may repeat. Uses the parser's record of every option in the order given (a
    second, cheap parse of the arguments before click's own).
    """
    if getattr(cmd, "_strict_parsing", False):
        return
    original = cmd.parse_args

    def parse_args(ctx: Any, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            values, _, order = cmd.make_parser(ctx).parse_args(args=list(args))
            _whole_numbers_written_whole(cmd, ctx, values)
            seen: set[str] = set()
            for param in order:
                if (getattr(param, "param_type_name", "") != "option" or param.multiple
                        or getattr(param, "count", False)):
                    continue
                if param.name in seen:
                    raise BadParameter("given more than once; give it once", ctx=ctx, param=param)
                seen.add(param.name)
        return original(ctx, args)

    cmd.parse_args = parse_args
    cmd._strict_parsing = True
    for sub in (getattr(cmd, "commands", None) or {}).values():
        strict_option_parsing(sub)


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
        str | None,
        typer.Option(
            "--data-dir",
            metavar="<path>",
            envvar=config.ENV_DATA,
            help="Directory of third-party price and fundamentals files, read in place "
            "(default: ../shared/data beside the checkout).",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the Python traceback of a failure instead of the "
                     "one-line error (also RISKMODEL_DEBUG=1)."),
    ] = False,
) -> None:
    """Global options."""
    if data_dir is not None:  # Path('') would be the working folder
        from riskmodel.cli_errors import given_path

        given_path(data_dir, "--data-dir",
                   "the data folder (or leave --data-dir out for the default)")
    config.set_data_dir(data_dir)


#: Narrowest terminal width the tables are laid out for (``riskmodel.sim.summary``'s too).
MIN_COLUMNS = 40


def _sane_columns() -> None:
    """``COLUMNS`` below ``MIN_COLUMNS`` is read as ``MIN_COLUMNS``, as the run tables read it:
    rich laid its tables out in 0 columns (``scenario show`` printed nothing, exit 0) or one
    (a character a line)."""
    cols = os.environ.get("COLUMNS")
    if cols is not None and cols.strip().isdigit() and int(cols) < MIN_COLUMNS:
        os.environ["COLUMNS"] = str(MIN_COLUMNS)


def run(argv: list[str] | None = None) -> None:
    """Entry point: every failure prints one line (``riskmodel.cli_errors``) and exits non-zero;
    ``--debug`` (anywhere on the line) or ``RISKMODEL_DEBUG=1`` shows the traceback instead."""
    _sane_columns()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("RISKMODEL_DEBUG", "") not in ("", "0")
    args = [a for a in args if a != "--debug"]
    try:
        group = typer.main.get_command(app)
        strict_option_parsing(group)
        group.main(args=args, prog_name="riskmodel", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(EXIT_ABORT)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the one place every failure is reported
        if debug and type(exc).__name__ != "NoArgsIsHelpError":
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            # ``riskmodel`` alone, or a group without a command: typer's help has already gone
            # to stdout (click's ``show`` would add an empty line on stderr); say what is missing
            ctx = getattr(exc, "ctx", None)
            names = sorted(ctx.command.list_commands(ctx)) if ctx is not None else []
            where = getattr(ctx, "command_path", None) or "riskmodel"
            typer.echo(f"error: {where}: COMMAND: missing; give one of: {', '.join(names)}",
                       err=True)
            sys.exit(EXIT_INPUT)
        group = typer.main.get_command(app)
        line, code = error_line(exc, command_path(args, group))
        typer.echo(line, err=True)
        sys.exit(code)

if __name__ == "__main__":
    run()
