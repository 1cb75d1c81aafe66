"""Compliance-cost distribution and risk of a covered firm, path by path (MODEL.md §6).

Input: the engine's per-path compliance-year arrays of the firm's market (``price`` in the market
currency per tonne and ``bau`` emissions in Mt, ``[variant, path, year]``), all variants on common
random numbers. Everything is vectorised numpy over paths; only the bank is carried year to year.

Per year y and path (market currency, million units):

- gross emissions e_y (``firm.EmissionsSpec``); abatement a_y = min(max_share · e_y, MAC⁻¹(p̃_y))
  with MAC(a) = slope·a + curvature·a², p̃ the price the firm faces (min(p, penalty) when a
  penalty without make-good caps it); abatement cost slope·a²/2 + curvature·a³/3;
- allocation A_y; need n_y = e_y − a_y − A_y; the bank covers need first; the rest is bought at
  p̃_y; a surplus is banked (or sold at p_y when ``surplus: sell``);
- cost C_y = abatement cost + p̃_y × bought + Σ_hedges (F0 − p_y) × volume;
- horizon cost = Σ_y C_y / (1 + discount_rate)^(y − y0).

Risk measures (losses = costs): VaR_q = the q-quantile of the cost (numpy's linear interpolation
between order statistics); ES_q = the mean of the worst k = ⌈n(1 − q)⌉ costs. Probability of a
shortfall beyond the bank: the need exceeds the allowances banked at the start of the year.

Variance decomposition (Shapley, on the same paths): v(S) = Var C with the factors outside S
(price, volume and, under linked with events, the events' change to the price) fixed at their
per-year mean; each factor's part is its average marginal contribution over all orders, so the
parts sum to Var C and every interaction is shared equally (nothing is left unexplained).

Minimum-variance hedge, per year: h*_y = Cov(C_y, p_y) / Var(p_y) (Mt of futures bought at the
fair forward, on the unhedged cost), clipped to [0, max_share × E[bought_y]] (the firm's
``hedge_policy``: no short legs, at most the expected net short position by default). Side by
side: hedging the expected net purchase E[bought_y], and no hedge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.errors import InputError
from riskmodel.firm.firm import Firm

#: Levels of the tail measures.
VAR_LEVELS = (0.95, 0.99)
ES_LEVEL = 0.975
#: Names of the engine's annual arrays this module reads.
PRICE, BAU, OUTPUT = "price", "bau", "output"


@dataclass
class MarketPaths:
    """The firm's market on every kept path: ``[variant, path, year]`` arrays."""

    variants: list[str]
    years: list[int]
    price: np.ndarray
    bau: np.ndarray
    currency: str = ""
    market: str = ""
    #: Covered output (index), when the engine kept it.
    output: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.price = np.asarray(self.price, dtype=float)
        self.bau = np.asarray(self.bau, dtype=float)
        want = (len(self.variants), self.price.shape[1] if self.price.ndim == 3 else -1,
                len(self.years))
        arrays = [(PRICE, self.price), (BAU, self.bau)]
        if self.output is not None:
            self.output = np.asarray(self.output, dtype=float)
            arrays.append((OUTPUT, self.output))
        for name, arr in arrays:
            if arr.ndim != 3 or arr.shape != want:
                raise InputError(f"expected [variant, path, year] = {want}, got {arr.shape}",
                                 field=f"annual.{name}")
            if not np.all(np.isfinite(arr)):
                raise InputError("non-finite values on some paths", field=f"annual.{name}")

    @classmethod
    def from_annual(
        cls,
        annual: dict[str, np.ndarray],
        *,
        variants: list[str],
        market_ids: list[str],
        market: str,
        years: list[int],
        currency: str = "",
    ) -> MarketPaths:
        """Slice the engine's ``[variant, path, market, year]`` arrays for one market."""
        if market not in market_ids:
            raise InputError(f"market {market!r} is not in the scenario "
                             f"(markets: {', '.join(market_ids)})", field="market")
        k = market_ids.index(market)
        missing = [n for n in (PRICE, BAU) if n not in annual]
        if missing:
            raise InputError(f"the simulation kept no annual {', '.join(missing)} array "
                             f"(has: {', '.join(sorted(annual)) or 'none'})", field="annual")
        out = annual.get(OUTPUT)
        return cls(variants=list(variants), years=list(years),
                   price=np.asarray(annual[PRICE])[:, :, k, :],
                   bau=np.asarray(annual[BAU])[:, :, k, :], currency=currency, market=market,
                   output=None if out is None else np.asarray(out)[:, :, k, :])

    @property
    def n_paths(self) -> int:
        """Number of paths."""
        return int(self.price.shape[1])

    def index(self, variant: str) -> int:
        """Position of a variant."""
        return self.variants.index(variant)


