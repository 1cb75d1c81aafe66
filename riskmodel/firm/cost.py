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

Variance decomposition (sequential, on the same paths): price part = Var C(p, ē) with gross
emissions fixed at their per-year mean ē; volume part = Var C(p̄, e) with the price fixed at its
per-year mean p̄; interaction = Var C − price − volume (covariance of price and volume and the
non-linearity of abatement and bank); events part = Var C(linked_events) − Var C(linked).

Minimum-variance hedge: per year h*_y = Cov(C_y, p_y) / Var(p_y) (Mt of futures bought at the fair
forward, on the unhedged cost); over the horizon the futures of all years jointly,
d ∘ h = Cov(p)⁻¹ Cov(p, C_total) (d the discount factors).
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
    sd = firm.emissions.idiosyncratic_vol
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
        return em.share * mp.bau * factor[None]
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
    return np.broadcast_to(trend[None, None, :] * scale * factor[None], mp.bau.shape).copy()


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


def joint_min_variance_hedge(total: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Futures per year minimising Var(total + Σ_y g_y (F_y − p_y)): g = Cov(p)⁻¹ Cov(p, total)."""
    pc = price - price.mean(axis=0)
    tc = total - total.mean()
    g, *_ = np.linalg.lstsq(pc, tc, rcond=None)
    return g


# --------------------------------------------------------------------------- the whole analysis


@dataclass
class FirmRisk:
    """A firm's cost distribution under every variant and its risk table.

    Arrays are ``[variant, path, year]`` (``total``: ``[variant, path]``) in the reporting
    currency (million) for money and Mt for quantities.
    """

    firm: Firm
    market: MarketPaths
    currency: str
    fx: float
    discount: np.ndarray
    cost: np.ndarray
    cost_unhedged: np.ndarray
    cost_mv: np.ndarray
    total: np.ndarray
    total_unhedged: np.ndarray
    total_mv: np.ndarray
    gross: np.ndarray
    abatement: np.ndarray
    bought: np.ndarray
    shortfall: np.ndarray
    hedge_ratio: np.ndarray       # [variant, year] Mt (per-year h*)
    hedge_joint: np.ndarray       # [variant, year] Mt (horizon-optimal)
    hedges: list[list[dict[str, float]]]
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    event_costs: dict[str, np.ndarray] = field(default_factory=dict)

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
    h_year = np.stack([min_variance_hedge(pos.cost[v], mp.price[v]) for v in range(nv)])
    tot_u = (pos.cost * disc).sum(-1)
    h_joint = np.stack([
        joint_min_variance_hedge(tot_u[v], mp.price[v]) / disc for v in range(nv)
    ])
    fwd = mp.price.mean(axis=1, keepdims=True)
    cost_mv = pos.cost + h_year[:, None, :] * (fwd - mp.price)
    tot_mv = tot_u + ((h_joint * disc)[:, None, :] * (fwd - mp.price)).sum(-1)
    cost = pos.cost + hedge_add
    risk = FirmRisk(
        firm=firm, market=mp, currency=currency or mp.currency, fx=fx, discount=disc,
        cost=fx * cost, cost_unhedged=fx * pos.cost, cost_mv=fx * cost_mv,
        total=fx * (cost * disc).sum(-1), total_unhedged=fx * tot_u, total_mv=fx * tot_mv,
        gross=gross, abatement=pos.abatement, bought=pos.bought, shortfall=pos.shortfall,
        hedge_ratio=h_year, hedge_joint=h_joint, hedges=infos,
    )
    if table:
        risk.table = _table(risk)
    return risk


def _decompose(firm: Firm, mp: MarketPaths, gross: np.ndarray, disc: np.ndarray,
               fx: float) -> dict[str, np.ndarray]:
    """Price / volume / interaction parts of Var(cost), ``[variant, year + 1]`` (last: horizon)."""
    years = mp.years

    def costs(price: np.ndarray, g: np.ndarray) -> np.ndarray:
        pos = position(firm, price, g, years)
        add = np.stack([hedge_payoff(firm, price[v], pos.bought[v], years)[0]
                        for v in range(len(mp.variants))])
        c = fx * (pos.cost + add)
        return np.concatenate([c, (c * disc).sum(-1, keepdims=True)], axis=-1)

    full = costs(mp.price, gross).var(axis=1, ddof=1)
    g_bar = np.broadcast_to(gross.mean(axis=1, keepdims=True), gross.shape)
    p_bar = np.broadcast_to(mp.price.mean(axis=1, keepdims=True), mp.price.shape)
    price_part = costs(mp.price, g_bar).var(axis=1, ddof=1)
    vol_part = costs(p_bar, gross).var(axis=1, ddof=1)
    return {"var_total": full, "var_price": price_part, "var_volume": vol_part,
            "var_interaction": full - price_part - vol_part}


def _table(r: FirmRisk) -> pd.DataFrame:
    """The tidy risk table: variant, year (−1 = horizon), measure, value."""
    ny = len(r.years)
    yrs = [*r.years, -1]
    cost = np.concatenate([r.cost, r.total[..., None]], axis=-1)          # [V, P, Y+1]
    unh = np.concatenate([r.cost_unhedged, r.total_unhedged[..., None]], axis=-1)
    mv = np.concatenate([r.cost_mv, r.total_mv[..., None]], axis=-1)
    meas: dict[str, np.ndarray] = {}
    for k, v in summarise(np.moveaxis(cost, 1, -1)).items():
        meas[k] = v
    unh_s = summarise(np.moveaxis(unh, 1, -1))
    mv_s = summarise(np.moveaxis(mv, 1, -1))
    for k in ("mean", "sd", "es975"):
        meas[f"{k}_unhedged"] = unh_s[k]
        meas[f"{k}_mv_hedged"] = mv_s[k]
    short = np.concatenate([r.shortfall, r.shortfall.any(-1, keepdims=True)], axis=-1)
    meas["p_shortfall"] = short.mean(axis=1)
    for name, arr in (("emissions", r.gross - r.abatement), ("gross_emissions", r.gross),
                      ("abatement", r.abatement), ("bought", r.bought)):
        tot = arr.sum(-1, keepdims=True)
        full = np.concatenate([arr, tot], axis=-1)
        meas[f"{name}_mean"] = full.mean(axis=1)
        meas[f"{name}_sd"] = full.std(axis=1, ddof=1)
    price = np.concatenate([r.market.price, np.full(r.market.price.shape[:2] + (1,), np.nan)],
                           axis=-1)
    meas["price_mean"] = price.mean(axis=1)
    meas.update(_decompose(r.firm, r.market, r.gross, r.discount, r.fx))
    hr = np.concatenate([r.hedge_ratio, np.full((len(r.variants), 1), np.nan)], axis=-1)
    hj = np.concatenate([r.hedge_joint, np.full((len(r.variants), 1), np.nan)], axis=-1)
    exp_buy = np.concatenate([r.bought.mean(axis=1), r.bought.sum(-1).mean(1)[:, None]], -1)
    meas["hedge_mv_mt"] = hr
    meas["hedge_joint_mt"] = hj
    with np.errstate(divide="ignore", invalid="ignore"):
        meas["hedge_mv_ratio"] = np.where(exp_buy > 0, hr / exp_buy, np.nan)
    if "linked" in r.variants and "linked_events" in r.variants:
        base = meas["var_total"][r.variants.index("linked")]
        ev = np.full_like(meas["var_total"], np.nan)
        ev[r.variants.index("linked_events")] = meas["var_total"][
            r.variants.index("linked_events")] - base
        meas["var_events"] = ev
    rows: list[tuple[str, int, str, float]] = []
    for m, arr in meas.items():
        for v, var in enumerate(r.variants):
            for j in range(ny + 1):
                rows.append((var, yrs[j], m, float(arr[v, j])))
    return pd.DataFrame(rows, columns=["variant", "year", "measure", "value"])


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
