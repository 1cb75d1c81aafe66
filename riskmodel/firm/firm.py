"""A covered firm (MODEL.md §6): the YAML firm file, validated, and its loader.

Units: quantities in Mt CO2e per year (the engine's unit); money in the firm's *market* currency
(prices, abatement cost curve, hedge prices, penalty), converted to the reporting ``currency`` at
a fixed rate at the end (exchange-rate risk is not modelled: the engine's FX rates are fixed).
Reported costs are in millions of the reporting currency (Mt × currency per tonne).

A firm file::

    name: Example steelmaker
    market: k_ets                      # a market id of the scenario
    currency: KRW                      # reporting currency (default: the market's)
    emissions:
      level: 75.0                      # Mt in the first simulated year (or ``share`` of BAU)
      annual_change: -0.01
      elasticity: 1.0                  # d log e / d log U (the market's BAU emissions)
      idiosyncratic_vol: 0.04          # sd of the firm's own annual log shock (default: the
                                     # market's, calibrations/fundamentals.json)
    capacity: 1.2                    # emissions never exceed 1.2 x the expected level
    abatement: {slope: 2000.0, curvature: 0.0, max_share: 0.15}
    allocation: {by_year: {2024: 70.0, 2025: 69.0}}   # or {level:, annual_change:}, {output_based:}
    bank: 2.0
    hedges:
      - {type: futures, year: 2024, ratio: 0.5}        # at today's forward
      - {type: fixed_price, year: 2025, volume: 1.0, price: 9000}
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from riskmodel.errors import InputError
from riskmodel.fit.calibration_schema import MAX_PRICE
from riskmodel.io import read_yaml
from riskmodel.sim.scenario import (
    CURRENCIES,
    MAX_BAU,
    MAX_FX,
    MIN_FX,
    format_validation_error,
)
from riskmodel.strict import STRICT_NUMBERS, reject_bool_numbers

PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Year = Annotated[int, Field(ge=2000, le=2100)]
#: A firm's quantity (Mt): at most a whole market's BAU emissions bound (MAX_BAU).
Mt = Annotated[float, Field(ge=0, le=MAX_BAU)]
#: A price per tonne in the market's currency.
Price = Annotated[float, Field(gt=0, le=MAX_PRICE)]
#: A yearly rate of change: more than doubling (or vanishing) every year is no trend.
Change = Annotated[float, Field(gt=-1, le=1)]


#: Largest hedge ratio (of the expected purchase) either way; the proposed hedge stops at 3.
MAX_HEDGE_RATIO = 10.0
#: Smallest emissions level (Mt): one tonne a year. Below it the firm's costs are rounding
#: noise of the market's and its risk shares turn NaN (1e-300 did).
MIN_LEVEL = 1e-6
#: Smallest share of the market's BAU emissions: a tonne a year of a 1,000 Mt market.
MIN_SHARE = 1e-9
#: Range of revenue and EBITDA (million reporting currency): from a thousand currency units to
#: a million billion (1e12 million, far above any firm's in KRW); cost at risk is quoted
#: against them, and 1e-300 would overflow the ratio.
MIN_MONEY, MAX_MONEY = 1e-3, 1e12
#: Largest seed of the idiosyncratic stream: the derived seeds are 64-bit (``stream_seed``).
MAX_FIRM_SEED = 2**64 - 1
#: Largest abatement slope (market currency per tonne per Mt): at it the firm's first tonne
#: (MIN_LEVEL Mt) already costs MAX_PRICE, so a steeper curve means no abatement (1e300 was taken).
MAX_MAC_SLOPE = MAX_PRICE / MIN_LEVEL
#: Largest abatement curvature (currency per tonne per Mt²): the same first tonne at MAX_PRICE.
MAX_MAC_CURVATURE = MAX_PRICE / MIN_LEVEL**2


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", **STRICT_NUMBERS)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        return reject_bool_numbers(cls, data, text=True)


class EmissionsSpec(_Model):
    """Gross (pre-abatement) emissions of the firm per compliance year.

    ``share`` mode: e_y = share · U_y · z_y (MODEL.md §6). ``level`` mode:
    e_y = level · (1 + annual_change)^(y − y0) · (X_y / E[X_y])^elasticity · z_y, X = U or Y
    (``driver``). U is the market's BAU emissions on the path (the engine's ``bau`` annual
    array), Y its covered output (``output``), E[·] the mean over the paths, z a lognormal
    idiosyncratic factor with mean 1 (log sd ``idiosyncratic_vol``, AR(1) coefficient
    ``idiosyncratic_persistence`` across years) drawn from the firm's own seeded stream.

    The law is bounded: e_y ≤ ``capacity`` × the expected level of year y (level mode: the
    trend level; share mode: share · E[U_y]), since a plant cannot emit beyond what its capacity
    produces. ``idiosyncratic_vol`` left out: the standard deviation of annual log emission
    growth of the market's jurisdiction (``calibrations/fundamentals.json``, OWID / Global
    Carbon Budget emissions), see ``riskmodel.firm.emissions_law``.
    """

    share: Annotated[float, Field(gt=0, le=1)] | None = None
    level: Annotated[float, Field(gt=0, le=MAX_BAU)] | None = None
    annual_change: Change = 0.0
    elasticity: Annotated[float, Field(ge=0, le=3)] = 1.0
    #: What the firm's emissions follow in ``level`` mode: the market's BAU emissions U or its
    #: covered output Y (the engine's ``output`` annual array).
    driver: Literal["bau", "output"] = "bau"
    #: Log sd of the firm's own annual shock; None: the market's (fundamentals calibration).
    idiosyncratic_vol: Annotated[float, Field(ge=0, le=2)] | None = None
    #: Upper bound of gross emissions as a multiple of the year's expected level (capacity).
    capacity: Annotated[float, Field(ge=1, le=5)] = 1.2
    idiosyncratic_persistence: Annotated[float, Field(ge=-0.99, le=0.99)] = 0.0
    #: Seed of the idiosyncratic stream (default: derived from the firm's name).
    seed: Annotated[int, Field(ge=0, le=MAX_FIRM_SEED)] | None = None

    @model_validator(mode="after")
    def _one_mode(self) -> EmissionsSpec:
        if (self.share is None) == (self.level is None):
            raise ValueError("give exactly one of 'share' (of the market's BAU) or 'level' (Mt)")
        if self.level is not None and self.level < MIN_LEVEL:
            raise ValueError(f"level: {self.level:g} Mt is less than a tonne a year ({MIN_LEVEL:g} "
                             "Mt): the firm's costs would be rounding noise (levels are in Mt)")
        if self.share is not None and self.share < MIN_SHARE:
            raise ValueError(f"share: {self.share:g} of the market's BAU is less than "
                             f"{MIN_SHARE:g} (a tonne a year of a 1,000 Mt market): the firm's "
                             "costs would be rounding noise")
        if self.share is not None and (self.annual_change or self.elasticity != 1.0
                                       or self.driver != "bau"):
            raise ValueError("'annual_change', 'elasticity' and 'driver' apply to 'level' "
                             "mode only")
        if self.level is not None and self.elasticity == 0 and "driver" in self.model_fields_set:
            raise ValueError("driver: the firm's emissions follow no driver (elasticity is 0), "
                             "so driver never acts; give elasticity above 0 or drop driver")
        if self.idiosyncratic_vol == 0:  # no own shock: what shapes or seeds it never acts
            given = [n for n in ("idiosyncratic_persistence", "seed")
                     if n in self.model_fields_set]
            if given:
                raise ValueError(f"{given[0]}: the firm has no idiosyncratic shock "
                                 "(idiosyncratic_vol is 0), so it never acts; give "
                                 f"idiosyncratic_vol above 0 or drop {given[0]}")
        return self


class AbatementSpec(_Model):
    """The firm's own marginal abatement cost curve MAC(a) = slope · a + curvature · a².

    a in Mt, MAC in market currency per tonne. The firm abates while MAC < price, up to
    ``max_share`` of its gross emissions; its abatement cost is the area under the MAC curve,
    slope · a²/2 + curvature · a³/3 (million currency units). No abatement when both are 0.
    """

    slope: Annotated[float, Field(ge=0, le=MAX_MAC_SLOPE)] = 0.0
    curvature: Annotated[float, Field(ge=0, le=MAX_MAC_CURVATURE)] = 0.0
    max_share: Share = 1.0

    @model_validator(mode="after")
    def _curve_for_the_share(self) -> AbatementSpec:
        # a share with no curve ran as no abatement at all, while the report listed the share
        if "max_share" in self.model_fields_set and self.max_share > 0 and not (
                self.slope > 0 or self.curvature > 0):
            raise ValueError("max_share: the firm has no abatement curve (slope and curvature "
                             "are 0), so it abates nothing and max_share never acts; give "
                             "slope (and curvature) or drop max_share")
        return self

    @property
    def active(self) -> bool:
        """True when the firm can abate at all."""
        return (self.slope > 0 or self.curvature > 0) and self.max_share > 0


class AllocationSpec(_Model):
    """Free allocation (Mt) per compliance year: one of

    ``by_year`` (a mapping year → Mt; every simulated year must be listed), ``level`` with
    ``annual_change`` (a level in the first simulated year), or ``output_based`` (an intensity
    benchmark: allocation = ratio × the firm's gross emissions before abatement, i.e. output ×
    benchmark intensity, so abating does not cut the allocation). No allocation when empty.
    """

    by_year: dict[Year, Mt] | None = None
    level: Mt | None = None
    annual_change: Change = 0.0
    output_based: Annotated[float, Field(ge=0, le=2)] | None = None

    @model_validator(mode="after")
    def _one_mode(self) -> AllocationSpec:
        modes = [m for m in ("by_year", "level", "output_based") if getattr(self, m) is not None]
        if len(modes) > 1:
            raise ValueError(f"give one of by_year, level or output_based (got {', '.join(modes)})")
        if self.annual_change and self.level is None:
            raise ValueError("'annual_change' applies to 'level' mode only")
        return self


class HedgeSpec(_Model):
    """A hedge for one compliance year's purchase.

    ``futures``: bought at today's forward F0 (default: the mean compliance price of that year
    under the variant evaluated, the fair forward, so the hedge changes risk, not expected cost;
    ``price`` sets F0). ``fixed_price``: a contract to buy ``volume`` at ``price``. Either way the
    cost of year y gains (F0 − p_y) × volume. Volume in Mt, or ``ratio`` × the expected net
    purchase of that year (gross emissions − abatement − allocation, unhedged, same variant).
    """

    type: Literal["futures", "fixed_price"] = "futures"
    year: Year
    volume: Annotated[float, Field(ge=-MAX_BAU, le=MAX_BAU)] | None = None
    ratio: Annotated[float, Field(ge=-MAX_HEDGE_RATIO, le=MAX_HEDGE_RATIO)] | None = None
    price: Price | None = None

    @model_validator(mode="after")
    def _check(self) -> HedgeSpec:
        if (self.volume is None) == (self.ratio is None):
            raise ValueError("give exactly one of 'volume' (Mt) or 'ratio' (of expected purchase)")
        if self.type == "fixed_price" and self.price is None:
            raise ValueError("a fixed_price contract needs 'price'")
        return self


class HedgePolicy(_Model):
    """Bounds of the minimum-variance hedge the report proposes, per compliance year.

    By default no short leg (``allow_short: false``) and at most ``max_share`` (1.0) of the
    expected net short position of that year (the allowances the firm expects to buy).
    """

    allow_short: bool = False
    max_share: Annotated[float, Field(ge=0, le=3)] = 1.0

    @model_validator(mode="after")
    def _short_within_a_bound(self) -> HedgePolicy:
        if self.allow_short and self.max_share == 0:  # bounds [-0, 0]: no short leg either
            raise ValueError("allow_short: max_share is 0, which bounds the proposed hedge to "
                             "nothing either way, so allow_short never acts; give max_share "
                             "above 0 or drop allow_short")
        return self


#: Smallest penalty per missing tonne without make-good (market currency; the catalogue's
#: ``MIN_PRICE_CAP``).
MIN_PENALTY = 1.0


class PenaltySpec(_Model):
    """Penalty per missing tonne (market currency). Without make-good the firm pays
    min(price, amount) per tonne it lacks (the penalty caps its price); with make-good it must
    still surrender the allowances, so the penalty is never chosen and never paid."""

    amount: Price
    make_good: bool = False

    @model_validator(mode="after")
    def _caps_a_price(self) -> PenaltySpec:
        # as the catalogue's penalty (catalogue.MIN_PRICE_CAP): near 0 it pins the firm's price
        # there, and its costs to nothing
        if not self.make_good and self.amount < MIN_PENALTY:
            raise ValueError(f"amount: must be at least {MIN_PENALTY:g} (market currency) per "
                             "tonne without make-good: it caps the price the firm pays (got "
                             f"{self.amount:g})")
        return self


class Firm(_Model):
    """A covered firm in one market of a scenario (see the module docstring for units)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    #: Where the numbers come from (or a statement that they are illustrative).
    sources: list[str] = Field(default_factory=list)
    market: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    #: Reporting currency (default: the market's).
    currency: Literal[CURRENCIES] | None = None  # type: ignore[valid-type]
    #: Reporting currency per unit of market currency (default: the scenario's FX rates); within
    #: [MIN_FX, MAX_FX] (1e5 either way is beyond any pair of CURRENCIES: a typo, and 1e300
    #: overflowed the report's statistics into NaN after the whole simulation had run).
    fx_rate: Annotated[float, Field(ge=MIN_FX, le=MAX_FX)] | None = None
    emissions: EmissionsSpec
    abatement: AbatementSpec = Field(default_factory=AbatementSpec)
    allocation: AllocationSpec = Field(default_factory=AllocationSpec)
    #: Allowances held at the start (Mt); used before buying.
    bank: Mt = 0.0
    #: What happens to a surplus: kept in the bank for later years, or sold at p_y.
    surplus: Literal["bank", "sell"] = "bank"
    penalty: PenaltySpec | None = None
    hedges: list[HedgeSpec] = Field(default_factory=list)
    #: Annual rate to discount later years' costs in the horizon total (0: plain sum).
    discount_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    #: Bounds of the proposed minimum-variance hedge.
    hedge_policy: HedgePolicy = Field(default_factory=HedgePolicy)
    #: Annual revenue and EBITDA (million reporting currency), to quote cost at risk against.
    revenue: Annotated[float, Field(ge=MIN_MONEY, le=MAX_MONEY)] | None = None
    ebitda: Annotated[float, Field(ge=MIN_MONEY, le=MAX_MONEY)] | None = None

    @model_validator(mode="after")
    def _checks(self) -> Firm:
        if not self.name.strip():
            raise ValueError("name: must not be blank")
        # the name heads report pages, CSV rows and one-line messages, and seeds the firm's
        # stream: one visible line (a newline split the CSV row and the title)
        if re.search(r"[\x00-\x1f\x7f]", self.name):
            raise ValueError("name: no line breaks, tabs or other control characters "
                             f"(got {self.name!r})")
        fmt = next((c for c in self.name if unicodedata.category(c) in ("Cf", "Zl", "Zp")), None)
        if fmt is not None:  # invisible, or reorders the rest of a terminal line (U+202E)
            raise ValueError(f"name: no invisible formatting characters (got U+{ord(fmt):04X})")
        if self.fx_rate is not None and self.currency is None:
            raise ValueError("fx_rate: converts the market's currency to the reporting currency; "
                             "give 'currency' too (without it costs are reported in the "
                             "market's currency)")
        return self

    def stream_seed(self) -> int:
        """Seed of the firm's idiosyncratic stream (stable across runs and machines)."""
        if self.emissions.seed is not None:
            return self.emissions.seed
        return int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:8], "little")


