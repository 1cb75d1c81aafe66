"""Where a firm report gets its paths: a run folder's stored arrays, or the engine.

``--run``: the run's ``annual.npz`` and ``paths.npz`` (``riskmodel.batch.run_arrays``), never a
new simulation; a run that kept no annual arrays is refused with the option to add
(``--keep-annual``). ``--scenario``: the scenario is simulated here with ``keep_annual`` on; the
effect of each regulatory event is then measured by simulating the scenario once per event with
only that event switched on (variants ``linked`` and ``linked_events`` on the same seed, so on
common random numbers). A run does not store those single-event simulations, so a report of a
run shows the events' joint effect only and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.firm.cost import MarketPaths
from riskmodel.firm.firm import Firm, check_firm_years
from riskmodel.sim.scenario import EventsSpec, Scenario, scenario_from_dict

#: Default paths per single-event simulation (each is a full simulation).
EVENT_PATHS = 20_000
#: Fewest paths a firm's costs are measured on: the standard deviation, the variance split and
#: the minimum-variance hedge divide by n - 1 (one path gave NaN, RuntimeWarnings and a crash).
MIN_PATHS = 2
#: Below this many paths the report says its tail measures rest on a handful of paths
#: (VaR 99 interpolates between the two worst paths below 101, ES 97.5 is the worst 1-3 paths).
FEW_PATHS = 100


@dataclass
class FirmInputs:
    """Everything the report needs from the simulation side."""

    scenario: Scenario
    market: MarketPaths
    #: Kept daily price paths of the firm's market ``[variant, path, day]`` (may be None).
    daily: np.ndarray | None
    per_event: dict[str, MarketPaths] = field(default_factory=dict)
    fx: float = 1.0
    currency: str = ""
    source: str = ""
    notes: list[str] = field(default_factory=list)
    #: The firm with its defaults resolved (idiosyncratic dispersion), and its emissions law.
    firm: Firm | None = None
    emissions_law: str = ""


def engine() -> Any:
    """The engine module (``RISKMODEL_ENGINE`` or ``riskmodel.sim.engine``)."""
    from riskmodel.batch.parallel import default_engine, load_engine

    return load_engine(default_engine())


def simulate(scenario: Scenario) -> Any:
    """Run the engine on a scenario (``simulate``, or chunk by chunk and merge)."""
    eng = engine()
    if hasattr(eng, "simulate"):
        return eng.simulate(scenario)
    sim = scenario.simulation
    n_chunks = -(-sim.paths // sim.paths_per_chunk)
    parts = []
    for c in range(n_chunks):
        first = c * sim.paths_per_chunk
        parts.append(eng.simulate_chunk(scenario, chunk_index=c,
                                        n_paths=min(sim.paths_per_chunk, sim.paths - first),
                                        first_path=first))
    return eng.merge_chunks(scenario, parts)


def with_annual(scenario: Scenario, *, paths: int | None = None, **sim: Any) -> Scenario:
    """A copy of the scenario that keeps the annual arrays (and other simulation overrides)."""
    upd = {"keep_annual": True, **sim}
    if paths is not None:
        upd["paths"] = paths
    # the user's sparse form: re-validating a full dump would mark every field as set, and
    # defaults would replace what the catalogue and calibrations supply (issue #10)
    data = scenario.model_dump(exclude_unset=True)
    data.setdefault("simulation", {}).update(upd)
    return scenario_from_dict(data)  # an InputError (one line) if the overrides break a rule


def years_of(scenario: Scenario) -> list[int]:
    """Compliance years of the horizon."""
    h = scenario.horizon
    return list(range(h.start_year, h.start_year + h.years))


def market_currency(scenario: Scenario, market: str, *, file: str | Path | None = None) -> str:
    """The currency of a scenario market (its override, else the catalogue's)."""
    spec = next((m for m in scenario.markets if m.id == market), None)
    if spec is None:
        raise InputError(f"market {market!r} is not in scenario {scenario.name!r} "
                         f"(markets: {', '.join(scenario.market_ids())})", file=file,
                         field="market")
    if spec.currency:
        return str(spec.currency)
    from riskmodel.data.catalogue import load_market

    return str(load_market(market).currency)


def fx_rate(scenario: Scenario, firm: Firm, market_ccy: str, report_ccy: str,
            *, file: str | Path | None = None) -> float:
    """Reporting currency per unit of market currency: the firm's ``fx_rate``, else the
    scenario's rates (``simulation.fx`` over ``calibrations/fx.json``, numeraire per unit)."""
    if firm.fx_rate is not None:
        if report_ccy == market_ccy and firm.fx_rate != 1.0:
            raise InputError(f"{firm.fx_rate:g} converts {market_ccy} to itself: the firm reports "
                             f"in its market's currency ({market_ccy}); drop fx_rate or give "
                             "another currency", file=file, field="fx_rate")
        return float(firm.fx_rate)
    if report_ccy == market_ccy:
        return 1.0
    rates: dict[str, float] = {}
    path = config.CALIBRATIONS_DIR / "fx.json"
    num = scenario.simulation.numeraire
    if path.is_file():  # checked as the engine checks it (resolve._fx)
        from riskmodel.fit.shared_calibrations import fx_rates, validate_fx
        from riskmodel.io import read_json

        d = read_json(path, field="fx")
        validate_fx(d, file=path)
        rates = fx_rates(d, num)
    rates.update(scenario.simulation.fx)
    rates[num] = 1.0
    missing = [c for c in (market_ccy, report_ccy) if c not in rates]
    if missing:
        raise InputError(f"no exchange rate for {missing[0]} to report {market_ccy} costs in "
                         f"{report_ccy}: give fx_rate ({report_ccy} per {market_ccy})",
                         file=file, field="fx_rate")
    return rates[market_ccy] / rates[report_ccy]


def market_paths(annual: dict[str, np.ndarray], scenario: Scenario, market: str,
                 currency: str = "") -> MarketPaths:
    """Slice one market out of the engine's annual arrays."""
    return MarketPaths.from_annual(annual, variants=list(scenario.simulation.variants),
                                   market_ids=scenario.market_ids(), market=market,
                                   years=years_of(scenario), currency=currency)


def daily_prices(paths: dict[str, np.ndarray] | None, scenario: Scenario,
                 market: str) -> np.ndarray | None:
    """Kept daily price paths of one market ``[variant, path, day]``, if the engine kept any."""
    arr = (paths or {}).get("price")
    if arr is None or np.asarray(arr).ndim != 4 or np.asarray(arr).shape[1] == 0:
        return None
    return np.asarray(arr)[:, :, scenario.market_ids().index(market), :]


def single_events(scenario: Scenario) -> dict[str, EventsSpec]:
    """One ``EventsSpec`` per regulatory event of the scenario, each with only that event on:
    a link's restriction (quota / fee; its suspension rates zeroed), a link's suspension or
    termination from the active state (restriction rates zeroed), a market's exemption, a
    market's intervention. A suspension that can only follow a restriction
    (``restricted_to_suspended``) is part of the joint effect only."""
    out: dict[str, EventsSpec] = {}
    for lk in scenario.events.links:
        if lk.active_to_restricted > 0:
            one = lk.model_copy(update={"active_to_suspended": 0.0,
                                        "restricted_to_suspended": 0.0})
            what = "quota" if lk.restricted_quota is not None else "fee"
            out[f"{lk.link}: {what} imposed"] = EventsSpec(links=[one])
        if lk.active_to_suspended > 0:  # (restricted -> suspended needs the restriction)
            one = lk.model_copy(update={"active_to_restricted": 0.0,
                                        "restricted_to_suspended": 0.0})
            what = "terminated" if lk.terminal else "suspended"
            out[f"{lk.link}: {what}"] = EventsSpec(links=[one])
    for mk in scenario.events.markets:
        if mk.exemption_on > 0:
            one = mk.model_copy(update={"intervention_on": 0.0})
            out[f"{mk.market}: exemption"] = EventsSpec(markets=[one])
        if mk.intervention_on > 0:
            one = mk.model_copy(update={"exemption_on": 0.0})
            out[f"{mk.market}: intervention"] = EventsSpec(markets=[one])
    return out


def event_scenarios(scenario: Scenario, *, paths: int) -> dict[str, Scenario]:
    """Per single event: the scenario with only that event, variants ``linked`` and
    ``linked_events``, keeping annual arrays ({} when the scenario lacks those variants)."""
    variants = list(scenario.simulation.variants)
    if "linked" not in variants or "linked_events" not in variants:
        return {}
    out = {}
    for name, ev in single_events(scenario).items():
        data = scenario.model_dump(exclude_unset=True)  # the user's form (see with_annual)
        data["events"] = ev.model_dump(exclude_unset=True)
        data.setdefault("simulation", {}).update(keep_annual=True, keep_paths=0, paths=paths,
                                  variants=["linked", "linked_events"])
        out[name] = Scenario.model_validate(data)
    return out


def event_paths(scenario: Scenario, market: str, *, paths: int, currency: str = ""
                ) -> dict[str, MarketPaths]:
    """Per single event: the firm's market under ``linked`` and ``linked_events``."""
    out = {}
    for name, scn in event_scenarios(scenario, paths=paths).items():
        res = simulate(scn)
        out[name] = market_paths(res.annual, scn, market, currency)
    return out


def inputs_from_arrays(firm: Firm, scn: Scenario, annual: dict[str, np.ndarray],
                       kept: dict[str, np.ndarray], *, source: str,
                       firm_file: str | Path | None = None) -> FirmInputs:
    """A firm's inputs from stored arrays (a run's, or a fresh simulation's), no events."""
    from riskmodel.firm.emissions_law import law_sentence, with_default_dispersion

    if not annual:
        raise InputError("the engine returned no annual arrays (simulation.keep_annual)",
                         field="annual")
    years = years_of(scn)
    check_firm_years(firm, years, file=firm_file)
    ccy = market_currency(scn, firm.market, file=firm_file)
    report_ccy = firm.currency or ccy
    mp = market_paths(annual, scn, firm.market, ccy)
    if firm.emissions.driver == "output" and mp.output is None:  # (cost.py cannot name the file)
        raise InputError("the simulation kept no 'output' annual array (covered output), which "
                         "driver: output follows; use driver: bau", file=firm_file,
                         field="emissions.driver")
    fx = fx_rate(scn, firm, ccy, report_ccy, file=firm_file)
    resolved, src = with_default_dispersion(firm)
    notes = []
    unused = sorted(y for y in firm.allocation.by_year or {} if y not in years)
    if unused:  # a firm file may list more years than one scenario simulates: say so
        notes.append(f"allocation.by_year for {', '.join(map(str, unused))} is not used "
                     f"(outside the horizon {years[0]}-{years[-1]})")
    if mp.n_paths < FEW_PATHS:
        notes.append(f"only {mp.n_paths} paths: VaR 99 and ES 97.5 rest on the few worst paths; "
                     f"use {FEW_PATHS:,} or more (1,000 or more for stable tails)")
    return FirmInputs(scenario=scn, market=mp, daily=daily_prices(kept, scn, firm.market),
                      fx=fx, currency=report_ccy, source=source, notes=notes, firm=resolved,
                      emissions_law=law_sentence(resolved, src))


def add_run_events(inp: FirmInputs, run: str | Path, point: int) -> None:
    """The single-event arrays the run stored (``--keep-events``), else a note saying so."""
    from riskmodel.batch.run_arrays import point_event_arrays
    from riskmodel.batch.runs import find_run

    if not single_events(inp.scenario):
        return
    stored = point_event_arrays(find_run(run), point)
    if stored is None:
        inp.notes.append("the run stored no single-event simulations: the events' joint effect "
                         "is shown; run with --keep-events (or --firms) to measure each event "
                         "alone")
        return
    firm = inp.firm
    assert firm is not None
    n = 0
    for name, (scn, annual) in stored.items():
        inp.per_event[name] = market_paths(annual, scn, firm.market, inp.market.currency)
        n = scn.simulation.paths
    inp.notes.append(f"event effects: each event alone, {n} paths on the run's seed (stored by "
                     "the run)")


def from_run(
    run_dir: str | Path, *, point: int = 0, precheck: Callable[[Scenario], None] | None = None
) -> tuple[Scenario, dict[str, np.ndarray], dict[str, np.ndarray], str]:
    """Scenario, annual arrays and kept paths of a run folder's sweep point (read, never
    simulated; InputError naming ``--keep-annual`` when the run kept no annual arrays)."""
    from riskmodel.batch.run_arrays import point_arrays
    from riskmodel.batch.runs import find_run

    d = find_run(run_dir)
    scn, annual, kept = point_arrays(d, point, precheck=precheck)
    return scn, annual, kept, f"run {d.name} (stored arrays of sweep point {point})"


def check_paths(n: int, *, file: str | Path | None = None, field: str = "--paths",
                what: str = "a firm's costs") -> None:
    """At least MIN_PATHS paths (InputError naming where the number came from)."""
    if n < MIN_PATHS:
        raise InputError(f"{what} need at least {MIN_PATHS} paths (the standard deviation and "
                         f"the variance split divide by n - 1); got {n}", file=file, field=field)


def check_run_paths(scn: Scenario, run_dir: str | Path) -> None:
    """A run read by a firm report or portfolio has at least MIN_PATHS paths."""
    n = scn.simulation.paths
    if n < MIN_PATHS:
        raise InputError(f"the run has {n} path(s); a firm's costs need at least {MIN_PATHS} "
                         "(the standard deviation and the variance split divide by n - 1): run "
                         f"the scenario again with --paths {MIN_PATHS} or more", file=run_dir,
                         field="--run")


def check_firm_size(firm: Firm, scn: Scenario, *, firm_file: str | Path | None = None) -> None:
    """A firm is part of its market: its emissions and hedges within the market's BAU emissions
    (where the scenario states them; a catalogue market's BAU is known after resolution)."""
    spec = next(m for m in scn.markets if m.id == firm.market)
    years = years_of(scn)
    em = firm.emissions
    if em.level is not None:
        if spec.bau_emissions is not None and em.level > spec.bau_emissions:
            raise InputError(f"{em.level:g} Mt is more than the whole market's BAU emissions "
                             f"({firm.market}: {spec.bau_emissions:g} Mt); a firm is part of "
                             "its market (levels are in Mt)", file=firm_file,
                             field="emissions.level")
        growth = max(1.0, 1.0 + em.annual_change) ** (len(years) - 1)
        biggest = em.level * em.capacity * growth  # most the firm can emit in any year
    elif spec.bau_emissions is not None:
        biggest = (em.share or 0.0) * spec.bau_emissions * em.capacity
    else:
        return
    from riskmodel.firm.firm import MAX_HEDGE_RATIO

    for k, h in enumerate(firm.hedges):
        if h.volume is not None and abs(h.volume) > MAX_HEDGE_RATIO * biggest:
            raise InputError(f"{h.volume:g} Mt is more than {MAX_HEDGE_RATIO:g} times the most "
                             f"the firm can emit in a year ({biggest:.3g} Mt); hedge volumes "
                             "are in Mt", file=firm_file, field=f"hedges[{k}].volume")


def check_firm_fits(firm: Firm, scn: Scenario, *, firm_file: str | Path | None = None) -> None:
    """The firm must fit the scenario before any path is simulated: its market is one of the
    scenario's, its allocation and hedge years are simulated, its currencies have a rate, its
    size fits the market's, and the scenario has enough paths to measure its costs."""
    if firm.market not in scn.market_ids():
        raise InputError(f"market {firm.market!r} is not in scenario {scn.name!r} "
                         f"(markets: {', '.join(scn.market_ids())})", file=firm_file,
                         field="market")
    check_firm_years(firm, years_of(scn), file=firm_file)
    check_firm_size(firm, scn, firm_file=firm_file)
    ccy = market_currency(scn, firm.market, file=firm_file)
    fx_rate(scn, firm, ccy, firm.currency or ccy, file=firm_file)  # a rate exists, and fits
    check_paths(scn.simulation.paths)


def load_inputs(
    firm: Firm,
    *,
    run: str | Path | None = None,
    scenario: str | Path | Scenario | None = None,
    paths: int | None = None,
    point: int = 0,
    events: bool = True,
    event_paths_n: int | None = None,
    firm_file: str | Path | None = None,
) -> FirmInputs:
    """Market paths for ``firm`` from a run folder (read) or a scenario (simulated)."""
    if (run is None) == (scenario is None):
        raise InputError("give exactly one of --run or --scenario", field="--run")

    def precheck(scn: Scenario) -> None:
        check_firm_fits(firm, scn, firm_file=firm_file)

    if run is not None:
        from riskmodel.batch.runs import find_run

        def run_precheck(scn: Scenario) -> None:
            check_run_paths(scn, find_run(run))
            precheck(scn)

        scn, annual, kept, source = from_run(run, point=point, precheck=run_precheck)
        if paths is not None and paths != scn.simulation.paths:
            raise InputError(f"--paths does not apply to --run: the report reads the run's "
                             f"{scn.simulation.paths} stored paths", field="--paths")
        try:
            inp = inputs_from_arrays(firm, scn, annual, kept, source=source,
                                     firm_file=firm_file)
        except InputError as exc:  # a damaged array file: name it, not the command
            if exc.file is not None or not (exc.field or "").startswith("annual."):
                raise
            from riskmodel.batch.runs import find_run

            raise InputError(f"{exc.reason}; the stored arrays are damaged: delete the run and "
                             "run it again", file=find_run(run) / "annual.npz",
                             field=exc.field) from None
        if events:
            add_run_events(inp, run, point)
        return inp
    if isinstance(scenario, Scenario):
        scn, source = scenario, f"scenario {scenario.name}"
    else:
        from riskmodel.batch.scenario_file import load_scenario_file, point_range

        plan = load_scenario_file(scenario, paths=paths)
        if not 0 <= point < len(plan.scenarios):
            raise InputError(point_range("scenario", len(plan.scenarios), point), file=scenario,
                             field="--point")
        scn = plan.scenarios[point]
        source = f"scenario file {Path(scenario).name} (sweep point {plan.point_label(point)})"
    if paths is None:  # the scenario's own number of paths: name its field
        check_paths(scn.simulation.paths, field="simulation.paths",
                    file=None if isinstance(scenario, Scenario) else scenario)
    precheck(scn)
    scn = with_annual(scn, paths=paths)
    res = simulate(scn)
    inp = inputs_from_arrays(firm, scn, res.annual, res.paths or {}, source=source,
                             firm_file=firm_file)
    if events and single_events(scn):
        n = event_paths_n or min(scn.simulation.paths, EVENT_PATHS)
        inp.per_event = event_paths(scn, firm.market, paths=n, currency=inp.market.currency)
        inp.notes.append(f"event effects: each event alone, {n} paths on the scenario's seed")
    return inp
