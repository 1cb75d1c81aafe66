"""Link solver kernels: linked prices, flows and emissions of markets joined by links.

Model (MODEL.md §3-§4). Market i on one step: autarky price ``p_i`` (design-adjusted, before the
collar), abatement ``a_i(q) = c_i q**eta_i`` at own price q, required abatement
``D_i = c_i p_i**eta_i``.
Its net imports x (Mt of its own permits, + = imports) and the regulator's reserve operations R
(sold at the ceiling minus withheld at the floor) clear its own market: ``x + R = D_i - a_i(q)``.
The own price given x, ``Q_i(x)``, is continuous and non-increasing (flat at the floor/ceiling while
the reserve lasts), so each market's demand for imports at a hub price is a monotone correspondence,
with market-level import/export bounds and fees applied on its net position.

Markets joined by *plain* links (active, no quota, no fee, two-way) form a pool with one hub price;
pools joined by restricted links (quota, fee, one-way, or a restricted state) form a tree whose
flows follow from a bottom-up composition of monotone response functions and one root solve at the
top, then a top-down allocation. With linear abatement every response is piecewise linear and
the solution is exact (sorted breakpoints, bisection over them, one linear interpolation);
otherwise a bracketing Illinois root-finder runs inside the bracketing interval
(tolerance ``ROOT_XTOL`` relative on the price, at most ``ROOT_MAXITER`` iterations).

Engine usage (all arrays preallocated; nothing allocates inside the kernels)::

    from riskmodel.linking import (compile_topology, Link, market_array, workspace, solve_step,
                                   M_P_AUT, O_PRICE, N_OUT, N_LINK_OUT)
    la = compile_topology(3, [Link(0, 1), Link(1, 2, quota_ab=5.0)])
    mkt = market_array(3); mkt[:, M_S] = la.s
    out = np.empty((3, N_OUT)); lout = np.empty((len(la.ends), N_LINK_OUT))
    flags = np.empty(3, np.int64); fwork, iwork = workspace(3, len(la.ends))
    state = np.zeros(len(la.ends), np.int64)        # 0 active, 1 restricted, 2 suspended
    mkt[:, M_P_AUT] = p_aut_today                   # inside the numba loop
    status = solve_step(mkt, la.ends, la.lpar, state, out, lout, flags, fwork, iwork)

Outputs per market ``out[i, O_*]``: price (own currency and numeraire), hub price, net imports,
reserve sold minus withheld, emissions minus supply (the engine adds S_i), quota shadow price,
autarky price under the own collar, gain ``(c/2)(autarky - price)^2``, quota rent, fees paid,
component id; per link ``lout[l, LO_*]``: flow, hub price gap, quota shadow price, fee revenue;
``flags[i]``: FLAG_* bits (floor, ceiling, reserve exhausted, import / export quota, linked).
``solve_pool`` pools all markets (no link arrays needed). Checks at scenario build time (Python,
raising ``InputError``): :func:`compile_topology` (links, exchange rates, forest of restricted
links), :func:`validate_markets` (per-market parameters) and :func:`validate_collars`
(inconsistent collars across linked markets). :func:`solve`
is the allocating convenience for tests and analysis; gains split into effort and risk sharing
from moments: :mod:`riskmodel.linking.gains`.

Column layouts and units: :mod:`riskmodel.linking.topology`.
"""

