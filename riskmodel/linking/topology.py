"""Array layout of the link solver and compilation of a link list into flat arrays.

The solver kernels (``pool.py``, ``network.py``) work on flat float arrays whose columns are named
by the integer constants below, so the Monte Carlo engine can fill them inside its own numba
kernel without allocating. Units:

* Market columns (``mkt[i, M_*]``) are in market i's own currency per market-i permit and in Mt
  of market-i permits, except ``M_S`` (common units per permit of i) and ``M_FX`` (numeraire per
  unit of i's currency).
* The pool price ("hub" price) is in numeraire per common unit: a permit of market i trading at the
  hub price ``P`` costs ``P * s_i / fx_i`` in i's currency.
* Link columns (``lpar[l, L_*]``) are in common units (Mt) and numeraire per common unit; with
  ``s = fx = 1`` (the usual case) they are Mt and the common currency per tonne.

A link ``l`` joins markets ``ends[l, 0] = a`` and ``ends[l, 1] = b``. ``L_CAP_AB`` bounds the flow
of permits from a to b (imports of b from a), ``L_CAP_BA`` the other direction (0 forbids it:
a one-way link), ``L_FEE_AB`` is the fee per permit moved a -> b. Columns with suffix ``_R``
apply while the link is *restricted* (state 1) instead of the base ones (state 0); state 2
suspends the link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from riskmodel.errors import InputError

INF = np.inf

# ---- market parameter columns: mkt[i, M_*] ---------------------------------------------------
M_P_AUT = 0  # design-adjusted autarky price before the collar (own currency / permit)
M_C = 1  # abatement slope c (Mt per currency unit): a = c * p**eta, D = c * p_aut**eta; > 0
M_ETA = 2  # abatement exponent eta (1 = linear, exact path); > 0
M_FLOOR = 3  # collar floor F (-inf: none)
M_CEIL = 4  # collar ceiling K (+inf: none); a penalty without make-good is K with RES_UP = inf
M_RES_UP = 5  # Mt the regulator can sell at the ceiling (inf: unlimited)
M_RES_DOWN = 6  # Mt the regulator can withhold at the floor (inf: unlimited)
M_IMP_CAP = 7  # bound on net imports (Mt own permits, >= 0, inf: none)
M_EXP_CAP = 8  # bound on net exports (Mt own permits, >= 0, inf: none)
M_FEE_IMP = 9  # fee per permit imported (own currency / own permit, >= 0)
M_FEE_EXP = 10  # fee per permit exported (own currency / own permit, >= 0)
M_S = 11  # conversion factor: one permit of i = s_i common units (> 0)
M_FX = 12  # value of one unit of i's currency in the numeraire (> 0)
N_MARKET_FIELDS = 13

# ---- link parameter columns: lpar[l, L_*] ----------------------------------------------------
L_CAP_AB = 0  # max flow a -> b while active (common Mt; inf: none; 0: one-way b -> a)
L_CAP_BA = 1  # max flow b -> a while active
L_FEE_AB = 2  # fee per common unit moved a -> b while active (numeraire)
L_FEE_BA = 3  # fee per common unit moved b -> a while active
L_CAP_AB_R = 4  # the same four while restricted (state 1)
L_CAP_BA_R = 5
L_FEE_AB_R = 6
L_FEE_BA_R = 7
N_LINK_FIELDS = 8

LINK_ACTIVE = 0
LINK_RESTRICTED = 1
LINK_SUSPENDED = 2

# ---- per-market outputs: out[i, O_*] ---------------------------------------------------------
O_PRICE = 0  # market price q_i after linking (own currency / own permit)
O_PRICE_NUM = 1  # the same in numeraire per common unit (q_i * fx_i / s_i)
O_HUB = 2  # price at the market's pool hub (numeraire / common unit); own price if isolated
O_FLOW = 3  # net imports x_i (Mt own permits; + imports, - exports)
O_RESERVE = 4  # reserve sold at the ceiling minus permits withheld at the floor (Mt)
O_EMIS = 5  # emissions minus supply: E_i - S_i = x_i + reserve (Mt); the engine adds S_i
O_SHADOW = 6  # shadow price of the market's own import/export bound (own currency, >= 0)
O_AUTARKY = 7  # autarky price under the market's own collar (own currency)
O_GAIN = 8  # gain from linking (c_i / 2)(autarky - q_i)^2 (own currency x Mt)
O_RENT = 9  # quota rent: shadow price x |x_i| (own currency x Mt)
O_FEE = 10  # market-level fees paid: fee x |x_i| (own currency x Mt)
O_COMPONENT = 11  # id of the connected component (lowest market index in it)
N_OUT = 12

# ---- per-link outputs: lout[l, LO_*] ---------------------------------------------------------
LO_FLOW = 0  # flow a -> b (common Mt; negative: b -> a); 0 when suspended
LO_GAP = 1  # hub price of b minus hub price of a (numeraire / common unit)
LO_SHADOW = 2  # shadow price of the link quota (gap beyond the fee, >= 0)
LO_FEE = 3  # fee revenue on the link (numeraire)
LO_ACTIVE = 4  # 1.0 when the link carried a pool (state 0 or 1), else 0.0
N_LINK_OUT = 5

# ---- market state bit flags: flags[i] --------------------------------------------------------
FLAG_FLOOR = 1  # price at (or below) the floor
FLAG_CEILING = 2  # price at (or above) the ceiling
FLAG_RESERVE_EXHAUSTED = 4  # the finite reserve (sale or withholding) is used up
FLAG_IMPORT_QUOTA = 8  # an import bound (market's or link's) binds, shadow > 0
FLAG_EXPORT_QUOTA = 16  # the export bound binds with a positive shadow price
FLAG_LINKED = 32  # the market is in a component with at least one other market

# ---- solver status (return value of solve_step) ----------------------------------------------
STATUS_OK = 0
STATUS_CYCLE = 1  # several cycles of restricted links: the outer iteration did not converge
STATUS_INFEASIBLE = 2  # no clearing price (inconsistent collars): outputs NaN
STATUS_WORKSPACE = 3  # fwork / iwork too small (use workspace()); nothing was computed
#: (internal) the fast path cannot vouch for its answer: the general solver must answer; never
#: returned by solve_step
STATUS_FAST_DECLINED = -2

# tolerances of the root-finder used when some eta != 1 (linear components are exact)
ROOT_XTOL = 1e-13  # relative tolerance on the hub price
ROOT_MAXITER = 200
# restricted links closing cycles: Gauss-Seidel on their flows (exact forest solve inside)
CYCLE_XTOL = 1e-12  # relative tolerance on those flows
CYCLE_MAXSWEEP = 200


@dataclass(frozen=True)
class Link:
    """One link between markets ``a`` and ``b`` (indices) with its restrictions.

    ``exchange_rate``: one permit of ``b`` covers ``exchange_rate`` tonnes in ``a``
    (tau = s_b / s_a). Quotas in common Mt (``inf`` = none), fees per common unit in the numeraire.
    ``restricted_*`` apply while the link is in state 1 (``None``: same as active).
    ``one_way``: ``"ab"`` (permits may only move a -> b), ``"ba"``, or ``None``.
    """

    a: int
    b: int
    exchange_rate: float = 1.0
    quota_ab: float = INF
    quota_ba: float = INF
    fee_ab: float = 0.0
    fee_ba: float = 0.0
    restricted_quota_ab: float | None = None
    restricted_quota_ba: float | None = None
    restricted_fee_ab: float | None = None
    restricted_fee_ba: float | None = None
    one_way: str | None = None


class LinkArrays(NamedTuple):
    """Compiled links: ``ends`` int64[L, 2], ``lpar`` float64[L, N_LINK_FIELDS] and the
    conversion factors ``s`` float64[N] implied by the exchange rates (1 for a component's first
    market)."""

    ends: np.ndarray
    lpar: np.ndarray
    s: np.ndarray


def compile_topology(
    n_markets: int, links: Sequence[Link], names: Sequence[str] | None = None
) -> LinkArrays:
    """Check a link list and turn it into the flat arrays :func:`solve_step` takes.

    Raises ``InputError`` (field ``links``) for bad indices, self-links, negative quotas or fees,
    and exchange rates that disagree around a cycle. Restricted links may form cycles: the solver
    is exact when they form a forest between pools of plain links
    (:func:`riskmodel.linking.network.check_forest` tells), and iterates on the flows of the
    cycle-closing links otherwise (tolerance ``CYCLE_XTOL``).
    """
    nm = list(names) if names is not None else [str(i) for i in range(n_markets)]
    nl = len(links)
    ends = np.zeros((nl, 2), dtype=np.int64)
    lpar = np.zeros((nl, N_LINK_FIELDS), dtype=np.float64)
    for k, ln in enumerate(links):
        where = f"link {k} ({_nm(nm, ln.a)}-{_nm(nm, ln.b)})"
        if not (0 <= ln.a < n_markets and 0 <= ln.b < n_markets) or ln.a == ln.b:
            raise InputError(f"{where}: market indices must be distinct and in range",
                             field="links")
        if not (np.isfinite(ln.exchange_rate) and ln.exchange_rate > 0):
            raise InputError(f"{where}: exchange_rate must be positive",
                             field="links.exchange_rate")
        base = (ln.quota_ab, ln.quota_ba, ln.fee_ab, ln.fee_ba)
        rest = tuple(b if r is None else r for b, r in zip(base, (
            ln.restricted_quota_ab, ln.restricted_quota_ba,
            ln.restricted_fee_ab, ln.restricted_fee_ba), strict=True))
        vals = np.array(base + rest, dtype=np.float64)
        if np.any(np.isnan(vals)) or np.any(vals < 0):
            raise InputError(f"{where}: quotas and fees must be >= 0", field="links")
        if np.any(np.isinf(vals[[2, 3, 6, 7]])):
            raise InputError(f"{where}: fees must be finite", field="links")
        if ln.one_way not in (None, "ab", "ba"):
            raise InputError(f"{where}: one_way must be 'ab', 'ba' or null", field="links.one_way")
        if ln.one_way == "ab":
            vals[[1, 5]] = 0.0
        elif ln.one_way == "ba":
            vals[[0, 4]] = 0.0
        ends[k] = (ln.a, ln.b)
        lpar[k] = vals
    s = _conversion_factors(n_markets, links, nm)
    return LinkArrays(ends, lpar, s)


def _nm(names: Sequence[str], i: int) -> str:
    return names[i] if 0 <= i < len(names) else str(i)


def _conversion_factors(n: int, links: Sequence[Link], names: Sequence[str]) -> np.ndarray:
    """s_i from the exchange rates: s_b = tau * s_a along links, checked around cycles."""
    s = np.full(n, np.nan)
    adj: list[list[tuple[int, float, Link]]] = [[] for _ in range(n)]
    for ln in links:
        adj[ln.a].append((ln.b, ln.exchange_rate, ln))
        adj[ln.b].append((ln.a, 1.0 / ln.exchange_rate, ln))
    for r in range(n):
        if not np.isnan(s[r]):
            continue
        s[r] = 1.0
        stack = [r]
        while stack:
            u = stack.pop()
            for v, tau, ln in adj[u]:
                want = s[u] * tau
                if np.isnan(s[v]):
                    s[v] = want
                    stack.append(v)
                elif abs(s[v] - want) > 1e-12 * max(abs(want), 1.0):
                    # the link closing the cycle, as written (a -> b), against what the other
                    # links of the cycle imply for it
                    implied = s[v] / s[u] if ln.a == u else s[u] / s[v]
                    raise InputError(
                        f"the exchange rates around a cycle through {_nm(names, ln.a)} and "
                        f"{_nm(names, ln.b)} do not multiply to 1: that link has "
                        f"{ln.exchange_rate:.6g}, the rest of the cycle implies {implied:.6g}",
                        field="links.exchange_rate")
    return s


def market_array(n_markets: int) -> np.ndarray:
    """A market parameter array with neutral defaults (no collar, no bounds, linear, s = fx = 1)."""
    m = np.zeros((n_markets, N_MARKET_FIELDS), dtype=np.float64)
    m[:, M_C] = 1.0
    m[:, M_ETA] = 1.0
    m[:, M_FLOOR] = -INF
    m[:, M_CEIL] = INF
    m[:, M_RES_UP] = INF
    m[:, M_RES_DOWN] = INF
    m[:, M_IMP_CAP] = INF
    m[:, M_EXP_CAP] = INF
    m[:, M_S] = 1.0
    m[:, M_FX] = 1.0
    return m


_MARKET_FIELD_NAMES = ("p_aut", "c", "eta", "floor", "ceiling", "reserve_up", "reserve_down",
                       "import_cap", "export_cap", "fee_import", "fee_export", "s", "fx")


def validate_markets(mkt: np.ndarray, names: Sequence[str], file: str | None = None) -> None:
    """Raise ``InputError`` naming the market and field for parameters the solver cannot take.

    c, eta, s, fx must be positive and finite; reserves, bounds and fees >= 0 (fees finite);
    floor <= ceiling; the autarky price finite. (Cross-market collar consistency:
    :func:`riskmodel.linking.collar.validate_collars`.)
    """
    m = np.asarray(mkt, dtype=float)
    if m.ndim != 2 or m.shape[1] != N_MARKET_FIELDS or m.shape[0] != len(names):
        raise InputError(f"market array must have shape ({len(names)}, {N_MARKET_FIELDS}), "
                         f"got {m.shape}", file=file, field="markets")
    for i, nm in enumerate(names):
        row = m[i]

        def bad(col: int, why: str, nm: str = nm, row: np.ndarray = row) -> InputError:
            return InputError(f"{nm}: {_MARKET_FIELD_NAMES[col]} = {row[col]!r} {why}",
                              file=file, field=f"{nm}.{_MARKET_FIELD_NAMES[col]}")

        for col in (M_C, M_ETA, M_S, M_FX):
            if not (np.isfinite(row[col]) and row[col] > 0):
                raise bad(col, "must be positive and finite")
        if not np.isfinite(row[M_P_AUT]):
            raise bad(M_P_AUT, "must be finite")
        for col in (M_RES_UP, M_RES_DOWN, M_IMP_CAP, M_EXP_CAP, M_FEE_IMP, M_FEE_EXP):
            if np.isnan(row[col]) or row[col] < 0:
                raise bad(col, "must be >= 0")
        for col in (M_FEE_IMP, M_FEE_EXP):
            if not np.isfinite(row[col]):
                raise bad(col, "must be finite")
        if np.isnan(row[M_FLOOR]) or np.isnan(row[M_CEIL]) or row[M_FLOOR] > row[M_CEIL]:
            raise bad(M_FLOOR, f"must not exceed the ceiling ({row[M_CEIL]!r})")


def workspace_sizes(n_markets: int, n_links: int) -> tuple[int, int]:
    """Lengths of ``fwork`` and ``iwork`` that :func:`solve_step` needs (breakpoint lists of a
    chain of n pools take at most 14 n^2 floats). Beyond the general solver's ints, one records
    which path answered the latest call (1: the fast path, 0: the general solver; see
    :func:`iwork_path_slot`) and the rest cache the fast path's topology work between calls in
    two slots (checked against the links' ends, states and plain-ness on every call), so two
    variants with different link states on the same day both hit."""
    n = n_markets
    # + the path slot and the fast path's topology cache (kept between calls): two slots of
    # (magic, n, nl, 4 keys a link, 7 n + 1 topology ints) and the slot a miss overwrites next
    return (14 * n * n + 24 * n + 128 + n_links,
            iwork_path_slot(n, n_links) + 1 + 2 * (3 + 4 * n_links + 7 * n + 1) + 1)


def iwork_path_slot(n_markets: int, n_links: int) -> int:
    """Index in ``iwork`` where :func:`solve_step` records the path that answered (tests)."""
    return 24 * n_markets + 7 * n_links + 32


def workspace(n_markets: int, n_links: int) -> tuple[np.ndarray, np.ndarray]:
    """Scratch arrays ``(fwork, iwork)`` for :func:`solve_step`; allocate once, reuse every call."""
    nf, ni = workspace_sizes(n_markets, n_links)
    return np.zeros(nf, dtype=np.float64), np.zeros(ni, dtype=np.int64)
