"""``riskmodel fit``: fit, select, backtest and save the price process of one market or of all.

``riskmodel fit MARKET`` selects by BIC over the 18 single-regime models (``--model auto``), or
fits the models named (``--model garch-t``, ``--model gjr-skewt,egarch-t``; regime models
``ms2``, ``msgarch2-t``; ``--model all`` = the 18 plus ms2, msgarch2-normal and msgarch2-t;
``--regimes`` adds ms2 and msgarch2-t to the automatic selection; ``--model thin`` chooses among
the thin-trading models and ms2 / msgarch2-t by out-of-sample score), and writes
``<out>/<market>.json``. ``--backtest`` prints the out-of-sample VaR/ES table of the chosen model
and two benchmarks; ``--plots`` writes PNGs next to the calibration. ``--all`` does this for every
market with daily data, writes the proxies of auction-only markets, the dependence file and
``README.md``.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from riskmodel import config
from riskmodel.errors import DataError, FitError, InputError, RiskmodelError
from riskmodel.fit import backtest as bt
from riskmodel.fit.calibration import (
    PROXIES,
    Calibration,
    apply,
    fit_family,
    implied_conversion,
    load_calibration,
    proxy_calibration,
    write_readme,
)
from riskmodel.fit.diagnostics import diagnose
from riskmodel.fit.garch import ALL_SPECS, ModelSpec, fit_garch, select_model, validate_returns
from riskmodel.io import atomic_write_json

REGIME_DEFAULT = ("ms2", "msgarch2-t")
REGIME_ALL = ("ms2", "msgarch2-normal", "msgarch2-t")
BENCHMARKS = ("garch-normal", "garch-t")
#: Markets whose PNGs ``--all --plots`` writes by default (keeps the repository small).
DEFAULT_PLOT_MARKETS = ("eu_ets", "k_ets", "china_ets")

console = Console(width=160)


@dataclass
class MarketResult:
    """What fitting one market produced."""

    calibration: Calibration
    std_resid: pd.Series
    selection: pd.DataFrame
    backtests: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_models(model: str, regimes: bool) -> tuple[list[ModelSpec], list[str]]:
    """``--model`` text -> (single-regime specs, regime model names)."""
    text = model.strip().lower()
    if text == "auto":
        return list(ALL_SPECS), list(REGIME_DEFAULT) if regimes else []
    if text == "all":
        return list(ALL_SPECS), list(REGIME_ALL)
    specs: list[ModelSpec] = []
    regime: list[str] = []
    for name in (n.strip() for n in text.split(",") if n.strip()):
        if name in ("auto", "all"):  # else "model name 'auto' not understood"
            raise InputError(f"{name!r} stands alone, not in a list (got {model!r}); give "
                             f"{name} or a list of model names", field="--model")
        if name.startswith("ms"):
            check_regime_name(name)
            regime.append(name)
        else:
            try:
                specs.append(ModelSpec.parse(name))
            except FitError as exc:  # a bad name is the option's error, named as such
                raise InputError(str(exc), field="--model") from None
    if regimes:
        regime += [r for r in REGIME_DEFAULT if r not in regime]
    if not specs and not regime:
        raise InputError("no model given", field="--model")
    return specs, regime


def check_regime_name(name: str) -> None:
    k: int | None = None
    if name.startswith("msgarch"):
        from riskmodel.fit.msgarch import parse_msgarch_name

        try:  # K written out (parse_msgarch_name itself defaults a missing K to 2)
            k = parse_msgarch_name(name)[0] if name[len("msgarch"):][:1].isdigit() else None
        except InputError:
            k = None
    elif name[2:].isdigit():
        k = int(name[2:])
    if k is None:
        raise InputError(
            f"model {name!r} not understood: regime models are ms<K> or "
            "msgarch<K>-normal|t[-m4]",
            field="--model",
        )
    if not 1 <= k <= 4:  # calibration_schema.MAX_REGIMES
        raise InputError(f"model {name!r}: K must be 1 to 4 regimes (got {k})", field="--model")


def fit_regime(returns: pd.Series, name: str) -> Any:
    """Fit ``ms<K>`` or ``msgarch<K>-<dist>`` with the regime modules."""
    if name.startswith("msgarch"):
        from riskmodel.fit.msgarch import fit_msgarch, parse_msgarch_name

        k, dist, m4 = parse_msgarch_name(name)
        return fit_msgarch(returns, k_regimes=k, dist=dist, moment4=m4)
    from riskmodel.fit.markov import fit_markov

    return fit_markov(returns, k_regimes=int(name[2:]))


def fit_market(
    market: str,
    *,
    model: str = "auto",
    regimes: bool = False,
    out: Path,
    backtest: bool = False,
    plots: bool = False,
    refit_every: int = bt.REFIT_EVERY,
    test_size: int = bt.TEST_SIZE,
    save: bool = True,
    reuse_scores: bool = False,
) -> MarketResult:
    """Fit one market with daily data, choose its model, optionally backtest and plot, save."""
    from riskmodel.data.series import load_series

    if reuse_scores and _is_thin(model):
        stored_calibration(out / f"{market}.json")
    series = load_series(market)
    series.refuse_not_numbers()  # a fit never rests on silently skipped price cells
    if series.instrument == "auction" or market in PROXIES:
        what = (
            f"its proxy is the {PROXIES[market]['of']} process (`riskmodel fit {market}` writes it)"
            if market in PROXIES
            else "no proxy is defined (it is not linked to a market with daily data)"
        )
        raise DataError(
            f"{market} has too few prices for a fit ({len(series.prices)} points, "
            f"{series.instrument}): {what}",
            file=series.series_id,
            field="instrument",
        )
    r = validate_returns(series)
    if _is_thin(model):
        return _fit_thin_market(
            series,
            model,
            out=out,
            backtest=backtest,
            refit_every=refit_every,
            test_size=test_size,
            save=save,
            reuse_scores=reuse_scores,
        )
    if reuse_scores:
        raise InputError("applies to --model thin only (the candidates scored by validation)",
                         field="--reuse-scores")
    specs, regime_names = parse_models(model, regimes)
    notes: list[str] = []
    selection_notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if len(specs) > 1:
            sel = select_model(series, specs)
            chosen: Any = sel.chosen
            table = sel.table
            selection_notes = sel.notes
        elif specs:
            chosen = fit_garch(series, specs[0].mean, specs[0].vol, specs[0].dist)
            table = pd.DataFrame([_row(chosen.name, chosen, converged=True)]).set_index("model")
        else:
            chosen, table = None, pd.DataFrame()
        for name in regime_names:
            try:
                res = fit_regime(r, name)
            except (RiskmodelError, ImportError, ValueError) as exc:
                notes.append(f"{name} not fitted: {exc}")
                continue
            row = _row(name, res, converged=bool(getattr(res, "converged", True)))
            table = pd.concat([table, pd.DataFrame([row]).set_index("model")])
            if row["converged"] and (chosen is None or res.bic < chosen.bic):
                chosen = res
    notes += [f"{market}: {w.message}" for w in caught if "did not converge" in str(w.message)]
    if chosen is None:
        raise FitError(f"{market}: no model could be fitted ({'; '.join(notes)})")
    name = getattr(chosen, "name", None) or _regime_name(chosen)
    table["chosen"] = table.index == name
    table = table.sort_values("bic", na_position="last")
    cal = Calibration.from_fit(chosen, series, diagnostics=diagnose(chosen), selection=table)
    if notes or selection_notes:
        cal.fit["notes"] = selection_notes + notes
    result = MarketResult(cal, _std_resid(chosen), table, notes=notes)
    if backtest:
        result.backtests = run_backtests(r, cal, refit_every=refit_every, test_size=test_size)
        chosen_bt = next((b for b in result.backtests if b["model"] == cal.model_name), None)
        cal.backtest = chosen_bt
    cal.price_limit = _limit_block(cal)
    if save:
        cal.save(out)
    if plots:
        from riskmodel.fit.plots import write_plots

        applied = apply(cal, r)
        regimes, label = None, None
        if applied.smoothed_probs is None:
            try:  # regime probabilities for illustration beside a single-regime calibration
                regimes = fit_regime(r, "ms2").smoothed
                label = f"ms2 smoothed probabilities (illustration; chosen: {cal.model_name})"
            except (RiskmodelError, ImportError, ValueError) as exc:
                notes.append(f"{market}: no regime picture ({exc})")
        write_plots(cal, applied, series.prices, out, regimes=regimes, regimes_label=label)
    return result


def check_model_names(model: str, regimes: bool) -> None:
    """Refuse an unknown ``--model`` before any data is read (InputError naming --model)."""
    if _is_thin(model):
        from riskmodel.fit.thin_trading import parse_thin_name

        for name in (n.strip().lower() for n in model.split(",") if n.strip()):
            if name == "thin":
                continue
            if name.startswith("ms"):
                check_regime_name(name)
            else:
                try:
                    parse_thin_name(name)
                except (ValueError, FitError) as exc:
                    raise InputError(str(exc), field="--model") from None
        return
    parse_models(model, regimes)


def _check_regimes_act(model: str, regimes: bool) -> None:
    """``--regimes`` where it would add nothing is refused, not ignored: ``--model all`` fits
    ms2 and msgarch2-t already, thin-trading selections never take it (``thin`` scores both
    regime models itself), and a list may name both already."""
    if not regimes:
        return
    names = [n.strip().lower() for n in model.split(",") if n.strip()]
    if _is_thin(model):
        why = ("--model thin scores ms2 and msgarch2-t already" if "thin" in names else
               "a list of thin-trading models is scored as given (name ms2 and msgarch2-t in "
               "it to score them)")
    elif names == ["all"]:
        why = "--model all fits ms2 and msgarch2-t already"
    elif set(REGIME_DEFAULT) <= set(names):
        why = "the --model list names ms2 and msgarch2-t already"
    else:
        return
    raise InputError(f"would add nothing: {why}; leave it out", field="--regimes")


def _check_proxy_options(ctx: typer.Context, market: str) -> None:
    """A proxy market (no price series of its own to fit) is written from its linked market's
    calibration: an option about fitting would be ignored, so it is refused."""
    for name, opt in (("model", "--model"), ("regimes", "--regimes"), ("backtest", "--backtest"),
                      ("plots", "--plots"), ("reuse_scores", "--reuse-scores")):
        given = ctx.get_parameter_source(name)
        if given is not None and given.name == "COMMANDLINE":
            raise InputError(
                f"{market} is not fitted: its calibration is a proxy of {PROXIES[market]['of']}'s "
                f"({'no price series' if 'price_level' in PROXIES[market] else 'too few prices'}"
                f" of its own), so {opt} would never act; leave it out",
                field=opt)


def _is_thin(model: str) -> bool:
    names = [n.strip().lower() for n in model.split(",") if n.strip()]
    if "thin" in names:
        return True
    return bool(names) and all(n.startswith("z") for n in names)


def _fit_thin_market(
    series: Any,
    model: str,
    *,
    out: Path,
    backtest: bool,
    refit_every: int,
    test_size: int,
    save: bool,
    reuse_scores: bool = False,
) -> MarketResult:
    """Candidates by out-of-sample score (``--model thin`` = the thin-trading models plus ms2 and
    msgarch2-t, ``thin_selection.DEFAULT_CANDIDATES``; or z names): each scored by its
    rolling-origin multi-horizon validation score, checks, BIC and guard share
    (``thin_selection``); the chosen one is saved with the comparison table. ``reuse_scores``:
    the table stored in the market's calibration (same data), with only the requested candidates
    it lacks scored and appended (:func:`complete_scores`); its backtest block is kept when the
    choice is unchanged and recomputed for a new choice."""
    from riskmodel.fit.thin_selection import DEFAULT_CANDIDATES, choose, compare, fit_full

    names = [n.strip().lower() for n in model.split(",") if n.strip()]
    cands = tuple(DEFAULT_CANDIDATES) if "thin" in names else tuple(names)
    stored: dict[str, Any] | None = None
    if reuse_scores:
        table = complete_scores(series, stored_scores(series, out), cands, file=out)
        stored = _stored_doc(series, out)
    else:
        table = compare(series, cands)
    chosen = choose(table)
    cal = fit_full(series, chosen)
    row = table.loc[chosen]
    cal.diagnostics["guard_share_1y"] = float(row.get("guard_share_1y", math.nan))
    cal.diagnostics["guard_note"] = (
        f"share of market-days on which the calibration's daily guard "
        f"({(cal.guard or {}).get('max_daily_return', 25.0):g}% log return, `guard`) binds in a "
        "one-year engine run of this calibration (2,000 paths)"
    )
    cal.selection = [
        {"model": str(m), **{k: _plain(v) for k, v in rec.items()}}
        for m, rec in table.to_dict(orient="index").items()
    ]
    orig = table.attrs.get("origins", [])
    cal.fit["selection"] = (
        "lowest multi-horizon validation score (mean over h = 1, 5, 21, 63, 252 days of the mean "
        "CRPS of the log price change / sqrt(h); riskmodel.fit.validation) at the origins "
        f"{', '.join(orig) or '(none: too short, lowest BIC)'} (200 engine paths each) among "
        "converged finite-variance candidates whose one-day VaR 95/99 pass Kupiec when any does; "
        "one whose guard binds on < 1e-4 of market-days preferred when within 5% of the best "
        "score (riskmodel.fit.thin_selection.choose); BIC reported beside"
    )
    notes = [f"{cal.market}: {n}" for n in cal.fit.get("notes", [])]
    if not cal.fit.get("converged", True):
        notes.insert(0, f"{cal.market}: {chosen} did NOT converge")
    for n in notes:
        console.print(f"[yellow]{n}[/]")
    r = series.returns
    result = MarketResult(cal, pd.Series(dtype=float), table, notes=notes)
    applied = apply(cal, r)
    result.std_resid = applied.std_resid
    kept = (stored or {}).get("backtest")
    if not backtest and kept and kept.get("model") == cal.model_name:
        cal.backtest = kept  # same model, same data: the stored backtest still holds
    elif backtest or kept:  # the stored calibration had one: keep it valid for the new choice
        result.backtests = run_backtests(r, cal, refit_every=refit_every, test_size=test_size)
        cal.backtest = next((b for b in result.backtests if b["model"] == cal.model_name), None)
    cal.price_limit = _limit_block(cal)
    if save:
        cal.save(out)
    return result


def _limit_block(cal: Calibration) -> dict[str, Any] | None:
    """The calibration's price-limit block (detected by the fit from its sample) with its latent
    variance scale (riskmodel.fit.price_limits.attach); None without a limit."""
    from riskmodel.fit.price_limits import attach

    return attach(cal.to_dict()) if cal.price_limit else None


def complete_scores(
    series: Any, table: pd.DataFrame, candidates: tuple[str, ...], *, file: Path
) -> pd.DataFrame:
    """The stored selection table with the requested candidates it lacks scored and appended:
    the same screening settings (``thin_selection.SCREEN_PATHS`` paths at every
    ``SCREEN_ORIGIN_EVERY``-th origin, the same seed), so the new rows are comparable with the
    stored ones; refused when their origins differ from the stored table's."""
    from riskmodel.fit.thin_selection import compare

    missing = tuple(c for c in candidates if c not in table.index)
    if not missing:
        return table
    console.print(f"{series.market}: scoring {', '.join(missing)} (missing from the stored table)")
    new = compare(series, missing)
    origins = table.attrs.get("origins", [])
    got = new.attrs.get("origins", [])
    if got and origins and got != origins:
        raise InputError(
            f"the stored scores were computed at other origins ({', '.join(origins)}; now "
            f"{', '.join(got)}); fit without --reuse-scores",
            file=file / f"{series.market}.json",
            field="selection",
        )
    out = pd.concat([table, new.reindex(columns=table.columns.union(new.columns, sort=False))])
    out.attrs["origins"] = origins or got
    return out


