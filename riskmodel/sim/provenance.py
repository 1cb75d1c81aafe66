"""The design that runs, per market, link and dependence, each value with its source.

Built from ``resolve`` (the one place where a scenario meets the catalogue and the
calibrations), so what ``riskmodel scenario show`` prints and ``design.json`` stores is what the
kernel gets. Sources read ``scenario: <field>``, ``catalogue: data/markets/<id>.yaml: <field>``,
``calibration: calibrations/<file>: <field>``, ``derived: <how>`` or ``default``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riskmodel.sim.scenario import Scenario

if TYPE_CHECKING:
    from riskmodel.sim.resolve import Resolved

#: Units of the design values (shown beside each value).
UNITS = {
    "bau_emissions": "Mt/yr",
    "cap.level": "Mt/yr",
    "cap.path": "Mt/yr",
    "cap.annual_change": "per yr",
    "abatement.slope": "Mt/yr per (currency/t)",
    "msr.intake_threshold": "Mt",
    "msr.release_amount": "Mt",
    "msr.release_threshold": "Mt",
    "msr.cancellation_threshold": "Mt",
    "msr.tnac0": "Mt",
    "msr.reserve0": "Mt",
    "collar.reserve_up": "Mt",
    "collar.reserve_down": "Mt",
    "output.growth": "log/yr",
    "output.vol": "log/yr",
    "process.max_daily_return": "% log return",
    "kets.high_price_months": "months",
    "banking.horizon": "yr",
    "banking.window_first_year": "yr",
    "banking.carry": "per yr",
    "banking.initial_bank": "Mt",
    "banking.borrowing_share": "share of the year's supply",
    "banking.min_bank": "Mt",
    "banking.terminal_bank": "Mt",
    "banking.msr.holdings0": "Mt",
    "banking.msr.auction_volume": "Mt",
}
#: Values in the market's currency per tonne.
PRICE_ITEMS = (
    "collar.floor",
    "collar.ceiling",
    "penalty_cap",
    "offsets.price",
    "abatement.price_level",
    "process.last_price",
    "events.intervention_floor",
)

#: Regulatory-event transition rates (per year).
_RATE_SUFFIXES = ("_to_restricted", "_to_suspended", "_to_active", "_on", "_off")


def design_report(scenario: Scenario, resolved: Resolved | None = None) -> dict[str, Any]:
    """The resolved design of a scenario: ``{scenario, markets, dependence, links, notes}``;
    each leaf is ``{value, source, unit?}``. ``resolved``: the scenario already resolved (a
    run has resolved every sweep point before it writes design.json: not twice)."""
    from riskmodel.sim.resolve import resolve

    r = resolved if resolved is not None else resolve(scenario)
    out: dict[str, Any] = {
        "scenario": scenario.name,
        "markets": {},
        "dependence": {},
        "links": {},
        "notes": list(r.notes),
    }
    cur = dict(zip(r.ids, r.currencies, strict=True))
    for key, entry in r.sources.items():
        head, _, rest = key.partition(".")
        if head == "dependence":
            out["dependence"][rest] = dict(entry)
            continue
        owner, _, item = rest.partition(".")
        e = dict(entry)
        if head == "markets":
            unit = UNITS.get(item) or (f"{cur[owner]}/t" if item in PRICE_ITEMS else None)
            if item == "fx":
                unit = None
            elif item.startswith("events.") and item.endswith(_RATE_SUFFIXES):
                unit = "per yr"
            if unit:
                e["unit"] = unit
        elif item in ("fee", "events.restricted_fee"):
            e["unit"] = f"{scenario.simulation.numeraire}/permit"
        elif item.endswith(_RATE_SUFFIXES):
            e["unit"] = "per yr"
        out[head].setdefault(owner, {})[item] = e
    return out


def fmt_value(v: Any, unit: str | None = None) -> str:
    """A design value as text (``none`` for a missing one), with its unit."""
    if v is None:
        text = "none"
    elif isinstance(v, bool):
        text = "yes" if v else "no"
    elif isinstance(v, float):
        text = f"{v:.6g}"
    elif isinstance(v, dict):
        text = ", ".join(f"{a}: {fmt_value(b)}" for a, b in v.items())
    elif isinstance(v, list):
        text = ", ".join(fmt_value(x) for x in v)
    else:
        text = str(v)
    return f"{text} {unit}" if unit and v is not None else text