# --------------------------------------------------------------------------- the firm's year


def idiosyncratic_factor(firm: Firm, n_paths: int, n_years: int) -> np.ndarray:
    """Mean-one lognormal factor ``[path, year]`` from the firm's own seeded stream.

    Row i is the same whatever the number of paths (draws are taken path-major), so a firm's
    factor on path i is reproducible and common to every variant.
    """
    sd = firm.emissions.idiosyncratic_vol or 0.0
    if sd == 0:
        return np.ones((n_paths, n_years))
    rho = firm.emissions.idiosyncratic_persistence
    z = np.random.default_rng(firm.stream_seed()).standard_normal((n_paths, n_years))
    x = np.empty_like(z)
    x[:, 0] = z[:, 0]
    for y in range(1, n_years):  # stationary AR(1) with unit variance
        x[:, y] = rho * x[:, y - 1] + math.sqrt(1 - rho * rho) * z[:, y]
    return np.exp(sd * x - 0.5 * sd * sd)


def gross_emissions(firm: Firm, mp: MarketPaths, factor: np.ndarray | None = None) -> np.ndarray:
    """Gross emissions ``[variant, path, year]`` in Mt (before the firm's abatement)."""
    em = firm.emissions
    if factor is None:
        factor = idiosyncratic_factor(firm, mp.n_paths, len(mp.years))
    if em.share is not None:
        ref = mp.index("autarky") if "autarky" in mp.variants else 0
        expected = em.share * mp.bau[ref].mean(axis=0)
        return np.minimum(em.share * mp.bau * factor[None], em.capacity * expected)
    x = mp.bau
    if em.driver == "output":
        if mp.output is None:
            raise InputError("the simulation kept no 'output' annual array; use driver: bau",
                             field="emissions.driver")
        x = mp.output
    ref = mp.index("autarky") if "autarky" in mp.variants else 0
    mean_x = x[ref].mean(axis=0)  # E[X_y] on these paths
    trend = em.level * (1.0 + em.annual_change) ** np.arange(len(mp.years))
    rel = x / mean_x[None, None, :]
    scale = rel**em.elasticity if em.elasticity != 0 else 1.0
    e = np.broadcast_to(trend[None, None, :] * scale * factor[None], mp.bau.shape)
    return np.minimum(e, em.capacity * trend)


def allocation(firm: Firm, years: list[int], gross: np.ndarray) -> np.ndarray:
    """Free allocation (Mt), broadcastable to ``gross``."""
    al = firm.allocation
    if al.output_based is not None:
        return al.output_based * gross
    if al.by_year is not None:
        try:
            return np.array([al.by_year[y] for y in years], dtype=float)
        except KeyError as exc:
            raise InputError(f"no allocation for simulated year {exc.args[0]}",
                             field="allocation.by_year") from None
    if al.level is not None:
        return al.level * (1.0 + al.annual_change) ** np.arange(len(years), dtype=float)
    return np.zeros(len(years))


