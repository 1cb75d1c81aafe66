"""Today's links inside the kernel: each link's caps and fees in its state, and the connected
groups of markets they form.

One reader of the link parameters for the kernel's clearing (``kernel.py``), its closed form for
plain pools, and banking across links (``banking_step.py``), so that a quota given as a share of
the importer's supply (``layout.Q_SHARE`` / ``RQ_SHARE``) is turned into a cap in one place.
Row layout: ``linking.topology`` (``L_CAP_AB, L_CAP_BA, L_FEE_AB, L_FEE_BA`` for the normal
state, the same four from column 4 for the restricted state).
"""

from __future__ import annotations

import math

from numba import njit

from riskmodel.sim import layout as L


@njit(cache=True, inline="always")
def root(par, a: int) -> int:
    """The representative of market a in the union-find array ``par``."""
    while par[a] != a:
        a = par[a]
    return a


@njit(cache=True, inline="always")
def state_caps(lpar, lk_f, s_conv, sv, ends, q: int, state: int) -> tuple[float, float]:
    """Link q's caps (a -> b, b -> a; common units) in ``state`` (0 normal, 1 restricted): the
    fixed caps of ``lpar``, lowered to a share of the importer's supply ``sv`` where the link's
    quota is a share (inf: no cap)."""
    off = 0 if state == 0 else 4
    a = ends[q, 0]
    b = ends[q, 1]
    sh = lk_f[q, L.Q_SHARE] if state == 0 else lk_f[q, L.RQ_SHARE]
    if sh >= 0.0:
        return (min(lpar[q, off], sh * sv[b] * s_conv[b]),
                min(lpar[q, off + 1], sh * sv[a] * s_conv[a]))
    return lpar[q, off], lpar[q, off + 1]


@njit(cache=True, inline="always")
def fill_row(lw, lpar, lk_f, s_conv, sv, ends, q: int) -> None:
    """Today's row ``lw[q]``: both states' caps (``state_caps``) and fees."""
    for col in range(8):
        lw[q, col] = lpar[q, col]
    lw[q, 0], lw[q, 1] = state_caps(lpar, lk_f, s_conv, sv, ends, q, 0)
    lw[q, 4], lw[q, 5] = state_caps(lpar, lk_f, s_conv, sv, ends, q, 1)


@njit(cache=True, inline="always")
def restricts(lw, q: int, state: int) -> bool:
    """Whether link q in ``state`` carries a cap or a fee (today's row ``lw``)."""
    off = 0 if state == 0 else 4
    return (lw[q, off] != math.inf or lw[q, off + 1] != math.inf or lw[q, off + 2] != 0.0
            or lw[q, off + 3] != 0.0)
