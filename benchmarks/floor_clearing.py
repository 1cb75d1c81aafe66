"""Closed-form clearing of the benchmark topology (issue #14's floor): market a with an
unlimited-reserve collar [F, K], joined to b by a link with a two-way quota (or the restricted
quota, or suspended), b and c joined by a plain link; b and c with an unlimited floor at 0 (the
engine's default) and no ceiling; linear abatement, one currency, no fees.

Market i with autarky price p_i and slope c_i has excess demand c_i (p_i - q) at price q. The
plain pool b-c clears at ``(c_b p_b + c_c p_c + f) / (c_b + c_c)`` when it exports f to a. With
the quota slack the three markets share one price, the unconstrained ``sum c p / sum c``
clipped to the group's bounds [max(F, 0), K] (a collar with unlimited reserve holds the whole
group); if the implied export f of b-c exceeds the quota, f is the quota (either sign) and a
clears alone at ``clip(p_a - f / c_a, F, K)``. Exact: the responses are monotone and the
tree has one restricted edge. Tested against ``riskmodel.linking.solve_step``.
"""

from __future__ import annotations

from numba import njit

ACTIVE, RESTRICTED, SUSPENDED = 0, 1, 2


@njit(cache=True, inline="always")
def clear_bench(p_a, p_b, p_c, c_a, c_b, c_c, floor_a, ceil_a, quota, state):
    """``(q_a, q_b, q_c, x_a, x_b, x_c, bound)``: prices, net imports (Mt, + imports) and
    whether the a-b quota binds. ``quota`` is the one in force (base or restricted)."""
    s_bc = c_b + c_c
    cp_bc = c_b * p_b + c_c * p_c
    if state == SUSPENDED:
        q_a = min(max(p_a, floor_a), ceil_a)
        q_bc = max(cp_bc / s_bc, 0.0)
        return q_a, q_bc, q_bc, 0.0, c_b * (p_b - q_bc), c_c * (p_c - q_bc), False
    lo = max(floor_a, 0.0)
    q = min(max((c_a * p_a + cp_bc) / (c_a + s_bc), lo), ceil_a)
    f = s_bc * q - cp_bc  # exports of the b-c pool to a at the common price
    bound = False
    if f > quota:
        f = quota
        bound = True
    elif f < -quota:
        f = -quota
        bound = True
    if not bound:
        return q, q, q, f, c_b * (p_b - q), c_c * (p_c - q), False
    q_a = min(max(p_a - f / c_a, floor_a), ceil_a)
    q_bc = max((cp_bc + f) / s_bc, 0.0)
    return q_a, q_bc, q_bc, f, c_b * (p_b - q_bc), c_c * (p_c - q_bc), True


@njit(cache=True, inline="always")
def clear_alone(p, floor, ceil):
    """Autarky: the own price under an unlimited-reserve collar."""
    return min(max(p, floor), ceil)