from riskmodel.linking.collar import (
    autarky_price,
    effective_collar,
    own_price,
    validate_collars,
)
from riskmodel.linking.fast_paths import solve_step
from riskmodel.linking.gains import gain, split_gains, split_gains_from_samples
from riskmodel.linking.network import check_forest
from riskmodel.linking.pool import Solution, solve, solve_pool
from riskmodel.linking.topology import (
    CYCLE_MAXSWEEP,
    CYCLE_XTOL,
    FLAG_CEILING,
    FLAG_EXPORT_QUOTA,
    FLAG_FLOOR,
    FLAG_IMPORT_QUOTA,
    FLAG_LINKED,
    FLAG_RESERVE_EXHAUSTED,
    L_CAP_AB,
    L_CAP_AB_R,
    L_CAP_BA,
    L_CAP_BA_R,
    L_FEE_AB,
    L_FEE_AB_R,
    L_FEE_BA,
    L_FEE_BA_R,
    LINK_ACTIVE,
    LINK_RESTRICTED,
    LINK_SUSPENDED,
    LO_ACTIVE,
    LO_FEE,
    LO_FLOW,
    LO_GAP,
    LO_SHADOW,
    M_C,
    M_CEIL,
    M_ETA,
    M_EXP_CAP,
    M_FEE_EXP,
    M_FEE_IMP,
    M_FLOOR,
    M_FX,
    M_IMP_CAP,
    M_P_AUT,
    M_RES_DOWN,
    M_RES_UP,
    M_S,
    N_LINK_FIELDS,
    N_LINK_OUT,
    N_MARKET_FIELDS,
    N_OUT,
    O_AUTARKY,
    O_COMPONENT,
    O_EMIS,
    O_FEE,
    O_FLOW,
    O_GAIN,
    O_HUB,
    O_PRICE,
    O_PRICE_NUM,
    O_RENT,
    O_RESERVE,
    O_SHADOW,
    ROOT_MAXITER,
    ROOT_XTOL,
    STATUS_CYCLE,
    STATUS_INFEASIBLE,
    STATUS_OK,
    STATUS_WORKSPACE,
    Link,
    LinkArrays,
    compile_topology,
    market_array,
    validate_markets,
    workspace,
    workspace_sizes,
)

__all__ = [
    "CYCLE_MAXSWEEP",
    "CYCLE_XTOL",
    "FLAG_CEILING",
    "FLAG_EXPORT_QUOTA",
    "FLAG_FLOOR",
    "FLAG_IMPORT_QUOTA",
    "FLAG_LINKED",
    "FLAG_RESERVE_EXHAUSTED",
    "LINK_ACTIVE",
    "LINK_RESTRICTED",
    "LINK_SUSPENDED",
    "LO_ACTIVE",
    "LO_FEE",
    "LO_FLOW",
    "LO_GAP",
    "LO_SHADOW",
    "L_CAP_AB",
    "L_CAP_AB_R",
    "L_CAP_BA",
    "L_CAP_BA_R",
    "L_FEE_AB",
    "L_FEE_AB_R",
    "L_FEE_BA",
    "L_FEE_BA_R",
    "Link",
    "LinkArrays",
    "M_C",
    "M_CEIL",
    "M_ETA",
    "M_EXP_CAP",
    "M_FEE_EXP",
    "M_FEE_IMP",
    "M_FLOOR",
    "M_FX",
    "M_IMP_CAP",
    "M_P_AUT",
    "M_RES_DOWN",
    "M_RES_UP",
    "M_S",
    "N_LINK_FIELDS",
    "N_LINK_OUT",
    "N_MARKET_FIELDS",
    "N_OUT",
    "O_AUTARKY",
    "O_COMPONENT",
    "O_EMIS",
    "O_FEE",
    "O_FLOW",
    "O_GAIN",
    "O_HUB",
    "O_PRICE",
    "O_PRICE_NUM",
    "O_RENT",
    "O_RESERVE",
    "O_SHADOW",
    "ROOT_MAXITER",
    "ROOT_XTOL",
    "STATUS_CYCLE",
    "STATUS_INFEASIBLE",
    "STATUS_OK",
    "STATUS_WORKSPACE",
    "Solution",
    "autarky_price",
    "check_forest",
    "compile_topology",
    "effective_collar",
    "gain",
    "market_array",
    "own_price",
    "solve",
    "solve_pool",
    "solve_step",
    "split_gains",
    "split_gains_from_samples",
    "validate_collars",
    "validate_markets",
    "workspace",
    "workspace_sizes",
]