def abatement(firm: Firm, price: np.ndarray, gross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Abatement (Mt) and its cost (million currency units): abate while MAC(a) < price."""
    ab = firm.abatement
    if not ab.active:
        zero = np.zeros(np.broadcast_shapes(price.shape, gross.shape))
        return zero, zero
    p = np.maximum(price, 0.0)
    if ab.curvature == 0:
        a = p / ab.slope
    elif ab.slope == 0:
        a = np.sqrt(p / ab.curvature)
    else:  # curvature a² + slope a − p = 0, the stable form of the positive root
        a = 2.0 * p / (ab.slope + np.sqrt(ab.slope**2 + 4.0 * ab.curvature * p))
    a = np.minimum(a, ab.max_share * gross)
    return a, ab.slope * a**2 / 2.0 + ab.curvature * a**3 / 3.0


@dataclass
class Position:
    """The firm's physical position and unhedged cost, ``[..., year]`` arrays."""

    gross: np.ndarray
    abatement: np.ndarray
    allocation: np.ndarray
    bought: np.ndarray
    bank_used: np.ndarray
    shortfall: np.ndarray  # bool: need beyond the bank held at the start of the year
    cost: np.ndarray       # unhedged, market currency (million)


def position(firm: Firm, price: np.ndarray, gross: np.ndarray, years: list[int]) -> Position:
    """Abatement, allocation, bank and purchases year by year; the unhedged cost."""
    price, gross = np.broadcast_arrays(np.asarray(price, float), np.asarray(gross, float))
    pen = firm.penalty
    faced = np.minimum(price, pen.amount) if pen is not None and not pen.make_good else price
    a, acost = abatement(firm, faced, gross)
    alloc = np.broadcast_to(allocation(firm, years, gross), gross.shape)
    need = gross - a - alloc
    bank = np.full(gross.shape[:-1], float(firm.bank))
    bought = np.empty_like(need)
    used = np.empty_like(need)
    short = np.empty(need.shape, dtype=bool)
    cost = np.empty_like(need)
    for y in range(need.shape[-1]):
        n = need[..., y]
        u = np.clip(n, 0.0, bank)
        b = n - u  # > 0: bought; < 0: surplus
        short[..., y] = b > 0
        if firm.surplus == "bank":
            bank = bank - u + np.maximum(-b, 0.0)
            b = np.maximum(b, 0.0)
        else:
            bank = bank - u
        used[..., y] = u
        bought[..., y] = b
        unit = np.where(b > 0, faced[..., y], price[..., y])
        cost[..., y] = acost[..., y] + unit * b
    return Position(gross, a, np.array(alloc), bought, used, short, cost)


def hedge_payoff(
    firm: Firm, price: np.ndarray, bought: np.ndarray, years: list[int]
) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Cost added by the firm's hedges ``[..., path, year]`` (one variant: forwards and ratios
    are computed over axis -2, the paths), and what each hedge resolved to."""
    add = np.zeros_like(price)
    info = []
    for h in firm.hedges:
        y = years.index(h.year)
        f0 = h.price if h.price is not None else float(price[..., y].mean())
        vol = h.volume if h.volume is not None else h.ratio * float(bought[..., y].mean())
        add[..., y] += (f0 - price[..., y]) * vol
        info.append({"year": h.year, "type": h.type, "forward": f0, "volume": vol})
    return add, info


# --------------------------------------------------------------------------- risk measures


def var_es(losses: np.ndarray, *, var_levels: tuple[float, ...] = VAR_LEVELS,
           es_level: float = ES_LEVEL) -> dict[str, np.ndarray]:
    """VaR_q (q-quantile, linear interpolation) and ES_q (mean of the worst ⌈n(1−q)⌉ losses)
    along the last axis."""
    x = np.sort(np.asarray(losses, dtype=float), axis=-1)
    n = x.shape[-1]
    out = {}
    for q in var_levels:  # numpy's default 'linear' quantile, on the sorted sample
        h = (n - 1) * q
        lo = int(math.floor(h))
        hi = min(lo + 1, n - 1)
        out[f"var{_pct(q)}"] = x[..., lo] + (h - lo) * (x[..., hi] - x[..., lo])
    k = max(1, math.ceil(n * (1.0 - es_level) - 1e-9))
    out[f"es{_pct(es_level)}"] = x[..., n - k:].mean(axis=-1)
    return out


def _pct(q: float) -> str:
    return f"{q * 100:g}".replace(".", "")


def summarise(losses: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, sd (ddof 1), VaR 95 / 99 and ES 97.5 along the last axis."""
    x = np.asarray(losses, dtype=float)
    return {"mean": x.mean(axis=-1), "sd": x.std(axis=-1, ddof=1), **var_es(x)}


