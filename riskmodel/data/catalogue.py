"""Market design catalogue: the schema of ``data/markets/<id>.yaml`` and its loaders.

Each catalogue file holds the design facts of one emissions trading system that the simulation
needs (cap, coverage, collar, penalty, offsets, banking, stabilisation rules, links, and which
price series represents it). Every number is a :class:`Sourced` value that cites where it comes
from (``seeds/<file>:<line>`` or a data file); a fact the sources do not give is ``null`` with a
``note`` saying so. Loading validates the file and re-raises every problem as one
:class:`~riskmodel.errors.InputError` that names the file and the dotted field path, one line
per problem.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.io import atomic_write_text, read_yaml
from riskmodel.strict import STRICT_NUMBERS, reject_bool_numbers, text_number_message

#: ISO codes of the catalogue's currencies (ARCHITECTURE.md "Identifiers").
Currency = Literal["EUR", "KRW", "CNY", "JPY", "USD", "CAD", "CHF", "NZD", "GBP"]
CURRENCIES: tuple[str, ...] = get_args(Currency)
#: Jurisdiction ids used by the fundamentals layer.
Jurisdiction = Literal[
    "china", "korea", "japan", "eu27", "switzerland", "new_zealand", "uk", "usa", "canada"
]
JURISDICTIONS: tuple[str, ...] = get_args(Jurisdiction)
#: Price instruments of the tidy price frame (Contract 1).
Instrument = Literal["secondary_spot", "futures_front_dec", "auction", "administrative", "forward"]

_SOURCE_RE = re.compile(
    r"^(seeds/[\w.\-]+\.txt:\d+(-\d+)?|data/[\w./\-]+|official: \S.* https?://\S+)$"
)


def _check_source(source: str) -> str:
    """A citation must look like ``seeds/<file>.txt:<line>[-<line>]`` or ``data/<path>``.

    Where the seeds are silent, an official publication may be cited, marked as such:
    ``official: <publisher> (<year>) <title> <url>`` (e.g. the Commission's TNAC figures).
    """
    if not _SOURCE_RE.match(source):
        raise ValueError(
            f"source {source!r} must look like seeds/<file>.txt:<line>[-<line>], data/<path> "
            "or official: <publisher> (<year>) <title> <url>"
        )
    return source


#: A citation string, checked for its form (``seeds/<file>.txt:<line>`` or ``data/<path>``).
Citation = Annotated[str, AfterValidator(_check_source)]


#: Largest number a catalogue fact may hold in its unit (the largest shipped is 500,000 JPY).
MAX_FACT = 1e9
#: Largest emissions or allowance quantity (Mt): the scenario's bound on a market's BAU
#: emissions and permits (riskmodel.sim.scenario.MAX_BAU); a cap or reserve beyond it gives an
#: absurd BAU or infinite quantiles (the largest shipped, the EU's MSR holdings, is 3,001 Mt).
MAX_MT = 1e5
#: Smallest cap or reserve threshold (Mt, 10 kt): below it the market is numerically nil (a cap
#: of 1e-300 Mt gives a BAU of 1e-300); the smallest shipped cap is 31 Mt.
MIN_MT = 0.01
#: Smallest price ceiling or penalty per tonne (one unit of the market currency): a ceiling or a
#: penalty without make-good caps the price, and one near 0 pins every simulated price at 0.
MIN_PRICE_CAP = 1.0
#: Largest trigger multiple of an average price or volume (K-ETS uses 0.6 to 3).
MAX_MULTIPLE = 100.0
#: A per-tonne money unit: the market currency per metric tonne (RGGI states short tons).
_PER_TONNE_RE = re.compile(r"^([A-Z]{3})/(t|short ton)$")
#: Tonnes in a short ton (RGGI's unit).
_SHORT_TON = 0.90718474


class _Strict(BaseModel):
    """Base of every catalogue model: unknown fields are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, **STRICT_NUMBERS)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        return reject_bool_numbers(cls, data, text=True)  # quoted numbers too


class _Provenance(_Strict):
    """A fact with its provenance: a value needs a ``source``, a null value needs a ``note``.

    The checks sit on the ``source`` and ``note`` fields so an error names exactly that field.
    """

    value: Any
    source: Citation | None = Field(default=None, validate_default=True)
    note: str | None = Field(default=None, validate_default=True)

    @field_validator("value", mode="before")
    @classmethod
    def _no_text_value(cls, v: Any) -> Any:
        # a quoted number ('100000') or a word is a typo waiting to happen: the value is a
        # YAML number, a boolean or null, never text
        if isinstance(v, str):
            raise ValueError(text_number_message(v))
        return v

    @field_validator("source")
    @classmethod
    def _source(cls, v: str | None, info: ValidationInfo) -> str | None:
        if "value" in info.data and info.data["value"] is not None and not v:
            raise ValueError("a value needs a source (seeds/<file>:<line> or data/<path>)")
        return v

    @field_validator("note")
    @classmethod
    def _note(cls, v: str | None, info: ValidationInfo) -> str | None:
        if "value" in info.data and info.data["value"] is None and not v:
            raise ValueError("a null value needs a note saying why (e.g. 'not in the seeds')")
        return v