def _stored_doc(series: Any, out: Path) -> dict[str, Any]:
    """The stored calibration of the market (checked by :func:`stored_scores`)."""
    return json.loads((out / f"{series.market}.json").read_text(encoding="utf-8"))


def stored_calibration(path: Path) -> dict[str, Any]:
    """The calibration ``--reuse-scores`` reads: present, JSON, an object (checked before the
    price data is loaded)."""
    from riskmodel.io import read_json

    if not path.is_file():
        raise InputError("no calibration to reuse scores from; fit without --reuse-scores",
                         file=path, field="--reuse-scores")
    doc = read_json(path, field="--reuse-scores")
    if not isinstance(doc, dict):
        raise InputError(f"a calibration is a JSON object, not a {type(doc).__name__}; fit "
                         "without --reuse-scores", file=path, field="--reuse-scores")
    return doc


def stored_scores(series: Any, out: Path) -> pd.DataFrame:
    """The candidates' scores stored in ``out/<market>.json`` (its ``selection`` table), for a
    new choice without new validation runs; refused when the calibration was fitted on other
    data (its ``data_hash``) or holds no validation scores."""
    path = out / f"{series.market}.json"
    doc = stored_calibration(path)
    if doc.get("data_hash") != series.data_hash:
        raise InputError("the stored scores were computed on other data (data_hash differs); "
                         "fit without --reuse-scores", file=path, field="data_hash")
    rows = doc.get("selection") or []
    if not rows or not all(isinstance(r, dict) and "score" in r for r in rows):
        raise InputError("holds no validation scores (not a --model thin fit)", file=path,
                         field="selection")
    table = pd.DataFrame(rows).set_index("model")
    m = re.search(r"at the origins (.*?) \(", str((doc.get("fit") or {}).get("selection", "")))
    table.attrs["origins"] = m.group(1).split(", ") if m and m.group(1) else []
    return table


