"""Streaming statistics: mergeable chunk sums and the tidy result table.

A chunk stores per-path sums and sums of squares of every statistic (per variant, market and
compliance year; year index ``Y`` = the whole horizon), cross sums linked x linked_events (for
the standard error of the event exposure), and fixed-bin histograms (int64 counts) of the
compliance price (log scale, bin width ``14 / NBINS`` in log price: quantile error at most half
a bin, 0.35% of the price) and of emissions (bin width ``3 BAU / NBINS``). Merging adds the
arrays in chunk-index order, so a merge is bit-identical whatever order chunks arrive in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.sim import layout as L

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass
class ChunkStats:
    """Statistics of one or more chunks of paths (picklable, mergeable in any grouping).

    Float sums are kept per chunk (leading axis, ``chunk_ids`` sorted) and reduced in chunk
    order only when the table is built, so any merge tree gives bit-identical results; the
    histograms are int64 counts (exact in any order).
    """

    chunk_index: int
    first_path: int
    n_paths: int
    s1: np.ndarray
    s2: np.ndarray
    s12: np.ndarray
    hp: np.ndarray | None
    he: np.ndarray | None
    keep_price: np.ndarray
    keep_bau: np.ndarray
    annual: np.ndarray | None
    meta: dict[str, Any] = field(default_factory=dict)
    chunk_ids: list[int] = field(default_factory=list)
    path_counts: list[int] = field(default_factory=list)
    keep_counts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.chunk_ids:  # a single chunk: give the float sums their chunk axis
            self.chunk_ids = [self.chunk_index]
            self.path_counts = [self.n_paths]
            self.keep_counts = [self.keep_price.shape[1]]
            self.s1, self.s2, self.s12 = self.s1[None], self.s2[None], self.s12[None]

    def totals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(s1, s2, s12) summed over chunks in chunk-index order."""
        out = []
        for arr in (self.s1, self.s2, self.s12):
            acc = arr[0].copy()
            for k in range(1, arr.shape[0]):
                acc += arr[k]
            out.append(acc)
        return out[0], out[1], out[2]


def fold_in(parts: list[ChunkStats], part: ChunkStats) -> None:
    """Append ``part`` to ``parts`` with its histograms added into the first part's at once
    (int64 counts: exact in any order), so a merge holds one set of histograms (about 4 MB a
    chunk at 10 years) instead of one per chunk; the small per-chunk float sums are kept for
    the ordered merge. ``merge`` accepts parts folded this way."""
    if parts and part.hp is not None:
        head = next(c for c in parts if c.hp is not None)
        head.hp += part.hp
        head.he += part.he
        part.hp = part.he = None
    parts.append(part)


def merge(parts: list[ChunkStats]) -> ChunkStats:
    """Merge chunk statistics (any grouping, any order): per-chunk sums are concatenated in
    chunk-index order, histograms added, kept paths and annual arrays concatenated."""
    if not parts:
        raise ValueError("nothing to merge")
    ids = [i for c in parts for i in c.chunk_ids]
    if len(set(ids)) != len(ids):
        raise ValueError(f"chunk {sorted(i for i in ids if ids.count(i) > 1)[0]} given twice")
    # split every part into its chunks, then reassemble in chunk-index order
    pieces: dict[int, tuple] = {}
    for c in parts:
        kp = np.cumsum([c.keep_counts[k] for k in range(len(c.chunk_ids))])[:-1]
        np_ = np.cumsum([c.path_counts[k] for k in range(len(c.chunk_ids))])[:-1]
        kps = np.split(c.keep_price, kp, axis=1)
        kbs = np.split(c.keep_bau, kp, axis=0)
        ans = np.split(c.annual, np_, axis=2) if c.annual is not None else [None] * len(kps)
        for k, cid in enumerate(c.chunk_ids):
            pieces[cid] = (c.s1[k], c.s2[k], c.s12[k], kps[k], kbs[k], ans[k],
                           c.path_counts[k], c.keep_counts[k])
    order = sorted(pieces)
    first = min(parts, key=lambda c: min(c.chunk_ids))
    with_h = [c for c in parts if c.hp is not None]  # engine.simulate pre-folds histograms
    hp, he = with_h[0].hp.copy(), with_h[0].he.copy()
    for c in with_h[1:]:
        hp += c.hp
        he += c.he
    meta = dict(parts[0].meta)
    for key in ("infeasible_steps", "clipped_days"):
        meta[key] = sum(int(c.meta.get(key, 0)) for c in parts)
    return ChunkStats(
        chunk_index=order[0], first_path=first.first_path,
        n_paths=sum(c.n_paths for c in parts),
        s1=np.stack([pieces[k][0] for k in order]), s2=np.stack([pieces[k][1] for k in order]),
        s12=np.stack([pieces[k][2] for k in order]), hp=hp, he=he,
        keep_price=np.concatenate([pieces[k][3] for k in order], axis=1),
        keep_bau=np.concatenate([pieces[k][4] for k in order], axis=0),
        annual=(np.concatenate([pieces[k][5] for k in order], axis=2)
                if parts[0].annual is not None else None),
        meta=meta, chunk_ids=order, path_counts=[pieces[k][6] for k in order],
        keep_counts=[pieces[k][7] for k in order])