class Sourced(_Provenance):
    """A number with its provenance.

    ``value`` is the figure (``high`` the upper end when the source gives a range, ``year`` the
    year it refers to); ``source`` cites ``seeds/<file>:<line>`` or a data file; a null value
    must carry a ``note`` ("not in the seeds", or "none: ..." when the feature does not exist).
    """

    value: float | None
    unit: str
    high: float | None = None
    year: Annotated[int, Field(ge=1990, le=2100)] | None = None  # the years the catalogue covers

    @model_validator(mode="after")
    def _range(self) -> Sourced:
        if self.high is not None and (self.value is None or self.high < self.value):
            raise ValueError("high (upper end of a range) needs a value and must be >= value")
        for name in ("value", "high"):
            v = getattr(self, name)
            if v is not None and not abs(v) <= MAX_FACT:
                raise ValueError(f"{name}: {v:g} is beyond {MAX_FACT:g} in any unit (a typo?)")
        return self


class PositiveSourced(Sourced):
    """A sourced quantity that must be strictly positive when given (caps, emissions)."""

    value: Annotated[float, Field(gt=0)] | None


class NonNegativeSourced(Sourced):
    """A sourced amount that cannot be negative (prices, penalties)."""

    value: Annotated[float, Field(ge=0)] | None


def _within(fact: Sourced, lo: float, hi: float, unit: str, why: str) -> None:
    """Range check of a fact's value, after the field's own sign check (whose 'must be > 0'
    comes first) and the MAX_FACT check."""
    v = fact.value
    if v is not None and not lo <= v <= hi:
        raise ValueError(f"value: {v:g}{unit} is outside {lo:g}-{hi:g}{unit} ({why})")


#: Units of a quantity the engine reads as Mt: million tonnes (of CO2e or CO2), million
#: allowances (one a tonne), or million short tons where the market counts in short tons
#: (RGGI, whose prices are per short ton too); a note may follow in brackets.
_MT_UNIT_RE = re.compile(r"^(Mt( CO2e?)?|M allowances|M short tons)( \(.*\))?$")


def _mt_unit(fact: Sourced) -> None:
    if not _MT_UNIT_RE.match(fact.unit):  # 'kt' or 'Mtoe' would be read as Mt
        raise ValueError(f"unit: quantities are read in Mt (Mt, Mt CO2e, M allowances; got "
                         f"{fact.unit!r})")


class MtSourced(PositiveSourced):
    """A quantity of emissions or allowances (Mt) that sets a market's size: within
    [MIN_MT, MAX_MT] when given (caps, covered emissions, reserves, MSR thresholds)."""

    @model_validator(mode="after")
    def _mt(self) -> MtSourced:
        _mt_unit(self)
        _within(self, MIN_MT, MAX_MT, " Mt", "a typo? the scenario bounds BAU and permits so")
        return self


class StockSourced(NonNegativeSourced):
    """A stock of allowances (Mt) that may be empty: within [0, MAX_MT] when given."""

    @model_validator(mode="after")
    def _stock(self) -> StockSourced:
        _mt_unit(self)
        _within(self, 0.0, MAX_MT, " Mt", "a typo? the scenario bounds permits so")
        return self


class MultipleSourced(PositiveSourced):
    """A positive multiple of an average price or volume, at most MAX_MULTIPLE."""

    @model_validator(mode="after")
    def _multiple(self) -> MultipleSourced:
        _within(self, 1e-3, MAX_MULTIPLE, "x", "a trigger multiple of an average")
        return self


class MonthsSourced(PositiveSourced):
    """A number of months: 1 to 120 (ten years) when given."""

    @model_validator(mode="after")
    def _months(self) -> MonthsSourced:
        _within(self, 1.0, 120.0, " months", "at most ten years")
        return self


class ShareSourced(Sourced):
    """A sourced share in [0, 1] (coverage shares, offset limits, rates)."""

    value: Annotated[float, Field(ge=0, le=1)] | None


class SourcedYear(_Provenance):
    """A year with its provenance (null with a note when the seeds do not give it)."""

    value: Annotated[int, Field(ge=1990, le=2100)] | None


class SourcedFlag(_Provenance):
    """A yes/no design fact with its provenance (null with a note when unknown)."""

    value: bool | None


class Proxy(_Strict):
    """Auction-only market: simulate it with another market's fitted process."""

    of: str
    reason: str
    source: Citation


class PriceSeries(_Strict):
    """Which price series represents the market (``market`` null when there is none)."""

    market: str | None
    instrument: Instrument | None = None
    proxy: Proxy | None = None
    note: str | None = None


