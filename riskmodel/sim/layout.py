"""Column indices of the flat arrays the resolver builds and the kernel reads.

One place for the layout so ``resolve.py`` (writer) and ``kernel.py`` (reader) cannot drift.
"""

from __future__ import annotations

# ---- per-market float parameters mp[N, NPF]
MU, PHI, OMEGA, ALPHA, GAMMA, BETA = 0, 1, 2, 3, 4, 5
H0, E0, Z0, R0, LOGP0 = 6, 7, 8, 9, 10
C, ETA, FX, BAU, PLEVEL = 11, 12, 13, 14, 15
B_OBS, B_CF, OFF_SHARE = 16, 17, 18
TAB_LO, TAB_STEP = 19, 20
EX_SHARE, INT_FLOOR, INT_SUPPLY = 21, 22, 23
#: Collar as the link solver sees it (own currency; Mt; inf = unlimited / none): FLOOR is at
#: least 0 (unlimited withholding at 0 = prices never negative, surplus unused); OFF_ON: the
#: ceiling slot holds offsets whose reserve is OFF_SHARE x supply on each step.
FLOOR, RES_DOWN, CEIL, RES_UP, OFF_ON = 24, 25, 26, 27, 28
#: The collar the user set (for bound-hit statistics): floor (0 = none), ceiling (inf = none).
COLLAR_F, COLLAR_K = 29, 30
#: Guard: the largest daily residual (percent log return) and the matching variance ceiling.
MAXR = 31
#: 1.0 when the price is simulated as a martingale: the log return carries the compensator
#: kappa(h) = 100 log E[exp(clip(sqrt(h) z)/100)] (percent units), tabulated on a grid of log h
#: from the market's innovation law and guard, so that E[P_{t+1} | F_t] = P_t.
COMP = 32
#: Grid (log variance) of the exact martingale compensator table ``comp[i, :]``.
CMP_LO, CMP_STEP = 33, 34
#: Thin trading (docs/THIN_TRADING.md; all 0 = every day trades): on (1.0), P(no trade | trade),
#: P(no trade | no trade), gap scaling kappa, the last day's state and trailing no-trade run.
TT_ON, TT_P01, TT_P11, TT_KAPPA, TT_S0, TT_K0 = 35, 36, 37, 38, 39, 40
#: Daily price limit (docs/PRICE_LIMITS.md; both 0 = none): the largest up and down move of the
#: traded price a day, percent log return (LIM_DN < 0); the fitted process is the latent price,
#: and the traded price moves towards it by at most the limit a traded day (carry-over).
LIM_UP, LIM_DN = 41, 42
#: Volatility-level uncertainty: the sd of the per-path log-volatility scale (0 = off) and the
#: fitted intercept it scales (GARCH / GJR / EGARCH omega; regime families scale ``rom``); its
#: persistence from one compliance year to the next (AR(1) coefficient) and the current path's
#: scale of the last year drawn.
VLS, OMEGA_B, VLP, VLX = 43, 44, 45, 46
#: The fitted guard (``MAXR`` as resolved) and the current path-year's guard factor squared,
#: e^(2 max(xi, 0)) (1 without volatility-level uncertainty): the guard widens with a higher
#: drawn level, ``MAXR = MAXR_B e^xi``, so it stays a safety net on high-level paths, and the
#: compensator is read as ``VLG kappa(h / VLG)`` (price_kernels.vol_level, log_price_block).
MAXR_B, VLG = 47, 48
NPF = 49
#: Width of the per-market recursion state ``prev`` (last return, residual, standardised
#: residual, and the gap latent - traded log price in percent under a price limit).
NPREV = 4

# ---- per-market integer parameters mi[N, NPI]
FAM, AR, K, TAB_MODE, JUR, HAS_EX, HAS_INT, MSR_ON, KETS_ON = 0, 1, 2, 3, 4, 5, 6, 7, 8
NPI = 9

