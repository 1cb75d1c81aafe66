"""Cleaning rules for one price series, each explicit and reported date by date.

Every rule is a small function that takes a price series (``pd.Series`` on a DatetimeIndex)
and returns what it did as a :class:`Step` (rule, parameters, and one event per date touched).
Two kinds of rule:

* **repairs of the price series** — :func:`sort_by_date`, :func:`drop_duplicate_dates`,
  :func:`drop_non_positive`, :func:`drop_misprints` — return ``(series, step)``;
* **return exclusions** — :func:`stale_runs`, :func:`gap_breaks`, :func:`phase_breaks` — keep
  the prices and return ``(excluded, step)``, a boolean Series on the price dates that is True
  where the return *ending* on that date must not be used.

:func:`clean_series` applies them in that order and collects a :class:`CleaningReport`.

Thresholds, and why:

* **gaps** — no return across more than ``10`` missing business days (two trading weeks). The
  longest regular closures (Chinese New Year, Golden Week, Christmas to New Year) miss at most
  about 7 business days, so 10 never cuts a holiday return, while a longer gap would put weeks
  of variance into one "daily" return and bias a GARCH fit.
* **stale runs** — ``10`` or more identical consecutive prices (two trading weeks without a
  change) mean no trade, not a flat market. Causally: once a run has lasted ``10`` prices, the
  zero returns from then on and the return that leaves the run (which spans the whole run, like
  a gap) are excluded; the first 9 zero returns of the run are kept, as in any shorter run,
  because on those days nobody could know the run would last. Liquid series (EUA, CCA) never
  have such runs; thin ones (early NZU/KAU, Tianjin, Chongqing) do.
* **single-day misprints** — a log move beyond ``k = 5`` robust standard deviations (1.4826 ×
  MAD of the 61 cleaned returns *before* it, earlier misprints already removed; at least 10 of
  them, else the day is not tested), and at
  least ``15 %`` (so that a zero MAD in a stale market does not make every tick an outlier),
  that is reversed the next day (the day after brings the log price back to within half of the
  move). For a genuine price process two consecutive opposite 5-sigma moves have probability
  of order 1e-12; a fat-finger print or a trade in a different vintage looks exactly like this.
  The misprinted price is dropped and the return runs from the day before to the day after.
* **phase breaks** — no return across the start of a new trading phase whose allowances are
  not interchangeable with the old ones (EU ETS Phase I allowances could not be banked into
  Phase II; spot Phase I quotes ran until 2008-03-20, so the spot series breaks at 2008-03-25).

**Causality.** Every rule decides about day ``t`` from data up to ``t + 1`` at most (the next
day is needed to see a misprint reversed), never from a centred or whole-sample window: a fit
made at an origin sees the same cleaned past whatever data come later, so rolling-origin
validation and refits on longer samples judge the same history. (Only the report's summary
statistics — stale share, longest gap, run lengths — describe the whole series.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.errors import DataError

MAX_GAP_BDAYS = 10
STALE_MIN_RUN = 10
MISPRINT_K = 5.0
MISPRINT_WINDOW = 61
MISPRINT_MIN_MOVE = 0.15
MISPRINT_REVERSAL = 0.5
#: Fewest earlier returns a misprint test needs for its robust scale.
MISPRINT_MIN_HISTORY = 10
#: Kept returns beyond +-50 log points are counted (not removed) so thin markets show up.
LARGE_MOVE_PCT = 50.0
#: Missing business days tolerated between two observations, by sampling frequency.
GAP_BY_FREQUENCY = {"daily": MAX_GAP_BDAYS, "irregular": MAX_GAP_BDAYS, "weekly": MAX_GAP_BDAYS,
                    "monthly": 45}


@dataclass(frozen=True)
class PhaseBreak:
    """No return from a date before ``date`` to a date on or after it."""

    date: str
    label: str


#: Phase breaks by market (apply to every series of that market) ...
PHASE_BREAKS: dict[str, list[PhaseBreak]] = {
    "eu_ets": [PhaseBreak("2008-01-01", "EU ETS Phase I -> Phase II (Phase I allowances could "
                                        "not be banked)")],
}
#: ... unless a series says otherwise (spot quotes of Phase I allowances ran into 2008).
SERIES_PHASE_BREAKS: dict[str, list[PhaseBreak]] = {
    "icap.eu": [PhaseBreak("2008-03-25", "EU ETS Phase I spot (last quote 2008-03-20) -> "
                                         "Phase II spot (first quote 2008-03-25)")],
}


def phase_breaks_for(series_id: str, market: str) -> list[PhaseBreak]:
    """The phase breaks that apply to a series (series-specific list, else its market's)."""
    if series_id in SERIES_PHASE_BREAKS:
        return SERIES_PHASE_BREAKS[series_id]
    return PHASE_BREAKS.get(market, [])


@dataclass
class Step:
    """What one rule did: its parameters and one event per date touched."""

    rule: str
    description: str
    params: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of dates touched."""
        return len(self.events)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (with ``n``)."""
        return {"rule": self.rule, "description": self.description, "params": self.params,
                "n": self.n, "events": self.events}


@dataclass
class CleaningReport:
    """What cleaning did to one series, and summary statistics of the result."""

    series_id: str
    market: str = ""
    instrument: str = ""
    n_raw: int = 0
    n_clean: int = 0
    first_date: str | None = None
    last_date: str | None = None
    n_returns: int = 0
    n_returns_excluded: int = 0
    stale_share: float = float("nan")
    longest_stale_run: int = 0
    longest_gap_days: int = 0
    longest_gap_bdays: int = 0
    longest_gap_end: str | None = None
    n_outliers: int = 0
    n_large_moves: int = 0
    large_moves_by_year: dict[str, int] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    def step(self, rule: str) -> Step | None:
        """The step of a rule, or None when the rule did not run."""
        return next((s for s in self.steps if s.rule == rule), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        d = asdict(self)
        d["steps"] = [s.to_dict() for s in self.steps]
        return d

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def keys(self) -> list[str]:
        """Field names (dict-like access)."""
        return list(self.to_dict())


def _d(ts: Any) -> str:
    return str(pd.Timestamp(ts).date())


def _check(s: pd.Series) -> None:
    if not isinstance(s.index, pd.DatetimeIndex):
        raise DataError("price series needs a DatetimeIndex", field=str(s.name))


# --------------------------------------------------------------------------- repairs


def drop_missing(s: pd.Series) -> tuple[pd.Series, Step]:
    """Drop NaN prices (no price that day)."""
    bad = s.isna()
    step = Step("missing", "NaN prices dropped (no observation)",
                events=[{"date": _d(t), "action": "dropped"} for t in s.index[bad]])
    return s[~bad], step


def sort_by_date(s: pd.Series) -> tuple[pd.Series, Step]:
    """Sort by date (stable, so duplicated dates keep file order); report rows out of order."""
    _check(s)
    idx = s.index
    out_of_order = np.zeros(len(s), dtype=bool)
    if len(s) > 1:
        out_of_order[1:] = idx[1:] < idx[:-1]
    step = Step("sort", "rows out of date order moved into place (stable sort)",
                events=[{"date": _d(t), "action": "moved", "follows_in_file": _d(idx[i - 1])}
                        for i, t in enumerate(idx) if out_of_order[i]])
    return s.sort_index(kind="mergesort"), step


def drop_duplicate_dates(s: pd.Series) -> tuple[pd.Series, Step]:
    """Keep one row per date: identical values collapse; different values keep the last row.

    The last row of a date in file order is the later export/revision; both values are reported.
    """
    _check(s)
    dup = s.index.duplicated(keep="last")
    events = []
    for t in s.index[dup].unique():
        vals = s.loc[[t]].tolist()
        same = len(set(vals)) == 1
        events.append({"date": _d(t), "action": "deduplicated", "values": vals,
                       "kept": vals[-1], "why": "identical rows" if same else
                       "conflicting values: kept the last row in file order"})
    step = Step("duplicates", "duplicated dates reduced to one row", events=events)
    return s[~dup], step


def drop_non_positive(s: pd.Series) -> tuple[pd.Series, Step]:
    """Drop zero or negative prices (log returns are undefined; no allowance trades at <= 0)."""
    bad = s <= 0
    step = Step("non_positive", "prices <= 0 dropped",
                events=[{"date": _d(t), "action": "dropped", "value": float(v)}
                        for t, v in s[bad].items()])
    return s[~bad], step


def robust_scale(x: np.ndarray) -> float:
    """1.4826 x median absolute deviation (the normal-consistent robust SD)."""
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def drop_misprints(
    s: pd.Series,
    *,
    k: float = MISPRINT_K,
    window: int = MISPRINT_WINDOW,
    min_move: float = MISPRINT_MIN_MOVE,
    reversal: float = MISPRINT_REVERSAL,
    min_history: int = MISPRINT_MIN_HISTORY,
) -> tuple[pd.Series, Step]:
    """Drop single-day misprints: a move beyond max(k robust SDs, min_move) in log price that
    the next observation reverses (|move in + move out| <= reversal x |move in|).

    Causal: dates are taken in order; the robust SD is that of the last ``window`` returns of
    the series as already cleaned (earlier misprints removed, so one does not hide the next),
    and the decision about a date uses the next price only. With fewer than ``min_history``
    earlier returns a date is not tested. Needs sorted, unique, positive prices. Two adjacent
    dates are never both dropped: after a dropped date the next one is not tested (an
    oscillation loses every other print, not all).
    """
    params = {"k": k, "window": window, "min_move_log": min_move, "reversal": reversal,
              "min_history": min_history, "scale": "trailing, cleaned returns"}
    step = Step("misprints", "single-day misprints (move beyond k trailing robust SDs, "
                "reversed the next day) dropped", params)
    if len(s) < 3:
        return s, step
    x = np.log(s.to_numpy(dtype=float))
    hist = np.empty(len(x))      # returns of the cleaned series so far
    nh = 0
    drop = np.zeros(len(s), dtype=bool)
    last = 0                     # last kept index
    for i in range(1, len(x)):
        a = x[i] - x[last]
        b = x[i + 1] - x[i] if i + 1 < len(x) else 0.0
        # the threshold is at least min_move: compute the robust SD only for such moves
        if (abs(a) > min_move and abs(b) > min_move and not drop[i - 1]
                and nh >= min_history and np.sign(a) == -np.sign(b)
                and abs(a + b) <= reversal * abs(a)):
            thr = max(k * robust_scale(hist[max(0, nh - window):nh]), min_move)
            if abs(a) > thr and abs(b) > thr:
                drop[i] = True
                step.events.append({
                    "date": _d(s.index[i]), "action": "dropped", "value": float(s.iloc[i]),
                    "before": float(s.iloc[last]), "after": float(s.iloc[i + 1]),
                    "move_in": round(float(a), 4), "move_out": round(float(b), 4),
                    "threshold": round(float(thr), 4),
                })
                continue
        hist[nh] = a
        nh += 1
        last = i
    return s[~drop], step


# --------------------------------------------------------------------------- return exclusions


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of runs of identical consecutive values."""
    if len(values) == 0:
        return []
    change = np.flatnonzero(np.diff(values) != 0) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(values)]])
    return [(int(a), int(e - a)) for a, e in zip(starts, ends, strict=True)]


def stale_share(s: pd.Series) -> float:
    """Share of day-to-day price changes that are exactly zero (NaN for fewer than 2 prices)."""
    v = s.to_numpy(dtype=float)
    return float(np.mean(np.diff(v) == 0)) if len(v) > 1 else float("nan")


def stale_runs(s: pd.Series, *, min_run: int = STALE_MIN_RUN) -> tuple[pd.Series, Step]:
    """Flag runs of >= ``min_run`` identical prices, causally: once a run has lasted
    ``min_run`` prices, exclude the zero returns from then on and the return leaving the run
    (it spans the whole run). The first ``min_run - 1`` zero returns are kept: on those days
    the run could not yet be told from a short one. Prices are kept."""
    excl = pd.Series(False, index=s.index)
    step = Step("stale_runs", f"runs of >= {min_run} identical prices: returns from the "
                f"{min_run}th identical price on and the return leaving the run excluded",
                {"min_run": min_run, "causal": True})
    for start, length in _runs(s.to_numpy(dtype=float)):
        if length < min_run:
            continue
        stop = start + length          # first index after the run
        excl.iloc[start + min_run - 1:stop] = True
        if stop < len(s):
            excl.iloc[stop] = True
        step.events.append({
            "date": _d(s.index[start]), "action": "returns excluded",
            "from": _d(s.index[start + min_run - 1]), "end": _d(s.index[stop - 1]),
            "length": length, "price": float(s.iloc[start]),
        })
    return excl, step


def gap_stats(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Calendar days and missing business days between consecutive observations."""
    idx = s.index.values.astype("datetime64[D]")
    if len(idx) < 2:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    days = np.diff(idx).astype(int)
    missing = np.busday_count(idx[:-1] + np.timedelta64(1, "D"), idx[1:])
    return days, missing


def gap_breaks(s: pd.Series, *, max_gap_bdays: int | None = MAX_GAP_BDAYS
               ) -> tuple[pd.Series, Step]:
    """Exclude returns spanning more than ``max_gap_bdays`` missing business days."""
    excl = pd.Series(False, index=s.index)
    step = Step("gaps", f"no return across more than {max_gap_bdays} missing business days",
                {"max_gap_bdays": max_gap_bdays})
    if max_gap_bdays is None:
        step.description = "gap rule not applied (auction / administrative dates)"
        return excl, step
    days, missing = gap_stats(s)
    for j in np.flatnonzero(missing > max_gap_bdays):
        excl.iloc[j + 1] = True
        step.events.append({"date": _d(s.index[j + 1]), "action": "return excluded",
                            "previous": _d(s.index[j]), "calendar_days": int(days[j]),
                            "missing_bdays": int(missing[j])})
    return excl, step


def phase_breaks(s: pd.Series, breaks: list[PhaseBreak]) -> tuple[pd.Series, Step]:
    """Exclude the return from the last price before each break date to the first on/after it."""
    excl = pd.Series(False, index=s.index)
    step = Step("phase_breaks", "no return across a trading-phase boundary",
                {"breaks": [{"date": b.date, "label": b.label} for b in breaks]})
    for b in breaks:
        d = pd.Timestamp(b.date)
        pos = int(s.index.searchsorted(d))
        if 0 < pos < len(s):
            excl.iloc[pos] = True
            step.events.append({
                "date": _d(s.index[pos]), "action": "return excluded", "previous":
                _d(s.index[pos - 1]), "before": float(s.iloc[pos - 1]),
                "after": float(s.iloc[pos]), "break": b.label,
            })
    return excl, step


# --------------------------------------------------------------------------- whole series


@dataclass
class CleanResult:
    """Cleaned prices, which returns may be used, the returns, and the report."""

    prices: pd.Series
    excluded: pd.Series
    returns: pd.Series
    report: CleaningReport


def percent_log_returns(prices: pd.Series, excluded: pd.Series | None = None) -> pd.Series:
    """``100 * diff(log P)`` on the dates whose return is not excluded (first date dropped)."""
    r = 100.0 * np.log(prices.astype(float)).diff()
    ok = r.notna()
    if excluded is not None:
        ok &= ~excluded.reindex(r.index, fill_value=False)
    return r[ok].rename(prices.name)


def clean_series(
    raw: pd.Series,
    *,
    series_id: str,
    market: str = "",
    instrument: str = "secondary_spot",
    frequency: str = "daily",
    max_gap_bdays: int | None = None,
    stale_min_run: int = STALE_MIN_RUN,
    misprint_k: float = MISPRINT_K,
    misprint_min_move: float = MISPRINT_MIN_MOVE,
    breaks: list[PhaseBreak] | None = None,
) -> CleanResult:
    """Apply every rule to one raw series (DatetimeIndex, file order) and report what happened.

    Administrative series (floors, fixed prices, trigger levels) are only sorted and
    deduplicated and get no returns: they are levels set by a regulator, kept apart from
    market prices. Periodic auctions (``frequency="auction"``) get no stale-run or gap rule
    (auctions are weeks apart); daily auctions (EU) are treated like daily prices.
    """
    _check(raw)
    s = raw.astype(float).rename(series_id)
    rep = CleaningReport(series_id=series_id, market=market, instrument=instrument,
                         n_raw=int(len(s)))
    s, st = drop_missing(s)
    if st.n:
        rep.steps.append(st)
    for fn in (sort_by_date, drop_duplicate_dates):
        s, st = fn(s)
        rep.steps.append(st)
    admin = instrument == "administrative"
    auction = frequency == "auction"  # periodic auctions (EU daily auctions are "daily")
    excluded = pd.Series(False, index=s.index)
    if admin:
        rep.steps.append(Step("administrative", "administrative level kept apart from market "
                              "prices: no returns, no outlier rules"))
        excluded[:] = True
    else:
        s, st = drop_non_positive(s)
        rep.steps.append(st)
        s, st = drop_misprints(s, k=misprint_k, min_move=misprint_min_move)
        rep.steps.append(st)
        rep.n_outliers = st.n
        excluded = pd.Series(False, index=s.index)
        if not auction:
            ex, st = stale_runs(s, min_run=stale_min_run)
            excluded |= ex
            rep.steps.append(st)
        gap = None if auction else (max_gap_bdays if max_gap_bdays is not None
                                    else GAP_BY_FREQUENCY.get(frequency, MAX_GAP_BDAYS))
        ex, st = gap_breaks(s, max_gap_bdays=gap)
        excluded |= ex
        rep.steps.append(st)
        pb = breaks if breaks is not None else phase_breaks_for(series_id, market)
        if pb:
            ex, st = phase_breaks(s, pb)
            excluded |= ex
            rep.steps.append(st)
    if len(s):
        excluded.iloc[0] = True          # no return into the first price
    returns = percent_log_returns(s, excluded) if not admin else s.iloc[:0]
    rep.n_clean = int(len(s))
    rep.first_date = _d(s.index[0]) if len(s) else None
    rep.last_date = _d(s.index[-1]) if len(s) else None
    rep.n_returns = int(len(returns))
    rep.n_returns_excluded = int(max(len(s) - 1, 0) - len(returns))
    rep.stale_share = stale_share(s)
    large = returns[returns.abs() > LARGE_MOVE_PCT]
    rep.n_large_moves = int(len(large))
    rep.large_moves_by_year = {str(y): int(n) for y, n in
                               large.groupby(large.index.year).size().items()}
    runs = _runs(s.to_numpy(dtype=float))
    rep.longest_stale_run = max((n for _, n in runs), default=0)
    days, missing = gap_stats(s)
    if len(days):
        j = int(np.argmax(days))
        rep.longest_gap_days = int(days[j])
        rep.longest_gap_bdays = int(missing.max())
        rep.longest_gap_end = _d(s.index[j + 1])
    return CleanResult(prices=s, excluded=excluded, returns=returns, report=rep)