def firm_from_dict(data: Any, *, file: str | Path | None = None) -> Firm:
    """Validate a mapping into a ``Firm``, or raise ``InputError`` naming file and field."""
    if not isinstance(data, dict):
        raise InputError("a firm file must be a mapping of fields", file=file)
    if "markets" in data and "market" not in data:  # a scenario in a folder of firms (--firms .)
        raise InputError("not a firm file: it has 'markets:' (a scenario?); a firm file names "
                         "one 'market:'", file=file, field="markets")
    try:
        return Firm.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, file=file) from None


def load_firm(path: str | Path) -> Firm:
    """Read and validate a firm YAML file."""
    path = Path(path)
    return firm_from_dict(read_yaml(path), file=path)


def check_firm_years(firm: Firm, years: list[int], *, file: str | Path | None = None) -> None:
    """Allocation and hedges must refer to simulated years (InputError otherwise)."""
    if firm.allocation.by_year is not None:
        missing = [y for y in years if y not in firm.allocation.by_year]
        if missing:
            raise InputError(
                f"no allocation for simulated year(s) {', '.join(map(str, missing))} "
                f"(horizon {years[0]}-{years[-1]})", file=file, field="allocation.by_year")
    for k, h in enumerate(firm.hedges):
        if h.year not in years:
            raise InputError(
                f"hedge year {h.year} is outside the horizon {years[0]}-{years[-1]}",
                file=file, field=f"hedges[{k}].year")
