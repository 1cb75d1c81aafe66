"""The ``Scenario``: everything one simulation needs, validated on construction.

A scenario names the markets (catalogue ids, with design overrides), the link topology and its
restrictions, the regulatory-event intensities, the fundamentals and dependence, the horizon and
the Monte Carlo settings. It is plain data: the batch layer reads it from YAML (with sweeps over
any scalar field), the engine resolves it against calibrations and the catalogue.

Units: quantities in Mt CO2e per year; prices in each market's own currency per tonne, except
link fees, which are in the scenario's numeraire currency per permit; rates of regulatory events
per year.
"""

from __future__ import annotations

import math
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.fit.calibration_schema import MAX_PRICE
from riskmodel.strict import STRICT_NUMBERS, reject_bool_numbers, short_repr

PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]

#: Currencies a scenario may use (the catalogue's).
CURRENCIES = ("EUR", "USD", "KRW", "CNY", "JPY", "CAD", "CHF", "NZD", "GBP")


#: Longest scenario name (run folder and report names are derived from it).
MAX_NAME = 100
#: Longest market id: it labels every table row, column and file of a run.
MAX_MARKET_ID = 40
#: Longest scenario description.
MAX_DESCRIPTION = 10_000
#: Largest BAU emissions of one market, Mt CO2e a year (more than twice the world's).
MAX_BAU = 1e5
#: Smallest BAU emissions or cap of a market, Mt a year: a tonne (5e-324 Mt ran into NaN
#: statistics; the firm files' floor likewise).
MIN_BAU = 1e-6
#: Largest abatement share at the observed price level: at twice that price a market with 0.5
#: would abate all of its BAU emissions (linear abatement), and above it emissions go negative
#: at prices the simulation reaches.
MAX_ABATEMENT_SHARE = 0.5
#: Largest exponent of a marginal abatement cost curve (price ~ abatement^(1/exponent)).
MAX_EXPONENT = 10.0
#: Smallest exponent: the mirror of ``MAX_EXPONENT`` (below it the price moves with the tenth
#: power of abatement and ``c * p ** exponent`` loses every digit: NaN statistics).
MIN_EXPONENT = 1.0 / MAX_EXPONENT
#: Smallest observed price level an abatement curve may be calibrated to (currency per tonne):
#: a thousandth of a unit is below any carbon price in any listed currency (KRW included), and
#: ``share * BAU / price_level ** exponent`` overflows as the level goes to 0.
MIN_PRICE_LEVEL = 1e-3
#: Largest quantity of permits a bank, reserve, quota or TNAC may hold (Mt): the BAU bound,
#: more than twice the world's yearly emissions (1e300 ran the bank and MSR arithmetic into NaN).
#: A typo bound only: what one market's supply can hold is checked where that supply is known
#: (``banking_resolve``: min_bank and terminal_bank against the opening bank plus the supply).
MAX_PERMITS = MAX_BAU
#: Largest rate of a regulatory event (per year): the states change on the daily clock, and
#: from about 2,000 a year (e^-8 of staying put for a day) a switch happens on the first day
#: with certainty; 10,000 ("at once", as tests use 5,000) leaves room, more is a typo.
MAX_EVENT_RATE = 1e4
#: Range of the daily guard ``max_daily_return`` (percent log return): below 0.1 % it clips
#: ordinary days (the price hardly moves); above 1000 % (a price x e^10 in a day, the bound a
#: calibration's own guard has too) it guards nothing and the variance it caps overflows.
MIN_GUARD, MAX_GUARD = 0.1, 1000.0
#: Range of an exchange rate (numeraire per unit of a currency, or a firm's reporting currency
#: per unit of the market's): the widest pair of ``CURRENCIES`` (KRW per GBP) is about 1,800,
#: so 1e5 either way is a typo (1e300 overflowed a firm report into NaN).
MIN_FX, MAX_FX = 1e-5, 1e5
#: Largest seed: numpy's ``SeedSequence`` takes any integer, but a seed beyond 2**63 - 1 is a
#: typo (it does not fit the signed 64-bit integers of manifests and other tools).
MAX_SEED = 2**63 - 1
#: Last year a horizon (or a link) may reach: the catalogue's cap paths and firm years end there.
LAST_YEAR = 2100

#: A price per tonne (collar, fee, offset, penalty, floor): at most ``MAX_PRICE`` (10 million a
#: tonne in any currency); beyond it a value is a typo, not a market.
Price = Annotated[float, Field(ge=0, le=MAX_PRICE)]
PosPrice = Annotated[float, Field(gt=0, le=MAX_PRICE)]
#: A quantity of permits (Mt): at most ``MAX_PERMITS``.
Permits = Annotated[float, Field(ge=0, le=MAX_PERMITS)]
#: A regulatory event's rate per year: at most ``MAX_EVENT_RATE``.
Rate = Annotated[float, Field(ge=0, le=MAX_EVENT_RATE)]

#: Largest scale of the fundamentals' volatilities (ten times the history is no longer it).
MAX_VOL_SCALE = 10.0

#: Most markets one scenario may hold (sizes are bounded before anything is allocated).
MAX_MARKETS = 32