def min_variance_hedge(cost: np.ndarray, price: np.ndarray) -> np.ndarray:
    """h* = Cov(C, p) / Var(p) along the path axis; ``cost``, ``price``: ``[path, year]``."""
    pc = price - price.mean(axis=0)
    vp = (pc * pc).sum(axis=0)
    cov = (pc * (cost - cost.mean(axis=0))).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(vp > 0, cov / vp, 0.0)


def bounded_hedge(h: np.ndarray, net_short: np.ndarray, *, allow_short: bool = False,
                  max_share: float = 1.0) -> np.ndarray:
    """The per-year minimum-variance hedge within bounds: at least 0 (unless short legs are
    allowed), at most ``max_share`` × the expected net short position (Mt). Var(C_y + h (F − p_y))
    is a parabola in h, so clipping its minimiser is the bounded minimiser."""
    hi = max_share * np.maximum(net_short, 0.0)
    lo = -hi if allow_short else np.zeros_like(hi)
    return np.clip(h, lo, hi)


#: Hedge strategies the report sets side by side (suffix of their measures, label).
STRATEGIES = {"": "with the firm's hedges", "_unhedged": "unhedged",
              "_expected_hedged": "hedge of the expected net purchase",
              "_mv_hedged": "minimum-variance hedge (bounded)"}


def shapley(value: Any, players: list[str]) -> dict[str, Any]:
    """Shapley values of a game ``value(frozenset) -> array``: each player's average marginal
    contribution over all orders; they sum to value(all) − value(∅)."""
    n = len(players)
    out: dict[str, Any] = {}
    cache: dict[frozenset[str], Any] = {}

    def v(s: frozenset[str]) -> Any:
        if s not in cache:
            cache[s] = value(s)
        return cache[s]

    for i in players:
        others = [p for p in players if p != i]
        acc: Any = 0.0
        for k in range(n):
            w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for sub in _subsets(others, k):
                s = frozenset(sub)
                acc = acc + w * (v(s | {i}) - v(s))
        out[i] = acc
    return out


def _subsets(items: list[str], k: int) -> list[tuple[str, ...]]:
    from itertools import combinations

    return list(combinations(items, k))


def variance_shapley(cost_of: Any, factors: dict[str, np.ndarray], axis: int = 0
                     ) -> dict[str, np.ndarray]:
    """Shapley allocation of Var(cost) to random factors: v(S) = Var cost_of(factors), the
    factors outside S fixed at their mean along ``axis`` (the paths). The parts sum to the
    variance exactly; each interaction is shared equally by the factors in it."""

    def value(s: frozenset[str]) -> np.ndarray:
        args = {k: (x if k in s else np.broadcast_to(x.mean(axis=axis, keepdims=True), x.shape))
                for k, x in factors.items()}
        return np.asarray(cost_of(**args)).var(axis=axis, ddof=1)

    return shapley(value, list(factors))


# --------------------------------------------------------------------------- the whole analysis


