"""Design checks that need the whole scenario, run before any path is simulated.

Field-by-field validation (``riskmodel.sim.scenario``) cannot see a design that is valid piece
by piece and wrong as a whole:

- a cycle of one-way links (permits would circulate forever: the link solver never converges
  and the prices come out NaN);
- a link starting after the last simulated year (it would never act: "linked" equals autarky);
- collars that contradict each other across an unrestricted link (one market's floor above
  what the partner's ceiling allows once prices are equalised: no price clears both);
- infeasible restrictions and events (a floor above the penalty cap, an intervention floor
  above the market's ceiling, an exemption of all covered emissions);
- an abatement slope that abates more than the market's BAU emissions at its own price level
  (emissions would be negative, below the range of the emissions statistics: -inf and NaN).

Each failure is a ``ValueError`` whose message starts with the dotted field, so the scenario
validator reports it as ``<file>: <field>: <what is wrong>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskmodel import config

if TYPE_CHECKING:
    from collections.abc import Iterator

    from riskmodel.sim.scenario import LinkSpec, MarketSpec, Scenario


#: Largest array one chunk may ask for (kept daily paths, per-path annual arrays), bytes.
MAX_CHUNK_BYTES = 2 * 1024**3
#: Per-path annual arrays the engine keeps with ``keep_annual`` (engine.ANNUAL_NAMES), times
#: the three variants: an upper bound used to size a chunk before anything is allocated.
_ANNUAL_ARRAYS = 13 * 3


def check_design(scn: Scenario) -> None:
    """Raise ``ValueError("<field>: <problem>")`` for the first design problem found."""
    _sizes(scn)
    _one_way_cycles(scn)
    _link_years(scn)
    _market_restrictions(scn)
    _abatement_within_bau(scn)
    _collars_across_links(scn)


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 1024**3:.3g} GiB"


def _sizes(scn: Scenario) -> None:
    """What one chunk will allocate, bounded before anything is allocated."""
    sim, hz, n = scn.simulation, scn.horizon, len(scn.markets)
    days = hz.years * hz.days_per_year
    kept = 4 * min(sim.keep_paths, sim.paths_per_chunk) * n * days * 8  # prices x3 + BAU
    if kept > MAX_CHUNK_BYTES:
        raise ValueError(
            f"simulation.keep_paths: keeping {sim.keep_paths} daily paths of {n} markets over "
            f"{days} days needs {_gib(kept)} per chunk (at most {_gib(MAX_CHUNK_BYTES)}); keep "
            "fewer paths"
        )
    if sim.keep_annual:
        annual = _ANNUAL_ARRAYS * sim.paths_per_chunk * n * hz.years * 8
        if annual > MAX_CHUNK_BYTES:
            raise ValueError(
                f"simulation.paths_per_chunk: keep_annual with {sim.paths_per_chunk} paths per "
                f"chunk, {n} markets and {hz.years} years needs {_gib(annual)} per chunk (at "
                f"most {_gib(MAX_CHUNK_BYTES)}); use smaller chunks"
            )


def _one_way_cycles(scn: Scenario) -> None:
    """One-way links must not form a directed cycle."""
    out: dict[str, list[tuple[str, int]]] = {}
    for k, lk in enumerate(scn.links):
        if lk.direction == "one_way":
            out.setdefault(lk.markets[0], []).append((lk.markets[1], k))
    colour: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, trail: list[str]) -> list[str] | None:
        colour[node] = 1
        for nxt, _ in out.get(node, []):
            if colour.get(nxt) == 1:
                return [*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt]
            if nxt not in colour:
                found = visit(nxt, [*trail, nxt])
                if found:
                    return found
        colour[node] = 2
        return None

    for start in sorted(out):
        if start not in colour:
            cycle = visit(start, [start])
            if cycle:
                first = min(
                    k for a, targets in out.items() for b, k in targets if a in cycle and b in cycle
                )
                raise ValueError(
                    f"links[{first}]: one-way links form a cycle ({' -> '.join(cycle)}); "
                    "permits would circulate without end: make one of them 'both' or drop it"
                )


def _link_years(scn: Scenario) -> None:
    """A link's start year must fall inside the simulated horizon."""
    first = scn.horizon.start_year
    last = first + scn.horizon.years - 1
    for k, lk in enumerate(scn.links):
        if lk.start_year is not None and lk.start_year > last:
            raise ValueError(
                f"links[{k}].start_year: {lk.start_year} is after the last simulated year "
                f"{last} (horizon {first}-{last}); the link would never act"
            )
        if lk.start_year is not None and lk.start_year < 1990:
            raise ValueError(
                f"links[{k}].start_year: {lk.start_year} is before any market "
                "existed; give a year in or before the horizon"
            )


