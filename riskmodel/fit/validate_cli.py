"""``riskmodel validate``: rolling-origin validation of the price processes at 1 day to 1 year."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.fit import validation as va
from riskmodel.fit.validation_report import readme, write_market
from riskmodel.io import atomic_write_text
from riskmodel.strict import short_repr

if TYPE_CHECKING:
    import pandas as pd

console = Console(stderr=True)


def validate(
    market: Annotated[str | None, typer.Argument(help="Market id (e.g. eu_ets); or --all.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every market with daily data.")] = False,
    candidates: Annotated[
        str | None,
        typer.Option("--candidates", "-c", help="Comma-separated model names (garch-t, "
                     "ar1-egarch-t, ms2, ...); default: each market's committed model."),
    ] = None,
    paths: Annotated[int, typer.Option("--paths", help="Engine paths per origin.")] = va.N_PATHS,
    start: Annotated[str, typer.Option("--start", help="First origin on or after.")] = va.START,
    end: Annotated[str, typer.Option("--end", help="Last date of data used.")] = va.END,
    seed: Annotated[int, typer.Option("--seed", min=0)] = va.SEED,
    out_arg: Annotated[
        str | None,
        typer.Option("--out", help="Output folder (default calibrations/validation/).",
                     show_default=False),
    ] = None,
    price_limits: Annotated[
        bool,
        typer.Option("--price-limits", help="Simulate each market's daily price limit known at "
                     "the origin, with its latent scale (docs/PRICE_LIMITS.md)."),
    ] = False,
    vol_level: Annotated[
        str,
        typer.Option("--vol-level", help="Volatility-level uncertainty: 0 (off), an sd of log "
                     "volatility, or 'causal' (the pooled spread the stored validation implies "
                     "at each origin; docs/VALIDATION.md)."),
    ] = "0",
) -> None:
    """Validate candidates per market; write JSON, markdown, PIT and fan PNGs and a README."""
    from riskmodel.data.series import load_series

    if out_arg is not None and not out_arg.strip():  # (a str: Path("") would read as ".")
        raise InputError(f"give a folder (got an empty path {out_arg!r})", field="--out")
    out = Path(out_arg) if out_arg is not None else None
    from riskmodel.sim.scenario import MAX_SEED

    if seed > MAX_SEED:  # as a scenario's simulation.seed
        raise InputError(f"at most {MAX_SEED} (2**63 - 1, as a scenario's simulation.seed); got "
                         f"{short_repr(seed)}", field="--seed")
    if paths < 100 or paths > 10_000:
        raise InputError("must be between 100 and 10000", field="--paths")
    import pandas as pd

    for name, v in (("--start", start), ("--end", end)):
        try:
            ts = pd.Timestamp(v)
        except ValueError as exc:
            raise InputError(f"not a date: {v!r}", field=name) from exc
        if pd.isna(ts):  # pd.Timestamp('') and pd.Timestamp('NaT') are NaT, not errors
            raise InputError(f"not a date: {v!r}", field=name)
        if ts.tzinfo is not None:  # the price series are dated by day, without a time zone
            raise InputError(f"a calendar date without time zone, such as 2016-01-01 (got "
                             f"{v!r})", field=name)
        if ts != ts.normalize():
            raise InputError(f"a calendar date without a time of day, such as 2016-01-01 (got "
                             f"{v!r})", field=name)
    if pd.Timestamp(start) > pd.Timestamp(end):
        if start == va.START:  # only --end given: name it, and the default it falls before
            raise InputError(f"{end} is before --start {start} (its default); give a later "
                             "--end or an earlier --start", field="--end")
        raise InputError(f"{start} is after --end {end}", field="--start")
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; give a folder for the validation", field="--out")
    known = va.validation_markets()
    if all_ and market:
        raise InputError(f"give a MARKET or --all, not both (got {market!r} and --all)",
                         field="market")
    if all_:
        markets = known
    elif market:
        if market not in known:
            raise InputError(f"no daily price series with its own fit for {market!r}; known: "
                             f"{', '.join(known)}",
                             field="market")
        markets = [market]
    else:
        raise InputError("give a MARKET or --all", field="market")
    names = _candidate_names(candidates) if candidates is not None else None
    if vol_level != "causal":
        try:
            vl: float | str = float(vol_level)
        except ValueError:
            raise InputError(f"not a number or 'causal': {vol_level!r}", field="--vol-level"
                             ) from None
        if not 0.0 <= vl <= 2.0:
            raise InputError(f"must be between 0 and 2, got {vol_level}", field="--vol-level")
    else:
        vl = "causal"
    cfg = va.ValidationConfig(start=start, end=end, n_paths=paths, seed=seed,
                              price_limits=price_limits, vol_level=vl)
    out_dir = out if out is not None else config.CALIBRATIONS_DIR / "validation"
    cpu: dict[str, float] = {}
    from riskmodel.fit.garch import FitWarning

    warnings.simplefilter("ignore", FitWarning)  # fallbacks are in each origin's notes
    series = {m: load_series(m) for m in markets}
    for m, ps in series.items():  # every market before any is written
        _check_origins(m, ps.returns, start, end)
    for m in markets:
        t0 = time.process_time()
        ps = series[m]
        res = [va.validate_candidate(m, ps.prices, ps.returns, c, cfg=cfg, currency=ps.currency)
               for c in (names or va.default_candidates(m))]
        best, table = va.select_by_validation(res)
        mv = va.MarketValidation(market=m, candidates=res, chosen=best.model,
                                 currency=ps.currency)
        write_market(mv, cfg, out_dir, prices=ps.prices)
        cpu[m] = time.process_time() - t0
        ck = best.checks
        console.print(f"{m}: chosen {best.model} (score {best.score:.3f}, BIC "
                      f"{best.bic if best.bic is None else round(best.bic, 1)}); checks "
                      f"{'all pass' if ck['all_pass'] else 'not all pass'}; "
                      f"{cpu[m]:.1f} s CPU")
    docs = [json.loads((out_dir / f"{m}.json").read_text(encoding="utf-8"))
            for m in known if (out_dir / f"{m}.json").is_file()]
    if docs:
        atomic_write_text(out_dir / "README.md", readme(docs, cfg))
    console.print(f"written {out_dir}")


def _check_origins(market: str, returns: pd.Series, start: str, end: str) -> None:
    """A validation needs an origin (a quarter start from ``--start`` to ``--end``) with
    MIN_TRAIN returns before it and data after it; without one every candidate failed with a
    message naming the returns, not the option that left them out."""
    import pandas as pd

    r = returns[returns.index <= pd.Timestamp(end)]
    if va.quarterly_origins(r.index, start, end)[0]:
        return
    if len(r) <= va.MIN_TRAIN:
        have = (f"{len(r)} of its returns up to {end}" if len(r) else
                f"none of its returns up to {end} (they start {returns.index.min().date()})")
        raise InputError(f"{market} has {have}, and a validation origin needs "
                         f"{va.MIN_TRAIN} returns before it; give a later --end", field="--end")
    raise InputError(f"no quarter start from {start} to --end {end} has {va.MIN_TRAIN} of "
                     f"{market}'s returns before it and data after it; give an earlier --start "
                     f"(the default is {va.START})", field="--start")


def _candidate_names(candidates: str) -> list[str]:
    """``--candidates``: model names, each known, none blank or repeated (checked before any
    data is read; a blank list used to fall back to the default candidate silently)."""
    from riskmodel.errors import FitError
    from riskmodel.fit.cli import check_regime_name, parse_models
    from riskmodel.fit.thin_trading import parse_thin_name

    names = [c.strip() for c in candidates.split(",")]
    if not any(names):
        raise InputError(f"no model names in {candidates!r}; give e.g. garch-t,ms2",
                         field="--candidates")
    for k, name in enumerate(names):
        if not name:
            raise InputError(f"a blank name in {candidates!r}", field="--candidates")
        if name in names[:k]:
            raise InputError(f"{name!r} given twice", field="--candidates")
        try:
            if name.lower().startswith("ms"):
                check_regime_name(name.lower())
            elif name.lower().startswith("z"):
                parse_thin_name(name.lower())
            else:
                parse_models(name, False)
        except (ValueError, FitError, InputError) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            raise InputError(f"{name!r}: {reason}", field="--candidates") from None
    return names