@dataclass
class FirmRisk:
    """A firm's cost distribution under every variant and its risk table.

    Arrays are ``[variant, path, year]`` (``total``: ``[variant, path]``) in the reporting
    currency (million) for money and Mt for quantities. ``costs[s]`` / ``totals[s]``: the cost
    under hedge strategy ``s`` (keys of ``STRATEGIES``; "" = with the firm's own hedges).
    """

    firm: Firm
    market: MarketPaths
    currency: str
    fx: float
    discount: np.ndarray
    costs: dict[str, np.ndarray]
    totals: dict[str, np.ndarray]
    gross: np.ndarray
    abatement: np.ndarray
    bought: np.ndarray
    shortfall: np.ndarray
    hedge_mv: np.ndarray          # [variant, year] Mt, bounded per-year min-var hedge
    hedge_mv_free: np.ndarray     # [variant, year] Mt, unbounded h*
    hedge_expected: np.ndarray    # [variant, year] Mt, the expected net purchase
    hedges: list[list[dict[str, float]]]
    table: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def cost(self) -> np.ndarray:
        """Cost per year with the firm's hedges."""
        return self.costs[""]

    @property
    def total(self) -> np.ndarray:
        """Horizon cost with the firm's hedges."""
        return self.totals[""]

    @property
    def cost_unhedged(self) -> np.ndarray:
        """Cost per year without hedges."""
        return self.costs["_unhedged"]

    @property
    def total_unhedged(self) -> np.ndarray:
        """Horizon cost without hedges."""
        return self.totals["_unhedged"]

    @property
    def total_mv(self) -> np.ndarray:
        """Horizon cost with the bounded minimum-variance hedge."""
        return self.totals["_mv_hedged"]

    @property
    def variants(self) -> list[str]:
        """Variant names in array order."""
        return self.market.variants

    @property
    def years(self) -> list[int]:
        """Compliance years."""
        return self.market.years

    def value(self, variant: str, measure: str, year: int = -1) -> float:
        """One number of the table."""
        t = self.table
        row = t[(t.variant == variant) & (t.measure == measure) & (t.year == year)]
        if row.empty:
            raise KeyError(f"{variant}/{measure}/{year}")
        return float(row.value.iloc[0])


def firm_costs(
    firm: Firm, mp: MarketPaths, *, fx: float = 1.0, currency: str | None = None,
    table: bool = True,
) -> FirmRisk:
    """Costs, decomposition and hedge analysis of ``firm`` on the market paths ``mp``
    (``table=False``: the cost arrays only, without the risk table)."""
    years = mp.years
    factor = idiosyncratic_factor(firm, mp.n_paths, len(years))
    gross = gross_emissions(firm, mp, factor)
    disc = (1.0 + firm.discount_rate) ** -np.arange(len(years), dtype=float)
    pos = position(firm, mp.price, gross, years)
    nv = len(mp.variants)
    hedge_add = np.zeros_like(pos.cost)
    infos: list[list[dict[str, float]]] = []
    for v in range(nv):
        hedge_add[v], info = hedge_payoff(firm, mp.price[v], pos.bought[v], years)
        infos.append(info)
    net_short = pos.bought.mean(axis=1)                                  # [V, Y]
    h_free = np.stack([min_variance_hedge(pos.cost[v], mp.price[v]) for v in range(nv)])
    pol = firm.hedge_policy
    h_mv = bounded_hedge(h_free, net_short, allow_short=pol.allow_short,
                         max_share=pol.max_share)
    fwd = mp.price.mean(axis=1, keepdims=True)
    raw = {"": pos.cost + hedge_add, "_unhedged": pos.cost,
           "_expected_hedged": pos.cost + net_short[:, None, :] * (fwd - mp.price),
           "_mv_hedged": pos.cost + h_mv[:, None, :] * (fwd - mp.price)}
    risk = FirmRisk(
        firm=firm, market=mp, currency=currency or mp.currency, fx=fx, discount=disc,
        costs={k: fx * c for k, c in raw.items()},
        totals={k: fx * (c * disc).sum(-1) for k, c in raw.items()},
        gross=gross, abatement=pos.abatement, bought=pos.bought, shortfall=pos.shortfall,
        hedge_mv=h_mv, hedge_mv_free=h_free, hedge_expected=net_short, hedges=infos,
    )
    if table:
        risk.table = _table(risk)
    return risk


