"""The kernels that compile less than ``run_paths`` (a short first run) give its results bit for
bit: the pool kernel (``kernel.pool_kernel``: no link solver, no code for the features the
scenario lacks) on collar-free plain pools, the quota-pool kernel (``kernel.quota_pool_kernel``:
no link solver, ``sim.quota_pools``) on pools with collars joined by at most one quota link, the
fast-path-only kernel (``run_paths_lean``: no general link solver) behind it on plain links. On
shipped scenarios each answers every step; where a step needs more, the kernel refuses and the
engine reruns the chunk with the next one; other scenarios go to ``run_paths`` directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskmodel.batch.scenario_file import load_scenario_file
from riskmodel.linking import workspace
from riskmodel.sim import engine
from riskmodel.sim import layout as L
from riskmodel.sim.kernel import (
    FEATURES,
    STATUS_NEEDS_GENERAL,
    pool_kernel,
    quota_pool_kernel,
    run_paths,
    run_paths_lean,
)
from riskmodel.sim.kernel_args import Workspace
from riskmodel.sim.resolve import resolve
from riskmodel.sim.scenario import scenario_from_dict

SCENARIOS = Path(__file__).resolve().parent.parent / "data" / "scenarios"
ARRAYS = ("s1", "s2", "s12", "hp", "he", "keep_price", "keep_bau")
#: The kernel's outputs (``kernel_args.Accumulators``).
ARRAYS_ACC = ("s1", "s2", "s12", "price_hist", "emis_hist", "keep_price", "keep_bau", "annual")


def _scenario(name: str, paths: int = 40, days: int = 20, point: int = 0):
    d = load_scenario_file(SCENARIOS / f"{name}.yaml", paths=paths).scenarios[point].model_dump(
        exclude_unset=True)
    d["horizon"]["days_per_year"] = days
    d["simulation"]["paths_per_chunk"] = paths
    d["simulation"]["seed"] = 7
    return scenario_from_dict(d)


def _chunk(sc, rs, kernels, monkeypatch):
    """Chunk 0 with the engine restricted to ``kernels`` (recording which ones ran)."""
    ran: list[str] = []

    def track(k):
        def call(*a):
            ran.append(k.__name__)
            return k(*a)
        call.__name__ = k.__name__  # the engine remembers refusals by kernel name
        return call

    for name in ("run_paths", "run_paths_lean"):
        monkeypatch.setattr(engine, name, track(kernels.get(name, kernels["run_paths"])))
    pool = track(kernels.get("pool", kernels.get("run_paths_lean", kernels["run_paths"])))
    monkeypatch.setattr(engine, "pool_kernel", lambda *flags: pool)
    qpool = track(kernels.get("qpool", kernels.get("run_paths_lean", kernels["run_paths"])))
    monkeypatch.setattr(engine, "quota_pool_kernel", lambda *flags: qpool)
    monkeypatch.setattr(engine, "announce_compile", lambda k: False)
    engine._REFUSED.clear()
    return engine.simulate_chunk(sc, 0, resolved=rs), ran


def _assert_same(a, b) -> None:
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.meta == b.meta


@pytest.mark.parametrize("name", ["china_korea", "china_korea_japan"])
def test_pool_kernel_is_bit_identical_to_the_general_kernel(name, monkeypatch):
    """Collar-free plain pools (the README's scenario): no solver and no events, K-ETS, MSR,
    t-copula or annual-array code compiled; the closed form answers every step."""
    sc = _scenario(name)
    rs = resolve(sc)
    assert engine.pools_only(rs)
    # the volatility-level draws are the shipped scenarios' default (simulation.vol_level_sd)
    assert engine.features(rs, annual=False) == (False,) * (len(FEATURES) - 1) + (True,)
    pool = pool_kernel(*engine.kernel_flags(rs, annual=False))
    assert pool.__name__ == "run_paths_pool_000001"
    assert engine.kernels_for(rs, annual=False) == (pool, run_paths_lean, run_paths)
    fast, ran = _chunk(sc, rs, {"run_paths": run_paths, "pool": pool}, monkeypatch)
    assert ran == ["run_paths_pool_000001"]  # plain_pools answered every linked step
    assert (fast.s1[0, 1, :-1, -1, L.ST_PRICE] > 0.0).all()  # [chunk, variant, market, year]
    general, ran = _chunk(sc, rs, {"run_paths": run_paths}, monkeypatch)
    assert ran == ["run_paths"]
    _assert_same(fast, general)


def test_lean_kernel_is_bit_identical_to_the_general_kernel(monkeypatch):
    """Plain links with a collar (California-Quebec's second sweep point): the fast path
    without the general solver answers every step (the kernel behind the quota-pool kernel
    there)."""
    sc = _scenario("california_quebec", point=1)
    rs = resolve(sc)
    assert not engine.pools_only(rs)
    assert engine.kernels_for(rs) == (quota_pool_kernel(*(True,) * len(FEATURES)),
                                      run_paths_lean, run_paths)
    lean, ran = _chunk(sc, rs, {"run_paths": run_paths, "run_paths_lean": run_paths_lean},
                       monkeypatch)
    assert ran == ["run_paths_lean"]  # the fast path answered every step
    assert (lean.s1[0, 1, :-1, -1, L.ST_PRICE] > 0.0).all()
    general, ran = _chunk(sc, rs, {"run_paths": run_paths}, monkeypatch)
    assert ran == ["run_paths"]
    _assert_same(lean, general)


#: Shipped scenario points whose links are pools joined by at most one quota or restricted link
#: (with collars, banking, events): the quota-pool kernel is the engine's first try.
QPOOL_POINTS = [("eu_china_quota", 0), ("eu_china_quota", 8), ("regulatory_events", 0),
                ("nested_collars", 1), ("california_quebec", 2), ("firm_portfolio", 0)]


@pytest.mark.parametrize(("name", "point"), QPOOL_POINTS)
def test_quota_pool_kernel_is_bit_identical_to_the_general_kernel(name, point, monkeypatch):
    """No link solver compiled: ``quota_pools`` (closed form, then exact pool roots where a
    collar binds) answers every linked step of these shipped scenarios, with ``run_paths``'s
    results bit for bit (each run long enough for quotas and collars to bind)."""
    sc = _scenario(name, paths=60, days=60, point=point)
    rs = resolve(sc)
    assert engine.quota_pools_only(rs) and not engine.pools_only(rs)
    qpool = quota_pool_kernel(*engine.kernel_flags(rs, annual=False))
    assert engine.kernels_for(rs, annual=False)[0] is qpool
    assert engine.kernels_for(rs, annual=False)[-1] is run_paths
    fast, ran = _chunk(sc, rs, {"run_paths": run_paths, "qpool": qpool}, monkeypatch)
    assert ran == [qpool.__name__]
    general, ran = _chunk(sc, rs, {"run_paths": run_paths}, monkeypatch)
    assert ran == ["run_paths"]
    _assert_same(fast, general)


def test_a_binding_quota_is_answered_by_the_quota_pool_kernel(monkeypatch):
    """The quota of ``eu_china_quota`` (sweep point 0) binds on some linked days of the run
    above: the kernel's binding-quota share is positive, so ``quota_pools``' second pass ran."""
    sc = _scenario("eu_china_quota", paths=60, days=60, point=0)
    rs = resolve(sc)
    qpool = quota_pool_kernel(*engine.kernel_flags(rs, annual=False))
    fast, _ = _chunk(sc, rs, {"run_paths": run_paths, "qpool": qpool}, monkeypatch)
    assert fast.s1[0, 1, :-1, -1, L.ST_QUOTA].sum() > 0.0  # [chunk, variant, market, year]


def test_features_follow_the_scenario():
    """Each shipped scenario's features switch on exactly what it uses (a pool kernel without
    a feature the scenario has would silently skip it)."""
    ck = resolve(_scenario("china_korea", paths=4, days=5))
    ks = resolve(_scenario("korea_stabilisation", paths=4, days=12))  # K-ETS needs months
    eu = resolve(_scenario("eu_china", paths=4, days=5))
    ev = resolve(_scenario("regulatory_events", paths=4, days=5))
    # annual arrays and volatility-level draws by default
    assert engine.features(ck) == (False, False, False, False, True, True)
    assert engine.features(ck, annual=False)[4] is False
    assert engine.features(ks)[:4] == (False, True, False, False)  # K-ETS discretion
    assert ks.mi[:, L.KETS_ON].any()
    assert engine.features(eu)[:4] == (False, False, True, False)  # the EU MSR on the bank
    assert (eu.bk[:, L.BK_MSR] > 0.0).any()
    assert engine.features(ev)[0] is True and ev.has_events
    assert pool_kernel(False, True, False, False, False, False).__name__ == "run_paths_pool_010000"
    assert pool_kernel(False, True, False, False, False, False) is pool_kernel(
        False, True, False, False, False, False)  # one dispatcher per feature set
    # the engine compiles two pool kernels at most: bare, or with every feature
    full = pool_kernel(*(True,) * len(FEATURES))
    assert engine.kernels_for(ks)[0] is full
    assert engine.kernels_for(eu)[0] is full
    assert engine.kernels_for(ck)[0] is full  # annual arrays kept
    assert engine.kernels_for(ck, annual=False)[0].__name__ == "run_paths_pool_000001"


def test_one_way_links_go_to_the_general_kernel():
    """A zero cap (one-way link), which ``quota_pools`` declines: ``run_paths`` from the
    start."""
    rs = resolve(_scenario("china_korea_one_way", paths=4, days=5))
    assert not engine.quota_pools_only(rs)
    assert engine.kernels_for(rs) == (run_paths,)


@pytest.mark.parametrize("change", ["second_quota", "cycle", "zero_cap", "fee"])
def test_quota_pools_only_declines_what_the_closed_form_does_not_cover(change):
    """China-Korea-Japan (a triangle of plain links) with one link given a quota fits; a
    second quota link, a quota link closing a cycle, a zero cap or a fee do not."""
    from riskmodel.linking import L_CAP_AB, L_CAP_BA, L_FEE_AB

    rs = resolve(_scenario("china_korea_japan", paths=4, days=5))
    assert engine.pools_only(rs) and engine.quota_pools_only(rs)
    tri = len(rs.ends) == 3
    if change == "second_quota":
        rs.lpar[0, L_CAP_AB] = rs.lpar[1, L_CAP_BA] = 5.0
    elif change == "cycle":
        assert tri  # every link of the triangle closes a cycle of the other two
        rs.lpar[0, L_CAP_AB] = 5.0
    elif change == "zero_cap":
        rs.lpar[0, L_CAP_AB] = 0.0
    else:
        rs.lpar[0, L_FEE_AB] = 1.0
    assert not engine.quota_pools_only(rs)
    rs2 = resolve(_scenario("china_korea", paths=4, days=5))
    rs2.lpar[0, L_CAP_AB] = 5.0  # a quota on a pair's only link fits
    assert engine.quota_pools_only(rs2) and not engine.pools_only(rs2)


def test_a_refused_chunk_is_rerun_with_the_general_kernel(monkeypatch):
    """A fast kernel that refuses (the stand-in refuses every chunk) leaves used streams and
    half-filled arrays behind; the rerun starts afresh and equals the general kernel's chunk,
    and later chunks of the same scenario skip the fast kernel."""
    sc = _scenario("california_quebec", point=1)
    rs = resolve(sc)
    monkeypatch.setattr(engine, "quota_pools_only", lambda rs: False)  # lean kernel first

    def refuse(*a):
        run_paths_lean(*a)  # consumes the streams and fills the arrays
        return STATUS_NEEDS_GENERAL, 0

    refuse.__name__ = "refuse"
    rerun, ran = _chunk(sc, rs, {"run_paths": run_paths, "run_paths_lean": refuse}, monkeypatch)
    assert ran == ["refuse", "run_paths"]
    assert engine.refused(rs, refuse)
    again = engine.simulate_chunk(sc, 0, resolved=rs)  # remembered: general kernel only
    assert ran == ["refuse", "run_paths", "run_paths"]
    general, _ = _chunk(sc, rs, {"run_paths": run_paths}, monkeypatch)
    _assert_same(rerun, general)
    _assert_same(again, general)


def test_a_refused_quota_pool_chunk_is_rerun_with_the_general_kernel(monkeypatch):
    """A quota-pool kernel that refuses (as where a price lies on a collar's flat stretch)
    hands a quota scenario's chunk to ``run_paths``, which answers it afresh; later chunks
    skip the quota-pool kernel."""
    sc = _scenario("eu_china_quota", paths=40, days=20)
    rs = resolve(sc)
    qpool = quota_pool_kernel(*engine.kernel_flags(rs, annual=False))

    def refuse(*a):
        qpool(*a)
        return STATUS_NEEDS_GENERAL, 0

    refuse.__name__ = qpool.__name__
    rerun, ran = _chunk(sc, rs, {"run_paths": run_paths, "qpool": refuse}, monkeypatch)
    assert ran == [qpool.__name__, "run_paths"]
    assert engine.refused(rs, qpool)
    assert [k.__name__ for k in engine.kernels_for(rs, annual=False)] == ["run_paths"]
    general, _ = _chunk(sc, rs, {"run_paths": run_paths}, monkeypatch)
    _assert_same(rerun, general)


def test_lean_kernel_refuses_a_step_only_the_general_solver_answers(monkeypatch):
    """china_korea with an eta != 1 market: the fast path never answers a linked step, so the
    lean kernel must stop with STATUS_NEEDS_GENERAL rather than return an answer; the engine
    does not even try it (``needs_general``)."""
    sc = _scenario("china_korea", paths=4, days=5)
    rs = resolve(sc)
    assert not engine.needs_general(rs)
    rs.mp[0, L.ETA] = 1.5
    assert engine.needs_general(rs)
    assert engine.kernels_for(rs) == (run_paths,)
    captured: list = []

    def grab(*a):
        captured.append(a)
        return run_paths(*a)

    monkeypatch.setattr(engine, "run_paths", grab)
    monkeypatch.setattr(engine, "announce_compile", lambda k: False)
    engine._REFUSED.clear()
    engine.simulate_chunk(sc, 0, resolved=rs)
    assert len(captured) == 1
    chunk, proc, dep, des, links, events, streams, acc, work = captured[0]
    fresh = [chunk, proc, dep, des, links, events,
             streams._replace(**dict(zip(("main", "events", "kets"), engine.chunk_streams(7, 0),
                                         strict=True))),
             acc._replace(**{k: np.zeros_like(getattr(acc, k)) for k in ARRAYS_ACC}),
             Workspace(*workspace(rs.n, len(rs.ends)))]
    n_bad, _ = run_paths_lean(*fresh)
    assert n_bad == STATUS_NEEDS_GENERAL


def test_a_refused_pool_chunk_is_rerun_with_the_lean_kernel(monkeypatch):
    """A pool kernel that refuses (as it does where a pooled price falls to zero) hands the
    chunk to the lean kernel, which answers it as the general kernel does; later chunks skip
    the pool kernel."""
    sc = _scenario("china_korea")
    rs = resolve(sc)
    pool = pool_kernel(*engine.kernel_flags(rs, annual=False))

    def refuse(*a):
        pool(*a)
        return STATUS_NEEDS_GENERAL, 0

    refuse.__name__ = pool.__name__
    rerun, ran = _chunk(sc, rs, {"run_paths": run_paths, "run_paths_lean": run_paths_lean,
                                 "pool": refuse}, monkeypatch)
    assert ran == ["run_paths_pool_000001", "run_paths_lean"]
    assert engine.refused(rs, pool)
    assert [k.__name__ for k in engine.kernels_for(rs, annual=False)] == [
        "run_paths_lean", "run_paths"]
    general, _ = _chunk(sc, rs, {"run_paths": run_paths}, monkeypatch)
    _assert_same(rerun, general)


def test_volatility_level_draws_are_in_the_bare_kernel_whether_on_or_off(monkeypatch):
    """The volatility-level draws are on by default, so the bare pool kernel compiles them
    (``engine.kernel_flags``): a scenario that turns them off (``vol_level_sd: 0``) takes the
    same kernel, which then skips them, bit for bit ``run_paths``; one that sets a level takes
    it too, and a scenario with another feature takes the full kernel."""
    from riskmodel.sim.scenario import scenario_from_dict

    base = _scenario("china_korea", paths=6, days=30).model_dump()
    bare = pool_kernel(*(False,) * (len(FEATURES) - 1), True)
    for sd in (0.0, 0.3, None):
        d = {**base, "simulation": {**base["simulation"], "vol_level_sd": sd}}
        rs = resolve(scenario_from_dict(d))
        assert engine.features(rs, annual=False)[-1] is (sd != 0.0)
        assert engine.kernels_for(rs, annual=False)[0] is bare
    assert engine.kernels_for(rs, annual=True)[0] is pool_kernel(*(True,) * len(FEATURES))
    d = {**base, "simulation": {**base["simulation"], "vol_level_sd": 0.0}}
    sc = scenario_from_dict(d)
    rs = resolve(sc)
    fast, ran = _chunk(sc, rs, {"run_paths": run_paths, "pool": bare}, monkeypatch)
    assert ran == [bare.__name__]
    general, _ = _chunk(sc, rs, {"run_paths": run_paths}, monkeypatch)
    _assert_same(fast, general)
