"""Python API of the engine (Contract 3): ``simulate``, ``simulate_chunk``, ``merge_chunks``.

Chunk c of a scenario simulates paths ``[c * paths_per_chunk, ...)`` from
``SeedSequence(seed).spawn(n_chunks)[c]`` (``SeedSequence(seed, spawn_key=(c,))``), which is
split into three streams: prices and output, regulatory events, K-ETS discretion. Chunk
statistics are sums, merged in chunk-index order, so results are bit-identical whatever the
grouping of chunks into tasks or workers.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.errors import InputError
from riskmodel.sim import compile_ahead
from riskmodel.sim import layout as L
from riskmodel.sim.compile_notice import announce_compile, cache_is_cold
from riskmodel.sim.kernel import (
    FEATURES,
    STATUS_NEEDS_GENERAL,
    pool_kernel,
    quota_pool_kernel,
    run_paths,
    run_paths_lean,
)
from riskmodel.sim.kernel_args import ANNUAL_NAMES, Chunk, Workspace, accumulators, kernel_inputs
from riskmodel.sim.resolve import Resolved, resolve
from riskmodel.sim.rng import state_from_seed
from riskmodel.sim.scenario import Scenario
from riskmodel.sim.stats import ChunkStats, build_table, fold_in, merge
from riskmodel.sim.summary import add_units, render_point


def n_chunks(scenario: Scenario) -> int:
    """Number of chunks of the fixed grain ``paths_per_chunk``."""
    s = scenario.simulation
    return math.ceil(s.paths / s.paths_per_chunk)


def work_units(scenario: Scenario, n_paths: int) -> float:
    """Kernel work of ``n_paths`` paths in market-path-days (the batch layer sizes its worker
    pool with it)."""
    h = scenario.horizon
    return float(n_paths) * h.years * h.days_per_year * len(scenario.markets)


def needs_general(rs: Resolved) -> bool:
    """True when some step of the scenario certainly needs the general link solver: a market
    with eta != 1, or a link with a fee in either state (the fast path takes neither)."""
    from riskmodel.linking import L_FEE_AB, L_FEE_AB_R, L_FEE_BA, L_FEE_BA_R

    if bool((rs.mp[:, L.ETA] != 1.0).any()):
        return True
    return bool((rs.lpar[:, [L_FEE_AB, L_FEE_BA, L_FEE_AB_R, L_FEE_BA_R]] != 0.0).any())


#: Per kernel name, the resolved scenarios (by id) where that kernel refused a step in this
#: process: their later chunks skip it.
_REFUSED: dict[str, weakref.WeakValueDictionary[int, Resolved]] = {}


def refused(rs: Resolved, kernel: Any) -> bool:
    """Whether ``kernel`` refused a step of ``rs`` in this process."""
    seen = _REFUSED.get(kernel.__name__)
    return seen is not None and seen.get(id(rs)) is rs


def plain_links(rs: Resolved) -> bool:
    """True when every link is plain in every state it can take (no quota, fixed or a share of
    supply): pools that the fast path answers, by a closed form or a collar root."""
    from riskmodel.linking import L_CAP_AB, L_CAP_AB_R, L_CAP_BA, L_CAP_BA_R

    caps = rs.lpar[:, [L_CAP_AB, L_CAP_BA, L_CAP_AB_R, L_CAP_BA_R]]
    shares = rs.lk_f[:, [L.Q_SHARE, L.RQ_SHARE]]
    return bool((caps >= 1e300).all()) and bool((shares < 0.0).all())


def pools_only(rs: Resolved) -> bool:
    """True when the closed form of plain pools (``kernel.plain_pools``) can answer every
    linked step: plain links (and no ``needs_general`` feature), no collar (zero floor, also
    under an intervention; no ceiling) and one permit unit everywhere. It still declines a
    step whose pooled price would fall to zero; the kernel without a solver then refuses."""
    if needs_general(rs) or not plain_links(rs):
        return False
    floor = rs.mp[:, L.FLOOR].copy()
    if rs.has_events:
        floor = np.maximum(floor, rs.mp[:, L.INT_FLOOR])
    return (bool((floor == 0.0).all()) and bool(np.isinf(rs.mp[:, L.CEIL]).all())
            and bool((rs.s_conv == 1.0).all()))


def quota_pools_only(rs: Resolved) -> bool:
    """True when ``sim.quota_pools`` can answer every linked step, as far as the design alone
    tells: linear abatement and no fee (not ``needs_general``), at most one link that is ever
    restricted (a finite cap or a quota share of supply, active or restricted), with no zero
    cap (one-way), and that link not closing a cycle of the others. Plain links may form any
    pools, with collars and unit conversions. The closed form still declines a step it cannot
    vouch for (a price on a collar's flat stretch, a flow within rounding of its cap); the
    kernel without a solver then refuses the chunk."""
    from riskmodel.linking import L_CAP_AB, L_CAP_AB_R, L_CAP_BA, L_CAP_BA_R

    if needs_general(rs):
        return False
    caps = rs.lpar[:, [L_CAP_AB, L_CAP_BA, L_CAP_AB_R, L_CAP_BA_R]]
    shares = rs.lk_f[:, [L.Q_SHARE, L.RQ_SHARE]]
    if bool((caps <= 0.0).any()):
        return False
    restricted = np.flatnonzero((caps < 1e300).any(axis=1) | (shares >= 0.0).any(axis=1))
    if len(restricted) > 1:
        return False
    if len(restricted) == 1:  # its ends joined by the other links: a cycle
        par = list(range(rs.n))

        def root(i: int) -> int:
            while par[i] != i:
                i = par[i]
            return i

        for q, (a, b) in enumerate(rs.ends.tolist()):
            if q != restricted[0]:
                par[root(b)] = root(a)
        a, b = rs.ends[restricted[0]].tolist()
        if root(a) == root(b):
            return False
    return True


def features(rs: Resolved, annual: bool = True) -> tuple[bool, ...]:
    """Which of the kernel's optional features (``kernel.FEATURES``: regulatory events, K-ETS
    discretion, the EU MSR with or without banking, the t copula, the annual arrays, the
    volatility-level draws) a chunk
    of the scenario uses (``annual``: ``simulation.keep_annual``); where it uses none, the
    engine's pool kernel compiles none."""
    msr = bool(rs.mi[:, L.MSR_ON].any()) or bool(
        rs.bk.shape[0] > 0 and (rs.bk[:, L.BK_MSR] > 0.0).any())
    return (bool(rs.has_events), bool(rs.mi[:, L.KETS_ON].any()), msr, bool(rs.copula_t),
            bool(annual), bool((rs.mp[:, L.VLS] > 0.0).any()))


