"""Year-end bank bounds of the price map's window, from a market's banking and borrowing rules.

The map Φ needs, for a window starting in year y, the bound ℓ_k on the bank at the end of each
year y+k and the window's length m+1 = min(H, years until the permits expire). The rules:

- Inside a phase, ℓ = B_min - L S (L the borrowing share of the year's supply; 0 without
  borrowing). At a phase's last year ℓ = B_min: borrowing runs within a phase only (K-ETS,
  seeds/icap-compare-ets-eu-korea.txt:260).
- A window ends at the expiry year (banked permits are void after it: ℓ = 0 there) or after H
  years (ℓ = the terminal bank B_end, default B_min).
- K-ETS: Phase 3 allowances carry over only into the first year of Phase 4 (2026-2030; seed line
  272), so a window that starts in Phase 3 ends in 2026. This treats 2026 as terminal; the exact
  rule caps the Phase-3 vintages in the end-2026 bank, which an aggregate bank cannot see.
- EU: banking since 2008, no borrowing (seed lines 120-121): no expiry, L = 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from riskmodel.data.catalogue import MarketDesign

#: K-ETS Phase 4 years (seeds/icap-compare-ets-eu-korea.txt:272); the catalogue's phases stop
#: at Phase 3 because the seeds give no Phase 4 cap.
KETS_PHASE4 = (2026, 2030)


@dataclass(frozen=True)
class BankRules:
    """A market's banking rules in the form the map needs (years are calendar years)."""

    #: Borrowing allowance as a share of the year's supply (0: none).
    borrowing_share: float = 0.0
    #: Hedging floor B_min (Mt): part of the bank is not free to arbitrage.
    min_bank: float = 0.0
    #: Terminal bank B_end at a window's end that is not an expiry (Mt); None = ``min_bank``.
    terminal_bank: float | None = None
    #: Last year of the phase that contains a year (borrowing cannot cross it).
    phase_end: dict[int, int] = field(default_factory=dict)
    #: Last year in which a bank held in a year can still be used (absent: no expiry).
    expiry: dict[int, int] = field(default_factory=dict)
    #: Banking allowed at all (False: the window is the current year only).
    banking: bool = True


def rules_from_catalogue(
    design: MarketDesign,
    years: range,
    *,
    min_bank: float = 0.0,
    borrowing_share: float | None = None,
) -> BankRules:
    """BankRules of a catalogue market over ``years`` (unknown facts: no banking, no borrowing).

    ``borrowing_share`` overrides the catalogue's limit (the K-ETS 15 % of Phase 3's first year
    is the only figure the seeds give) and its ``borrowing.allowed``: a scenario may ask what
    borrowing would change where the rules allow none.
    """
    bank_ok = bool(design.banking.allowed.value)
    borrow_ok = bool(design.borrowing.allowed.value)
    share = 0.0
    if borrowing_share is not None:  # the scenario's counterfactual, also where the catalogue
        share = float(borrowing_share)  # allows none (the resolver notes the override)
    elif borrow_ok:
        lim = design.borrowing.limit_share
        share = float(lim.value) if lim is not None and lim.value is not None else 0.0
    phases = [(ph.start, ph.end) for ph in design.cap.phases if ph.end is not None]
    expiry: dict[int, int] = {}
    if design.id == "k_ets":
        phases.append(KETS_PHASE4)
        for y in range(2021, 2026):  # Phase 3 -> first year of Phase 4 only
            expiry[y] = KETS_PHASE4[0]
    phase_end = {y: end for start, end in phases for y in years if start <= y <= end}
    return BankRules(
        borrowing_share=share,
        min_bank=min_bank,
        phase_end=phase_end,
        expiry=expiry,
        banking=bank_ok,
    )


def window_bounds(rules: BankRules, year: int, horizon: int, supply: np.ndarray) -> np.ndarray:
    """ℓ_k for the window that starts in ``year`` (its length is the returned array's).

    ``supply[k]`` is the expected supply of year ``year + k`` (Mt), for at least ``horizon``
    years; it sets the borrowing allowance L S.
    """
    if not rules.banking:
        return np.zeros(1)
    m1 = horizon
    exp = rules.expiry.get(year)
    if exp is not None:
        m1 = min(m1, exp - year + 1)
    ell = np.empty(m1)
    for k in range(m1):
        y = year + k
        end_of_phase = rules.phase_end.get(y) == y
        ell[k] = (
            rules.min_bank
            if end_of_phase
            else (rules.min_bank - rules.borrowing_share * float(supply[k]))
        )
    if exp is not None and year + m1 - 1 == exp:
        ell[-1] = 0.0
    else:
        ell[-1] = rules.min_bank if rules.terminal_bank is None else rules.terminal_bank
    return ell


def calibrate_slope(
    bank0: float, nbar: np.ndarray, ell: np.ndarray, r: float, price_level: float
) -> tuple[float, int]:
    """The abatement slope c (Mt per currency unit) for which Φ(B_0, n̄) equals the price level.

    Φ = max_k (N_k - B + ℓ_k) / (c A_k), so c = max_k (N_k - B + ℓ_k) / A_k / p (closed form);
    returns c and the expected exhaustion year k*. Raises ValueError when the window holds no
    scarcity (every term <= 0: no positive price is consistent with the bank).
    """
    cum = np.cumsum(np.asarray(nbar, dtype=float)) - bank0 + np.asarray(ell, dtype=float)
    ann = np.cumsum((1.0 + r) ** np.arange(len(cum)))
    terms = cum / ann
    k = int(np.argmax(terms))
    if terms[k] <= 0.0:
        raise ValueError("no scarcity in the window: the bank covers every year's requirement")
    return float(terms[k] / price_level), k