def _market_restrictions(scn: Scenario) -> None:
    """Floors against penalty caps; event floors against ceilings; exemptions below 100%."""
    for k, m in enumerate(scn.markets):
        fl, cap = m.collar.floor, m.penalty_cap
        if fl is not None and cap is not None and fl > cap:
            raise ValueError(
                f"markets[{k}].collar.floor: floor {fl:g} is above the penalty cap "
                f"{cap:g}; no price satisfies both"
            )
    idx = {m.id: k for k, m in enumerate(scn.markets)}
    for k, ev in enumerate(scn.events.markets):
        m = scn.markets[idx[ev.market]] if ev.market in idx else None
        if m is None:
            continue
        ceiling = m.collar.ceiling if m.collar.ceiling is not None else m.penalty_cap
        if (
            ev.intervention_floor is not None
            and ceiling is not None
            and ev.intervention_floor > ceiling
        ):
            raise ValueError(
                f"events.markets[{k}].intervention_floor: {ev.intervention_floor:g} is above "
                f"the market's ceiling {ceiling:g}; the intervention could never clear"
            )
        if ev.exemption_on > 0 and ev.exemption_share >= 1:
            raise ValueError(
                f"events.markets[{k}].exemption_share: an exemption of all covered "
                "emissions leaves no market; give a share below 1"
            )
        if ev.exemption_on > 0 and ev.exemption_share == 0:
            raise ValueError(
                f"events.markets[{k}].exemption_share: exemptions switch on "
                "(exemption_on > 0) but exempt nothing; give a share in (0, 1)"
            )


def _abatement_within_bau(scn: Scenario) -> None:
    """A slope the scenario gives must abate less than the market's BAU emissions at the price
    level the curve is read at (what the default slope, share x BAU / price_level^exponent with
    share < 1, always does). Checked where the scenario states all three (the slope, the BAU
    emissions and the price level or an inline process's last price)."""
    for k, m in enumerate(scn.markets):
        ab, bau = m.abatement, m.bau_emissions
        level = ab.price_level if ab.price_level is not None else (
            m.process.last_price if m.process is not None else None)
        if ab.slope is None or bau is None or level is None:
            continue
        cut = ab.slope * level**ab.exponent
        if cut >= bau:
            cur = f" {m.currency}" if m.currency else ""
            raise ValueError(
                f"markets[{k}].abatement.slope: at its price level {level:g}{cur}/t the market "
                f"would abate {cut:.4g} Mt ({ab.slope:g} x {level:g}^{ab.exponent:g}), "
                f"{cut / bau:.3g} times its BAU emissions {bau:g} Mt: emissions would be "
                f"negative; give a slope below {bau / level**ab.exponent:.4g} (BAU / "
                "price_level^exponent)"
            )


def _fx_table(scn: Scenario) -> dict[str, float]:
    """Numeraire per unit of each currency: the scenario's, else calibrations/fx.json."""
    if scn.simulation.fx:
        return {scn.simulation.numeraire: 1.0, **scn.simulation.fx}
    path = config.CALIBRATIONS_DIR / "fx.json"
    if not (path.exists() or path.is_symlink()):
        return {}  # the resolver says that no rates are known, where it needs them
    from riskmodel.fit.shared_calibrations import validate_fx
    from riskmodel.io import read_json

    d = read_json(path)  # checked as the resolver checks it, in one line (InputError)
    validate_fx(d, file=path)
    rates = d.get("rates", {})
    return {str(c): float(v) for c, v in rates.items() if isinstance(v, int | float) and v > 0}


def _currency(m: MarketSpec) -> str | None:
    if m.currency is not None:
        return m.currency
    try:
        from riskmodel.data.catalogue import load_market

        return str(load_market(m.id).currency)
    except Exception:  # noqa: BLE001 - unknown markets are reported by check_markets_known
        return None