def kernel_flags(rs: Resolved, annual: bool = True) -> tuple[bool, ...]:
    """The feature set of the solverless kernel a chunk takes: bare or with every feature
    (``features``), the volatility-level draws always compiled in. They are on by default
    (``simulation.vol_level_sd``), cost nothing where a scenario turns them off (a market with
    sd 0 skips them), and a separate kernel without them would be a third to compile."""
    full = any(features(rs, annual)[:-1])
    return (full,) * (len(FEATURES) - 1) + (True,)


def kernels_for(rs: Resolved, annual: bool = True) -> tuple[Any, ...]:
    """The kernels a chunk tries in turn, so that a first run compiles only what its scenario
    needs; a kernel that refuses a step leaves the chunk to the next one (the chunk is rerun
    on fresh arrays) and is skipped for the scenario's later chunks in this process.

    - ``kernel.pool_kernel`` (no link solver compiled at all; bare, without the optional
      features, where the scenario has none of them) where ``pools_only``: the closed form
      answered every linked step of every shipped scenario it is chosen for;
    - ``kernel.quota_pool_kernel`` (no link solver either, with ``sim.quota_pools``: about a
      third of ``run_paths``'s compile time) where ``quota_pools_only``: plain pools with
      collars or unit conversions, joined by at most one quota or restricted link;
    - ``run_paths_lean`` (the fast path without the general solver: about half the general
      kernel's compile time) where every link is plain and no ``needs_general`` feature;
    - ``run_paths`` otherwise, and last: with quota links the fast path may refuse steps
      (binding quotas of restricted links in ``regulatory_events``), and a refused chunk
      would compile two kernels.

    Results are ``run_paths``'s, bit for bit, in every case (same source, same arithmetic)."""
    flags = kernel_flags(rs, annual)
    if pools_only(rs):
        # two pool kernels only, bare or with every feature: a scenario with any feature takes
        # the full one, so that running every shipped scenario (or the test suite) compiles at
        # most two (one per feature set compiled eight in the test suite, about 16 s each)
        tiers: tuple[Any, ...] = (pool_kernel(*flags), run_paths_lean, run_paths)
    elif quota_pools_only(rs):
        # plain links with collars or unit conversions keep the lean kernel as the next try
        tiers = (quota_pool_kernel(*flags), *((run_paths_lean,) if plain_links(rs) else ()),
                 run_paths)
    elif needs_general(rs) or not plain_links(rs):
        tiers = (run_paths,)
    else:
        tiers = (run_paths_lean, run_paths)
    return tuple(k for k in tiers if k is run_paths or not refused(rs, k))