def decompose(r: FirmRisk) -> dict[str, np.ndarray]:
    """Shapley split of Var(cost with the firm's hedges) into price, volume and (linked with
    events only) regulatory events, ``[variant, year + 1]`` (last: horizon); the parts sum to
    ``var_total``. Under linked with events the price factor is linked's price and the events
    factor the difference the events make to it on the same path (common random numbers)."""
    firm, mp, years = r.firm, r.market, r.years
    nv, ny = len(mp.variants), len(years)
    out = {k: np.full((nv, ny + 1), np.nan) for k in ("var_total", "var_price", "var_volume",
                                                       "var_events")}
    lk = mp.index("linked") if "linked" in mp.variants else None
    for v, name in enumerate(mp.variants):
        vol = np.array([h["volume"] for h in r.hedges[v]])
        fwd = np.array([h["forward"] for h in r.hedges[v]])
        hy = [years.index(int(h["year"])) for h in r.hedges[v]]

        def cost_of(price: np.ndarray, volume: np.ndarray, events: np.ndarray | float = 0.0,
                    vol: np.ndarray = vol, fwd: np.ndarray = fwd, hy: list[int] = hy
                    ) -> np.ndarray:
            p = price + events
            c = position(firm, p, volume, years).cost.copy()
            for j, y in enumerate(hy):
                c[:, y] += (fwd[j] - p[:, y]) * vol[j]
            c = r.fx * c
            return np.concatenate([c, (c * r.discount).sum(-1, keepdims=True)], axis=-1)

        factors = {"price": mp.price[v], "volume": r.gross[v]}
        if name == "linked_events" and lk is not None:
            factors = {"price": mp.price[lk], "volume": r.gross[v],
                       "events": mp.price[v] - mp.price[lk]}
        parts = variance_shapley(cost_of, factors)
        out["var_total"][v] = cost_of(mp.price[v], r.gross[v]).var(axis=0, ddof=1)
        for k, x in parts.items():
            out[f"var_{k}"][v] = x
    return out