def _plain(v: Any) -> Any:
    if isinstance(v, float | int | str | bool) or v is None:
        return v.item() if hasattr(v, "item") else v
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return str(v)


def _regime_name(res: Any) -> str:
    fam = fit_family(res)
    k = int(getattr(res, "k_regimes", 2))
    return f"ms{k}" if fam == "ms" else f"msgarch{k}-{getattr(res, 'dist', 'normal')}"


def _row(name: str, fit: Any, *, converged: bool) -> dict[str, Any]:
    return {
        "model": name,
        "nobs": int(fit.nobs),
        "k": int(getattr(fit, "num_params", None) or getattr(fit, "n_params", 0)) or None,
        "loglik": float(fit.loglik),
        "aic": float(fit.aic),
        "bic": float(fit.bic),
        "converged": converged,
        "note": "; ".join(getattr(fit, "problems", []) or []),
    }


def _std_resid(fit: Any) -> pd.Series:
    z = fit.std_resid
    return pd.Series(z).dropna()


def run_backtests(
    returns: pd.Series, cal: Calibration, *, refit_every: int, test_size: int
) -> list[dict[str, Any]]:
    """Backtest the chosen model and the GARCH-normal / GARCH-t benchmarks."""
    names = [cal.model_name] + [b for b in BENCHMARKS if b != cal.model_name]
    rows = []
    for name in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = bt.backtest(returns, name, refit_every=refit_every, test_size=test_size)
        except RiskmodelError as exc:
            console.print(f"[yellow]{cal.market}: backtest of {name} failed: {exc}[/]")
            continue
        rows.append({"market": cal.market, **res.summary, "notes": res.notes})
    return rows