def chunk_streams(seed: int, chunk_index: int) -> tuple[np.ndarray, ...]:
    """(main, events, kets) xoshiro256++ states of chunk c (:mod:`riskmodel.sim.rng`), seeded
    from the children of ``SeedSequence(seed, spawn_key=(c,))`` = ``spawn(n_chunks)[c]``."""
    ss = np.random.SeedSequence(seed, spawn_key=(chunk_index,))
    return tuple(state_from_seed(s) for s in ss.spawn(3))


def start_compile_ahead(scenario: Scenario, rs: Resolved | None = None) -> None:
    """Start the compile-ahead helper (``compile_ahead``) for the first kernel the scenario's
    chunks take, where its numba cache is cold, as soon as the scenario is resolved: the run
    resolves its other sweep points and writes its folder meanwhile, a head start on the
    kernel's compile (``simulate_chunk`` then finds the helper running)."""
    rs = rs if rs is not None else resolve(scenario)
    kernel = kernels_for(rs, scenario.simulation.keep_annual)[0]
    if cache_is_cold(kernel):
        compile_ahead.start(kernel.__name__)


def simulate_chunk(scenario: Scenario, chunk_index: int, n_paths: int | None = None,
                   first_path: int | None = None, *, resolved: Resolved | None = None
                   ) -> ChunkStats:
    """Simulate one chunk and return its mergeable statistics."""
    sim = scenario.simulation
    nc = n_chunks(scenario)
    if not 0 <= chunk_index < nc:
        raise InputError(f"chunk_index {chunk_index} outside 0..{nc - 1}", field="chunk_index")
    grain = sim.paths_per_chunk
    exp_first = chunk_index * grain
    exp_n = min(grain, sim.paths - exp_first)
    if first_path is not None and first_path != exp_first:
        raise InputError(f"chunk {chunk_index} starts at path {exp_first} (paths_per_chunk "
                         f"{grain}), not {first_path}", field="first_path")
    if n_paths is not None and n_paths != exp_n:
        raise InputError(f"chunk {chunk_index} has {exp_n} paths, not {n_paths}",
                         field="n_paths")
    rs = resolved if resolved is not None else resolve(scenario)
    n, Y, dpy = rs.n, rs.years, rs.dpy
    nv = 3 if rs.has_events else 2
    nkeep = max(0, min(sim.keep_paths - exp_first, exp_n))
    ann_on = sim.keep_annual
    from riskmodel.linking import workspace

    chunk = Chunk(exp_n, exp_first, Y, dpy, nv)
    for kernel in kernels_for(rs, ann_on):
        # fresh streams and accumulators for each try: a refused lean run leaves them used
        inputs = kernel_inputs(rs, *chunk_streams(sim.seed, chunk_index))
        acc = accumulators(rs, exp_n, nkeep, sim.keep_paths, ann_on)
        work = Workspace(*workspace(n, len(rs.ends)))
        # a cold kernel: its callees compile in a helper process meanwhile (compile_ahead;
        # started ahead by start_compile_ahead where the run's preflight could)
        helper = compile_ahead.start(kernel.__name__) if cache_is_cold(kernel) else None
        announce_compile(kernel)
        try:
            n_bad, n_clip = kernel(chunk, *inputs, acc, work)
        finally:
            compile_ahead.stop(helper)
        if n_bad != STATUS_NEEDS_GENERAL:
            break
        _REFUSED.setdefault(kernel.__name__, weakref.WeakValueDictionary())[id(rs)] = rs
    s1, s2, s12, hp, he = acc.s1, acc.s2, acc.s12, acc.price_hist, acc.emis_hist
    keep_price, keep_bau, ann = acc.keep_price, acc.keep_bau, acc.annual
    if nv == 2:  # no events: linked_events is linked (same draws, nothing happens)
        for arr in (s1, s2, hp, he, keep_price):
            arr[2] = arr[1]
        s12[:] = s2[1]
        ann[:, 2] = ann[:, 1]
    return ChunkStats(chunk_index=chunk_index, first_path=exp_first, n_paths=exp_n, s1=s1,
                      s2=s2, s12=s12, hp=hp, he=he, keep_price=keep_price, keep_bau=keep_bau,
                      annual=ann if ann_on else None, meta={"infeasible_steps": int(n_bad),
                                                          "clipped_days": int(n_clip)})