#: Year-to-year persistence of the volatility-level scale when a scenario asks for the level
#: (``simulation.vol_level_sd``) without saying (``simulation.vol_level_persistence``): the
#: pooled correlation of the log realised / simulated one-year volatility of consecutive
#: non-overlapping years across the 13 validated markets, 0.71 (206 pairs; 0.55-0.85 leaving
#: one market out; docs/VALIDATION.md; tests/test_vol_level.py checks it against the stored
#: validation files).
VOL_LEVEL_PERSISTENCE = 0.7
#: The sd of the per-path log-volatility level when a scenario does not set
#: ``simulation.vol_level_sd``: the pooled spread of the committed validation's one-year
#: volatility errors beyond each model's own spread, known at the end of the training data
#: (``riskmodel.fit.vol_spread.pooled_s`` at 2022-12-31: 0.486 from 258 one-year windows of 13
#: markets; docs/VALIDATION.md, "Volatility-level uncertainty"; tests/test_vol_level.py checks
#: it against the stored files). 0 in a scenario turns the draws off.
VOL_LEVEL_SD = 0.49
#: The daily guard a market gets when neither its scenario nor its calibration sets one (% log
#: return; a calibration's own guard comes from riskmodel.fit.guard).
DEFAULT_GUARD = 25.0


def _calibration_ref(v: str | None) -> str | None:
    """A calibration reference names a file (a market id, a file name or a path to a file)."""
    if v is not None and Path(v.strip()).name in ("", ".", ".."):
        raise ValueError(f"must name a calibration file or market id (got {v!r})")
    return v


class _Model(BaseModel):
    """Strict base: unknown keys, NaN/infinity and booleans-as-numbers are all refused."""

    model_config = ConfigDict(
        extra="forbid", frozen=False, validate_assignment=True, **STRICT_NUMBERS
    )

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        return reject_bool_numbers(cls, data, text=True)


class CapSpec(_Model):
    """Supply rule of a market (overrides the catalogue).

    absolute: S = Q_y; intensity: S = r_y * Y_y with r chosen so E[S] = Q_y;
    indexed: S = Q_y * (Y_y / E[Y_y]) ** degree (0 absolute, 1 intensity).
    """

    type: Literal["absolute", "intensity", "indexed"] = "absolute"
    degree: Share | None = None
    #: Expected supply in the first simulated year (Mt); default: BAU emissions times
    #: (1 - abatement share), the cap that makes the observed price level the autarky mean.
    level: Annotated[float, Field(ge=MIN_BAU, le=MAX_BAU)] | None = None
    #: Annual change of the expected supply (e.g. -0.022 for the EU linear reduction factor).
    annual_change: Annotated[float, Field(gt=-1, le=1)] = 0.0

    @model_validator(mode="after")
    def _degree(self) -> CapSpec:
        if self.type == "indexed" and self.degree is None:
            raise ValueError("an indexed cap needs 'degree' in [0, 1]")
        if self.type != "indexed" and self.degree is not None:
            raise ValueError(f"'degree' applies to indexed caps only (type is {self.type!r})")
        return self

    @property
    def effective_degree(self) -> float:
        """0 for absolute, 1 for intensity, ``degree`` for indexed."""
        return {"absolute": 0.0, "intensity": 1.0}.get(self.type, self.degree or 0.0)


class AbatementSpec(_Model):
    """Abatement response a(p) = c * p ** exponent (linear when exponent = 1).

    ``c`` is calibrated so that the mean autarky price equals the observed price level for the
    stated abatement share of BAU emissions, unless given (Mt per currency unit).
    """

    share: Annotated[float, Field(gt=0, le=MAX_ABATEMENT_SHARE)] = 0.10
    #: At a price of one currency unit a tonne the market abates ``slope`` Mt: above
    #: ``MAX_BAU`` that is more than any market emits.
    slope: Annotated[float, Field(gt=0, le=MAX_BAU)] | None = None
    exponent: Annotated[float, Field(ge=MIN_EXPONENT, le=MAX_EXPONENT)] = 1.0
    #: Observed price level the slope is calibrated to; default: the calibration's last-year mean.
    price_level: Annotated[float, Field(ge=MIN_PRICE_LEVEL, le=MAX_PRICE)] | None = None


class CollarSpec(_Model):
    """Price collar [floor, ceiling] in the market's currency (or in ``currency``); reserves in
    Mt (None = unlimited)."""

    floor: Price | None = None
    ceiling: PosPrice | None = None
    #: Currency the floor and ceiling are stated in, when not the market's own: a collar shared
    #: across a linked programme is set once, in one currency (the WCI auction reserve price in
    #: USD), and converted at the scenario's exchange rates (``simulation.fx`` or
    #: calibrations/fx.json).
    currency: Literal[CURRENCIES] | None = None  # type: ignore[valid-type]
    reserve_up: Permits | None = None
    reserve_down: Permits | None = None

    @model_validator(mode="after")
    def _order(self) -> CollarSpec:
        if self.floor is not None and self.ceiling is not None and self.floor > self.ceiling:
            raise ValueError(f"floor ({self.floor}) is above ceiling ({self.ceiling})")
        if self.floor is not None and self.floor == self.ceiling and self.floor > 0:
            raise ValueError(f"floor equals ceiling ({self.floor:g}): a fixed price, which the "
                             "market clearing cannot link; give a floor below the ceiling")
        return self


class StabilisationSpec(_Model):
    """Supply-side stabilisation rules (from the catalogue; switched on here)."""

    msr: bool = False
    kets_triggers: bool = False
    #: Probability that the K-ETS regulator acts when a trigger fires (discretionary).
    kets_probability: Share = 0.5
    #: Extra supply released when a K-ETS upper trigger acts, as a share of the annual cap
    #: (withheld when the lower trigger acts). Default None: release from the reserve instead.
    kets_release_share: Share | None = None
    #: K-ETS market stabilisation reserve (Mt) the upper trigger auctions from; default: the
    #: catalogue's ``stabilisation.kets_triggers.reserve`` (14.3 M). Finite: once sold, gone.
    kets_reserve: Permits | None = None
    #: Mt auctioned from the reserve per intervention (withheld into it on the lower trigger);
    #: default: the catalogue's ``reserve_auction_share`` (25%) of the reserve.
    kets_release: Permits | None = None
    #: EU MSR: total number of allowances in circulation at the start (Mt); default: the
    #: catalogue's intake threshold (an assumption that keeps the MSR idle in the first year: the
    #: seeds give no TNAC level; the EU scenarios set it explicitly).
    tnac0: Permits | None = None
    #: EU MSR: allowances held in the reserve at the start (Mt).
    msr_reserve0: Permits = 0.0