# --------------------------------------------------------------------------- proxies


def fit_proxy(market: str, out: Path) -> Calibration:
    """Proxy calibration of an auction-only market from its linked market's calibration."""
    from riskmodel.data.series import load_series

    info = PROXIES[market]
    of = load_calibration(info["of"], out)
    if "price_level" in info:  # no price series at all: rescale to the stated level
        level = float(info["price_level"])
        conv = level / float(of.state["last_price"])
        source = (f"no price series: level set to {level:g} {info['currency']}/t "
                  f"({info['level_source']}); {info['of']}'s dynamics")
        cal = proxy_calibration(market, of, fx_rate=conv, fx_source=source, auction=None)
        cal.save(out)
        return cal
    own = load_series(market)
    of_series = load_series(info["of"])
    own.refuse_not_numbers()
    of_series.refuse_not_numbers()
    fx, source = _fx_for_proxy(of.currency, info["currency"], own.prices, of_series.prices, info)
    auction = {
        "series_id": own.series_id,
        "instrument": own.instrument,
        "n_prices": len(own.prices),
        "first": own.prices.index[0].date().isoformat(),
        "last": own.prices.index[-1].date().isoformat(),
    }
    if own.currency != of_series.currency:
        implied, how = implied_conversion(own.prices, of_series.prices, since=info["link_start"])
        auction["implied_conversion"] = implied
        auction["implied_conversion_note"] = how
    cal = proxy_calibration(market, of, fx_rate=fx, fx_source=source, auction=auction)
    cal.save(out)
    return cal