def _collars_across_links(scn: Scenario) -> None:
    """Across a link without quota, one side's floor cannot exceed what the other's ceiling
    allows after equalisation (exchange rate, currencies and fee taken into account)."""
    idx = {m.id: k for k, m in enumerate(scn.markets)}
    links: list[tuple[int, LinkSpec]] = [
        (k, lk) for k, lk in enumerate(scn.links) if lk.quota is None
    ]
    if not links:
        return
    fx: dict[str, float] | None = None
    for k, lk in links:
        a, b = (scn.markets[idx[x]] for x in lk.markets)
        # One permit of a covers r tonnes in b: linked prices satisfy P_a = r * P_b (numeraire).
        r, fee = lk.exchange_rate, lk.fee
        pairs = [(b, a, 1.0 / r, f"markets[{idx[b.id]}].collar.floor")]
        if lk.direction == "both":
            pairs.insert(0, (a, b, r, f"markets[{idx[a.id]}].collar.floor"))
        for lo, hi, rate, fld in pairs:
            floor, ceiling = lo.collar.floor, hi.collar.ceiling
            if floor is None or ceiling is None:
                continue
            clo, chi = _currency(lo), _currency(hi)
            if clo is None or chi is None:
                continue  # an unknown market: check_markets_known says so
            if clo == chi:  # one currency: no exchange rate enters (fx.json is not read)
                f_num, c_num = float(floor), rate * ceiling
            else:
                fx = _fx_table(scn) if fx is None else fx
                if clo not in fx or chi not in fx:
                    continue
                f_num, c_num = floor * fx[clo], rate * ceiling * fx[chi]
            if f_num > c_num + fee + 1e-9 * max(1.0, c_num):
                raise ValueError(
                    f"{fld}: {lo.id}'s floor {floor:g} {clo} is above {hi.id}'s ceiling "
                    f"{ceiling:g} {chi} once link links[{k}] ({lk.name}) equalises prices "
                    f"(in common units {f_num:.4g} > {c_num:.4g}{f' + fee {fee:g}' if fee else ''}"
                    f", permit exchange rate {rate:g}); no linked price respects both collars: "
                    "lower the floor, raise the ceiling or add a quota"
                )


def events_that_cannot_act(scn: Scenario) -> tuple[str, str] | None:
    """(field, what is wrong) for a regulatory event of the user's file that can never act: a
    state nothing enters, an intervention that sets nothing, a share or floor that never
    switches on. Such a block runs silently, and the summary then only says that
    linked_events equals linked. Not a schema rule: a firm report's single-event scenarios
    switch parts of an event off on purpose."""
    for k, lk in enumerate(scn.events.links):
        at = f"events.links[{k}]"
        restriction = lk.restricted_quota is not None or bool(lk.restricted_fee)
        if not lk.active_to_restricted > 0 and (lk.restricted_to_active > 0
                                                or lk.restricted_to_suspended > 0 or restriction):
            return at, ("the 'restricted' state is never entered (active_to_restricted is 0), "
                        "so its rates, quota and fee never act; give active_to_restricted or "
                        "drop them")
        if not (lk.active_to_suspended > 0 or lk.restricted_to_suspended > 0) and (
                lk.terminal or lk.suspended_to_active > 0):
            return at, ("the 'suspended' state is never entered (active_to_suspended and "
                        "restricted_to_suspended are 0), so terminal / suspended_to_active "
                        "never act")
    for k, mk in enumerate(scn.events.markets):
        at = f"events.markets[{k}]"
        acts = bool(mk.intervention_floor) or mk.intervention_supply_share > 0
        if mk.intervention_on > 0 and not acts:
            return at, ("an intervention switches on (intervention_on > 0) but sets no floor and "
                        "no supply; give intervention_floor or intervention_supply_share")
        if acts and not mk.intervention_on > 0:
            return at, ("an intervention floor or supply share is given but never switches on; "
                        "give intervention_on > 0 (rate per year)")
        if mk.exemption_share > 0 and not mk.exemption_on > 0:
            return at, ("an exemption share is given but never switches on; give exemption_on "
                        "> 0 (rate per year)")
        if (mk.exemption_off > 0 and not mk.exemption_on > 0) or (
                mk.intervention_off > 0 and not mk.intervention_on > 0):
            return at, "an 'off' rate is given for an event that never switches on"
    return None


