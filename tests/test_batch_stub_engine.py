"""A tiny stand-in engine with the contract of ``riskmodel.sim.engine`` (Contract 3).

The batch tests use it to exercise the machinery (chunk ledger, kill and resume, joblib and
dask backends) in a controlled way: it can sleep per chunk (``RISKMODEL_STUB_SLEEP``) so a
test can kill a run part-way. Workers import it by module name, so tests put this folder on
``PYTHONPATH``. The tests in this file hold the stub itself to the contract.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

VARIANTS = ("autarky", "linked")


@dataclass
class ChunkStats:
    """Per-chunk sums (mergeable, order-free by construction: merge sorts by chunk)."""

    chunk_index: int
    n_paths: int
    total: np.ndarray  # [variant, market, year]
    total_sq: np.ndarray
    kept: np.ndarray  # [variant, path, market, year] of paths with global index < keep_paths


def _n_chunks(scenario) -> int:
    return -(-scenario.simulation.paths // scenario.simulation.paths_per_chunk)


def _vol(m) -> float:
    p = m.process.params if m.process is not None else {"omega": 0.05, "alpha": 0.05,
                                                        "beta": 0.9}
    daily = np.sqrt(p.get("omega", 0.05) / max(1e-6, 1 - p.get("alpha", 0) - p.get("beta", 0)))
    return float(daily) / 100 * np.sqrt(252)


def _real() -> bool:
    """``RISKMODEL_STUB_REAL=1``: delegate to the real engine (after the sleep)."""
    return os.environ.get("RISKMODEL_STUB_REAL") == "1"


def simulate_chunk(scenario, chunk_index: int, n_paths: int, first_path: int) -> ChunkStats:
    """Annual lognormal prices per market; linked = abatement-weighted mean."""
    delay = float(os.environ.get("RISKMODEL_STUB_SLEEP", "0"))
    if delay:
        time.sleep(delay)
    if _real():
        from riskmodel.sim import engine

        return engine.simulate_chunk(scenario, chunk_index=chunk_index, n_paths=n_paths,
                                     first_path=first_path)
    ss = np.random.SeedSequence(scenario.simulation.seed).spawn(_n_chunks(scenario))[chunk_index]
    rng = np.random.default_rng(ss)
    years = scenario.horizon.years
    mk = scenario.markets
    z = rng.standard_normal((n_paths, len(mk), years))
    vol = np.array([_vol(m) for m in mk])[None, :, None]
    p0 = np.array([m.process.last_price if m.process else 10.0 for m in mk])[None, :, None]
    aut = p0 * np.exp(np.cumsum(vol * z - 0.5 * vol**2, axis=2))
    c = np.array([m.abatement.share * (m.bau_emissions or 100.0) / p0[0, i, 0]
                  for i, m in enumerate(mk)])
    lnk = np.broadcast_to((aut * c[None, :, None]).sum(1, keepdims=True) / c.sum(), aut.shape)
    arr = np.stack([aut, lnk])  # [variant, path, market, year]
    keep = max(0, min(n_paths, scenario.simulation.keep_paths - first_path))
    return ChunkStats(chunk_index, n_paths, arr.sum(1), (arr**2).sum(1), arr[:, :keep].copy())


@dataclass
class StubResult:
    """What ``merge_chunks`` returns: ``table``, ``paths``, ``annual``, ``summary()``."""

    table: pd.DataFrame
    paths: dict[str, np.ndarray]
    annual: dict[str, np.ndarray]

    def summary(self) -> str:
        """Mean compliance price per variant and market in the last year."""
        t = self.table[(self.table["statistic"] == "price_mean") & (self.table["year"] == -1)]
        return t.pivot(index="market", columns="variant", values="value").to_string()


def merge_chunks(scenario, parts: list[ChunkStats]) -> StubResult:
    """Sum chunks in chunk order; tidy table of mean and sd per year and at the horizon."""
    if _real():
        from riskmodel.sim import engine

        return engine.merge_chunks(scenario, parts)
    parts = sorted(parts, key=lambda p: p.chunk_index)
    n = sum(p.n_paths for p in parts)
    tot = np.zeros_like(parts[0].total)
    sq = np.zeros_like(parts[0].total_sq)
    for p in parts:
        tot += p.total
        sq += p.total_sq
    mean = tot / n
    sd = np.sqrt(np.maximum(sq / n - mean**2, 0.0))
    rows = []
    y0 = scenario.horizon.start_year
    for v, var in enumerate(VARIANTS):
        for i, m in enumerate(scenario.market_ids()):
            for y in range(mean.shape[2]):
                year = y0 + y
                rows.append((var, m, year, "price_mean", mean[v, i, y], sd[v, i, y] / np.sqrt(n)))
                rows.append((var, m, year, "price_sd", sd[v, i, y], np.nan))
            rows.append((var, m, -1, "price_mean", mean[v, i, -1], sd[v, i, -1] / np.sqrt(n)))
    table = pd.DataFrame(rows, columns=["variant", "market", "year", "statistic", "value",
                                        "mcse"])
    kept = np.concatenate([p.kept for p in parts], axis=1)
    return StubResult(table, {"price": kept}, {})


def test_stub_is_chunking_invariant() -> None:
    """Merging the same chunks in any order gives the same table (the contract)."""
    from riskmodel.sim.scenario import scenario_from_dict

    sc = scenario_from_dict({
        "name": "t",
        "markets": [{"id": "a", "synthetic": True, "currency": "EUR", "bau_emissions": 100,
                     "process": {"params": {"omega": 0.05, "alpha": 0.05, "beta": 0.9},
                                 "last_price": 20}}],
        "horizon": {"years": 2},
        "simulation": {"paths": 50, "paths_per_chunk": 20, "keep_paths": 3},
    })
    parts = [simulate_chunk(sc, c, n, c * 20) for c, n in enumerate((20, 20, 10))]
    a = merge_chunks(sc, parts)
    b = merge_chunks(sc, parts[::-1])
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    assert a.paths["price"].shape == (2, 3, 1, 2)