def _table(r: FirmRisk) -> pd.DataFrame:
    """The tidy risk table: variant, year (−1 = horizon), measure, value."""
    ny = len(r.years)
    yrs = [*r.years, -1]
    meas: dict[str, np.ndarray] = {}
    for suf in STRATEGIES:
        c = np.concatenate([r.costs[suf], r.totals[suf][..., None]], axis=-1)  # [V, P, Y+1]
        for k, v in summarise(np.moveaxis(c, 1, -1)).items():
            meas[f"{k}{suf}"] = v
        with np.errstate(divide="ignore", invalid="ignore"):
            meas[f"car95{suf}"] = meas[f"var95{suf}"] - meas[f"mean{suf}"]
            meas[f"car95_share{suf}"] = np.where(meas[f"mean{suf}"] > 0,
                                                 meas[f"car95{suf}"] / meas[f"mean{suf}"], np.nan)
    sd0, es0 = meas["sd_unhedged"], meas["es975_unhedged"]
    with np.errstate(divide="ignore", invalid="ignore"):
        for suf in ("", "_expected_hedged", "_mv_hedged"):
            meas[f"var_reduction{suf}"] = np.where(sd0 > 0, 1 - meas[f"sd{suf}"] ** 2 / sd0**2,
                                                   np.nan)
            meas[f"es_reduction{suf}"] = np.where(es0 != 0, 1 - meas[f"es975{suf}"] / es0, np.nan)
    n_years = np.array([1.0] * ny + [float(ny)])
    for what in ("revenue", "ebitda"):
        x = getattr(r.firm, what)
        if x is not None:
            meas[f"car95_per_{what}"] = meas["car95"] / (x * n_years)[None, :]
    short = np.concatenate([r.shortfall, r.shortfall.any(-1, keepdims=True)], axis=-1)
    meas["p_shortfall"] = short.mean(axis=1)
    for name, arr in (("emissions", r.gross - r.abatement), ("gross_emissions", r.gross),
                      ("abatement", r.abatement), ("bought", r.bought)):
        full = np.concatenate([arr, arr.sum(-1, keepdims=True)], axis=-1)
        meas[f"{name}_mean"] = full.mean(axis=1)
        meas[f"{name}_sd"] = full.std(axis=1, ddof=1)
        if name in ("gross_emissions", "bought"):
            meas[f"{name}_q95"] = np.quantile(full, 0.95, axis=1)
    nan_col = np.full(r.market.price.shape[:2] + (1,), np.nan)
    price = np.concatenate([r.market.price, nan_col], axis=-1)
    meas["price_mean"] = price.mean(axis=1)
    for q in PRICE_QUANTILES:
        meas[f"price_q{round(q * 100):02d}"] = np.quantile(price, q, axis=1)
    meas.update(decompose(r))
    nan_y = np.full((len(r.variants), 1), np.nan)
    exp_buy = np.concatenate([r.bought.mean(axis=1), r.bought.sum(-1).mean(1)[:, None]], -1)
    hmv = np.concatenate([r.hedge_mv, r.hedge_mv.sum(-1, keepdims=True)], axis=-1)
    meas["hedge_mv_mt"] = hmv
    meas["hedge_mv_free_mt"] = np.concatenate([r.hedge_mv_free, nan_y], axis=-1)
    meas["hedge_expected_mt"] = exp_buy
    with np.errstate(divide="ignore", invalid="ignore"):
        meas["hedge_mv_ratio"] = np.where(exp_buy > 0, hmv / exp_buy, np.nan)
    rows: list[tuple[str, int, str, float]] = []
    for m, arr in meas.items():
        for v, var in enumerate(r.variants):
            for j in range(ny + 1):
                rows.append((var, yrs[j], m, float(arr[v, j])))
    return pd.DataFrame(rows, columns=["variant", "year", "measure", "value"])


#: Price quantiles of the price-scenario table.
PRICE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def event_effects(
    firm: Firm, per_event: dict[str, MarketPaths], *, fx: float = 1.0
) -> pd.DataFrame:
    """Effect of each regulatory event alone on the horizon cost: mean, sd and ES 97.5 of the
    variant ``linked_events`` with only that event switched on, minus ``linked`` (common random
    numbers: each ``MarketPaths`` holds both variants on the same paths); ``p_changed``: share
    of paths whose unhedged cost the event changes."""
    rows: list[dict[str, Any]] = []
    for name, mp in per_event.items():
        r = firm_costs(firm, mp, fx=fx, table=False)
        lk, ev = r.variants.index("linked"), r.variants.index("linked_events")
        a, b = r.total[lk], r.total[ev]
        sa, sb = summarise(a), summarise(b)
        ua, ub = r.total_unhedged[lk], r.total_unhedged[ev]  # hedge terms differ by variant
        rows.append({"event": name, "mean_linked": float(sa["mean"]),
                     "mean_change": float(sb["mean"] - sa["mean"]),
                     "sd_change": float(sb["sd"] - sa["sd"]),
                     "es975_change": float(sb["es975"] - sa["es975"]),
                     "p_changed": float(np.mean(np.abs(ub - ua) > 1e-9 * (1 + np.abs(ua))))})
    return pd.DataFrame(rows, columns=["event", "mean_linked", "mean_change", "sd_change",
                                       "es975_change", "p_changed"])