class Phase(_Strict):
    """A trading phase: its years, total cap and/or reduction below a baseline."""

    name: str
    start: int
    end: int | None = None
    cap_total: PositiveSourced | None = None
    reduction_vs_baseline: ShareSourced | None = None
    note: str | None = None


class Cap(_Strict):
    """The cap: absolute (fixed tonnes), intensity (tonnes per output) or indexed (degree b)."""

    type: Literal["absolute", "intensity", "indexed"]
    degree: Annotated[float, Field(ge=0, le=1)] | None = None
    path: dict[int, MtSourced] = Field(default_factory=dict)
    linear_reduction_factor: dict[int, ShareSourced] | None = None
    one_off_reductions: dict[int, PositiveSourced] | None = None
    phases: list[Phase] = Field(default_factory=list)
    baseline: PositiveSourced | None = None
    reduction_target: ShareSourced | None = None
    benchmark: str | None = None
    base_year: SourcedYear | None = None
    type_source: Citation | None = None
    note: str | None = None

    @field_validator("path", mode="before")
    @classmethod
    def _path_years(cls, v: Any) -> Any:
        # a year key is a whole number (2024), not 2024.0, 2024.5 or '2024'
        if isinstance(v, dict):
            for year, fact in v.items():
                if isinstance(year, bool) or not isinstance(year, int):
                    raise ValueError(f"year {year!r} is not a whole year (write e.g. 2024)")
                unit = fact.get("unit") if isinstance(fact, dict) else None
                # Mt CO2e, Mt CO2 or Mt, checked before the value's Mt range: a cap sets BAU
                # in Mt ('Mtoe' or 'kt' would be misread)
                if isinstance(unit, str) and not re.fullmatch(r"Mt( CO2e?)?", unit):
                    raise ValueError(f"{year}.unit: caps are in Mt CO2e (got {unit!r})")
        return v

    @field_validator("path")
    @classmethod
    def _path(cls, v: dict[int, MtSourced]) -> dict[int, MtSourced]:
        for year, fact in v.items():
            if not 1990 <= year <= 2100:
                raise ValueError(f"{year}: a cap year must lie in 1990-2100")
            if not re.fullmatch(r"Mt( CO2e?)?", fact.unit):  # (also checked before, above)
                raise ValueError(f"{year}.unit: caps are in Mt CO2e (got {fact.unit!r})")
        return v


class Coverage(_Strict):
    """What the cap covers."""

    covered_emissions: MtSourced  # sets BAU emissions when the scenario gives none
    share_of_jurisdiction: ShareSourced
    sectors: list[str]
    entities: PositiveSourced | None = None
    threshold: str | None = None
    note: str | None = None


class Collar(_Strict):
    """Price floor and ceiling (market currency per tonne) and the reserve behind the ceiling."""

    floor: NonNegativeSourced
    ceiling: NonNegativeSourced  # at least MIN_PRICE_CAP (_semantic_problems)
    reserve: MtSourced  # reserve behind the ceiling: bounded like any permit stock
    floor_escalation: ShareSourced | None = None


class Penalty(_Strict):
    """Non-compliance: fine per tonne, price multiple, lump sum, deduction and make-good."""

    amount: NonNegativeSourced  # at least MIN_PRICE_CAP (_semantic_problems)
    make_good: SourcedFlag
    price_multiple: NonNegativeSourced | None = None
    lump_sum: NonNegativeSourced | None = None
    deduction_multiple: NonNegativeSourced | None = None
    other: str | None = None
    other_source: Citation | None = None


class Offsets(_Strict):
    """Offset credits: the largest share of the obligation they may cover, and which kinds."""

    limit_share: ShareSourced
    types: list[str] = Field(default_factory=list)
    note: str | None = None


class Banking(_Strict):
    """Banking: allowed or not, and its limits in words."""

    allowed: SourcedFlag
    limits: str | None = None
    #: Bank held privately at the end of ``initial_bank.year`` (Mt); the EU's is the TNAC.
    initial_bank: StockSourced | None = None  # at most MAX_MT, like the scenario's


class Borrowing(_Strict):
    """Borrowing: allowed or not, and the largest share of the obligation."""

    allowed: SourcedFlag
    limit_share: ShareSourced | None = None
    note: str | None = None


class MSR(_Strict):
    """EU Market Stability Reserve thresholds (million allowances of TNAC)."""

    intake_rate: ShareSourced
    # thresholds and amounts in Mt within [MIN_MT, MAX_MT]; release below intake
    # (_semantic_problems): otherwise the reserve would release and take in at once
    intake_threshold: MtSourced
    intermediate_threshold: MtSourced | None = None
    release_amount: MtSourced
    release_threshold: MtSourced
    cancellation_threshold: MtSourced
    #: Allowances in the reserve at the end of the initial year, before any invalidation (Mt).
    holdings: StockSourced | None = None
    #: Auction volume of the initial year (Mt): the 2023 invalidation threshold.
    auction_volume: StockSourced | None = None