class BankingSpec(_Model):
    """Banking across compliance years: the rolling-horizon bridge of docs/BANKING.md §3.

    Present (even empty) switches banking on with the defaults of docs/BANKING.md §4; absent
    means today's static bridge. A field left out takes the scenario-level ``banking`` block's
    value, then the catalogue's, then the default. ``horizon: 1`` with no bank is the static
    bridge (banking off, bit-identical to an absent block).
    """

    #: Window H in years (default 10, capped at the phase end or permit expiry).
    horizon: Annotated[int, Field(ge=1, le=50)] | None = None
    #: Carry r of the price map (per year; default: the market's measured futures carry in
    #: calibrations/carry.json, a linked partner's, or their median; docs/BANKING.md §4).
    carry: Annotated[float, Field(ge=0, le=0.2)] | None = None
    #: Private bank at the start of the horizon (Mt; default: the catalogue's
    #: ``banking.initial_bank``, else 0).
    initial_bank: Permits | None = None
    #: Borrowing allowance as a share of the year's supply (default: the catalogue's limit when
    #: borrowing is allowed, else 0).
    borrowing_share: Share | None = None
    #: Hedging floor B_min (Mt): part of the bank is not free to arbitrage.
    min_bank: Permits | None = None
    #: Bank at the end of a window that is not a permit expiry (Mt; default ``min_bank``).
    terminal_bank: Permits | None = None
    #: Persistence phi of price news in the window (1: a price shock is a permanent level shift
    #: of required abatement; 0 < phi <= 1).
    persistence: Annotated[float, Field(gt=0, le=1)] | None = None
    #: Banked permits when a link is suspended (Pizer & Yates 2015): 'holder' (default) keeps
    #: them valid where they are held; 'origin' returns them to the system that issued them.
    #: Scenario-level only; bilateral links only.
    delink_convention: Literal["holder", "origin"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> BankingSpec:
        if (self.min_bank is not None and self.terminal_bank is not None
                and self.terminal_bank < self.min_bank):
            raise ValueError(f"terminal_bank: {self.terminal_bank:g} Mt is below min_bank "
                             f"{self.min_bank:g} Mt (the hedging floor the bank keeps)")
        if self.horizon == 1 and self.borrowing_share:
            raise ValueError("borrowing_share: a one-year window (horizon: 1) borrows nothing "
                             "from later years; give a longer horizon or drop it")
        return self


#: Keys of a process's end state (Contract 2 ``state``; dates are kept but not read).
STATE_KEYS = frozenset({
    "last_price", "last_variance", "variance_T", "last_resid", "last_std_resid", "last_return",
    "regime_probs", "regime_variances", "next_mean", "last_date", "last_price_date",
})


#: Keys of an inline process's ``thin_trading`` and ``price_limit`` blocks: what the engine
#: reads and the fitted figures a calibration's block carries (a block copied from a
#: calibration file is valid inline; a misspelt key is not).
INLINE_THIN_KEYS = frozenset({
    "model", "p01", "p11", "zero_share", "last_state", "last_gap", "kappa", "empirical_share",
    "counts", "kappa_profile", "loglik_chain", "source", "variance_target"})
INLINE_LIMIT_KEYS = frozenset({
    "limit", "up_pct", "down_pct", "latent_variance_scale", "share_at_limit",
    "simulated_share_at_limit", "carry_over", "fitted_mean_square_pct2", "n_days",
    "next_mean_pct", "next_same_limit_share", "pile_p", "rule", "scale_rule", "share_beyond",
    "share_inside_band", "traded_mean_square_pct2", "unit", "window"})


class ProcessSpec(_Model):
    """An inline price process (a synthetic calibration) in the calibration-file form."""

    family: Literal["garch", "gjr", "egarch", "ms", "msgarch"] = "garch"
    mean: Literal["constant", "ar1"] = "constant"
    dist: Literal["normal", "t", "skewt"] = "normal"
    k_regimes: Annotated[int, Field(ge=1, le=4)] = 1
    params: dict[str, float]
    last_price: Annotated[float, Field(ge=MIN_PRICE_LEVEL, le=MAX_PRICE)]
    state: dict[str, Any] = Field(default_factory=dict)
    #: Thin-trading block of the calibration form (docs/THIN_TRADING.md); None = always trades.
    thin_trading: dict[str, Any] | None = None
    #: Price-limit block of the calibration form (docs/PRICE_LIMITS.md); None = no limit.
    price_limit: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _process_rules(self) -> ProcessSpec:
        """The same rules as a calibration file (omega > 0, persistence < 1, nu > 2, ...)."""
        from riskmodel.fit.calibration_schema import validate_calibration

        model = {"family": self.family, "mean": self.mean, "dist": self.dist,
                 "k_regimes": self.k_regimes}
        state = {**self.state, "last_price": self.last_price}
        unknown = sorted(set(self.state) - STATE_KEYS)
        if unknown:  # a misspelt key would be ignored and the state taken from defaults
            raise ValueError(f"state.{unknown[0]}: unknown state key (keys: "
                             f"{', '.join(sorted(STATE_KEYS))})")
        for block, keys in (("thin_trading", INLINE_THIN_KEYS),
                            ("price_limit", INLINE_LIMIT_KEYS)):
            given = getattr(self, block)
            if given is None:
                continue
            if not given:
                raise ValueError(f"{block}: empty; leave the block out for none")
            odd = sorted(set(given) - keys)
            if odd:  # a misspelt key would be ignored and its default simulated
                raise ValueError(f"{block}.{odd[0]}: unknown key (keys: {', '.join(sorted(keys))})")
        try:
            validate_calibration({"model": model, "params": self.params, "state": state})
        except InputError as exc:
            field = (exc.field or "params").removeprefix("model.")  # the scenario's keys
            raise ValueError(f"{field}: {exc.reason}") from None
        return self


class MarketSpec(_Model):
    """One market in a scenario: a catalogue id plus overrides, or a fully synthetic market."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=MAX_MARKET_ID)]
    #: Calibration file or market id (default: calibrations/<id>.json); not with ``process``.
    calibration: str | None = None
    process: ProcessSpec | None = None
    currency: Literal[CURRENCIES] | None = None  # type: ignore[valid-type]
    #: Jurisdiction whose fundamentals drive this market's output and BAU emissions.
    jurisdiction: str | None = None
    #: BAU (covered) emissions in the first simulated year, Mt; default: the catalogue's.
    bau_emissions: Annotated[float, Field(ge=MIN_BAU, le=MAX_BAU)] | None = None
    cap: CapSpec = Field(default_factory=CapSpec)
    abatement: AbatementSpec = Field(default_factory=AbatementSpec)
    collar: CollarSpec = Field(default_factory=CollarSpec)
    #: Offsets usable up to this share of the obligation (supply step at ``offset_price``).
    offset_limit_share: Share = 0.0
    offset_price: Price | None = None
    #: Penalty per missing tonne with no make-good: acts as an unlimited-reserve price cap.
    penalty_cap: PosPrice | None = None
    stabilisation: StabilisationSpec = Field(default_factory=StabilisationSpec)
    #: Banking across years (docs/BANKING.md); None: the scenario-level block, else off.
    banking: BankingSpec | None = None
    #: Supply rule the fitted price history was generated under (the bridge's S_obs); default:
    #: the catalogue's cap type (absolute for synthetic markets).
    observed_cap: CapSpec | None = None
    #: Annual log growth of covered output (mean, sd); override the fundamentals calibration
    #: (needed for a synthetic market whose jurisdiction is not calibrated).
    output_growth: Annotated[float, Field(ge=-0.5, le=0.5)] | None = None
    output_vol: Annotated[float, Field(ge=0, le=0.5)] | None = None
    #: Guard on the simulated price process: largest daily residual, percent log return (the
    #: variance is capped at its square); None switches it off. Fitted EGARCH processes with
    #: nu near 2 have infinite variance and overflow over multi-year horizons without it.
    max_daily_return: Annotated[float, Field(ge=MIN_GUARD, le=MAX_GUARD)] | None = DEFAULT_GUARD
    #: Daily price limit (docs/PRICE_LIMITS.md): None or 0 = none (the default: with today's
    #: fits it did not improve the out-of-sample scores), "calibration" = the limit the
    #: calibration's prices show (``price_limit`` block) with its latent scale, a number in
    #: (0, 1) = that limit, share of the previous price (e.g. a counterfactual band).
    price_limit: float | str | None = None
    #: True for a market not in the catalogue: then process, currency, jurisdiction and
    #: bau_emissions must be given.
    synthetic: bool = False

    _ref = field_validator("calibration")(classmethod(lambda cls, v: _calibration_ref(v)))

    @field_validator("price_limit")
    @classmethod
    def _price_limit(cls, v: float | str | None) -> float | str | None:
        if isinstance(v, str) and v != "calibration":
            raise ValueError(f"must be 'calibration' or a share in [0, 1) (got {v!r})")
        if isinstance(v, float) and not (0.0 <= v < 1.0):
            raise ValueError(f"must be a share of the previous price in [0, 1) (got {v!r})")
        return v

    @model_validator(mode="after")
    def _synthetic(self) -> MarketSpec:
        if self.synthetic:
            missing = [
                f for f in ("process", "currency", "bau_emissions") if getattr(self, f) is None
            ]
            if missing:
                raise ValueError(f"a synthetic market needs {', '.join(missing)}")
        if self.process is not None and self.calibration is not None:  # read neither way
            raise ValueError("calibration: the market has its own process block, which "
                             "replaces any calibration, so the calibration is never read; drop "
                             "calibration (or drop process to simulate the calibration)")
        pair = {"output_growth": self.output_growth, "output_vol": self.output_vol}
        given = [k for k, v in pair.items() if v is not None]
        if len(given) == 1:  # the pair replaces the jurisdiction's process; the other was 0
            other = "output_vol" if given[0] == "output_growth" else "output_growth"
            what = "no output risk" if other == "output_vol" else "no output growth"
            raise ValueError(
                f"{other}: missing, but {given[0]} is given: the two together replace the "
                f"output process of the market's jurisdiction, and the missing one would be 0 "
                f"({what}); give {other} (0 for none) or drop {given[0]}")
        return self


class QuotaSpec(_Model):
    """A limit on net transfers over a link: in Mt per year, or as a share of the importer's
    obligation (its supply). Applies in both directions unless the link is one-way."""

    mt: Permits | None = None
    share: Share | None = None

    @model_validator(mode="after")
    def _one(self) -> QuotaSpec:
        if (self.mt is None) == (self.share is None):
            raise ValueError("give exactly one of 'mt' or 'share'")
        return self


class LinkSpec(_Model):
    """A link between two markets (multilateral links are several links, or ``topology``).

    No ``quota`` means no limit on transfers; ``state: closed`` keeps the link in the file (and
    in a sweep) but carries no permits, so a closed link reports no binding quota.
    """

    markets: Annotated[list[str], Field(min_length=2, max_length=2)]
    #: 'both' or 'one_way' (permits flow from markets[0] to markets[1] only).
    direction: Literal["both", "one_way"] = "both"
    quota: QuotaSpec | None = None
    #: Fee per permit transferred, in the numeraire currency.
    fee: Price = 0.0
    #: Exchange (discount) rate: one permit of markets[0] covers ``exchange_rate`` tonnes in
    #: markets[1] (and 1/exchange_rate the other way).
    #: Within [1e-4, 1e4]: permits that differ ten-thousand-fold in what they cover are a typo
    #: (the seeds' discount rates are 0.5-2), and 1e300 reached the collar checks as 1e-300.
    exchange_rate: Annotated[float, Field(ge=1e-4, le=1e4)] = 1.0
    #: Year the link starts (default: the start of the horizon); 1990: before any market.
    start_year: Annotated[int, Field(ge=1990, le=LAST_YEAR)] | None = None
    #: 'open' (default) or 'closed' (listed, but no permits cross it).
    state: Literal["open", "closed"] = "open"

    @field_validator("markets")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if v[0] == v[1]:
            raise ValueError(f"a link joins two different markets (got {v[0]!r} twice)")
        return v

    @property
    def name(self) -> str:
        """``a-b`` (``a->b`` for one-way links)."""
        sep = "->" if self.direction == "one_way" else "-"
        return f"{self.markets[0]}{sep}{self.markets[1]}"


class LinkEventSpec(_Model):
    """Continuous-time Markov chain of one link's state: active, restricted, suspended.

    Rates per year. 'restricted' switches on ``restricted_quota`` and/or ``restricted_fee``;
    'suspended' removes the link (prices return to autarky at once). ``terminal`` makes
    suspension absorbing (termination).
    """

    link: str
    active_to_restricted: Rate = 0.0
    active_to_suspended: Rate = 0.0
    restricted_to_active: Rate = 0.0
    restricted_to_suspended: Rate = 0.0
    suspended_to_active: Rate = 0.0
    terminal: bool = False
    restricted_quota: QuotaSpec | None = None
    restricted_fee: Price = 0.0

    @model_validator(mode="after")
    def _restriction(self) -> LinkEventSpec:
        no_restriction = self.restricted_quota is None and not self.restricted_fee
        if self.active_to_restricted > 0 and no_restriction:
            raise ValueError("a 'restricted' state needs restricted_quota or restricted_fee")
        if self.terminal and self.suspended_to_active > 0:
            raise ValueError("terminal suspension cannot have suspended_to_active > 0")
        return self


class MarketEventSpec(_Model):
    """Market-level policy events: exemption (a share of covered emissions leaves the cap) and
    intervention (a temporary price floor and/or extra supply). Rates per year."""

    market: str
    exemption_on: Rate = 0.0
    exemption_off: Rate = 0.0
    exemption_share: Share = 0.0
    intervention_on: Rate = 0.0
    intervention_off: Rate = 0.0
    intervention_floor: Price | None = None
    intervention_supply_share: Share = 0.0


class EventsSpec(_Model):
    """Regulatory events; empty means the 'linked_events' variant equals 'linked'."""

    links: list[LinkEventSpec] = Field(default_factory=list)
    markets: list[MarketEventSpec] = Field(default_factory=list)


class FundamentalsSpec(_Model):
    """Output and emissions-intensity uncertainty (MODEL.md §2)."""

    calibration: str | None = None  # default calibrations/fundamentals.json

    _ref = field_validator("calibration")(classmethod(lambda cls, v: _calibration_ref(v)))
    #: Override of corr(dlog output, dlog emissions) per market id (re-derives the intensity law).
    output_emissions_corr: dict[str, Annotated[float, Field(ge=-1, le=1)]] = Field(
        default_factory=dict
    )
    #: Scale factor applied to all output / intensity volatilities.
    vol_scale: Annotated[float, Field(gt=0, le=MAX_VOL_SCALE)] = 1.0
    #: Correlation between each market's daily price innovation and its output shock.
    price_output_corr: Annotated[float, Field(ge=-1, le=1)] = 0.0
    var1: bool = False


class DependenceSpec(_Model):
    """Cross-market dependence of price innovations."""

    calibration: str | None = None  # default calibrations/dependence.json

    _ref = field_validator("calibration")(classmethod(lambda cls, v: _calibration_ref(v)))
    copula: Literal["gaussian", "t"] = "gaussian"
    nu: Annotated[float, Field(gt=2)] | None = None
    #: Explicit correlation matrix of price innovations in the order of ``markets`` (overrides
    #: the calibration); must be symmetric with unit diagonal and positive definite.
    corr: list[list[float]] | None = None
    #: Repair a non-positive-definite matrix to the nearest one (and report it) instead of failing.
    repair: bool = False

    @model_validator(mode="after")
    def _t_needs_nu(self) -> DependenceSpec:
        if self.copula != "t" and self.nu is not None:
            raise ValueError("nu: applies to the t copula only (copula is 'gaussian')")
        if self.copula == "t" and self.nu is None and self.calibration is None:
            # nu may come from the calibration; when neither is given, a default is stated here.
            self.__dict__["nu"] = 8.0
        return self


class HorizonSpec(_Model):
    """Simulated compliance years on a trading-day clock."""

    start_year: Annotated[int, Field(ge=2000, le=LAST_YEAR)] = 2023
    years: Annotated[int, Field(ge=1, le=50)] = 5
    #: (at least 2: checked below, with the reason)
    days_per_year: Annotated[int, Field(le=366)] = 252

    @field_validator("days_per_year")
    @classmethod
    def _a_return_a_year(cls, v: int) -> int:
        # the first day of the horizon has no daily return (no day before it): with one day a
        # year the first year had none, and its volatility read 0 (not undefined)
        if v < 2:
            raise ValueError(f"must be at least 2 trading days a year (got {v}): the horizon's "
                             "first day has no daily return, so with one day a year the first "
                             "year would have none (its volatility read 0)")
        return v

    @model_validator(mode="after")
    def _ends_by_last_year(self) -> HorizonSpec:
        end = self.start_year + self.years - 1
        if end > LAST_YEAR:
            raise ValueError(f"years: the horizon must end by {LAST_YEAR} (start_year "
                             f"{self.start_year} + {self.years} years ends in {end}); the "
                             "catalogue's cap paths and firm years stop there")
        return self


class SimulationSpec(_Model):
    """Monte Carlo settings. ``paths_per_chunk`` is the grain of the random streams: chunk c of
    the run draws from ``SeedSequence(seed).spawn(n_chunks)[c]``, so results do not depend on
    workers or on how chunks are grouped into tasks."""

    paths: Annotated[int, Field(ge=1, le=100_000_000)] = 10_000
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 20261123
    paths_per_chunk: Annotated[int, Field(ge=1, le=10_000_000)] = 2_000
    keep_paths: Annotated[int, Field(ge=0, le=10_000)] = 20
    keep_annual: bool = False
    #: Numeraire for linked prices and fees.
    numeraire: Literal[CURRENCIES] = "EUR"  # type: ignore[valid-type]
    #: Exchange rates: numeraire per unit of each currency (default: calibrations/fx.json).
    fx: dict[str, Annotated[float, Field(ge=MIN_FX, le=MAX_FX)]] = Field(default_factory=dict)
    #: 'martingale' (default): the price itself is a martingale, E[P_{t+1} | F_t] = P_t — with
    #: banking, no-arbitrage makes the allowance price a martingale up to interest, and drifts
    #: fitted on short samples are mostly noise; the mean and AR(1) terms are dropped and the log
    #: return carries the compensator -h_t/2. 'zero': log price is a martingale (mean and AR
    #: dropped, no compensator: the price drifts up by exp(h/2) a day). 'fitted': keep the
    #: calibration's mean and AR(1) terms.
    price_drift: Literal["martingale", "zero", "fitted"] = "martingale"
    #: Volatility-level uncertainty (docs/VALIDATION.md, riskmodel.fit.vol_spread): the sd of a
    #: log-volatility scale xi ~ N(0, sd^2), drawn per path and market for each compliance year,
    #: on the level each fitted variance reverts to (GARCH omega x e^(2 xi), EGARCH log omega +
    #: 2 (1 - beta) xi, regime variances x e^(2 xi)); the current conditional variance is kept.
    #: None: ``VOL_LEVEL_SD`` (on by default: a fitted model's level of volatility a year ahead
    #: is itself uncertain); 0: off.
    vol_level_sd: Annotated[float, Field(ge=0, le=2)] | None = None
    #: Persistence of that scale from one compliance year to the next: xi_y = rho xi_{y-1} +
    #: sqrt(1 - rho^2) sd e_y (a stationary AR(1): every year's xi is N(0, sd^2), the first
    #: year's draw is the same whatever rho). None: ``VOL_LEVEL_PERSISTENCE``, the pooled
    #: year-to-year correlation of the validation's volatility-level errors
    #: (riskmodel.fit.vol_spread.level_persistence); 0: drawn afresh each year.
    vol_level_persistence: Annotated[float, Field(ge=0, lt=1)] | None = None
    variants: list[Literal["autarky", "linked", "linked_events"]] = Field(
        default_factory=lambda: ["autarky", "linked", "linked_events"]
    )

    @field_validator("fx")
    @classmethod
    def _fx_currencies(cls, v: dict[str, float]) -> dict[str, float]:
        bad = sorted(set(v) - set(CURRENCIES))
        if bad:
            raise ValueError(f"unknown currency {bad[0]!r}; allowed: {', '.join(CURRENCIES)}")
        return v

    @field_validator("variants")
    @classmethod
    def _variants(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("name at least one of autarky, linked, linked_events")
        dup = sorted({x for x in v if v.count(x) > 1})
        if dup:
            raise ValueError(f"{dup[0]!r} is listed twice")
        return v

    @model_validator(mode="after")
    def _numeraire_rate(self) -> SimulationSpec:
        rate = self.fx.get(self.numeraire)
        if rate is not None and rate != 1.0:
            raise ValueError(f"fx.{self.numeraire}: the numeraire's own rate must be 1 (got "
                             f"{rate:g}); rates are numeraire per unit of each currency")
        return self


class Scenario(_Model):
    """A complete, validated simulation scenario (see the module docstring for units)."""

    name: Annotated[str, Field(min_length=1)]
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] = ""
    #: Citations: the seed passages this scenario quantifies (``seeds/<file>:<line>``).
    sources: list[str] = Field(default_factory=list)
    markets: Annotated[list[MarketSpec], Field(min_length=1, max_length=MAX_MARKETS)]
    #: Shorthand topologies: 'none' (links as listed), 'multilateral' (all pairs),
    #: 'chain' (consecutive markets in the listed order).
    topology: Literal["none", "multilateral", "chain"] = "none"
    links: list[LinkSpec] = Field(default_factory=list)
    events: EventsSpec = Field(default_factory=EventsSpec)
    fundamentals: FundamentalsSpec = Field(default_factory=FundamentalsSpec)
    dependence: DependenceSpec = Field(default_factory=DependenceSpec)
    horizon: HorizonSpec = Field(default_factory=HorizonSpec)
    #: Banking defaults for every market (a market's own ``banking`` fields override them).
    banking: BankingSpec | None = None
    simulation: SimulationSpec = Field(default_factory=SimulationSpec)

    @field_validator("description")
    @classmethod
    def _description(cls, v: str) -> str:
        """Printed by ``runs show``: no terminal control characters (ESC, BEL, C1)."""
        bad = re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", v)
        if bad:
            raise ValueError(f"no control characters (got U+{ord(bad.group()):04X}): runs show "
                             "prints the description to the terminal")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        """Run folder names are derived from it: bounded, one line, no path separators."""
        if not v.strip():
            raise ValueError("must not be blank")
        if len(v) > MAX_NAME:
            raise ValueError(f"at most {MAX_NAME} characters (got {len(v)})")
        if re.search(r"[\x00-\x1f\x7f-\x9f/\\]", v):
            raise ValueError("no '/', '\\' or control characters (run folders are named after it)")
        fmt = next((c for c in v if unicodedata.category(c) in ("Cf", "Zl", "Zp")), None)
        if fmt is not None:  # invisible, or reorders the rest of a terminal line (U+202E)
            raise ValueError(f"no invisible formatting characters (got U+{ord(fmt):04X}): run "
                             "folders, run lists and progress bars are named after it")
        if not v.strip(". "):
            raise ValueError(f"must not be made of dots only (got {v!r}): run folders are "
                             "named after it, and a folder named so is hidden")
        return v

    @model_validator(mode="after")
    def _consistency(self) -> Scenario:
        ids = [m.id for m in self.markets]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"markets: market {dup[0]!r} is listed twice")
        known = set(ids)
        seen_links: dict[frozenset[str], int] = {}
        for k, link in enumerate(self.links):
            first = seen_links.setdefault(frozenset(link.markets), k)
            if first != k:
                raise ValueError(
                    f"links[{k}]: links {link.markets[0]!r} and {link.markets[1]!r} again "
                    f"(already links[{first}]); give each pair of markets one link"
                )
            for m in link.markets:
                if m not in known:
                    raise ValueError(
                        f"links[{k}].markets: market {m!r} is not among the scenario's markets "
                        f"({', '.join(ids)})"
                    )
        names = {lk.name for lk in self.all_links()}
        plain = {"-".join(sorted(lk.markets)) for lk in self.all_links()}
        for k, ev in enumerate(self.events.links):
            key = "-".join(sorted(ev.link.replace(">", "").split("-")))
            # 'a->b' names a one-way link and its direction exactly; 'a-b' any link of the pair
            if ev.link not in names and ("->" in ev.link or key not in plain):
                raise ValueError(
                    f"events.links[{k}].link: {ev.link!r} is not a link of this scenario "
                    f"(links: {', '.join(sorted(names)) or 'none'})"
                )
        for what, keys in (("links", [ev.link for ev in self.events.links]),
                           ("markets", [ev.market for ev in self.events.markets])):
            norm = ["-".join(sorted(key.replace(">", "").split("-"))) if what == "links" else key
                    for key in keys]
            for k, key in enumerate(norm):
                if key in norm[:k]:
                    raise ValueError(f"events.{what}[{k}]: {keys[k]!r} again (already "
                                     f"events.{what}[{norm.index(key)}]); give each one block")
        for k, ev in enumerate(self.events.markets):
            if ev.market not in known:
                raise ValueError(f"events.markets[{k}].market: unknown market {ev.market!r}")
        for k, m in enumerate(self.markets):
            if m.banking is not None and m.banking.delink_convention is not None:
                raise ValueError(f"markets[{k}].banking.delink_convention: a scenario-level "
                                 "setting: give it in the top-level banking block")
        for mid in self.fundamentals.output_emissions_corr:
            if mid not in known:
                raise ValueError(f"fundamentals.output_emissions_corr: unknown market {mid!r}")
        corr = self.dependence.corr
        if corr is not None:
            _check_corr(corr, len(ids), repair=self.dependence.repair)
        from riskmodel.sim.design_checks import check_design

        check_design(self)
        return self

    def all_links(self) -> list[LinkSpec]:
        """Explicit links plus those implied by ``topology``."""
        ids = [m.id for m in self.markets]
        implied: list[LinkSpec] = []
        if self.topology == "multilateral":
            implied = [
                LinkSpec(markets=[a, b]) for i, a in enumerate(ids) for b in ids[i + 1 :]
            ]
        elif self.topology == "chain":
            implied = [LinkSpec(markets=[a, b]) for a, b in zip(ids, ids[1:], strict=False)]
        explicit = {frozenset(lk.markets) for lk in self.links}
        return list(self.links) + [lk for lk in implied if frozenset(lk.markets) not in explicit]

    def banking_of(self, k: int) -> BankingSpec | None:
        """Market k's banking block merged over the scenario-level one (None: banking off)."""
        own, top = self.markets[k].banking, self.banking
        if own is None:
            return top
        if top is None:
            return own
        merged = {n: getattr(top, n) for n in top.model_fields_set if getattr(top, n) is not None}
        merged.update({n: getattr(own, n) for n in own.model_fields_set
                       if getattr(own, n) is not None})
        return BankingSpec(**merged)

    def banking_field(self, k: int, name: str) -> str | None:
        """The scenario field that set market k's banking ``name`` (None: not set)."""
        own = self.markets[k].banking
        if own is not None and getattr(own, name) is not None:
            return f"markets[{k}].banking.{name}"
        if self.banking is not None and getattr(self.banking, name) is not None:
            return f"banking.{name}"
        return None

    def market_ids(self) -> list[str]:
        """Market ids in scenario order (the order of every per-market array)."""
        return [m.id for m in self.markets]


def _check_corr(corr: list[list[float]], n: int, *, repair: bool) -> None:
    """Symmetric, unit diagonal, entries in [-1, 1], and positive definite (unless repair)."""
    if len({len(row) for row in corr}) > 1:  # ragged: numpy would refuse it in its own words
        i = next(i for i, row in enumerate(corr) if len(row) != (n if len(corr) == n
                                                                  else len(corr[0])))
        raise ValueError(f"dependence.corr: must be {n}x{n} (one row per market); row {i} has "
                         f"{len(corr[i])} entr{'y' if len(corr[i]) == 1 else 'ies'}")
    a = np.asarray(corr, dtype=float)
    if a.shape != (n, n):
        raise ValueError(f"dependence.corr: must be {n}x{n} (one row per market), got {a.shape}")
    if not np.allclose(a, a.T, atol=1e-12):
        raise ValueError("dependence.corr: not symmetric")
    if not np.allclose(np.diag(a), 1.0):
        raise ValueError("dependence.corr: must have a unit diagonal")
    if np.any(np.abs(a) > 1):
        raise ValueError("dependence.corr: an entry lies outside [-1, 1]")
    eig = float(np.linalg.eigvalsh(a).min())
    if eig <= 1e-10 and not repair:
        raise ValueError(
            f"dependence.corr: not positive definite (smallest eigenvalue {eig:.3g}); "
            "fix it or set dependence.repair: true to use the nearest positive-definite matrix"
        )


#: Names pydantic gives the members of a union in an error's location.
_UNION_MEMBERS = ("float", "str", "int", "bool", "none", "list[float]", "dict[str,float]")


def format_validation_error(exc: ValidationError, *, file: str | Path | None = None) -> InputError:
    """Turn a pydantic error into an ``InputError`` naming the file and the dotted field."""
    errors = exc.errors()
    first = errors[0]
    for err in errors:  # 'name ' (a space inside the quotes): its key first, not 'name missing'
        key = (err.get("loc") or ("",))[-1]
        if err.get("type") == "extra_forbidden" and isinstance(key, str) and key != key.strip():
            first = err
            break
    if first.get("type") == "invalid_key":  # a YAML key read as a number, null or a boolean
        return _invalid_key(first, exc, file)
    loc = ".".join(  # without the union member a value was tried as (``price_limit.float``)
        f"[{p}]" if isinstance(p, int) else str(p)
        for p in first.get("loc", ())
        if p not in _UNION_MEMBERS and not str(p).startswith(("function-", "constrained-"))
    ).replace(".[", "[")
    msg = first.get("msg", "invalid").removeprefix("Value error, ")
    key = (first.get("loc") or ("",))[-1]
    if first.get("type") == "extra_forbidden" and isinstance(key, str) and key != key.strip() \
            and key.strip().isascii() and key.strip().isprintable():
        loc = loc[: len(loc) - len(key)] + key.strip()
        msg = (f"unknown key {key!r}: it has a space (or a tab) at its start or end, so it is "
               f"not the key {key.strip()!r}; write the key without it")
    elif first.get("type") == "extra_forbidden" and isinstance(key, str) and not (
            key.isascii() and key.isprintable()):  # an invisible or look-alike character
        odd = next(c for c in key if not (c.isascii() and c.isprintable()))
        shown = key.encode("unicode_escape").decode("ascii")
        loc = loc[: len(loc) - len(key)] + shown
        msg = (f"unknown key: it holds U+{ord(odd):04X} ({unicodedata.name(odd, 'unnamed')}); "
               "keys are plain ASCII")
    head, sep, tail = msg.partition(": ")
    if sep and re.fullmatch(r"[A-Za-z_][\w.\[\]]*", head):  # a validator that names its field
        loc = f"{loc}.{head}" if loc else head
        msg = tail
    inp = first.get("input")
    if (first.get("type") in ("literal_error", "enum") or "Input should be" in msg) and (
        "(got " not in msg
    ):
        msg = f"{msg} (got {short_repr(inp)})"
    more = len(errors) - 1
    if more:
        msg += f" (+{more} more problem{'s' if more > 1 else ''})"
    return InputError(msg, file=file, field=loc or None)


def _invalid_key(first: Any, exc: ValidationError, file: str | Path | None) -> InputError:
    """``markets[0].1: a key must be a field name (text), not the number 1``."""
    key = first.get("input")
    *head, _ = first.get("loc", ()) or ("?",)
    spelt = ("null" if key is None else str(key).lower() if isinstance(key, bool)
             else short_repr(key))
    what = ("null" if key is None else f"the boolean {spelt}" if isinstance(key, bool)
            else f"the number {spelt}" if isinstance(key, int | float) else spelt)
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in head).lstrip(".")
    msg = f"a key must be a field name (text), not {what}"
    more = len(exc.errors()) - 1
    if more:
        msg += f" (+{more} more problem{'s' if more > 1 else ''})"
    return InputError(msg, file=file, field=f"{where}.{spelt}" if where else spelt)


def scenario_from_dict(data: Any, *, file: str | Path | None = None) -> Scenario:
    """Validate a mapping (e.g. parsed YAML) into a ``Scenario``, or raise ``InputError``."""
    if not isinstance(data, dict):
        raise InputError("a scenario must be a mapping of fields", file=file)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, file=file) from None


def known_market_ids() -> set[str]:
    """Market ids of the committed catalogue (stems of ``data/markets/*.yaml``)."""
    return {p.stem for p in config.MARKETS_DIR.glob("*.yaml")}


def check_markets_known(scenario: Scenario, *, file: str | Path | None = None) -> None:
    """Every non-synthetic market must be in the catalogue."""
    known = known_market_ids()
    for k, m in enumerate(scenario.markets):
        if not m.synthetic and m.id not in known:
            raise InputError(
                f"unknown market {m.id!r}; catalogue markets: {', '.join(sorted(known))} "
                "(or set synthetic: true with an inline process)",
                file=file,
                field=f"markets[{k}].id",
            )


def is_finite(x: float | None) -> bool:
    """True for a finite number."""
    return x is not None and math.isfinite(x)