#: A link's settings that only act while permits cross it (not with ``state: closed``).
_LINK_SETTINGS = ("direction", "quota", "fee", "exchange_rate", "start_year")
#: K-ETS trigger settings that only act with ``stabilisation.kets_triggers: true``.
_KETS_SETTINGS = ("kets_probability", "kets_release_share", "kets_reserve", "kets_release")


def settings_that_cannot_act(scn: Scenario) -> tuple[str, str] | None:
    """The first of :func:`unused_settings` (None when every setting can act)."""
    return next(unused_settings(scn), None)


def unused_settings(scn: Scenario) -> Iterator[tuple[str, str]]:
    """(field, what is wrong) for a setting of the user's file that can never act: an offset
    price with offsets off, a collar reserve with no price to sell or withhold it at, a collar
    currency with no collar, a K-ETS trigger setting with the triggers off, regulatory events
    with no ``linked_events`` variant to simulate them, a volatility-level persistence with the
    draws off, a closed link's fee, quota, exchange rate, direction, start year or events. Each
    ran silently as if not written."""
    for k, m in enumerate(scn.markets):
        fld, c = f"markets[{k}]", m.collar
        if m.offset_price is not None and not m.offset_limit_share > 0:
            yield f"{fld}.offset_price", (
                "offsets are off (offset_limit_share is 0), so the offset price never acts; "
                "give offset_limit_share (the share of the obligation offsets may cover) or "
                "drop offset_price")
        # the scenario's collar replaces the catalogue's as a whole (resolve._collar_step)
        if c.reserve_up is not None and c.ceiling is None:
            yield f"{fld}.collar.reserve_up", (
                "the reserve is sold at the ceiling, and the collar has no ceiling (a "
                "scenario's collar replaces the catalogue's as a whole), so it never acts; "
                "give collar.ceiling or drop reserve_up")
        if c.reserve_down is not None and not (c.floor is not None and c.floor > 0):
            yield f"{fld}.collar.reserve_down", (
                "permits are withheld at the floor, and the collar has no floor above 0 (a "
                "scenario's collar replaces the catalogue's as a whole), so it never acts; "
                "give collar.floor or drop reserve_down")
        if c.currency is not None and c.floor is None and c.ceiling is None:
            yield f"{fld}.collar.currency", (
                "the collar has no floor and no ceiling to state in it, so it never acts; "
                "give collar.floor or collar.ceiling, or drop currency")
        if not m.stabilisation.kets_triggers:
            given = [n for n in _KETS_SETTINGS if n in m.stabilisation.model_fields_set]
            if given:
                yield f"{fld}.stabilisation.{given[0]}", (
                    "the K-ETS price triggers are off (kets_triggers is false), so it never "
                    "acts; set stabilisation.kets_triggers: true or drop it")
    for k, lk in enumerate(scn.links):
        if lk.state != "closed":
            continue
        given = [n for n in _LINK_SETTINGS if n in lk.model_fields_set]
        if given:  # resolve.open_links leaves a closed link out of the simulation whole
            yield f"links[{k}].{given[0]}", (
                f"the link is closed (state: closed), so no permits cross it and its "
                f"{given[0]} never acts; set state: open or drop {given[0]}")
    closed = {"-".join(sorted(lk.markets)) for lk in scn.links if lk.state == "closed"}
    for k, ev in enumerate(scn.events.links):
        if "-".join(sorted(ev.link.replace(">", "").split("-"))) in closed:
            yield f"events.links[{k}].link", (
                f"the link {ev.link} is closed (state: closed), so no permits cross it and its "
                "events never act; set the link's state: open or drop the event")
    sim = scn.simulation
    if (scn.events.links or scn.events.markets) and "linked_events" not in sim.variants:
        yield "events", (
            f"simulation.variants ({', '.join(sim.variants)}) leaves out linked_events, the "
            "only variant that simulates the events, so the block never acts; add "
            "linked_events to simulation.variants or drop the events")
    if sim.vol_level_persistence is not None and sim.vol_level_sd == 0:
        yield "simulation.vol_level_persistence", (
            "volatility-level draws are off (vol_level_sd is 0), so their year-to-year "
            "persistence never acts; give vol_level_sd above 0 or drop vol_level_persistence")