class KetsTriggers(_Strict):
    """K-ETS stabilisation triggers, as multiples of the two-year average price."""

    # multiples within (0, MAX_MULTIPLE], low below high (_semantic_problems): a high trigger
    # below the low one would fire both at once
    high_price_multiple: MultipleSourced
    high_price_months: MonthsSourced
    volume_price_multiple: MultipleSourced
    volume_multiple: MultipleSourced
    low_price_multiple: MultipleSourced
    discretionary: bool
    discretionary_source: Citation
    #: Reserve auctioned by the triggers (M allowances): at most MAX_MT (1e9 gave infinite
    #: quantiles)
    reserve: MtSourced | None = None
    reserve_auction_share: ShareSourced | None = None


class InterventionBand(_Strict):
    """Chinese pilot intervention rules (whatever the appendix gives; all optional)."""

    upper: NonNegativeSourced | None = None
    lower: NonNegativeSourced | None = None
    daily_move_limit: ShareSourced | None = None
    reserve_share: ShareSourced | None = None
    buyback_share: ShareSourced | None = None
    sales_limit_share: ShareSourced | None = None
    rule: str
    source: Citation
    discretionary: bool = True
    note: str | None = None


class Stabilisation(_Strict):
    """Optional stabilisation blocks."""

    msr: MSR | None = None
    kets_triggers: KetsTriggers | None = None
    intervention_band: InterventionBand | None = None


class Link(_Strict):
    """A link to another catalogue market."""

    partner: str
    since: Annotated[int, Field(ge=1990, le=2100)]
    until: Annotated[int, Field(ge=1990, le=2100)] | None = None
    type: Literal["bilateral", "one_way", "multilateral"]
    source: Citation
    until_source: Citation | None = None
    note: str | None = None


class MarketDesign(_Strict):
    """The design of one market, as read from ``data/markets/<id>.yaml``."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: str
    jurisdiction: Jurisdiction
    currency: Currency
    status: Literal["operating", "pilot", "closed"]
    start_year: SourcedYear
    price_series: PriceSeries
    cap: Cap
    coverage: Coverage
    collar: Collar
    penalty: Penalty
    offsets: Offsets
    banking: Banking
    borrowing: Borrowing
    stabilisation: Stabilisation = Field(default_factory=Stabilisation)
    links: list[Link] = Field(default_factory=list)
    notes: str | None = None


# --------------------------------------------------------------------------- error reporting

_Problem = tuple[str, str]


def _dotted(loc: tuple[Any, ...]) -> str:
    """Dotted field path from a pydantic location, dropping union-branch labels."""
    parts = [
        str(p)
        for p in loc
        if not (
            isinstance(p, str)
            and (p.startswith("function-") or p in {"float", "int", "bool", "none"})
        )
    ]
    return ".".join(parts) or "(file)"


_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


def _message(err: dict[str, Any]) -> str:
    """A short message for one pydantic error."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        return f"must be {op} {ctx.get(key):g}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {err.get('input')!r})"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _problems_from(exc: ValidationError) -> list[_Problem]:
    """One (field, message) per pydantic error; a null value reported once, not per branch."""
    out: list[_Problem] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        # for "X | None" fields pydantic reports the none branch too: keep the typed branch only
        if err["type"] == "none_required":
            continue
        field, msg = _dotted(loc), _message(err)
        head, sep, tail = msg.partition(": ")
        if err["type"] == "value_error" and sep and re.fullmatch(r"[\w.]+", head):
            field, msg = f"{field}.{head}", tail  # a validator naming the part it refused
        item = (field, msg)
        if item not in out:
            out.append(item)
    return out


def _raise(file: Path | str, problems: list[_Problem]) -> None:
    """Raise one InputError carrying every problem, one line each (file: field: message)."""
    shown = _display(file)
    first_field, first_msg = problems[0]
    rest = [f"{shown}: {f}: {m}" for f, m in problems[1:]]
    err = InputError("\n".join([first_msg, *rest]), file=shown, field=first_field)
    err.problems = problems  # type: ignore[attr-defined]
    raise err