def _mean_sd(s1: float, s2: float, n: int) -> tuple[float, float]:
    m = s1 / n
    var = max(s2 / n - m * m, 0.0) * n / max(n - 1, 1)
    return m, math.sqrt(var)


def hist_quantile(counts: np.ndarray, lo: float, step: float, q: float) -> tuple[float, float]:
    """Quantile from a histogram with under/overflow bins (bin-midpoint, linear within the
    bin) and its Monte Carlo standard error sqrt(q(1-q)/n) / density."""
    n = counts.sum()
    if n == 0:
        return math.nan, math.nan
    cum = np.cumsum(counts)
    target = q * n
    k = int(np.searchsorted(cum, target, side="left"))
    nb = counts.shape[0] - 2
    if k == 0:
        return -math.inf, math.nan
    if k > nb:
        return math.inf, math.nan
    below = cum[k - 1] if k > 0 else 0
    frac = (target - below) / counts[k] if counts[k] > 0 else 0.5
    val = lo + (k - 1 + frac) * step
    # density from a window of bins around k
    w = 5
    a, b = max(1, k - w), min(nb, k + w)
    dens = counts[a:b + 1].sum() / (n * step * (b - a + 1))
    se = math.sqrt(q * (1 - q) / n) / dens if dens > 0 else math.nan
    return val, se


#: Fewest chunks for a batch-means standard error of the sd statistics.
BATCH_MIN_CHUNKS = 8


def sd_batch_se(cs: ChunkStats) -> np.ndarray | None:
    """Batch-means standard error of every statistic's standard deviation, from the spread of
    the per-chunk sds (chunks are independent batches of paths); None with fewer than
    :data:`BATCH_MIN_CHUNKS` chunks.

    Why: the normal-theory error ``sd / sqrt(2 (n - 1))`` assumes normal kurtosis. Emissions and
    prices driven by heavy-tailed fitted innovations (t with nu near 2 in thin markets) have far
    larger sampling error; the spread across chunks measures it without that assumption.
    Chunks are weighted by their path counts (the last one may be short).
    """
    c = len(cs.chunk_ids)
    if c < BATCH_MIN_CHUNKS:
        return None
    cnt = np.asarray(cs.path_counts, dtype=float)
    nc = cnt.reshape((c,) + (1,) * (cs.s1.ndim - 1))
    mean = cs.s1 / nc
    var = np.maximum(cs.s2 / nc - mean * mean, 0.0) * nc / np.maximum(nc - 1.0, 1.0)
    sdc = np.sqrt(var)
    w = cnt / cnt.sum()
    dev = sdc - np.tensordot(w, sdc, axes=1)
    return np.sqrt(np.tensordot(w * w, dev * dev, axes=1) * c / (c - 1))