def _fx_for_proxy(
    from_ccy: str, to_ccy: str, own: pd.Series, of: pd.Series, info: dict[str, str]
) -> tuple[float | None, str]:
    """Units of ``to_ccy`` per unit of ``from_ccy``: the data layer's FX calibration (ICAP
    monthly rates averaged over 2022, ECB averages for currencies ICAP lacks: the rates the
    engine uses), else the latest ICAP monthly rate, else the ratio implied by the auctions."""
    if from_ccy == to_ccy:
        return 1.0, "same currency"
    try:
        from riskmodel.data.fx import fx_calibration

        fx = fx_calibration(2022)
        rates, src = fx["rates"], fx.get("source", {})
        if from_ccy in rates and to_ccy in rates:
            return float(rates[from_ccy]) / float(rates[to_ccy]), (
                f"riskmodel.data.fx.fx_calibration(2022), EUR per unit: {from_ccy} "
                f"{src.get(from_ccy, '')}; {to_ccy} {src.get(to_ccy, '')}"
            )
    except (RiskmodelError, ImportError, KeyError, TypeError):
        pass
    try:
        from riskmodel.data.fx import monthly_rate

        m = monthly_rate(from_ccy, to_ccy)
        return float(m.iloc[-1]), f"ICAP monthly rate {m.name} for {m.index[-1]}"
    except (RiskmodelError, ImportError):
        pass
    factor, how = implied_conversion(own, of, since=info["link_start"])
    return factor, f"no exchange rate in the data: {how}"