def _display(path: Path | str) -> str:
    """Path relative to the project root when inside it (data/markets/eu_ets.yaml)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(config.PROJECT_ROOT))
    except ValueError:
        return str(p)


# --------------------------------------------------------------------------- semantic checks


def _iter_money(design: MarketDesign) -> list[tuple[str, Sourced | None]]:
    """The money amounts of a design (they must be in the market currency)."""
    c, p = design.collar, design.penalty
    items: list[tuple[str, Sourced | None]] = [
        ("collar.floor", c.floor),
        ("collar.ceiling", c.ceiling),
        ("penalty.amount", p.amount),
        ("penalty.lump_sum", p.lump_sum),
    ]
    band = design.stabilisation.intervention_band
    if band is not None:
        items += [
            ("stabilisation.intervention_band.upper", band.upper),
            ("stabilisation.intervention_band.lower", band.lower),
        ]
    return items


def _quantity_bases(design: MarketDesign) -> dict[str, tuple[str, str]]:
    """Field -> (basis 'short ton' or 't', unit) for the quantities the file gives a value
    (caps, covered emissions, the collar's reserve; units as ``_MT_UNIT_RE``)."""
    facts: list[tuple[str, Sourced | None]] = [
        ("coverage.covered_emissions", design.coverage.covered_emissions),
        ("collar.reserve", design.collar.reserve),
    ]
    facts += [(f"cap.path.{y}", f) for y, f in sorted(design.cap.path.items())]
    out: dict[str, tuple[str, str]] = {}
    for field, f in facts:
        if f is not None and f.value is not None:
            out[field] = ("short ton" if f.unit.startswith("M short tons") else "t", f.unit)
    return out


def _per_tonne(unit: str) -> float | None:
    """Factor from a per-tonne money unit to CCY per metric tonne (None: not per tonne)."""
    m = _PER_TONNE_RE.match(unit)
    if m is None:
        return None
    return 1.0 if m.group(2) == "t" else 1 / _SHORT_TON


def _semantic_problems(design: MarketDesign, stem: str | None) -> list[_Problem]:
    """Cross-field rules the field types cannot express."""
    out: list[_Problem] = []
    if stem is not None and design.id != stem:
        out.append(("id", f"must equal the file name stem {stem!r} (got {design.id!r})"))
    cap = design.cap
    if cap.type == "indexed" and cap.degree is None:
        out.append(("cap.degree", "an indexed cap needs a degree in [0, 1]"))
    if cap.type != "indexed" and cap.degree is not None:
        out.append(("cap.degree", f"only indexed caps have a degree (type is {cap.type})"))
    if cap.type == "intensity" and not cap.benchmark:
        out.append(("cap.benchmark", "an intensity cap needs benchmark notes"))
    if cap.type in {"absolute", "indexed"} and not cap.path and not cap.phases and not cap.note:
        out.append(("cap.path", "an absolute cap needs a path, phases, or a note saying why not"))
    if cap.type_source is None and not cap.note:
        out.append(("cap.type_source", "cite where the cap type comes from, or add cap.note"))
    for i, ph in enumerate(cap.phases):
        if ph.end is not None and ph.end < ph.start:
            out.append((f"cap.phases.{i}.end", f"must be >= start ({ph.start})"))
    # money amounts are in the market currency
    for field, s in _iter_money(design):
        if s is None:
            continue
        ccy = (s.unit.split("/")[0].split() or [""])[0]
        if ccy not in CURRENCIES:
            known = ", ".join(CURRENCIES)
            out.append((f"{field}.unit", f"unknown currency {ccy!r} (known: {known})"))
        elif ccy != design.currency:
            out.append(
                (f"{field}.unit", f"must be in the market currency {design.currency} (got {ccy})")
            )
    # a price per tonne (floor, ceiling, fine, band) is CCY/t (or CCY/short ton): 'KRW' or
    # 'KRW/kg' would be read as per tonne
    for field, s in _iter_money(design):
        if s is None or field == "penalty.lump_sum":
            continue
        ccy = (s.unit.split("/")[0].split() or [""])[0]
        if ccy == design.currency and not _PER_TONNE_RE.match(s.unit):
            out.append((f"{field}.unit", f"a price per tonne must be in {ccy}/t or "
                        f"{ccy}/short ton (got {s.unit!r})"))
    # one basis per market: the engine reads every price in the market's own unit (RGGI counts
    # in short tons throughout); a floor per short ton among prices per tonne would be misread
    bases = [(field, m.group(2)) for field, s in _iter_money(design)
             if s is not None and (m := _PER_TONNE_RE.match(s.unit))]
    kinds = [b for _, b in bases]
    if len(set(kinds)) > 1:
        rare = min(set(kinds), key=lambda b: (kinds.count(b), b))
        common = next(b for b in kinds if b != rare)
        field = next(f for f, b in bases if b == rare)
        out.append((f"{field}.unit", f"per {rare}, while the file's other prices are per "
                    f"{common}: the simulation reads every price of a market in one unit; "
                    f"convert it to {design.currency}/{common}"))
    # ... and the same unit as its quantities: prices per short ton with caps in Mt (or the
    # reverse) would be read on one basis, 10% off (a K-ETS floor of 20,000 KRW/short ton ran
    # as 20,000 KRW/t)
    qty = _quantity_bases(design)
    money = dict(_iter_money(design))
    valued = [(f, b) for f, b in bases if money[f].value is not None]
    if len(set(kinds)) == 1 and qty and valued and kinds[0] not in {b for b, _ in qty.values()}:
        field, basis = valued[0]
        qfield, (_, qunit) = next(iter(qty.items()))
        out.append((f"{field}.unit", f"per {basis}, while the market's quantities are in "
                    f"{qunit} ({qfield}): the simulation reads a market's prices and quantities "
                    f"on one basis; give prices in {design.currency}/"
                    f"{'t' if basis == 'short ton' else 'short ton'}"))
    fl, ce = design.collar.floor, design.collar.ceiling
    for field, s in (("collar.ceiling", ce), ("penalty.amount", design.penalty.amount)):
        if s.value is not None and s.value < MIN_PRICE_CAP:
            out.append((f"{field}.value", f"must be at least {MIN_PRICE_CAP:g} {design.currency} "
                        f"per tonne: it caps the price, and near 0 pins it there (got "
                        f"{s.value:g})"))
    per_t = {u: _per_tonne(u) for u in (fl.unit, ce.unit)}
    if (fl.value is not None and ce.value is not None and None not in per_t.values()
            and fl.value * per_t[fl.unit] >= ce.value * per_t[ce.unit]):  # type: ignore[operator]
        same = "" if fl.unit == ce.unit else f" {ce.unit}"
        where = "above" if fl.value * per_t[fl.unit] > ce.value * per_t[ce.unit] else (  # type: ignore[operator]
            "equal to")
        out.append(("collar.floor.value", f"floor {fl.value:g} is {where} the ceiling "
                    f"{ce.value:g}{same}" + ("" if where == "above" else ": a fixed price, "
                                             "which the market clearing cannot link")))
    msr = design.stabilisation.msr
    if msr is not None:
        rel, inn = msr.release_threshold.value, msr.intake_threshold.value
        if rel is not None and inn is not None and rel >= inn:
            out.append(("stabilisation.msr.release_threshold.value",
                        f"release threshold {rel:g} must be below the intake threshold {inn:g} "
                        "(the reserve would release and take in at once)"))
        mid = msr.intermediate_threshold.value if msr.intermediate_threshold else None
        if mid is not None and inn is not None and mid > inn:
            out.append(("stabilisation.msr.intermediate_threshold.value",
                        f"intermediate threshold {mid:g} is above the intake threshold {inn:g}"))
    kt = design.stabilisation.kets_triggers
    if kt is not None:
        lo, hi = kt.low_price_multiple.value, kt.high_price_multiple.value
        if lo is not None and hi is not None and lo >= hi:
            out.append(("stabilisation.kets_triggers.low_price_multiple.value",
                        f"low-price multiple {lo:g} must be below the high-price multiple {hi:g}"))
    band = design.stabilisation.intervention_band
    if (
        band
        and band.lower
        and band.upper
        and band.lower.value is not None
        and band.upper.value is not None
        and band.lower.value > band.upper.value
    ):
        out.append(
            (
                "stabilisation.intervention_band.lower.value",
                f"lower {band.lower.value:g} is above upper {band.upper.value:g}",
            )
        )
    ps = design.price_series
    if ps.market is None and not ps.note:
        out.append(("price_series.note", "a market without a price series needs a note"))
    if ps.market is not None and ps.instrument is None:
        out.append(("price_series.instrument", "required when price_series.market is given"))
    if ps.proxy is not None and ps.proxy.of == design.id:
        out.append(("price_series.proxy.of", "a market cannot be its own proxy: name the "
                    "market whose process it takes (the one it is linked to)"))
    for i, link in enumerate(design.links):
        if link.partner == design.id:
            out.append((f"links.{i}.partner", "a market cannot link with itself"))
        if link.until is not None and link.until < link.since:
            out.append((f"links.{i}.until", f"must be >= since ({link.since})"))
    return out


# --------------------------------------------------------------------------- loaders


def validate_market(
    data: Any, file: Path | str = "<memory>", stem: str | None = None
) -> MarketDesign:
    """Validate a parsed catalogue mapping; raise InputError naming file and fields."""
    if not isinstance(data, dict):
        _raise(file, [("(file)", f"must be a mapping of fields (got {type(data).__name__})")])
    try:
        design = MarketDesign.model_validate(data)
    except ValidationError as exc:
        _raise(file, _problems_from(exc))
    problems = _semantic_problems(design, stem)
    if problems:
        _raise(file, problems)
    return design


def market_path(market_id: str, directory: Path | str | None = None) -> Path:
    """The catalogue file of a market id."""
    return Path(directory or config.MARKETS_DIR) / f"{market_id}.yaml"


def load_market(market_id: str, path: Path | str | None = None) -> MarketDesign:
    """Load and validate one catalogue file (``data/markets/<id>.yaml`` unless ``path`` given)."""
    p = Path(path) if path is not None else market_path(market_id)
    if not p.exists():
        known = ", ".join(sorted(x.stem for x in p.parent.glob("*.yaml"))) or "none"
        raise InputError(
            f"no catalogue file for market {market_id!r} (known: {known})",
            file=_display(p),
            field="id",
        )
    return validate_market(read_yaml(p), file=p, stem=p.stem)


def _cross_file_problems(
    mid: str, m: MarketDesign, markets: dict[str, MarketDesign]
) -> list[_Problem]:
    """References to other markets: they must exist, and two-sided links must agree."""
    out: list[_Problem] = []
    ps = m.price_series
    if ps.market is not None and ps.market not in markets:
        out.append(("price_series.market", f"unknown market {ps.market!r}"))
    if ps.proxy is not None and ps.proxy.of not in markets:
        out.append(("price_series.proxy.of", f"unknown market {ps.proxy.of!r}"))
    for i, link in enumerate(m.links):
        other = markets.get(link.partner)
        if other is None:
            out.append((f"links.{i}.partner", f"unknown link partner {link.partner!r}"))
            continue
        if link.type == "one_way":
            continue
        back = [lk for lk in other.links if lk.partner == mid]
        if not back:
            msg = f"{link.partner} does not list the {link.type} link back"
            out.append((f"links.{i}.partner", msg))
        elif (back[0].since, back[0].until, back[0].type) != (link.since, link.until, link.type):
            out.append(
                (f"links.{i}", f"disagrees with {link.partner}'s entry (since, until, type)")
            )
    return out


def load_catalogue(directory: Path | str | None = None) -> dict[str, MarketDesign]:
    """Load every ``*.yaml`` in the catalogue folder and check references across files.

    Cross-file rules: link partners, proxies and price-series markets must be catalogue ids,
    and a bilateral or multilateral link must be listed by both partners with the same years.
    """
    d = Path(directory or config.MARKETS_DIR)
    files = sorted(d.glob("*.yaml"))
    if not files:
        raise InputError("no catalogue files (*.yaml) found", file=_display(d), field="(folder)")
    markets = {f.stem: validate_market(read_yaml(f), file=f, stem=f.stem) for f in files}
    errors: list[tuple[str, str, str]] = []
    for mid, m in markets.items():
        shown = _display(market_path(mid, d))
        errors += [(shown, f, msg) for f, msg in _cross_file_problems(mid, m, markets)]
    if errors:
        file, field, msg = errors[0]
        rest = [": ".join(e) for e in errors[1:]]
        err = InputError("\n".join([msg, *rest]), file=file, field=field)
        err.problems = [(e[1], e[2]) for e in errors]  # type: ignore[attr-defined]
        raise err
    return markets


# --------------------------------------------------------------------------- citations


def iter_facts(model: BaseModel, prefix: str = "") -> list[tuple[str, BaseModel]]:
    """Every sourced fact (and link) in a design, with its dotted field path."""
    out: list[tuple[str, BaseModel]] = []
    if isinstance(model, _Provenance | Link):
        out.append((prefix, model))
        if isinstance(model, _Provenance):
            return out
    for name in type(model).model_fields:
        val = getattr(model, name)
        path = f"{prefix}.{name}" if prefix else name
        items: list[tuple[str, Any]]
        if isinstance(val, dict):
            items = [(f"{path}.{k}", v) for k, v in val.items()]
        elif isinstance(val, list):
            items = [(f"{path}.{i}", v) for i, v in enumerate(val)]
        else:
            items = [(path, val)]
        for sub_path, sub in items:
            if isinstance(sub, BaseModel):
                out += iter_facts(sub, sub_path)
    return out


_WORDS = {
    0: ("not allowed", "no "),
    1: ("one",),
    2: ("two", "twice", "double", "两"),
    3: ("three",),
    4: ("four",),
    5: ("five",),
    6: ("six",),
    10: ("ten",),
}


def _renderings(x: float) -> set[str]:
    """Ways a number may be written in a source: as is, as a percent, in 万 t or 亿 t units."""
    out: set[str] = set()
    for y in (x, x * 100, x / 100):
        r = round(y, 6)
        out.add(f"{r:.6f}".rstrip("0").rstrip("."))
    if float(x).is_integer():
        out.update(_WORDS.get(int(x), ()))
    return out


def _cited_text(seeds_dir: Path, source: str) -> tuple[str | None, str | None]:
    """The text of the cited seed lines (whitespace and thousands separators removed)."""
    file, _, lines = source.removeprefix("seeds/").partition(":")
    path = seeds_dir / file
    if not path.is_file():
        return None, f"cited seed file {file!r} not found in {seeds_dir}"
    first, _, last = lines.partition("-")
    a, b = int(first), int(last or first)
    text = path.read_text(encoding="utf-8").splitlines()
    if not 1 <= a <= b <= len(text):
        return None, f"cited lines {lines} outside {file} (1-{len(text)})"
    joined = "".join(text[a - 1 : b])
    return re.sub(r"[\s,]", "", joined).lower(), None


def check_citations(
    markets: dict[str, MarketDesign], seeds_dir: Path | str, data_dir: Path | str | None = None
) -> list[str]:
    """Problems with the catalogue's citations, one line each ("<id>: <field>: <problem>").

    A seed citation must name an existing file and lines inside it, and the cited lines must
    contain the value (and the upper end of a range; as written, as a percent, in 万 or 亿
    tonnes, or as a number word). A data citation must name an existing file when ``data_dir``
    is given. Links are checked for their ``since`` year.
    """
    seeds_dir = Path(seeds_dir)
    problems: list[str] = []
    for mid, m in sorted(markets.items()):
        for path, fact in iter_facts(m):
            src = getattr(fact, "source", None)
            if src is None:
                continue
            if src.startswith("official: "):
                continue  # an official publication outside the seeds: its URL is the check
            if src.startswith("data/"):
                if data_dir is not None and not (Path(data_dir) / src[5:]).is_file():
                    problems.append(f"{mid}: {path}.source: data file {src!r} not found")
                continue
            text, err = _cited_text(seeds_dir, src)
            if err is not None:
                problems.append(f"{mid}: {path}.source: {err}")
                continue
            assert text is not None
            if isinstance(fact, Link):
                values: list[Any] = [fact.since]
            else:
                values = [getattr(fact, "value", None), getattr(fact, "high", None)]
            for v in values:
                if isinstance(v, bool) or v is None:
                    continue
                if not any(r.lower().replace(" ", "") in text for r in _renderings(float(v))):
                    problems.append(f"{mid}: {path}: value {v:g} not found on {src}")
    return problems


# --------------------------------------------------------------------------- README table

_TABLE_BEGIN = "<!-- BEGIN catalogue_table (generated by riskmodel.data.catalogue) -->"
_TABLE_END = "<!-- END catalogue_table -->"


def _fmt(s: Sourced | None, suffix: str = "") -> str:
    """A table cell: the value (or range), 'none', or 'n/s' (not in the seeds)."""
    if s is None:
        return "—"
    if s.value is None:
        note = (s.note or "").lower()
        return "none" if note.startswith("none") else "n/s" if "not in the seeds" in note else "—"
    v = f"{s.value:,.10g}"
    if s.high is not None:
        v += f"–{s.high:,.10g}"
    return v + suffix


def _penalty_cell(m: MarketDesign) -> str:
    p = m.penalty
    if p.amount.value is not None:
        return _fmt(p.amount, f" {m.currency}/t")
    parts = []
    if p.price_multiple is not None:
        parts.append(_fmt(p.price_multiple, "× price"))
    if p.lump_sum is not None:
        parts.append(_fmt(p.lump_sum, f" {m.currency}"))
    if p.deduction_multiple is not None:
        parts.append(_fmt(p.deduction_multiple, "× shortfall"))
    return "; ".join(parts) or _fmt(p.amount)


def catalogue_table(markets: dict[str, MarketDesign] | None = None) -> str:
    """Markdown table of the catalogue, one row per market, generated from the files.

    Cells: a value (or range), ``none`` (the design has no such feature), ``n/s`` (not in the
    seeds) or ``—``. The README embeds this table between markers so it cannot drift.
    """
    markets = load_catalogue() if markets is None else markets
    head = [
        "id",
        "status",
        "start",
        "cap type",
        "currency",
        "floor",
        "ceiling",
        "penalty",
        "offset limit",
        "links",
        "price series",
    ]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for mid in sorted(markets):
        m = markets[mid]
        links = (
            ", ".join(
                f"{lk.partner} ({lk.since}–{lk.until})"
                if lk.until
                else f"{lk.partner} ({lk.since})"
                for lk in m.links
            )
            or "—"
        )
        ps = m.price_series
        series = "—" if ps.market is None else f"{ps.market} {ps.instrument}"
        if ps.proxy is not None:
            series += f" (proxy: {ps.proxy.of})"
        start = "n/s" if m.start_year.value is None else str(m.start_year.value)
        cells = [
            mid,
            m.status,
            start,
            m.cap.type,
            m.currency,
            _fmt(m.collar.floor),
            _fmt(m.collar.ceiling),
            _penalty_cell(m),
            _fmt(m.offsets.limit_share),
            links,
            series,
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def readme_with_table(text: str, table: str) -> str:
    """Replace the generated block of the catalogue README with ``table``."""
    if _TABLE_BEGIN not in text or _TABLE_END not in text:
        raise InputError("generated-table markers not found", field="README.md")
    head, rest = text.split(_TABLE_BEGIN, 1)
    _, tail = rest.split(_TABLE_END, 1)
    return f"{head}{_TABLE_BEGIN}\n{table}{_TABLE_END}{tail}"


def write_readme_table(readme: Path | str | None = None) -> Path:
    """Regenerate the market table in ``data/markets/README.md`` from the catalogue files."""
    path = Path(readme) if readme is not None else config.MARKETS_DIR / "README.md"
    text = path.read_text(encoding="utf-8")
    return atomic_write_text(path, readme_with_table(text, catalogue_table()))