@dataclass
class SimulationResult:
    """Result of a simulation: tidy table, kept paths, per-path annual arrays, notes."""

    scenario: Scenario
    table: pd.DataFrame
    paths: dict[str, np.ndarray]
    annual: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def get(self, statistic: str, market: str, variant: str = "linked", year: int = -1
            ) -> tuple[float, float]:
        """(value, mcse) of one table cell."""
        t = self.table
        r = t[(t.statistic == statistic) & (t.market == market) & (t.variant == variant)
              & (t.year == year)]
        if r.empty:
            raise KeyError(f"{variant}/{market}/{year}/{statistic} not in the table")
        return float(r.value.iloc[0]), float(r.mcse.iloc[0])

    def summary(self, year: int = -1, width: int | None = None) -> str:
        """The main statistics per market and variant with their units, for the horizon by
        default, as tables ``width`` columns wide (default 100: a run's summary.txt; the CLI
        renders again at the terminal's width)."""
        head = f"{self.scenario.name}: {self.meta.get('paths')} paths"
        return head + "\n" + render_point(self.table, width=width or 100, year=year)


def merge_chunks(scenario: Scenario, parts: list[ChunkStats], *,
                 resolved: Resolved | None = None) -> SimulationResult:
    """Merge chunk statistics (in chunk-index order) into a ``SimulationResult``."""
    rs = resolved if resolved is not None else resolve(scenario)
    cs = merge(parts)
    sim = scenario.simulation
    table = build_table(cs, rs.ids, list(sim.variants), scenario.horizon.start_year, rs.dpy,
                        rs.mp, rs.plo, rs.pstep, rs.elo, rs.estep, rs.has_events,
                        banking=rs.bk.shape[0] > 0)
    table = add_units(table, dict(zip(rs.ids, rs.currencies, strict=True)), sim.numeraire,
                      scenario.horizon.start_year, rs.years)
    vidx = [L.VARIANTS.index(v) for v in sim.variants]
    paths = {"price": cs.keep_price[vidx], "bau": cs.keep_bau}
    annual: dict[str, np.ndarray] = {}
    if cs.annual is not None:
        annual = {name: cs.annual[k][vidx] for k, name in enumerate(ANNUAL_NAMES)}
    meta = dict(rs.meta)
    steps = cs.n_paths * rs.years * rs.dpy * rs.n
    meta.update(clipped_share=cs.meta.get("clipped_days", 0) / steps,
                infeasible_steps=cs.meta.get("infeasible_steps", 0), paths=cs.n_paths,
                variants=list(sim.variants), markets=rs.ids,
                c=rs.mp[:, L.C].tolist(), fx=rs.mp[:, L.FX].tolist(),
                price_level=rs.mp[:, L.PLEVEL].tolist(), bau=rs.mp[:, L.BAU].tolist())
    return SimulationResult(scenario=scenario, table=table, paths=paths, annual=annual,
                            notes=list(rs.notes), meta=meta)


def simulate(scenario: Scenario) -> SimulationResult:
    """Run every chunk of the scenario in this process and merge."""
    rs = resolve(scenario)
    parts: list[ChunkStats] = []
    for c in range(n_chunks(scenario)):
        fold_in(parts, simulate_chunk(scenario, c, resolved=rs))
    return merge_chunks(scenario, parts, resolved=rs)
