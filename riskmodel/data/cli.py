"""``riskmodel data``: inspect the price data and what cleaning did to it."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Price data: summary of every series and of its cleaning.",
                  no_args_is_help=True, add_completion=False)


@app.command()
def summary(
    json_arg: Annotated[str | None, typer.Option(
        "--json", help="Also write the full summary (cleaning date by date) as JSON here.",
        metavar="<path>", show_default=False)] = None,
    market: Annotated[str | None, typer.Option(
        "--market", help="Only the series of this market id (e.g. eu_ets).",
        show_default=False)] = None,
) -> None:
    """Per series: dates, observations, stale share, longest gap, outliers, cleaning."""
    from rich.console import Console

    from riskmodel import config
    from riskmodel.data.summary import (
        dropped_lines,
        summarise,
        summary_table,
        traps_table,
        write_summary_json,
    )
    from riskmodel.errors import DataError, InputError

    json_path = None
    if json_arg is not None:  # checked before the work: a typo'd folder is not created
        from riskmodel.cli_errors import given_path

        json_path = given_path(json_arg, "--json", "a .json file name")
        if json_path.is_dir():
            raise InputError(f"{json_path} is a folder; give a .json file name", field="--json")
        if not json_path.parent.is_dir():
            raise InputError(f"no folder {json_path.parent} to write {json_path.name} into",
                             field="--json")
        if json_path.suffix.lower() != ".json":  # as --csv: a typo must not write over a file
            raise InputError(f"give a file name ending in .json (got {json_arg!r}): --json "
                             "writes over the file it names", field="--json")
    if market is not None and not market.strip():  # '' read as no --market: every series
        raise InputError("empty; give a market id (e.g. eu_ets), or leave --market out for "
                         "every series", field="--market")
    try:
        res = summarise(config.data_dir(), market=market)
    except DataError as exc:
        if market is None or exc.field != "market":
            raise
        raise InputError(exc.reason, field="--market") from None
    console = Console(width=200)
    console.print(summary_table(res))
    if res.get("known_traps"):
        console.print(traps_table(res))
    console.print("* = representative series of its market (data/manifests/series.yaml)")
    dropped = dropped_lines(res)
    console.print(f"Dropped while parsing ({len(dropped)}):" if dropped
                  else "Dropped while parsing: nothing")
    for line in dropped:
        console.print(f"  {line}", markup=False, highlight=False)
    if json_path is not None:
        write_summary_json(json_path, res)
        console.print(f"wrote {json_path}")


@app.command()
def show(
    series: Annotated[str, typer.Argument(help="Market id or series id (e.g. icap.shenzhen).")],
    rows: Annotated[int, typer.Option(help="Prices shown at the start and the end.")] = 5,
) -> None:
    """One cleaned series: where it comes from, its cleaning report, first and last prices."""
    if rows < 1:  # pandas reads head(-5) as "all but the last 5"
        from riskmodel.errors import InputError

        raise InputError(f"must be a number of prices of at least 1 (got {rows})",
                         field="--rows")
    from rich.console import Console

    from riskmodel import config
    from riskmodel.data.series import load_series

    s = load_series(series, config.data_dir())
    c = Console(width=160)
    r = s.report
    c.print(f"[bold]{s.market}[/bold]  {s.series_id}  {s.instrument}  {s.currency}")
    c.print(f"source: {s.source}")
    if s.why:
        c.print(f"why: {s.why}")
    c.print(f"{r.first_date} .. {r.last_date}: {r.n_clean} prices ({r.n_raw} raw), "
            f"{r.n_returns} returns ({r.n_returns_excluded} excluded), stale share "
            f"{r.stale_share:.1%}, longest gap {r.longest_gap_days} d, {r.n_outliers} "
            f"misprints, {r.n_large_moves} moves beyond 50%; hash {s.data_hash[:12]}")
    if s.n_not_numbers:  # dropped while parsing: said here, not only in `data summary`
        c.print(f"not a number: {s.n_not_numbers} price cell(s) dropped while parsing (e.g. "
                f"{', '.join(repr(v) for v in s.not_numbers[:3])})", markup=False)
    for st in r.steps:
        c.print(f"  {st.rule:14s} {st.n:5d}  {st.description}")
        for e in st.events[:8]:
            c.print(f"      {e}")
        if st.n > 8:
            c.print(f"      ... {st.n - 8} more")
    c.print(s.prices.head(rows).to_string())
    c.print("...")
    c.print(s.prices.tail(rows).to_string())


@app.command()
def fx(
    year: Annotated[int, typer.Option(min=2000, max=2100,
                                      help="Year whose average rates to use.")] = 2022,
    write: Annotated[bool, typer.Option(
        "--write/--no-write", help="Write calibrations/fx.json (used by simulations).")] = False,
) -> None:
    """Exchange rates for simulation: EUR per unit of each currency (constant, one year's mean)."""
    from riskmodel import config, io
    from riskmodel.data.fx import CALIBRATION_CURRENCIES, FX_FILE, fx_calibration, fx_years

    years = fx_years(config.data_dir())
    if year not in years:  # checked here: the file's error named the file, not the option
        from riskmodel.errors import InputError

        ccys = ", ".join(CALIBRATION_CURRENCIES)
        if not years:
            raise InputError(f"{FX_FILE} has no year with rates of all of {ccys}",
                             field="--year")
        span = (f"{years[0]}-{years[-1]}" if years == list(range(years[0], years[-1] + 1))
                else ", ".join(map(str, years)))
        raise InputError(f"{FX_FILE} has rates of all of {ccys} in {span} only (not in "
                         f"{year}); give a year from {span}", field="--year")
    cal = fx_calibration(year, data_dir=config.data_dir())
    for ccy, rate in cal["rates"].items():
        typer.echo(f"{ccy}  {rate:.6g} EUR   ({cal['source'][ccy]})")
    if write:
        path = io.atomic_write_json(config.CALIBRATIONS_DIR / "fx.json", cal)
        typer.echo(f"wrote {path}")