#: Price families.
F_GARCH, F_GJR, F_EGARCH, F_MS, F_MSGARCH = 0, 1, 2, 3, 4
FAMILIES = {"garch": F_GARCH, "gjr": F_GJR, "egarch": F_EGARCH, "ms": F_MS, "msgarch": F_MSGARCH}
#: Most regimes.
KMAX = 4

# ---- links: the solver's ends/lpar plus lk_f[L, NLF] (dynamic quota shares, start day)
Q_SHARE, RQ_SHARE, START_DAY = 0, 1, 2
NLF = 3

# ---- stabilisation st[N, NST]
MSR_RATE, MSR_IN, MSR_REL_AMT, MSR_REL_TH, MSR_CANCEL, MSR_TNAC0, MSR_RES0 = range(7)
K_HI_MULT, K_HI_MONTHS, K_MID_MULT, K_LO_MULT, K_PROB, K_SHARE, K_AVG0 = range(7, 14)
#: K-ETS reserve: Mt per intervention, Mt held at the start
K_RELEASE, K_RES0 = 14, 15
NST = 16

# ---- banking bk[N, NBK + ...] (docs/BANKING.md §7): scalars, then per-year blocks
#: on (1.0), carry r, persistence phi, bank at the start (Mt), longest window HM (years, the
#: same in every row), EU MSR reads the bank (1.0), MSR holdings at the start, the previous
#: year's auction volume and the TNAC a year before the start (Mt), first calendar year.
BK_ON, BK_R, BK_PHI, BK_B0, BK_HM, BK_MSR, BK_HOLD0, BK_AUC0, BK_TNAC_BEFORE, BK_YEAR0 = range(10)
#: Delinking convention (same in every row): 0 holder, 1 origin (Pizer & Yates 2015).
BK_ORIGIN = 10
#: 1.0 when the market's ceiling is a penalty without make-good: tonnes "sold" there are
#: emitted without permits (non-compliance), not supply.
BK_PENALTY = 11
NBK = 12


def bk_offsets(n_years: int, hm: int) -> tuple[int, int, int, int, int]:
    """Column offsets of the per-year blocks of ``bk`` and its width: reference required
    abatement n̄ (``n_years + hm`` years), expected supply shortfall S^o - S^v of years ahead
    (same length), window length m+1 per year (``n_years``), window bounds ℓ per year
    (``n_years x hm``)."""
    o_nbar = NBK
    o_dq = o_nbar + n_years + hm
    o_m1 = o_dq + n_years + hm
    o_ell = o_m1 + n_years
    return o_nbar, o_dq, o_m1, o_ell, o_ell + n_years * hm


# ---- statistics (last axis of the sums)
(ST_PRICE, ST_PRICE_AVG, ST_MSR, ST_FLOOR, ST_CEIL, ST_QUOTA, ST_EMIS, ST_SUPPLY, ST_FLOW,
 ST_TRANSFER, ST_GAIN, ST_GAP, ST_BAU, ST_OUTPUT, ST_PAUT, ST_ZERO) = range(16)
#: Banking (docs/BANKING.md): the bank at the end of the year (Mt), the year's non-compliance
#: (Mt emitted without permits) and whether there was any (0/1; over the horizon: the share of
#: years).
ST_BANK, ST_SHORT, ST_NONCOMP = 16, 17, 18
#: The share of the market's days on which the daily guard clipped its price residual (the
#: same in every variant: the prices' draws are shared).
ST_GUARD = 19
NSTAT = 20
STAT_NAMES = ("price", "price_avg", "mean_sq_return", "p_floor", "p_ceiling", "p_quota",
              "emissions", "supply", "flow", "transfer", "gain", "gap", "bau", "output",
              "price_autarky_uncollared", "p_zero", "bank", "noncompliance",
              "noncompliance_share", "p_guard")

#: Variants (kernel order).
VARIANTS = ("autarky", "linked", "linked_events")
#: Histogram bins (plus an underflow and an overflow bin).
NBINS = 2000