def build_table(cs: ChunkStats, ids: list[str], variants: list[str], start_year: int,
                dpy: int, mp: np.ndarray, plo: np.ndarray, pstep: np.ndarray,
                elo: np.ndarray, estep: np.ndarray, has_events: bool, banking: bool = False
                ) -> pd.DataFrame:
    """Tidy table: variant, market, year (-1 = horizon), statistic, value, mcse. With
    ``banking``: the bank at the end of the year (horizon: at its end), non-compliance (Mt;
    horizon: summed) and the share of path-years with any."""
    n = cs.n_paths
    nm = len(ids)
    s1, s2, _ = cs.totals()
    bse = sd_batch_se(cs)
    Y = s1.shape[2] - 1
    rows: list[tuple[str, str, int, str, float, float]] = []
    markets = [*ids, "total"]
    for vname in variants:
        v = L.VARIANTS.index(vname)
        for i, mname in enumerate(markets):
            for y in range(Y + 1):
                year = start_year + y if y < Y else -1

                def add(stat: str, val: float, se: float, _vn=vname, _m=mname, _y=year
                        ) -> None:
                    rows.append((_vn, _m, _y, stat, float(val), float(se)))

                def ms(k: int, _v=v, _i=i, _y=y) -> tuple[float, float]:
                    return _mean_sd(s1[_v, _i, _y, k], s2[_v, _i, _y, k], n)

                def sd_se(k: int, s: float, _v=v, _i=i, _y=y) -> float:
                    """Normal-theory error of an sd, or the batch-means one if larger."""
                    se = s / math.sqrt(2 * max(n - 1, 1))
                    return se if bse is None else max(se, float(bse[_v, _i, _y, k]))

                sq = math.sqrt(n)
                if i < nm:
                    m, s = ms(L.ST_PRICE)
                    add("price_mean", m, s / sq)
                    add("price_sd", s, sd_se(L.ST_PRICE, s))
                    for q in QUANTILES:
                        lq, se = hist_quantile(cs.hp[v, i, y], plo[i], pstep[i], q)
                        val = math.exp(lq) if math.isfinite(lq) else (0.0 if lq < 0 else lq)
                        add(f"price_q{int(q * 100):02d}", val,
                            val * se if math.isfinite(se) else math.nan)
                    m, s = ms(L.ST_PRICE_AVG)
                    add("price_avg_mean", m, s / sq)
                    m, s = ms(L.ST_MSR)
                    vol = math.sqrt(dpy * m)
                    add("volatility", vol, dpy * (s / sq) / (2 * vol) if vol > 0 else math.nan)
                    for k, nm_ in ((L.ST_FLOOR, "p_floor"), (L.ST_CEIL, "p_ceiling"),
                                   (L.ST_QUOTA, "p_quota"), (L.ST_ZERO, "p_zero"),
                                   (L.ST_GUARD, "p_guard")):
                        m, s = ms(k)
                        add(nm_, m, s / sq)
                    m, s = ms(L.ST_OUTPUT)
                    add("output_cv", s / m if m else math.nan, math.nan)
                    m, s = ms(L.ST_PAUT)
                    add("price_autarky_uncollared_mean", m, s / sq)
                    if v > 0 and y < Y:
                        c, fx = mp[i, L.C], mp[i, L.FX]
                        gm, gs = ms(L.ST_GAP)
                        add("gain_effort", c / 2 * gm * gm * fx, math.nan)
                        add("gain_risk", c / 2 * gs * gs * fx, math.nan)
                for k, name in ((L.ST_EMIS, "emissions"), (L.ST_SUPPLY, "supply"),
                                (L.ST_FLOW, "flow"), (L.ST_TRANSFER, "transfer"),
                                (L.ST_GAIN, "gain"), (L.ST_BAU, "bau")):
                    m, s = ms(k)
                    add(f"{name}_mean", m, s / sq)
                    if k in (L.ST_EMIS, L.ST_BAU, L.ST_FLOW):
                        add(f"{name}_sd", s, sd_se(k, s))
                    if k == L.ST_BAU:
                        add("bau_cv", s / m if m else math.nan, math.nan)
                if banking:
                    m, s = ms(L.ST_BANK)
                    add("bank_mean", m, s / sq)
                    add("bank_sd", s, sd_se(L.ST_BANK, s))
                    m, s = ms(L.ST_SHORT)
                    add("noncompliance_mean", m, s / sq)
                    if i < nm:
                        m, s = ms(L.ST_NONCOMP)
                        add("noncompliance_share", m, s / sq)
                scale = Y if y == Y else 1
                for q in (0.05, 0.5, 0.95):
                    val, se = hist_quantile(cs.he[v, i, y], elo[i] * scale, estep[i] * scale, q)
                    add(f"emissions_q{int(q * 100):02d}", val, se)
    table = pd.DataFrame(rows, columns=["variant", "market", "year", "statistic", "value",
                                        "mcse"])
    if "linked" in variants and "linked_events" in variants:
        table = pd.concat([table, _exposure(cs, table, markets, start_year)], ignore_index=True)
    return table


def _exposure(cs: ChunkStats, table: pd.DataFrame, markets: list[str],
              start_year: int) -> pd.DataFrame:
    """linked_events - linked for every statistic; paired standard errors for the means."""
    a = table[table.variant == "linked"].set_index(["market", "year", "statistic"])
    b = table[table.variant == "linked_events"].set_index(["market", "year", "statistic"])
    d = (b["value"] - a["value"]).rename("value").to_frame()
    d["mcse"] = np.sqrt(a["mcse"] ** 2 + b["mcse"] ** 2)  # conservative default
    n = cs.n_paths
    s1, s2, s12 = cs.totals()
    Y = s1.shape[2] - 1
    paired = {"price_mean": L.ST_PRICE, "emissions_mean": L.ST_EMIS, "flow_mean": L.ST_FLOW,
              "gain_mean": L.ST_GAIN, "transfer_mean": L.ST_TRANSFER, "supply_mean": L.ST_SUPPLY,
              "p_quota": L.ST_QUOTA, "p_floor": L.ST_FLOOR, "p_ceiling": L.ST_CEIL,
              "price_avg_mean": L.ST_PRICE_AVG, "bank_mean": L.ST_BANK,
              "noncompliance_mean": L.ST_SHORT}
    se = d["mcse"].to_dict()
    for i, m in enumerate(markets):
        for y in range(Y + 1):
            year = start_year + y if y < Y else -1
            for stat, k in paired.items():
                if (m, year, stat) not in se:
                    continue
                s1a, s2a = s1[1, i, y, k], s2[1, i, y, k]
                s1b, s2b = s1[2, i, y, k], s2[2, i, y, k]
                var = (s2a + s2b - 2 * s12[i, y, k]) / n - ((s1b - s1a) / n) ** 2
                se[(m, year, stat)] = math.sqrt(max(var, 0.0) / max(n - 1, 1))
    d["mcse"] = [se[key] for key in d.index]
    d = d.reset_index()
    d.insert(0, "variant", "exposure")
    return d[["variant", "market", "year", "statistic", "value", "mcse"]]