# --------------------------------------------------------------------------- output


def _f(v: Any, nd: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return "∞" if not math.isfinite(v) else f"{v:.{nd}f}"
    return str(v)


def print_selection(market: str, table: pd.DataFrame, top: int = 8) -> None:
    t = Table(title=f"{market}: model selection (BIC, best first)")
    for col in ("model", "loglik", "bic", "persistence", "converged", "chosen", "note"):
        t.add_column(col)
    for name, row in table.head(top).iterrows():
        t.add_row(
            str(name),
            _f(row.get("loglik"), 1),
            _f(row.get("bic"), 1),
            _f(row.get("persistence"), 4),
            str(row.get("converged")),
            "✓" if row.get("chosen") else "",
            str(row.get("note") or "")[:60],
        )
    console.print(t)


def print_summary(cals: list[Calibration]) -> None:
    t = Table(title="Chosen models")
    for col in (
        "market",
        "series",
        "model",
        "nobs",
        "persistence",
        "half-life",
        "ann. vol %",
        "BIC",
        "LB p z²(10)",
        "traffic light",
    ):
        t.add_column(col)
    for c in cals:
        d = c.diagnostics
        t.add_row(
            c.market,
            c.series_id,
            c.model_name + (" (proxy)" if c.proxy else ""),
            _f(c.nobs),
            _f(d.get("persistence"), 4),
            _f(d.get("half_life_days"), 1),
            _f(d.get("annualised_vol_pct"), 1),
            _f(c.bic, 1),
            _f(d.get("lb_z2_10_p"), 3),
            (c.backtest or {}).get("traffic_light", "–"),
        )
    console.print(t)


def print_backtests(rows: list[dict[str, Any]]) -> None:
    t = Table(title="Backtests: one-day VaR 95/99 and ES 97.5, out of sample")
    for col in (
        "market",
        "model",
        "days",
        "hits95 (exp)",
        "Kupiec p",
        "CC p",
        "hits99 (exp)",
        "Kupiec p",
        "CC p",
        "Basel",
        "ES MF p",
        "Z2",
    ):
        t.add_column(col)
    for s in rows:
        t.add_row(
            s["market"],
            s["model"],
            str(s["n_test"]),
            f"{s['hits_95']} ({s['expected_95']:.1f})",
            _f(s["kupiec_p_95"]),
            _f(s["cc_p_95"]),
            f"{s['hits_99']} ({s['expected_99']:.1f})",
            _f(s["kupiec_p_99"]),
            _f(s["cc_p_99"]),
            f"{s['traffic_light']} ({s['basel_exceptions']}/{s['basel_days']})",
            _f(s["es_mcneil_frey_p"]),
            _f(s["es_z2"], 2),
        )
    console.print(t)


# --------------------------------------------------------------------------- --all


def daily_markets() -> list[str]:
    """Markets of the series registry with daily (non-auction) data, in registry order."""
    from riskmodel.data.series import read_registry

    return [m for m, e in read_registry().markets.items() if e.instrument != "auction"]


def build_dependence(resids: dict[str, pd.Series], out: Path) -> str:
    """Save ``dependence.json`` from the chosen models' standardised residuals (if available)."""
    try:
        from riskmodel.fit import dependence
    except ImportError:
        return "dependence module not available: dependence.json not written"
    fit_ccc = getattr(dependence, "fit_ccc", None)
    if fit_ccc is None:
        return "riskmodel.fit.dependence.fit_ccc not available yet: dependence.json not written"
    frame = pd.DataFrame(resids).sort_index()
    res = fit_ccc(frame)
    res.save(out / "dependence.json")
    return f"dependence.json written (CCC on {frame.shape[1]} markets, {frame.shape[0]} dates)"


def _check_plot_markets(given: str) -> None:
    """``--plot-markets`` names markets ``--all`` fits, each once: a proxy or a market without
    daily prices gets no fit and so no PNGs, and naming it drew nothing, without a word."""
    names = [m.strip() for m in given.split(",")]
    if "" in names:
        raise InputError(f"an empty market id in {given!r}; give comma-separated market ids",
                         field="--plot-markets")
    twice = sorted({m for m in names if names.count(m) > 1})
    if twice:
        raise InputError(f"{twice[0]!r} given twice", field="--plot-markets")
    fitted = [m for m in daily_markets() if m not in PROXIES]
    known = {p.stem for p in config.MARKETS_DIR.glob("*.yaml")}
    for m in names:
        if m not in known:
            raise InputError(f"unknown market {m!r}", field="--plot-markets")
        if m in PROXIES:
            raise InputError(f"{m!r} is a proxy (its calibration is written from "
                             f"{PROXIES[m]['of']}'s, with no fit): --all draws no PNGs for it; "
                             f"give markets --all fits: {', '.join(fitted)}",
                             field="--plot-markets")
        if m not in fitted:
            raise InputError(f"{m!r} has no daily prices, so --all neither fits it nor draws "
                             f"PNGs for it; give markets --all fits: {', '.join(fitted)}",
                             field="--plot-markets")


def fit_all(
    *,
    model: str,
    regimes: bool,
    out: Path,
    backtest: bool,
    plots: bool,
    plot_markets: list[str] | None,
    refit_every: int,
    test_size: int,
    reuse_scores: bool = False,
) -> None:
    """Fit every daily market, write proxies, dependence and README."""
    results: dict[str, MarketResult] = {}
    skipped: list[str] = []
    for market in daily_markets():
        if market in PROXIES:
            continue
        want_plots = plots and (plot_markets is None or market in plot_markets)
        try:
            res = fit_market(
                market,
                model=model,
                regimes=regimes,
                out=out,
                backtest=backtest,
                plots=want_plots,
                refit_every=refit_every,
                test_size=test_size,
                reuse_scores=reuse_scores,
            )
        except RiskmodelError as exc:
            skipped.append(f"{market}: not fitted ({exc})")
            console.print(f"[yellow]{market}: not fitted: {exc}[/]")
            continue
        results[market] = res
        c = res.calibration
        console.print(
            f"{market:<11} {c.model_name:<18} nobs {c.nobs:>5}  BIC {c.bic:10.1f}  "
            f"persistence {_f(c.diagnostics.get('persistence'), 4)}"
        )
    notes = list(skipped)
    for res in results.values():
        notes += res.notes
    for market in PROXIES:
        try:
            cal = fit_proxy(market, out)
            console.print(f"{market:<11} proxy of {cal.proxy['of']} ({cal.proxy['fx_source']})")
        except RiskmodelError as exc:
            notes.append(f"{market}: proxy not written ({exc})")
    from riskmodel.data.series import read_registry

    for market, entry in read_registry().markets.items():
        if entry.instrument == "auction" and market not in PROXIES:
            notes.append(
                f"{market}: auction prices only ({entry.series_id}) and not linked to a market "
                "with daily data: neither fitted nor proxied"
            )
    notes.append(build_dependence({m: r.std_resid for m, r in results.items()}, out))
    rows = [b for r in results.values() for b in r.backtests]
    table_md = None
    if rows:
        atomic_write_json(out / "backtest.json", {"rows": rows, "scheme": _scheme(refit_every)})
        table_md = bt.backtest_markdown(rows)
        print_backtests(rows)
    write_readme(out, table_md, notes + ([_scheme(refit_every)] if rows else []))
    from riskmodel.fit.calibration import load_all

    print_summary(load_all(out))


def _scheme(refit_every: int) -> str:
    return (
        f"Backtests: last min(500, n-250) returns of each series, expanding window, refitted "
        f"every {refit_every} days, parameters fixed in between (variance updated daily); "
        "Basel traffic light on the 99% VaR of the last 250 test days; ES 97.5 by McNeil–Frey "
        "(bootstrap p) and Acerbi–Szekely Z2."
    )


def fit(
    ctx: typer.Context,
    market: Annotated[
        str | None, typer.Argument(help="Market id (e.g. eu_ets); omit with --all.")
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="auto (BIC over 18 single-regime models), a model (garch-t, ar1-gjr-skewt, "
            "egarch-normal, ms2, msgarch2-t), a comma-separated list, or all; thin: the "
            "thin-trading models (zgarch-t, zgjr-t-vt, ...; docs/THIN_TRADING.md) with ms2 and "
            "msgarch2-t, chosen by the rolling-origin multi-horizon validation score.",
        ),
    ] = "auto",
    all_: Annotated[bool, typer.Option("--all", help="Fit every market with daily data.")] = False,
    regimes: Annotated[
        bool, typer.Option("--regimes", help="Add ms2 and msgarch2-t to the selection.")
    ] = False,
    backtest: Annotated[
        bool, typer.Option("--backtest", help="Out-of-sample VaR/ES backtests.")
    ] = False,
    plots: Annotated[
        bool, typer.Option("--plots", help="Write PNGs next to the calibration.")
    ] = False,
    plot_markets: Annotated[
        str | None,
        typer.Option(
            "--plot-markets",
            help="With --all --plots: comma-separated markets "
            f"(default {','.join(DEFAULT_PLOT_MARKETS)}).",
        ),
    ] = None,
    out: Annotated[
        str | None, typer.Option("--out", help="Calibration folder (default calibrations/).",
                                 show_default=False)
    ] = None,
    refit_every: Annotated[
        int, typer.Option("--refit-every", min=1,
                          help="Backtest: days between re-estimations.")
    ] = bt.REFIT_EVERY,
    test_size: Annotated[
        int, typer.Option("--test-size", min=20, max=bt.MAX_TEST_SIZE,
                          help="Backtest: out-of-sample days (at most the series' length less "
                          "the 250 the first fit needs; fewer are used, with a note).")
    ] = bt.TEST_SIZE,
    reuse_scores: Annotated[
        bool,
        typer.Option(
            "--reuse-scores",
            help="With --model thin: choose again from the validation scores stored in the "
            "market's calibration (same data) instead of recomputing them; requested candidates "
            "missing from it are scored with the same settings and appended; then refit.",
        ),
    ] = False,
) -> None:
    """Fit price processes and write calibrations (see `riskmodel fit --help`)."""
    if out is not None and not out.strip():  # (a str: Path("") would read as ".")
        raise InputError(f"give a folder (got an empty path {out!r})", field="--out")
    out_dir = Path(out) if out is not None else config.CALIBRATIONS_DIR
    check_model_names(model, regimes)
    _check_regimes_act(model, regimes)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} is a file; give a folder for calibrations", field="--out")
    if all_ and market:
        raise InputError(f"give a MARKET or --all, not both (got {market!r} and --all)",
                         field="market")
    for name, opt in (("test_size", "--test-size"), ("refit_every", "--refit-every")):
        given = ctx.get_parameter_source(name)
        if not backtest and given is not None and given.name == "COMMANDLINE":
            raise InputError("applies with --backtest only (the out-of-sample VaR backtest)",
                             field=opt)
    if plot_markets is not None and not plot_markets.strip():  # else the default markets
        raise InputError(f"empty ({plot_markets!r}); give comma-separated market ids, or leave "
                         f"it out for the default ({','.join(DEFAULT_PLOT_MARKETS)})",
                         field="--plot-markets")
    if plot_markets is not None and not (all_ and plots):  # else it would be ignored
        raise InputError("applies with --all --plots only (one market's PNGs: MARKET --plots)",
                         field="--plot-markets")
    if all_:
        pm = plot_markets.split(",") if plot_markets else list(DEFAULT_PLOT_MARKETS)
        unknown = sorted({m.strip() for m in pm} - {p.stem for p in
                                                    config.MARKETS_DIR.glob("*.yaml")})
        if plot_markets is not None:
            _check_plot_markets(plot_markets)
        if unknown:
            raise InputError(f"unknown market {unknown[0]!r}", field="--plot-markets")
        fit_all(
            model=model,
            regimes=regimes,
            out=out_dir,
            backtest=backtest,
            plots=plots,
            plot_markets=[m.strip() for m in pm],
            refit_every=refit_every,
            test_size=test_size,
            reuse_scores=reuse_scores,
        )
        return
    if not market:
        raise InputError("give a MARKET or --all", field="market")
    if market in PROXIES:
        _check_proxy_options(ctx, market)
        cal = fit_proxy(market, out_dir)
        console.print(f"{market}: proxy of {cal.proxy['of']} written ({cal.proxy['reason']})")
        return
    res = fit_market(
        market,
        model=model,
        regimes=regimes,
        out=out_dir,
        backtest=backtest,
        plots=plots,
        refit_every=refit_every,
        test_size=test_size,
        reuse_scores=reuse_scores,
    )
    print_selection(market, res.selection)
    for n in res.notes:
        console.print(f"[yellow]{n}[/]")
    print_summary([res.calibration])
    if res.backtests:
        print_backtests(res.backtests)
    console.print(f"written {out_dir / (market + '.json')}")
