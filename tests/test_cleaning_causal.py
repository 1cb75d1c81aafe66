"""Causal cleaning: what cleaning says about the past never depends on later data.

Every rule decides about day t from data up to t + 1 (a misprint is seen reversed the next
day). So appending rows after the last date T may change the decision about T itself, never
about a date before T; and cleaning a prefix ending at t gives the full series' result up to
the date before t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskmodel.data import cleaning as cl
from riskmodel.data.prices import load_all


def _clean(raw: pd.Series, sid: str, meta: dict) -> cl.CleanResult:
    return cl.clean_series(
        raw,
        series_id=sid,
        market=meta["market"],
        instrument=meta["instrument"],
        frequency=meta["frequency"],
    )


def _before(res: cl.CleanResult, t: pd.Timestamp) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Cleaned prices, exclusion flags and returns on dates strictly before ``t``."""
    return (
        res.prices[res.prices.index < t],
        res.excluded[res.excluded.index < t],
        res.returns[res.returns.index < t],
    )


def _assert_same_past(a: cl.CleanResult, b: cl.CleanResult, t: pd.Timestamp, what: str) -> None:
    for x, y, name in zip(
        _before(a, t), _before(b, t), ("prices", "excluded", "returns"), strict=True
    ):
        pd.testing.assert_series_equal(x, y, check_freq=False, obj=f"{what}: {name}")


def _continuations(s: pd.Series, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Future price paths of 40 rows after the last price: plain, wild, flat, crash."""
    last = float(s.iloc[-1])
    r = np.diff(np.log(s.to_numpy(dtype=float)))
    vol = float(np.std(r[np.isfinite(r)])) if len(r) > 1 else 0.02
    walk = last * np.exp(np.cumsum(rng.normal(0.0, max(vol, 1e-3), 40)))
    wild = walk.copy()
    wild[0] = last * 25.0  # a wild outlier on the first appended day
    wild[2] = last / 30.0  # and another two days later
    return {
        "walk": walk,
        "wild": wild,
        "flat": np.full(40, last),
        "crash": np.r_[last / 10.0, np.full(39, last / 10.0)],
    }


@pytest.fixture(scope="module")
def real_series(data_dir) -> list[tuple[str, dict, pd.Series]]:
    tidy, reports = load_all(data_dir)
    metas = {sid: m for r in reports.values() for sid, m in r.series.items()}
    out = []
    for sid, g in tidy.groupby("series_id", sort=True):
        raw = pd.Series(g["price"].to_numpy(), index=pd.DatetimeIndex(g["date"]), name=sid)
        if metas[sid]["instrument"] != "administrative" and raw.notna().sum() > 20:
            out.append((sid, metas[sid], raw))
    assert len(out) >= 15
    return out


@pytest.mark.realdata
def test_appending_future_rows_never_changes_the_cleaned_past(real_series):
    rng = np.random.default_rng(11)
    for sid, meta, raw in real_series:
        base = _clean(raw, sid, meta)
        last = raw.dropna().index.max()
        future = pd.bdate_range(last + pd.offsets.BDay(1), periods=40, name=raw.index.name)
        for kind, path in _continuations(base.prices, rng).items():
            longer = pd.concat([raw, pd.Series(path, index=future, name=sid)])
            _assert_same_past(base, _clean(longer, sid, meta), last, f"{sid} + {kind}")


@pytest.mark.realdata
def test_cleaning_a_prefix_gives_the_same_past(real_series):
    """Cut each series at 6 dates (2 of them right on a dropped misprint or inside a stale
    run, where a centred or look-ahead rule would differ): same result before the cut."""
    rng = np.random.default_rng(12)
    n_checked = 0
    for sid, meta, raw in real_series:
        full = _clean(raw, sid, meta)
        dates = full.prices.index
        special = [
            pd.Timestamp(e["date"])
            for st in ("misprints", "stale_runs")
            if (step := full.report.step(st)) is not None
            for e in step.events
        ]
        cuts = list(rng.choice(dates[20:], size=min(4, len(dates) - 20), replace=False))
        cuts += list(rng.permutation(special)[:2]) if special else []
        for t in cuts:
            t = pd.Timestamp(t)
            _assert_same_past(
                full, _clean(raw[raw.index <= t], sid, meta), t, f"{sid} cut at {t.date()}"
            )
            n_checked += 1
    assert n_checked > 60


def test_misprint_at_the_end_is_decided_by_the_next_day_only():
    """A spike on the last date stays until the next day reverses it; then it is dropped and
    nothing before it changes."""
    idx = pd.bdate_range("2020-01-01", periods=120)
    rng = np.random.default_rng(5)
    p = pd.Series(30 * np.exp(np.cumsum(rng.normal(0, 0.01, 120))), index=idx)
    p.iloc[-1] = p.iloc[-2] * 2.0
    short = cl.clean_series(p, series_id="t.x")
    assert short.report.n_outliers == 0 and short.prices.index[-1] == idx[-1]
    nxt = pd.Series([p.iloc[-2] * 1.01], index=[idx[-1] + pd.offsets.BDay(1)])
    longer = cl.clean_series(pd.concat([p, nxt]), series_id="t.x")
    assert [e["date"] for e in longer.report.step("misprints").events] == [str(idx[-1].date())]
    _assert_same_past(short, longer, idx[-1], "spike")


def test_stale_run_is_excluded_only_from_its_tenth_price():
    """A run of 9 equal prices keeps its zero returns whatever follows; extending it to 12
    excludes the returns from the 10th price on, and nothing earlier."""
    idx = pd.bdate_range("2021-03-01", periods=60)
    v = np.r_[np.linspace(10, 11.9, 51), np.full(9, 12.0)]
    s = pd.Series(v, index=idx)
    a = cl.clean_series(s, series_id="t.x")
    assert not a.excluded.iloc[1:].any()
    ext = pd.Series(
        [12.0, 12.0, 12.0, 12.5], index=pd.bdate_range(idx[-1] + pd.offsets.BDay(1), periods=4)
    )
    b = cl.clean_series(pd.concat([s, ext]), series_id="t.x")
    assert b.excluded.to_numpy().nonzero()[0].tolist() == [0, 60, 61, 62, 63]
    _assert_same_past(a, b, idx[-1] + pd.offsets.BDay(1), "stale")
